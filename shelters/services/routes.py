"""Writes of evacuation routes: drawn and opened or blocked by the staff who manage shelters in the area."""

from typing import Any, TypedDict

from django.contrib.gis.geos import GEOSGeometry, LineString, MultiLineString
from django.db import transaction

from accounts import permissions
from accounts.models import AdministrativeArea, AreaLevel, User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import ValidationFailed
from shelters.models import EvacuationRoute, RouteStatus, Shelter
from shelters.services import checks


class RouteFields(TypedDict, total=False):
    name: str
    names: dict[str, str]
    geometry: GEOSGeometry
    status: str
    status_note: str
    hazards: list[str]
    shelter: Shelter | None


def _area_holding(geometry: MultiLineString) -> AdministrativeArea:
    """The deepest area (zones aside) that holds the whole route."""
    candidates = list(
        AdministrativeArea.objects.filter(geometry__contains=geometry).exclude(level=AreaLevel.ZONE).defer("geometry")
    )
    if not candidates:
        raise ValidationFailed("No administrative area holds the whole route.", fields={"geometry": "outside"})
    return max(candidates, key=lambda area: (len(area.ancestor_ids), area.pk))


def _apply(route: EvacuationRoute, fields: RouteFields) -> list[str]:
    raw: dict[str, Any] = dict(fields)
    unknown = sorted(set(raw) - set(RouteFields.__annotations__))
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(unknown)}.", fields=dict.fromkeys(unknown, "unknown"))
    values: dict[str, Any] = {}
    for name in ("name", "status_note"):
        if name in raw:
            if not isinstance(raw[name], str):
                raise ValidationFailed(f"{name} is a text.", fields={name: "not a text"})
            values[name] = raw[name].strip()
    if "names" in raw:
        values["names"] = checks.check_names(raw["names"])
    if "hazards" in raw:
        values["hazards"] = checks.check_hazards(raw["hazards"])
    if "status" in raw:
        if raw["status"] not in RouteStatus.values:
            raise ValidationFailed("A route is open or blocked.", fields={"status": "invalid"})
        values["status"] = raw["status"]
    if "shelter" in raw:
        if raw["shelter"] is not None and not isinstance(raw["shelter"], Shelter):
            raise ValidationFailed("Unknown shelter.", fields={"shelter": "unknown"})
        values["shelter"] = raw["shelter"]
    if "geometry" in raw:
        geometry = checks.check_geometry_type(
            raw["geometry"], (LineString, MultiLineString), "geometry", "LineString or MultiLineString"
        )
        lines = MultiLineString(geometry, srid=4326) if isinstance(geometry, LineString) else geometry
        assert isinstance(lines, MultiLineString)
        values["geometry"] = lines
        values["area"] = _area_holding(lines)
    changed = []
    for name, value in values.items():
        setattr(route, name, value)
        changed.append(name)
    return changed


def route_create(*, actor: User | None, fields: RouteFields) -> EvacuationRoute:
    missing = [name for name in ("name", "geometry") if name not in fields]
    if missing:
        raise ValidationFailed(f"Missing: {', '.join(missing)}.", fields=dict.fromkeys(missing, "required"))
    route = EvacuationRoute()
    _apply(route, fields)
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, route.area, "manage evacuation routes")
    checks.full_clean(route)
    with transaction.atomic():
        route.save()
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.route_created",
            target=route,
            area_id=route.area_id,
            data={"status": route.status},
        )
    return route


def route_update(*, actor: User | None, route: EvacuationRoute, fields: RouteFields) -> EvacuationRoute:
    """Change a route; opening or blocking it is the usual change (with a note saying why)."""
    checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, route.area, "manage evacuation routes")
    previous_status = route.status
    changed = _apply(route, fields)
    if not changed:
        return route
    if "area" in changed:
        checks.require_area_perm(actor, permissions.MANAGE_SHELTERS, route.area, "manage evacuation routes")
    checks.full_clean(route)
    with transaction.atomic():
        route.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor_id=checks.actor_id_of(actor),
            action="shelters.route_updated",
            target=route,
            area_id=route.area_id,
            data={"fields": sorted(changed), "from": previous_status, "to": route.status},
        )
    return route
