"""Object permissions over areas, derived from memberships and agreements: the only module that calls guardian.

A role held over an area grants its permissions on that area and, through the area tree, on every
area inside it. An active data-sharing agreement grants the grantee's staff read permissions for its
data kinds over its areas. Guardian stores the permissions on the areas held; `user_has_area_perm`
looks them up on the area and its ancestors. Permissions are recomputed whenever a membership or an
agreement changes, and before use once a start or an end date has passed, so expiry takes effect at once.
"""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.gis.db.models import Union
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import assign_perm, get_objects_for_user, get_perms, remove_perm

from accounts.models import (
    AdministrativeArea,
    AreaUserObjectPermission,
    DataKind,
    DataSharingAgreement,
    Membership,
    PermissionState,
    Role,
    User,
)

PARTICIPATE = "participate_in_area"
VIEW_RESIDENT_COUNTS = "view_resident_counts"
VIEW_RESIDENTS = "view_residents"
MANAGE_AREAS = "manage_areas"
MANAGE_MEMBERSHIPS = "manage_memberships"
MANAGE_AGREEMENTS = "manage_agreements"
DRAFT_ALERTS = "draft_alerts"
APPROVE_ALERTS = "approve_alerts"
HOST_ROOMS = "host_rooms"
MODERATE_ROOMS = "moderate_rooms"
MANAGE_SHELTERS = "manage_shelters"
VIEW_SHELTERS = "view_shelters"
MANAGE_ASSETS = "manage_assets"
VIEW_ASSETS = "view_assets"
VIEW_AUDIT = "view_audit"

# What each role may do over its area. Least privilege: only shelter managers, who place people with
# mobility or medical needs, see individual residents; administrators manage people and areas, not data.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.RESIDENT: frozenset({PARTICIPATE}),
    Role.OFFICIAL: frozenset({PARTICIPATE, VIEW_RESIDENT_COUNTS, HOST_ROOMS, VIEW_SHELTERS}),
    Role.ALERT_DRAFTER: frozenset({VIEW_RESIDENT_COUNTS, DRAFT_ALERTS, VIEW_SHELTERS}),
    Role.ALERT_APPROVER: frozenset({VIEW_RESIDENT_COUNTS, APPROVE_ALERTS, VIEW_SHELTERS}),
    Role.SHELTER_MANAGER: frozenset(
        {VIEW_RESIDENT_COUNTS, VIEW_RESIDENTS, MANAGE_SHELTERS, VIEW_SHELTERS, VIEW_ASSETS}
    ),
    Role.ASSET_OWNER: frozenset({MANAGE_ASSETS}),
    Role.MODERATOR: frozenset({PARTICIPATE, MODERATE_ROOMS}),
    Role.AUDITOR: frozenset({VIEW_AUDIT, VIEW_RESIDENT_COUNTS}),
    Role.ADMINISTRATOR: frozenset({MANAGE_AREAS, MANAGE_MEMBERSHIPS, MANAGE_AGREEMENTS, VIEW_RESIDENT_COUNTS}),
}

# What an agreement's data kind lets the grantee read. Agreements grant no writes, except mutual aid for
# alerting below: a neighbouring authority's drafters and approvers may then act over the agreement's areas.
DATA_KIND_PERMISSIONS: dict[str, str] = {
    DataKind.RESIDENT_COUNTS: VIEW_RESIDENT_COUNTS,
    DataKind.RESIDENTS: VIEW_RESIDENTS,
    DataKind.SHELTERS: VIEW_SHELTERS,
    DataKind.ASSETS: VIEW_ASSETS,
    DataKind.AUDIT: VIEW_AUDIT,
}

ALERTING_ROLE_PERMISSIONS: dict[str, str] = {Role.ALERT_DRAFTER: DRAFT_ALERTS, Role.ALERT_APPROVER: APPROVE_ALERTS}

ALL_AREA_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values(), DATA_KIND_PERMISSIONS.values())


def _desired_permissions(user: User, now: datetime) -> set[tuple[str, int]]:
    desired: set[tuple[str, int]] = set()
    for role, area_id in Membership.objects.active(now).filter(user=user).values_list("role", "area_id"):
        desired.update((perm, area_id) for perm in ROLE_PERMISSIONS[role])
    staff_orgs = Membership.objects.active(now).filter(user=user).exclude(role=Role.RESIDENT).values("organisation_id")
    agreements = DataSharingAgreement.objects.active(now).filter(grantee__in=staff_orgs).prefetch_related("areas")
    for agreement in agreements:
        perms = {DATA_KIND_PERMISSIONS[kind] for kind in agreement.data_kinds if kind in DATA_KIND_PERMISSIONS}
        if DataKind.ALERTING in agreement.data_kinds:
            roles = Membership.objects.active(now).filter(user=user, organisation=agreement.grantee_id)
            perms |= {
                ALERTING_ROLE_PERMISSIONS[r]
                for r in roles.values_list("role", flat=True)
                if r in ALERTING_ROLE_PERMISSIONS
            }
        for area in agreement.areas.all():
            desired.update((perm, area.pk) for perm in perms)
    return desired


