"""Writes of shelters themselves: create, change, open and close. Occupancy lives in `occupancy.py`."""

from typing import Any, TypedDict

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import permissions
from accounts.models import Organisation, User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, ValidationFailed
from shelters import events
from shelters.models import (
    OccupancySnapshot,
    Shelter,
    ShelterBeds,
    ShelterStatus,
    ShelterStay,
    SnapshotReason,
    postcode_normalise,
    search_text_of,
    street_normalise,
)
from shelters.services import checks

MANUAL_STATUSES = (ShelterStatus.PLANNED, ShelterStatus.OPEN, ShelterStatus.CLOSED)
TEXT_FIELDS = ("name", "address", "street", "postcode", "phone", "email", "notes")
FLAG_FIELDS = ("step_free_access", "pets_allowed", "medical_care", "power", "water")
SEARCH_FIELDS = frozenset({"name", "names", "address", "street", "postcode"})
MAX_CAPACITY = 1_000_000


class ShelterFields(TypedDict, total=False):
    """What a caller may set on a shelter; every key is optional on update."""

    name: str
    names: dict[str, str]
    address: str
    street: str
    postcode: str
    location: Point
    hazards: list[str]
    capacity: int | None
    capacity_outdoor: int | None
    beds: dict[str, int]
    step_free_access: bool
    pets_allowed: bool
    medical_care: bool
    power: bool
    water: bool
    languages: list[str]
    operator: Organisation | None
    phone: str
    email: str
    contacts: list[dict[str, str]]
    notes: str
    properties: dict[str, Any]


def auto_status(status: str, occupancy: int, capacity: int | None) -> str:
    """An open shelter is full when no place is left, and open again when one is: staff never set "full"."""
    if status in (ShelterStatus.OPEN, ShelterStatus.FULL):
        return ShelterStatus.FULL if capacity is not None and occupancy >= capacity else ShelterStatus.OPEN
    return status


def snapshot_add(*, shelter: Shelter, reason: str, at: Any = None) -> OccupancySnapshot:
    return OccupancySnapshot.objects.create(
        shelter=shelter,
        at=at or timezone.now(),
        occupancy=shelter.occupancy,
        capacity=shelter.capacity,
        status=shelter.status,
        version=shelter.version,
        reason=reason,
    )


def _apply(shelter: Shelter, fields: ShelterFields) -> tuple[list[str], dict[str, int] | None]:
    """Validate and set the given fields on the (unsaved) shelter; return the changed names and new beds, if any."""
    raw: dict[str, Any] = dict(fields)
    unknown = sorted(set(raw) - set(ShelterFields.__annotations__))
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(unknown)}.", fields=dict.fromkeys(unknown, "unknown"))
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in raw:
            value = raw[name]
            if not isinstance(value, str):
                raise ValidationFailed(f"{name} is a text.", fields={name: "not a text"})
            values[name] = value.strip()
    for name in FLAG_FIELDS:
        if name in raw:
            value = raw[name]
            if not isinstance(value, bool):
                raise ValidationFailed(f"{name} is true or false.", fields={name: "not a boolean"})
            values[name] = value
    if "street" in values:
        values["street"] = street_normalise(values["street"])
    if "postcode" in values:
        values["postcode"] = postcode_normalise(values["postcode"])
    if "names" in raw:
        values["names"] = checks.check_names(raw["names"])
    if "hazards" in raw:
        values["hazards"] = checks.check_hazards(raw["hazards"])
    if "languages" in raw:
        values["languages"] = checks.check_languages(raw["languages"])
    if "contacts" in raw:
        values["contacts"] = checks.check_contacts(raw["contacts"])
    if "properties" in raw:
        values["properties"] = checks.check_json_object(raw["properties"], "properties")
    for name in ("capacity", "capacity_outdoor"):
        if name in raw:
            values[name] = checks.check_count(raw[name], name, maximum=MAX_CAPACITY, nullable=True)
    if "operator" in raw:
        operator = raw["operator"]
        if operator is not None and (not isinstance(operator, Organisation) or not operator.is_active):
            raise ValidationFailed("The operator must be an active organisation.", fields={"operator": "inactive"})
        values["operator"] = operator
    if "location" in raw:
        location = checks.check_point(raw["location"])
        values["location"] = location
        values["area"] = checks.area_at(location)
    beds = checks.check_beds(raw["beds"], upper=MAX_CAPACITY) if "beds" in raw else None

    changed: list[str] = []
    for name, value in values.items():
        current = getattr(shelter, name, None) if name not in ("operator", "area") else getattr(shelter, f"{name}_id")
        compare = value.pk if name in ("operator", "area") and value is not None else value
        if name == "location" and current is not None and shelter.location is not None:
            if shelter.location.equals_exact(value):
                continue
        elif current == compare and shelter.pk is not None:
            continue
        setattr(shelter, name, value)
        changed.append(name)
    return changed, beds


def _refresh_search_text(shelter: Shelter) -> None:
    shelter.search_text = search_text_of(
        [shelter.name, *shelter.names.values(), shelter.address, shelter.street, shelter.postcode]
    )


