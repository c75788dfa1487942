"""Writes of the accounts app: areas, organisations, memberships, agreements, residents' data, erasure.

Every function checks the actor's permission over the areas concerned (`actor=None` means the system:
a migration, a management command run by an operator), validates, writes in one transaction and
appends to the audit record in that same transaction.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import (
    NEED_CONSENT,
    AdministrativeArea,
    AreaLevel,
    ChannelIdentity,
    ChannelKind,
    CommunicationGroup,
    Consent,
    ConsentPurpose,
    DataKind,
    DataSharingAgreement,
    GroupKind,
    GroupMembership,
    GroupMembershipSource,
    Membership,
    NeedKind,
    Organisation,
    OrganisationKind,
    ResidentNeed,
    ResidentProfile,
    Role,
    Subscription,
    User,
)
from accounts.signals import user_erased
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed


def _require(actor: User | None, perm: str, areas: Iterable[AdministrativeArea], what: str) -> None:
    if actor is None:
        return
    for area in areas:
        if not permissions.user_has_area_perm(actor, perm, area):
            raise PermissionDenied(f"You may not {what} in {area.name}.")


def _full_clean(instance: Any, exclude: Sequence[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        fields = {name: " ".join(errs) for name, errs in exc.message_dict.items()}
        raise ValidationFailed("Invalid input.", fields=fields) from exc


def as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon:
    """Polygons become one-part multipolygons; anything else is refused. Coordinates must be WGS84."""
    if geometry.srid not in (None, 4326):
        geometry = geometry.transform(4326, clone=True)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=4326)
    if not isinstance(geometry, MultiPolygon):
        raise ValidationFailed(
            f"An area must be a Polygon or MultiPolygon, not a {geometry.geom_type}.", fields={"geometry": "type"}
        )
    geometry.srid = 4326
    if not geometry.valid:
        raise ValidationFailed(f"Invalid geometry: {geometry.valid_reason}", fields={"geometry": geometry.valid_reason})
    return geometry


# Areas -----------------------------------------------------------------------------------------------


def area_create(
    *,
    actor: User | None,
    name: str,
    code: str,
    level: str,
    geometry: GEOSGeometry,
    parent: AdministrativeArea | None = None,
    properties: Mapping[str, Any] | None = None,
    source: str = "",
) -> AdministrativeArea:
    if actor is not None:
        if parent is None:
            if not actor.is_superuser:
                raise PermissionDenied("Only a platform superuser may create a top-level area.")
        else:
            _require(actor, permissions.MANAGE_AREAS, [parent], "create areas")
    if level not in AreaLevel.values:
        raise ValidationFailed(f"Unknown area level {level!r}.", fields={"level": "unknown"})
    area = AdministrativeArea(
        name=name,
        code=code,
        level=level,
        parent=parent,
        geometry=as_multipolygon(geometry),
        properties=dict(properties or {}),
        source=source,
    )
    _full_clean(area, exclude=["path"])
    with transaction.atomic():
        try:
            with transaction.atomic():
                area.save()
        except IntegrityError as exc:
            raise Conflict(f"A {level} with code {code!r} already exists.", fields={"code": "duplicate"}) from exc
        area.path = f"{parent.path if parent else '/'}{area.pk}/"
        AdministrativeArea.objects.filter(pk=area.pk).update(path=area.path)
        audit_record(action="accounts.area_created", target=area, area_id=area.pk, data={"level": level, "code": code})
    return area


def area_update(
    *,
    actor: User | None,
    area: AdministrativeArea,
    name: str | None = None,
    geometry: GEOSGeometry | None = None,
    properties: Mapping[str, Any] | None = None,
) -> AdministrativeArea:
    _require(actor, permissions.MANAGE_AREAS, [area], "change areas")
    changed: list[str] = []
    if name is not None and name != area.name:
        area.name = name
        changed.append("name")
    if geometry is not None:
        area.geometry = as_multipolygon(geometry)
        changed.append("geometry")
    if properties is not None:
        area.properties = dict(properties)
        changed.append("properties")
    if not changed:
        return area
    _full_clean(area, exclude=["path"])
    with transaction.atomic():
        area.save(update_fields=[*changed, "updated_at"])
        audit_record(action="accounts.area_updated", target=area, area_id=area.pk, data={"fields": changed})
    return area


# Organisations ---------------------------------------------------------------------------------------


def organisation_create(*, actor: User | None, name: str, kind: str, area: AdministrativeArea | None) -> Organisation:
    if actor is not None and not actor.is_superuser:
        if area is None:
            raise PermissionDenied("Only a platform superuser may create an organisation with no area.")
        _require(actor, permissions.MANAGE_MEMBERSHIPS, [area], "register organisations")
    if kind not in OrganisationKind.values:
        raise ValidationFailed(f"Unknown organisation kind {kind!r}.", fields={"kind": "unknown"})
    organisation = Organisation(name=name, kind=kind, area=area)
    _full_clean(organisation)
    with transaction.atomic():
        organisation.save()
        audit_record(
            action="accounts.organisation_created",
            target=organisation,
            area_id=area.pk if area else None,
            data={"kind": kind},
        )
    return organisation


# Memberships -----------------------------------------------------------------------------------------


def membership_grant(
    *,
    actor: User | None,
    user: User,
    organisation: Organisation,
    role: str,
    area: AdministrativeArea,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Membership:
    """Give `user` a role in `organisation` over `area`. The actor must manage memberships over that area."""
    _require(actor, permissions.MANAGE_MEMBERSHIPS, [area], "grant roles")
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}.", fields={"role": "unknown"})
    if not user.is_active or user.erased_at is not None:
        raise ValidationFailed("That person's account is not active.", fields={"user": "inactive"})
    if not organisation.is_active:
        raise ValidationFailed("That organisation is not active.", fields={"organisation": "inactive"})
    membership = Membership(
        user=user,
        organisation=organisation,
        role=role,
        area=area,
        valid_from=valid_from or timezone.now(),
        valid_until=valid_until,
        granted_by=actor,
    )
    if membership.valid_until is not None and membership.valid_until <= membership.valid_from:
        raise ValidationFailed("valid_until must be after valid_from.", fields={"valid_until": "before valid_from"})
    with transaction.atomic():
        try:
            with transaction.atomic():
                membership.save()
        except IntegrityError as exc:
            raise Conflict("That person already holds this role in this organisation over this area.") from exc
        audit_record(
            action="accounts.membership_granted",
            target=membership,
            area_id=area.pk,
            data={"user_id": user.pk, "organisation_id": organisation.pk, "role": role},
        )
        permissions.permissions_sync_user(user=user)
    return membership


def membership_set_validity(*, actor: User | None, membership: Membership, valid_until: datetime | None) -> Membership:
    _require(actor, permissions.MANAGE_MEMBERSHIPS, [membership.area], "change roles")
    if valid_until is not None and valid_until <= membership.valid_from:
        raise ValidationFailed("valid_until must be after valid_from.", fields={"valid_until": "before valid_from"})
    with transaction.atomic():
        membership.valid_until = valid_until
        membership.save(update_fields=["valid_until", "updated_at"])
        audit_record(
            action="accounts.membership_validity_changed",
            target=membership,
            area_id=membership.area_id,
            data={"valid_until": valid_until.isoformat() if valid_until else None},
        )
        permissions.permissions_sync_user(user=membership.user)
    return membership


def membership_revoke(*, actor: User | None, membership: Membership) -> Membership:
    _require(actor, permissions.MANAGE_MEMBERSHIPS, [membership.area], "revoke roles")
    if membership.revoked_at is not None:
        return membership
    with transaction.atomic():
        membership.revoked_at = timezone.now()
        membership.save(update_fields=["revoked_at", "updated_at"])
        audit_record(action="accounts.membership_revoked", target=membership, area_id=membership.area_id)
        permissions.permissions_sync_user(user=membership.user)
    return membership


# Data-sharing agreements -----------------------------------------------------------------------------


def _is_administrator_of(actor: User, organisation: Organisation) -> bool:
    return Membership.objects.active().filter(user=actor, organisation=organisation, role=Role.ADMINISTRATOR).exists()


def agreement_create(
    *,
    actor: User | None,
    grantor: Organisation,
    grantee: Organisation,
    data_kinds: Sequence[str],
    areas: Sequence[AdministrativeArea],
    purpose: str,
    legal_reference: str,
    valid_from: datetime,
    valid_until: datetime,
) -> DataSharingAgreement:
    """The grantor lets the grantee's staff read `data_kinds` over `areas` from `valid_from` to `valid_until`.

    Only an administrator of the grantor who manages agreements over every one of the areas may do this.
    """
    if not areas:
        raise ValidationFailed("An agreement covers at least one area.", fields={"areas": "empty"})
    if actor is not None and not actor.is_superuser and not _is_administrator_of(actor, grantor):
        raise PermissionDenied("Only an administrator of the granting organisation may make its agreements.")
    _require(actor, permissions.MANAGE_AGREEMENTS, areas, "make agreements")
    unknown = sorted(set(data_kinds) - set(DataKind.values))
    if not data_kinds or unknown:
        raise ValidationFailed(
            f"Unknown data kinds: {', '.join(unknown)}." if unknown else "Name at least one data kind.",
            fields={"data_kinds": "invalid"},
        )
    if grantor.pk == grantee.pk:
        raise ValidationFailed("An organisation cannot make an agreement with itself.", fields={"grantee": "same"})
    if valid_until <= valid_from:
        raise ValidationFailed("valid_until must be after valid_from.", fields={"valid_until": "before valid_from"})
    if not purpose.strip() or not legal_reference.strip():
        raise ValidationFailed(
            "An agreement states its purpose and legal reference.",
            fields={"purpose": "required", "legal_reference": "required"},
        )
    agreement = DataSharingAgreement(
        grantor=grantor,
        grantee=grantee,
        data_kinds=sorted(set(data_kinds)),
        purpose=purpose,
        legal_reference=legal_reference,
        valid_from=valid_from,
        valid_until=valid_until,
        created_by=actor,
    )
    with transaction.atomic():
        agreement.save()
        agreement.areas.set(areas)
        audit_record(
            action="accounts.agreement_created",
            target=agreement,
            area_id=areas[0].pk if len(areas) == 1 else None,
            data={
                "grantor_id": grantor.pk,
                "grantee_id": grantee.pk,
                "data_kinds": agreement.data_kinds,
                "area_ids": sorted(a.pk for a in areas),
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
            },
        )
        permissions.permissions_sync_organisation(organisation_id=grantee.pk)
    return agreement


def agreement_revoke(*, actor: User | None, agreement: DataSharingAgreement) -> DataSharingAgreement:
    if actor is not None and not actor.is_superuser and not _is_administrator_of(actor, agreement.grantor):
        raise PermissionDenied("Only an administrator of the granting organisation may revoke its agreements.")
    # As for making one: the administrator must manage agreements over every area it covers, not only elsewhere.
    _require(actor, permissions.MANAGE_AGREEMENTS, agreement.areas.all(), "revoke agreements")
    if agreement.revoked_at is not None:
        return agreement
    with transaction.atomic():
        agreement.revoked_at = timezone.now()
        agreement.save(update_fields=["revoked_at", "updated_at"])
        audit_record(action="accounts.agreement_revoked", target=agreement)
        permissions.permissions_sync_organisation(organisation_id=agreement.grantee_id)
    return agreement


# People ----------------------------------------------------------------------------------------------


def user_create(
    *,
    username: str,
    password: str | None,
    email: str = "",
    preferred_language: str = "en",
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User(
        username=username,
        email=email,
        preferred_language=preferred_language,
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    _full_clean(user, exclude=["password"])
    with transaction.atomic():
        user.save()
        ResidentProfile.objects.create(user=user)
        audit_record(action="accounts.user_created", target=user, actor_id=user.pk)
    return user


def user_update(
    *, user: User, preferred_language: str | None = None, first_name: str | None = None, last_name: str | None = None
) -> User:
    changed: list[str] = []
    for field, value in (
        ("preferred_language", preferred_language),
        ("first_name", first_name),
        ("last_name", last_name),
    ):
        if value is not None and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if not changed:
        return user
    _full_clean(user, exclude=["password"])
    with transaction.atomic():
        user.save(update_fields=changed)
        audit_record(action="accounts.user_updated", target=user, data={"fields": changed})
    return user


def user_set_staff(*, actor: User | None, user: User, is_staff: bool, is_superuser: bool) -> User:
    """Make someone platform staff or superuser (Django admin access); only a superuser or the system may."""
    if actor is not None and not actor.is_superuser:
        raise PermissionDenied("Only a platform superuser may change who is staff or superuser.")
    if (user.is_staff, user.is_superuser) == (is_staff, is_superuser):
        return user
    with transaction.atomic():
        user.is_staff = is_staff
        user.is_superuser = is_superuser
        user.save(update_fields=["is_staff", "is_superuser"])
        audit_record(
            action="accounts.user_staff_changed", target=user, data={"is_staff": is_staff, "is_superuser": is_superuser}
        )
    return user


def _profile(user: User) -> ResidentProfile:
    profile, _ = ResidentProfile.objects.get_or_create(user=user)
    return profile


def consent_give(*, user: User, purpose: str, version: str) -> Consent:
    if purpose not in ConsentPurpose.values:
        raise ValidationFailed(f"Unknown consent purpose {purpose!r}.", fields={"purpose": "unknown"})
    if not version or len(version) > 32:
        raise ValidationFailed("Name the version of the text consented to.", fields={"version": "invalid"})
    with transaction.atomic():
        current = (
            Consent.objects.select_for_update().filter(user=user, purpose=purpose, withdrawn_at__isnull=True).first()
        )
        if current is not None and current.version == version:
            return current
        if current is not None:
            current.withdrawn_at = timezone.now()
            current.save(update_fields=["withdrawn_at"])
        consent = Consent.objects.create(user=user, purpose=purpose, version=version)
        audit_record(action="accounts.consent_given", target=consent, data={"purpose": purpose, "version": version})
    return consent


def consent_withdraw(*, user: User, purpose: str) -> None:
    """Withdraw a consent, and drop at once the data that was held under it."""
    with transaction.atomic():
        updated = Consent.objects.filter(user=user, purpose=purpose, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now()
        )
        if not updated:
            return
        profile = _profile(user)
        if purpose == ConsentPurpose.LOCATION:
            profile.home_location = None
            profile.last_location = None
            profile.last_location_at = None
            profile.save(update_fields=["home_location", "last_location", "last_location_at", "updated_at"])
        for kind, needed in NEED_CONSENT.items():
            if needed == purpose:
                ResidentNeed.objects.filter(profile=profile, kind=kind).delete()
        audit_record(action="accounts.consent_withdrawn", target=user, data={"purpose": purpose})


def has_consent(*, user: User, purpose: str) -> bool:
    return Consent.objects.filter(user=user, purpose=purpose, withdrawn_at__isnull=True).exists()


def _check_point(point: Point) -> Point:
    if point.srid not in (None, 4326):
        transformed = point.transform(4326, clone=True)
        assert isinstance(transformed, Point)
        point = transformed
    point.srid = 4326
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise ValidationFailed("Longitude must be within ±180 and latitude within ±90.", fields={"location": "range"})
    return point


def resident_set_home(*, user: User, location: Point | None) -> ResidentProfile:
    if location is not None and not has_consent(user=user, purpose=ConsentPurpose.LOCATION):
        raise PermissionDenied("Consent to the use of your location first.", code="consent_required")
    profile = _profile(user)
    with transaction.atomic():
        profile.home_location = _check_point(location) if location is not None else None
        profile.save(update_fields=["home_location", "updated_at"])
        audit_record(action="accounts.home_location_set", target=profile, data={"cleared": location is None})
    return profile


def resident_share_location(*, user: User, location: Point) -> ResidentProfile:
    if not has_consent(user=user, purpose=ConsentPurpose.LOCATION):
        raise PermissionDenied("Consent to the use of your location first.", code="consent_required")
    profile = _profile(user)
    with transaction.atomic():
        profile.last_location = _check_point(location)
        profile.last_location_at = timezone.now()
        profile.save(update_fields=["last_location", "last_location_at", "updated_at"])
        audit_record(action="accounts.location_shared", target=profile)
    return profile


def resident_need_set(*, user: User, kind: str, note: str = "") -> ResidentNeed:
    if kind not in NeedKind.values:
        raise ValidationFailed(f"Unknown need {kind!r}.", fields={"kind": "unknown"})
    if not has_consent(user=user, purpose=NEED_CONSENT[NeedKind(kind)]):
        raise PermissionDenied("Consent to the use of this need first.", code="consent_required")
    if len(note) > 500:
        raise ValidationFailed("The note is longer than 500 characters.", fields={"note": "too long"})
    with transaction.atomic():
        need, _ = ResidentNeed.objects.update_or_create(profile=_profile(user), kind=kind, defaults={"note": note})
        audit_record(action="accounts.need_set", target=need, data={"kind": kind})
    return need


def resident_need_remove(*, user: User, kind: str) -> None:
    with transaction.atomic():
        deleted, _ = ResidentNeed.objects.filter(profile__user=user, kind=kind).delete()
        if deleted:
            audit_record(action="accounts.need_removed", target=user, data={"kind": kind})


def subscription_add(*, user: User, area: AdministrativeArea) -> Subscription:
    with transaction.atomic():
        subscription, created = Subscription.objects.get_or_create(user=user, area=area)
        if created:
            audit_record(action="accounts.subscription_added", target=subscription, area_id=area.pk)
    return subscription


def subscription_remove(*, user: User, subscription: Subscription) -> None:
    if subscription.user_id != user.pk:
        raise PermissionDenied("That subscription is not yours.")
    with transaction.atomic():
        area_id = subscription.area_id
        subscription.delete()
        audit_record(action="accounts.subscription_removed", target=user, area_id=area_id)


def channel_identity_link(*, user: User, kind: str, external_id: str, receives_alerts: bool = True) -> ChannelIdentity:
    if kind not in ChannelKind.values:
        raise ValidationFailed(f"Unknown channel {kind!r}.", fields={"kind": "unknown"})
    with transaction.atomic():
        existing = ChannelIdentity.objects.select_for_update().filter(kind=kind, external_id=external_id).first()
        if existing is not None and existing.user_id != user.pk:
            raise Conflict("That channel identity belongs to someone else.")
        identity, _ = ChannelIdentity.objects.update_or_create(
            kind=kind,
            external_id=external_id,
            defaults={"user": user, "receives_alerts": receives_alerts, "is_active": True, "deactivated_reason": ""},
        )
        audit_record(action="accounts.channel_linked", target=identity, data={"kind": kind})
    return identity


def channel_identity_deactivate(*, identity: ChannelIdentity, reason: str) -> ChannelIdentity:
    """Stop using a channel identity (the person blocked the bot, the address bounces, they asked)."""
    with transaction.atomic():
        identity.is_active = False
        identity.deactivated_reason = reason[:200]
        identity.save(update_fields=["is_active", "deactivated_reason", "updated_at"])
        audit_record(action="accounts.channel_deactivated", target=identity, data={"reason": reason[:200]})
    return identity


def user_erase(*, actor: User, user: User) -> None:
    """Erase a person's personal data. The pseudonymous row stays so that aggregate counts still add up.

    A person may erase themself; a superuser may erase anyone (a legal request handled by staff).
    """
    if actor.pk != user.pk and not actor.is_superuser:
        raise PermissionDenied("You may only erase your own account.")
    if user.erased_at is not None:
        return
    with transaction.atomic():
        ResidentNeed.objects.filter(profile__user=user).delete()
        ResidentProfile.objects.filter(user=user).delete()
        Subscription.objects.filter(user=user).delete()
        ChannelIdentity.objects.filter(user=user).delete()
        Consent.objects.filter(user=user, withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())
        now = timezone.now()
        Membership.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        GroupMembership.objects.filter(user=user).delete()
        user.username = f"erased-{user.pk}"
        user.first_name = ""
        user.last_name = ""
        user.email = ""
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.erased_at = now
        user.save()
        permissions.permissions_sync_user(user=user)
        user_erased.send(sender=User, user=user)
        audit_record(action="accounts.user_erased", target=user, actor_id=actor.pk)


def communication_group_ensure(
    *,
    key: str,
    name: str,
    kind: str = GroupKind.CUSTOM,
    area: AdministrativeArea | None = None,
    language: str = "",
    description: str = "",
) -> CommunicationGroup:
    """The group with this key, created with these attributes the first time it is asked for."""
    group, _created = CommunicationGroup.objects.get_or_create(
        key=key,
        defaults={"name": name, "kind": kind, "area": area, "language": language, "description": description},
    )
    return group


def group_member_add(*, group: CommunicationGroup, user: User, source: str = GroupMembershipSource.RULE) -> bool:
    """Put a person in a group; True when they were not in it yet. Erased people are never added."""
    if user.erased_at is not None:
        raise ValidationFailed("This account was erased.")
    _membership, created = GroupMembership.objects.get_or_create(group=group, user=user, defaults={"source": source})
    if created:
        audit_record(action="accounts.group_member_added", target=group, data={"user": user.pk, "source": source})
    return created


def group_member_remove(*, group: CommunicationGroup, user: User) -> bool:
    deleted, _ = GroupMembership.objects.filter(group=group, user=user).delete()
    if deleted:
        audit_record(action="accounts.group_member_removed", target=group, data={"user": user.pk})
    return bool(deleted)