def _next_change(user: User, now: datetime) -> datetime | None:
    """The next moment at which a membership or agreement of this user starts or ends by itself."""
    memberships = Membership.objects.filter(user=user)
    candidates = [
        memberships.filter(valid_from__gt=now).aggregate(t=Min("valid_from"))["t"],
        memberships.filter(valid_until__gt=now).aggregate(t=Min("valid_until"))["t"],
        memberships.filter(revoked_at__gt=now).aggregate(t=Min("revoked_at"))["t"],
    ]
    org_ids = memberships.exclude(role=Role.RESIDENT).values("organisation_id")
    agreements = DataSharingAgreement.objects.filter(grantee__in=org_ids)
    candidates += [
        agreements.filter(valid_from__gt=now).aggregate(t=Min("valid_from"))["t"],
        agreements.filter(valid_until__gt=now).aggregate(t=Min("valid_until"))["t"],
        agreements.filter(revoked_at__gt=now).aggregate(t=Min("revoked_at"))["t"],
    ]
    future = [t for t in candidates if t is not None]
    return min(future) if future else None


def permissions_sync_user(*, user: User, now: datetime | None = None) -> None:
    """Make the user's stored object permissions equal to what their memberships and agreements grant now."""
    now = now or timezone.now()
    with transaction.atomic():
        desired = _desired_permissions(user, now)
        current = set(
            AreaUserObjectPermission.objects.filter(user=user).values_list("permission__codename", "content_object_id")
        )
        for perm, area_ids in _group_by_perm(current - desired).items():
            remove_perm(f"accounts.{perm}", user, AdministrativeArea.objects.filter(pk__in=area_ids))
        for perm, area_ids in _group_by_perm(desired - current).items():
            # guardian bulk-assigns over a queryset at run time; its annotation names only a single Model.
            areas = AdministrativeArea.objects.filter(pk__in=area_ids)
            assign_perm(f"accounts.{perm}", user, areas)  # type: ignore[arg-type]
        PermissionState.objects.update_or_create(
            user=user, defaults={"synced_at": now, "next_change_at": _next_change(user, now)}
        )


def _group_by_perm(pairs: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for perm, area_id in pairs:
        grouped.setdefault(perm, []).append(area_id)
    return grouped


def permissions_sync_organisation(*, organisation_id: int) -> None:
    """Recompute everyone who holds a role in an organisation (after an agreement of it changed)."""
    user_ids = Membership.objects.filter(organisation_id=organisation_id).values_list("user_id", flat=True).distinct()
    for user in User.objects.filter(pk__in=user_ids):
        permissions_sync_user(user=user)


def permissions_refresh_due(*, now: datetime | None = None) -> int:
    """Recompute the users whose permissions change by time alone at or before `now`; return how many."""
    now = now or timezone.now()
    due = User.objects.filter(
        Q(permissionstate__next_change_at__lte=now) | Q(permissionstate__isnull=True, memberships__isnull=False)
    ).distinct()
    count = 0
    for user in due:
        permissions_sync_user(user=user, now=now)
        count += 1
    return count


def _ensure_fresh(user: User) -> None:
    state = PermissionState.objects.filter(user=user).first()
    now = timezone.now()
    if state is None or (state.next_change_at is not None and state.next_change_at <= now):
        permissions_sync_user(user=user, now=now)


def user_has_area_perm(user: User, perm: str, area: AdministrativeArea) -> bool:
    """True when the user holds `perm` over the area itself or over an area that contains it."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    _ensure_fresh(user)
    return AreaUserObjectPermission.objects.filter(
        user=user, permission__codename=perm, content_object_id__in=area.ancestor_ids or [area.pk]
    ).exists()


def areas_held(user: User, perm: str) -> QuerySet[AdministrativeArea]:
    """The areas on which the user holds `perm` directly (roots of what they cover)."""
    if not user.is_authenticated or not user.is_active:
        return AdministrativeArea.objects.none()
    if user.is_superuser:
        return AdministrativeArea.objects.filter(parent__isnull=True)
    _ensure_fresh(user)
    return get_objects_for_user(
        user,
        f"accounts.{perm}",
        klass=AdministrativeArea,
        use_groups=False,
        with_superuser=False,
        accept_global_perms=False,
    )


def areas_covered(user: User, perm: str) -> QuerySet[AdministrativeArea]:
    """Every area on which the user holds `perm`: the areas held and all areas inside them."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return AdministrativeArea.objects.all()
    paths = list(areas_held(user, perm).values_list("path", flat=True))
    if not paths:
        return AdministrativeArea.objects.none()
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return AdministrativeArea.objects.filter(condition)


def area_perms_among(user: User, area: AdministrativeArea, perms: Iterable[str]) -> set[str]:
    """Which of `perms` the user holds over the area (directly or from an area containing it), in one query."""
    wanted = set(perms)
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return wanted & ALL_AREA_PERMISSIONS
    _ensure_fresh(user)
    held = AreaUserObjectPermission.objects.filter(
        user=user, permission__codename__in=wanted, content_object_id__in=area.ancestor_ids or [area.pk]
    ).values_list("permission__codename", flat=True)
    return set(held)


def area_perms_of(user: User, area: AdministrativeArea) -> set[str]:
    """The permissions the user holds over an area (directly or from an area containing it)."""
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ALL_AREA_PERMISSIONS)
    _ensure_fresh(user)
    perms: set[str] = set()
    for ancestor in AdministrativeArea.objects.filter(pk__in=area.ancestor_ids):
        perms.update(get_perms(user, ancestor))
    return perms


def user_covers_geometry(user: User, perm: str, geometry: GEOSGeometry) -> bool:
    """True when the areas on which the user holds `perm` together cover the geometry (within ~10 cm)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    held = areas_held(user, perm)
    # Most often one area covers it alone; only otherwise are the held areas united.
    if held.filter(geometry__covers=geometry).exists():
        return True
    union = held.aggregate(union=Union("geometry"))["union"]
    return union is not None and union.buffer(1e-6).covers(geometry)
