"""Reads of the accounts app, scoped to what the reader may see. Reads of sensitive data are audited."""

from django.db.models import Count, Q, QuerySet

from accounts import permissions
from accounts.models import (
    AdministrativeArea,
    DataSharingAgreement,
    Membership,
    Organisation,
    ResidentNeed,
    ResidentProfile,
    Role,
    User,
)
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import NotFound, PermissionDenied
from commsplatform.core.models import AuditEvent


def area_list(*, level: str | None = None, parent_id: int | None = None) -> QuerySet[AdministrativeArea]:
    """Areas are public geography: everyone may list them."""
    areas = AdministrativeArea.objects.all()
    if level:
        areas = areas.filter(level=level)
    if parent_id is not None:
        areas = areas.filter(parent_id=parent_id)
    return areas


def area_get(*, area_id: int) -> AdministrativeArea:
    area = AdministrativeArea.objects.filter(pk=area_id).first()
    if area is None:
        raise NotFound(f"No area with id {area_id}.")
    return area


def organisation_list() -> QuerySet[Organisation]:
    return Organisation.objects.filter(is_active=True)


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """One's own memberships, and those over areas one manages memberships in."""
    managed = permissions.areas_covered(user, permissions.MANAGE_MEMBERSHIPS)
    return (
        Membership.objects.filter(Q(user=user) | Q(area__in=managed))
        .select_related("organisation", "area", "user")
        .distinct()
    )


def membership_get_for_user(*, user: User, membership_id: int) -> Membership:
    membership = membership_list_for_user(user=user).filter(pk=membership_id).first()
    if membership is None:
        raise NotFound(f"No membership with id {membership_id} that you may see.")
    return membership


def agreement_list_for_user(*, user: User) -> QuerySet[DataSharingAgreement]:
    """Agreements of the organisations one administers, and those over areas one manages agreements in."""
    administered = Membership.objects.active().filter(user=user, role=Role.ADMINISTRATOR).values("organisation_id")
    managed = permissions.areas_covered(user, permissions.MANAGE_AGREEMENTS)
    if user.is_superuser:
        return DataSharingAgreement.objects.all()
    return DataSharingAgreement.objects.filter(
        Q(grantor__in=administered) | Q(grantee__in=administered) | Q(areas__in=managed)
    ).distinct()


def agreement_get_for_user(*, user: User, agreement_id: int) -> DataSharingAgreement:
    agreement = agreement_list_for_user(user=user).filter(pk=agreement_id).first()
    if agreement is None:
        raise NotFound(f"No agreement with id {agreement_id} that you may see.")
    return agreement


def _residents_in(areas: QuerySet[AdministrativeArea]) -> QuerySet[ResidentProfile]:
    condition = Q()
    for geometry in areas.values_list("geometry", flat=True):
        condition |= Q(home_location__within=geometry) | Q(last_location__within=geometry)
    if not condition:
        return ResidentProfile.objects.none()
    return ResidentProfile.objects.filter(condition, user__is_active=True)


def resident_list_for_user(*, user: User, area: AdministrativeArea | None = None) -> QuerySet[ResidentProfile]:
    """Residents whose home or last shared location lies in an area where `user` may see residents.

    With `area`, only that area, and only if the user may see residents there. The read is audited.
    """
    if area is not None:
        if not permissions.user_has_area_perm(user, permissions.VIEW_RESIDENTS, area):
            raise PermissionDenied(f"You may not see residents in {area.name}.")
        scope = AdministrativeArea.objects.filter(pk=area.pk)
    else:
        scope = permissions.areas_held(user, permissions.VIEW_RESIDENTS)
    residents = _residents_in(scope).select_related("user").prefetch_related("needs").order_by("pk")
    audit_record(
        action="accounts.residents_read",
        object_type="accounts.residentprofile",
        area_id=area.pk if area else None,
        data={"scope_area_ids": sorted(scope.values_list("pk", flat=True))},
    )
    return residents


def resident_get_for_user(*, user: User, profile_id: int) -> ResidentProfile:
    scope = permissions.areas_held(user, permissions.VIEW_RESIDENTS)
    profile = _residents_in(scope).select_related("user").prefetch_related("needs").filter(pk=profile_id).first()
    if profile is None:
        raise NotFound(f"No resident with id {profile_id} that you may see.")
    audit_record(action="accounts.resident_read", target=profile)
    return profile


def resident_counts(*, user: User, area: AdministrativeArea) -> dict[str, int]:
    """Aggregate counts for an area: no one is identified, but the reader still needs the permission."""
    if not permissions.user_has_area_perm(user, permissions.VIEW_RESIDENT_COUNTS, area):
        raise PermissionDenied(f"You may not see resident counts for {area.name}.")
    residents = ResidentProfile.objects.filter(user__is_active=True)
    at_home = residents.filter(home_location__within=area.geometry).count()
    present = residents.filter(last_location__within=area.geometry).count()
    subscribed = area.subscriptions.filter(user__is_active=True).count()
    needs = dict(
        ResidentNeed.objects.filter(profile__user__is_active=True, profile__home_location__within=area.geometry)
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return {
        "living_here": at_home,
        "last_seen_here": present,
        "subscribed": subscribed,
        **{f"need_{k}": v for k, v in needs.items()},
    }


def audit_events_for_user(*, user: User) -> QuerySet[AuditEvent]:
    """Audit events of the areas one audits; events tied to no area only for auditors of a top-level area."""
    if user.is_superuser:
        return AuditEvent.objects.all()
    held = permissions.areas_held(user, permissions.VIEW_AUDIT)
    if not held.exists():
        raise PermissionDenied("You do not hold the auditor role over any area.")
    covered_ids = permissions.areas_covered(user, permissions.VIEW_AUDIT).values("pk")
    condition = Q(area_id__in=covered_ids)
    if held.filter(parent__isnull=True).exists():
        condition |= Q(area_id__isnull=True)
    return AuditEvent.objects.filter(condition)


def perms_held(*, user: User) -> frozenset[str]:
    """The area permissions the person's active roles give somewhere (what a console may offer them).

    Only for choosing what to show: each read and write still checks the permission over its own area.
    """
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(perm for perms in permissions.ROLE_PERMISSIONS.values() for perm in perms)
    roles = Membership.objects.active().filter(user=user).values_list("role", flat=True).distinct()
    return frozenset(perm for role in roles for perm in permissions.ROLE_PERMISSIONS.get(role, ()))
