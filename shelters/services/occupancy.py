"""Occupancy: check-in and check-out of people and households, head counts, and the occupancy history.

A check-in is one conditional UPDATE (`occupancy + people <= capacity` on an open shelter): the database
decides, so concurrent check-ins never overbook, on PostgreSQL (row lock, condition re-checked after the
wait) and on SQLite (writers queue for the database lock with BEGIN IMMEDIATE). Status follows by itself:
full when the last place is taken, open again when one is freed.
"""

import secrets
from collections.abc import Mapping
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed
from shelters import events, selectors
from shelters.models import (
    OccupancySnapshot,
    Shelter,
    ShelterBeds,
    ShelterStatus,
    ShelterStay,
    SnapshotReason,
)
from shelters.services import checks
from shelters.services.shelters import auto_status, snapshot_add

MAX_SELF_HOUSEHOLD = 10  # a resident checks in themself and their household
MAX_PEOPLE_PER_CHECK_IN = 500  # staff check in a group (a bus) at once
MAX_OCCUPANCY = 1_000_000
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class ShelterFull(Conflict):
    """No room for the check-in; `alternative` is the nearest open shelter with room, when there is one."""

    code = "shelter_full"

    def __init__(self, message: str, *, alternative: selectors.NearestShelter | None, code: str | None = None):
        super().__init__(message, code=code)
        self.alternative = alternative


class _BedsTaken(Exception):
    def __init__(self, category: str) -> None:
        self.category = category


def _reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def _manages(actor: User | None, shelter: Shelter) -> bool:
    return actor is None or permissions.user_has_area_perm(actor, permissions.MANAGE_SHELTERS, shelter.area)


def _refusal(shelter: Shelter, people: int, bed: str | None) -> Conflict:
    """Why a check-in found no room, with the nearest open shelter that has room."""
    current = Shelter.objects.get(pk=shelter.pk)
    nearest = selectors.shelter_nearest(
        point=current.location, people=people, bed=bed, limit=1, exclude_ids=[current.pk]
    )
    alternative = nearest[0] if nearest else None
    if alternative is not None:
        elsewhere = _("Nearest open shelter with space: %(name)s, %(km).1f km away, %(free)s free places.") % {
            "name": alternative.shelter.name,
            "km": alternative.distance_m / 1000,
            "free": alternative.shelter.free_places,
        }
    else:
        elsewhere = _("No other open shelter with space is known.")
    if current.status not in (ShelterStatus.OPEN, ShelterStatus.FULL):
        reason = _("%(name)s is not open.") % {"name": current.name}
        return ShelterFull(f"{reason} {elsewhere}", alternative=alternative, code="shelter_not_open")
    if current.capacity is None:
        reason = _("%(name)s has no recorded capacity: staff must record it before checking people in.") % {
            "name": current.name
        }
        return ShelterFull(f"{reason} {elsewhere}", alternative=alternative, code="capacity_unknown")
    if bed is not None:
        reason = _("%(name)s has no free %(bed)s bed.") % {"name": current.name, "bed": bed}
    else:
        reason = _("%(name)s has no room for %(people)s (free places: %(free)s).") % {
            "name": current.name,
            "people": people,
            "free": current.free_places,
        }
    return ShelterFull(f"{reason} {elsewhere}", alternative=alternative)


def shelter_check_in(
    *,
    actor: User | None,
    shelter: Shelter,
    people: int,
    beds: Mapping[str, int] | None = None,
    resident: User | None = None,
) -> ShelterStay:
    """Check a person or household in: staff of the shelter's area check anyone in (optionally linked to a
    resident); a resident checks in themself and their household. Refused, with the nearest alternative,
    when the shelter is not open or has no room."""
    manager = _manages(actor, shelter)
    if not manager:
        assert actor is not None
        if resident is not None and resident.pk != actor.pk:
            raise PermissionDenied(f"You may not check other people in to shelters in {shelter.area.name}.")
        resident = actor
    limit = MAX_PEOPLE_PER_CHECK_IN if manager else MAX_SELF_HOUSEHOLD
    people = checks.check_count(people, "people", minimum=1, maximum=limit)
    taken = checks.check_beds(beds or {}, upper=people)
    if resident is not None and (not resident.is_active or resident.erased_at is not None):
        raise ValidationFailed("That person's account is not active.", fields={"resident": "inactive"})
    tracked = set(ShelterBeds.objects.filter(shelter=shelter).values_list("category", flat=True))
    taken = {category: count for category, count in taken.items() if category in tracked}

    now = timezone.now()
    stay: ShelterStay | None = None
    try:
        with transaction.atomic():
            if resident is not None:
                current = ShelterStay.objects.filter(resident=resident, checked_out_at__isnull=True).first()
                if current is not None:
                    raise Conflict(
                        _("Already checked in (reference %(reference)s): check out first.")
                        % {"reference": current.reference},
                        code="already_checked_in",
                    )
            admitted = Shelter.objects.filter(
                pk=shelter.pk,
                status=ShelterStatus.OPEN,
                capacity__isnull=False,
                occupancy__lte=F("capacity") - people,
            ).update(
                occupancy=F("occupancy") + people,
                status=Case(
                    When(occupancy__gte=F("capacity") - people, then=Value(ShelterStatus.FULL)),
                    default=F("status"),
                ),
                version=F("version") + 1,
                occupancy_updated_at=now,
            )
            if admitted:
                for category, count in sorted(taken.items()):
                    if not ShelterBeds.objects.filter(
                        shelter=shelter, category=category, occupied__lte=F("capacity") - count
                    ).update(occupied=F("occupied") + count):
                        raise _BedsTaken(category)
                updated = Shelter.objects.select_related("area").get(pk=shelter.pk)
                stay = ShelterStay.objects.create(
                    shelter=updated,
                    people=people,
                    beds=taken,
                    reference=_reference(),
                    resident=resident,
                    checked_in_at=now,
                    checked_in_by=actor,
                )
                snapshot_add(shelter=updated, reason=SnapshotReason.CHECK_IN, at=now)
                audit_record(
                    actor_id=checks.actor_id_of(actor),
                    action="shelters.checked_in",
                    target=updated,
                    area_id=updated.area_id,
                    data={
                        "stay_id": stay.pk,
                        "people": people,
                        "occupancy": updated.occupancy,
                        "self": not manager,
                    },
                )
                events.shelter_updated(shelter=updated)
    except _BedsTaken as exc:
        raise _refusal(shelter, people, exc.category) from None
    except IntegrityError as exc:
        # Two check-ins of the same resident at once: the database kept one open stay.
        raise Conflict(_("Already checked in: check out first."), code="already_checked_in") from exc
    if stay is None:
        raise _refusal(shelter, people, None)
    return stay