def _beds_set(shelter: Shelter, beds: dict[str, int]) -> None:
    current = {row.category: row for row in ShelterBeds.objects.select_for_update().filter(shelter=shelter)}
    for category, row in current.items():
        if category not in beds:
            if row.occupied:
                raise Conflict(
                    f"{row.occupied} {category} beds are taken: they cannot stop being counted.",
                    fields={"beds": "taken"},
                )
            row.delete()
        elif row.capacity != beds[category]:
            row.capacity = beds[category]
            row.save(update_fields=["capacity"])
    ShelterBeds.objects.bulk_create(
        ShelterBeds(shelter=shelter, category=category, capacity=capacity)
        for category, capacity in beds.items()
        if category not in current
    )


def shelter_create(
    *,
    actor: User | None,
    fields: ShelterFields,
    status: str = ShelterStatus.PLANNED,
    source: str = "",
    external_id: str = "",
) -> Shelter:
    """Register a shelter where the actor manages shelters; its area is the deepest one holding its location."""
    missing = [name for name in ("name", "location") if name not in fields]
    if missing:
        raise ValidationFailed(f"Missing: {', '.join(missing)}.", fields=dict.fromkeys(missing, "required"))
    if status not in MANUAL_STATUSES:
        raise ValidationFailed(
            f"A new shelter is planned, open or closed, not {status!r}.", fields={"status": "invalid"}
        )
    shelter = Shelter(source=source, external_id=external_id)
    _, beds = _apply(shelter, fields)
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, shelter.area, "manage shelters")
    shelter.status = auto_status(status, 0, shelter.capacity)
    shelter.occupancy_updated_at = timezone.now()
    _refresh_search_text(shelter)
    checks.full_clean(shelter)
    with transaction.atomic():
        try:
            with transaction.atomic():
                shelter.save()
        except IntegrityError as exc:
            raise Conflict(
                f"A shelter from {source!r} with id {external_id!r} already exists.",
                fields={"external_id": "duplicate"},
            ) from exc
        if beds:
            _beds_set(shelter, beds)
        snapshot_add(shelter=shelter, reason=SnapshotReason.STATUS)
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.shelter_created",
            target=shelter,
            area_id=shelter.area_id,
            data={"status": shelter.status, "source": source, "capacity": shelter.capacity},
        )
        events.shelter_updated(shelter=shelter)
    return shelter


def shelter_update(*, actor: User | None, shelter: Shelter, fields: ShelterFields) -> Shelter:
    """Change a shelter's description or capacity. Capacity may go below the people present: it is then full."""
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, shelter.area, "manage shelters")
    with transaction.atomic():
        locked = Shelter.objects.select_for_update().select_related("area").get(pk=shelter.pk)
        changed, beds = _apply(locked, fields)
        if "area" in changed:
            checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, locked.area, "manage shelters")
        if beds is not None:
            _beds_set(locked, beds)
        if not changed and beds is None:
            return locked
        status = auto_status(locked.status, locked.occupancy, locked.capacity)
        counts_changed = bool({"capacity"} & set(changed)) or status != locked.status
        if status != locked.status:
            locked.status = status
            changed.append("status")
        if counts_changed:
            locked.version += 1
            changed.append("version")
        if SEARCH_FIELDS & set(changed):
            _refresh_search_text(locked)
            changed.append("search_text")
        checks.full_clean(locked)
        locked.save(update_fields=[*changed, "updated_at"])
        if counts_changed:
            snapshot_add(shelter=locked, reason=SnapshotReason.STATUS)
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.shelter_updated",
            target=locked,
            area_id=locked.area_id,
            data={
                "fields": sorted(set(changed) - {"version", "search_text"} | ({"beds"} if beds is not None else set()))
            },
        )
        events.shelter_updated(shelter=locked)
    return locked


def shelter_set_status(*, actor: User | None, shelter: Shelter, status: str, at: Any = None) -> Shelter:
    """Open, close or plan a shelter. Closing needs it empty; open stays still recorded are then closed too."""
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, shelter.area, "open and close shelters")
    if status not in MANUAL_STATUSES:
        raise ValidationFailed(
            "Set a shelter planned, open or closed; it becomes full and open again by itself.",
            fields={"status": "invalid"},
        )
    now = at or timezone.now()
    with transaction.atomic():
        locked = Shelter.objects.select_for_update().get(pk=shelter.pk)
        if status != ShelterStatus.OPEN and locked.occupancy > 0:
            raise Conflict(
                f"{locked.occupancy} people are still in {locked.name}: check them out or record a head count of 0 "
                "first.",
                code="shelter_occupied",
            )
        new_status = auto_status(status, locked.occupancy, locked.capacity)
        if new_status == locked.status:
            return locked
        previous = locked.status
        closed_stays = 0
        if status != ShelterStatus.OPEN:
            closed_stays = ShelterStay.objects.filter(shelter=locked, checked_out_at__isnull=True).update(
                checked_out_at=now, checked_out_by=actor
            )
        Shelter.objects.filter(pk=locked.pk).update(
            status=new_status, version=F("version") + 1, occupancy_updated_at=now, updated_at=timezone.now()
        )
        locked.refresh_from_db()
        snapshot_add(shelter=locked, reason=SnapshotReason.STATUS, at=now)
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.shelter_status_changed",
            target=locked,
            area_id=locked.area_id,
            data={"from": previous, "to": new_status, "stays_closed": closed_stays},
        )
        events.shelter_updated(shelter=locked)
    return locked