def shelter_check_out(*, actor: User | None, stay: ShelterStay) -> ShelterStay:
    """Close a stay and free its places: by the shelter's staff, or by the resident it belongs to."""
    shelter = stay.shelter
    if not _manages(actor, shelter) and (actor is None or stay.resident_id != actor.pk):
        raise PermissionDenied(f"You may not check people out of shelters in {shelter.area.name}.")
    now = timezone.now()
    with transaction.atomic():
        closed = ShelterStay.objects.filter(pk=stay.pk, checked_out_at__isnull=True).update(
            checked_out_at=now, checked_out_by=actor
        )
        if not closed:
            raise Conflict(_("This stay was already checked out."), code="already_checked_out")
        people = stay.people
        # A head count may have recorded fewer people than the stays add up to: never below zero.
        Shelter.objects.filter(pk=shelter.pk).update(
            occupancy=Case(When(occupancy__gte=people, then=F("occupancy") - people), default=Value(0)),
            status=Case(
                When(
                    status=ShelterStatus.FULL,
                    occupancy__lt=F("capacity") + people,
                    then=Value(ShelterStatus.OPEN),
                ),
                default=F("status"),
            ),
            version=F("version") + 1,
            occupancy_updated_at=now,
        )
        for category, count in sorted(stay.beds.items()):
            ShelterBeds.objects.filter(shelter=shelter, category=category).update(
                occupied=Case(When(occupied__gte=count, then=F("occupied") - count), default=Value(0))
            )
        updated = Shelter.objects.select_related("area").get(pk=shelter.pk)
        snapshot_add(shelter=updated, reason=SnapshotReason.CHECK_OUT, at=now)
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.checked_out",
            target=updated,
            area_id=updated.area_id,
            data={"stay_id": stay.pk, "people": people, "occupancy": updated.occupancy},
        )
        events.shelter_updated(shelter=updated)
    stay.refresh_from_db()
    return stay


def shelter_occupancy_set(
    *,
    actor: User | None,
    shelter: Shelter,
    occupancy: int,
    at: datetime | None = None,
    reason: str = SnapshotReason.CENSUS,
) -> Shelter:
    """Record a head count. It may exceed the planned capacity (people are there): the shelter is then full
    and check-ins are refused until places free up."""
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, shelter.area, "record occupancy")
    occupancy = checks.check_count(occupancy, "occupancy", maximum=MAX_OCCUPANCY)
    if reason not in (SnapshotReason.CENSUS, SnapshotReason.REPLAY):
        raise ValidationFailed(f"Unknown reason {reason!r}.", fields={"reason": "invalid"})
    when = at or timezone.now()
    with transaction.atomic():
        locked = Shelter.objects.select_for_update().select_related("area").get(pk=shelter.pk)
        if locked.status not in (ShelterStatus.OPEN, ShelterStatus.FULL) and occupancy > 0:
            raise Conflict(f"{locked.name} is not open: open it before recording people in it.", code="not_open")
        previous = locked.occupancy
        locked.occupancy = occupancy
        locked.status = auto_status(locked.status, occupancy, locked.capacity)
        locked.version += 1
        locked.occupancy_updated_at = when
        locked.save(update_fields=["occupancy", "status", "version", "occupancy_updated_at", "updated_at"])
        snapshot_add(shelter=locked, reason=reason, at=when)
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.occupancy_recorded",
            target=locked,
            area_id=locked.area_id,
            data={"from": previous, "to": occupancy, "reason": reason, "at": when.isoformat()},
        )
        events.shelter_updated(shelter=locked)
    return locked


def occupancy_snapshot_record(*, at: datetime | None = None) -> int:
    """One history row per open or full shelter, as it is now (the periodic snapshot); returns how many.

    Audited once per run with the count, not once per shelter.
    """
    when = at or timezone.now()
    with transaction.atomic():
        snapshots = [
            OccupancySnapshot(
                shelter_id=shelter.pk,
                at=when,
                occupancy=shelter.occupancy,
                capacity=shelter.capacity,
                status=shelter.status,
                version=shelter.version,
                reason=SnapshotReason.PERIODIC,
            )
            for shelter in Shelter.objects.filter(status__in=[ShelterStatus.OPEN, ShelterStatus.FULL]).only(
                "occupancy", "capacity", "status", "version"
            )
        ]
        if not snapshots:
            return 0
        OccupancySnapshot.objects.bulk_create(snapshots, batch_size=1000)
        audit_record(
            action="shelters.occupancy_snapshot_recorded",
            object_type="shelters.shelter",
            data={"shelters": len(snapshots), "at": when.isoformat()},
        )
    return len(snapshots)
