"""Reads of the shelters app, scoped to what the reader may see.

Shelters' places, status and free places are public information; their contacts, history and stays are for
staff who see shelters in the area. Assets are seen by their owner, and by others only through a role over
the area or a data-sharing agreement (both arrive as the `view_assets` permission over areas).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from django.db.models import F, Q, QuerySet

from accounts import permissions
from accounts.models import AdministrativeArea, AreaLevel, Membership, ResidentProfile, Role, User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import NotFound, PermissionDenied, ValidationFailed
from shelters import nearest
from shelters.models import (
    Asset,
    BedCategory,
    EvacuationRoute,
    OccupancySnapshot,
    Shelter,
    ShelterBeds,
    ShelterStatus,
    ShelterStay,
)
from shelters.nearest import NearestShelter
from shelters.search import PlaceQuery, json_list_contains, place_filter

# What a person may ask of a shelter, and the shelter field that answers it.
NEED_FIELDS: dict[str, str] = {
    "accessible": "step_free_access",
    "pets": "pets_allowed",
    "medical": "medical_care",
    "power": "power",
    "water": "water",
}
MAX_NEAREST = 50


def _signed_in(user: User | AnonymousUser | None) -> User | None:
    return user if isinstance(user, User) and user.is_authenticated and user.is_active else None


# Shelters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShelterQuery:
    place: PlaceQuery = field(default_factory=PlaceQuery)
    status: Sequence[str] = ()
    hazard: str | None = None
    area_id: int | None = None
    with_space: bool = False
    needs: Sequence[str] = ()  # keys of NEED_FIELDS: only shelters offering every one


def shelter_list(*, query: ShelterQuery = ShelterQuery()) -> QuerySet[Shelter]:
    """Shelters matching the query: public information, everyone may search them."""
    shelters = Shelter.objects.prefetch_related("beds")
    if query.status:
        shelters = shelters.filter(status__in=query.status)
    if query.hazard:
        shelters = json_list_contains(shelters, "hazards", query.hazard)
    if query.area_id is not None:
        area = AdministrativeArea.objects.filter(pk=query.area_id).first()
        if area is None:
            raise ValidationFailed(f"No area with id {query.area_id}.", fields={"area": "unknown"})
        shelters = shelters.filter(area__path__startswith=area.path)
    if query.with_space:
        shelters = shelters.filter(status=ShelterStatus.OPEN, capacity__isnull=False, occupancy__lt=F("capacity"))
    unknown = sorted(set(query.needs) - set(NEED_FIELDS))
    if unknown:
        raise ValidationFailed(f"Unknown needs: {', '.join(unknown)}.", fields={"needs": "unknown"})
    shelters = shelters.filter(**{NEED_FIELDS[need]: True for need in query.needs})
    shelters = place_filter(shelters, query.place)
    return shelters if query.place.near is not None else shelters.order_by("name", "pk")


def shelter_get(*, shelter_id: int) -> Shelter:
    shelter = Shelter.objects.select_related("area", "operator").prefetch_related("beds").filter(pk=shelter_id).first()
    if shelter is None:
        raise NotFound(f"No shelter with id {shelter_id}.")
    return shelter


def shelter_staff_may_view(*, user: User | AnonymousUser | None, shelter: Shelter) -> bool:
    """Whether the reader sees the shelter's staff details: contacts, notes, history."""
    reader = _signed_in(user)
    return reader is not None and permissions.user_has_area_perm(reader, permissions.VIEW_SHELTERS, shelter.area)


def shelter_nearest(
    *,
    point: Point,
    people: int = 1,
    needs: Sequence[str] = (),
    hazard: str | None = None,
    language: str | None = None,
    bed: str | None = None,
    limit: int = 5,
    max_distance_m: float | None = None,
    exclude_ids: Sequence[int] = (),
) -> list[NearestShelter]:
    """Open shelters with room for `people` (and a free bed of `bed` category), nearest first, with distance.

    The shelters come as `PublicShelter` rows, not model instances: see `shelters.nearest` for why.
    """
    unknown = sorted(set(needs) - set(NEED_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"Unknown needs: {', '.join(unknown)} (known: {', '.join(NEED_FIELDS)}).", fields={"needs": "unknown"}
        )
    if bed is not None and bed not in BedCategory.values:
        raise ValidationFailed(f"Unknown bed category {bed!r}.", fields={"bed": "unknown"})
    find = nearest.nearest_by_sql if connection.vendor == "postgresql" else nearest.nearest_by_orm
    return find(
        point=point,
        people=people,
        need_fields=[NEED_FIELDS[need] for need in needs],
        hazard=hazard,
        language=language.lower() if language else None,
        bed=bed,
        limit=max(1, min(limit, MAX_NEAREST)),
        max_distance_m=max_distance_m,
        exclude_ids=exclude_ids,
    )


def shelter_beds_by_shelter(*, shelter_ids: Sequence[int]) -> dict[int, list[ShelterBeds]]:
    """The beds each shelter counts by category (public, like the shelters' free places)."""
    beds: dict[int, list[ShelterBeds]] = {}
    for row in ShelterBeds.objects.filter(shelter_id__in=shelter_ids).order_by("category"):
        beds.setdefault(row.shelter_id, []).append(row)
    return beds


def resident_point(*, user: User) -> Point | None:
    """Where a resident last said they were, else their home (both held only with their consent)."""
    profile = ResidentProfile.objects.filter(user=user).first()
    if profile is None:
        return None
    return profile.last_location or profile.home_location


def shelter_history_for_user(
    *, user: User, shelter: Shelter, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[OccupancySnapshot]:
    if not shelter_staff_may_view(user=user, shelter=shelter):
        raise PermissionDenied(f"You may not see the occupancy history of shelters in {shelter.area.name}.")
    snapshots = OccupancySnapshot.objects.filter(shelter=shelter)
    if since is not None:
        snapshots = snapshots.filter(at__gte=since)
    if until is not None:
        snapshots = snapshots.filter(at__lt=until)
    return snapshots.order_by("at", "pk")


def stay_list_for_user(*, user: User, shelter: Shelter, open_only: bool = True) -> QuerySet[ShelterStay]:
    """Who is checked in: for the shelter's managers only, and every read is audited."""
    if not permissions.user_has_area_perm(user, permissions.MANAGE_SHELTERS, shelter.area):
        raise PermissionDenied(f"You may not see who is checked in to shelters in {shelter.area.name}.")
    stays = ShelterStay.objects.filter(shelter=shelter)
    if open_only:
        stays = stays.filter(checked_out_at__isnull=True)
    audit_record(
        actor_id=user.pk,
        action="shelters.stays_read",
        target=shelter,
        area_id=shelter.area_id,
        data={"open_only": open_only},
    )
    return stays.order_by("-checked_in_at", "-pk")


def stay_get_for_user(
    *, user: User, shelter: Shelter, stay_id: int | None = None, reference: str | None = None
) -> ShelterStay:
    """A stay the reader may close: any stay of a shelter they manage, or their own."""
    stays = ShelterStay.objects.select_related("shelter__area").filter(shelter=shelter)
    if stay_id is not None:
        stays = stays.filter(pk=stay_id)
    elif reference:
        stays = stays.filter(reference=reference.strip().upper())
    else:
        raise ValidationFailed("Name the stay or its reference.", fields={"stay": "required"})
    stay = stays.first()
    manages = permissions.user_has_area_perm(user, permissions.MANAGE_SHELTERS, shelter.area)
    if stay is None or not (manages or stay.resident_id == user.pk):
        raise NotFound(f"No such stay at {shelter.name} that you may see.")
    return stay


def stay_current_for_user(*, user: User) -> ShelterStay | None:
    return ShelterStay.objects.select_related("shelter").filter(resident=user, checked_out_at__isnull=True).first()


# Routes and zones ---------------------------------------------------------------------------------------


def route_list(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    status: str | None = None,
    shelter_ids: Sequence[int] | None = None,
) -> QuerySet[EvacuationRoute]:
    """Evacuation routes are public information."""
    routes = EvacuationRoute.objects.all()
    if bbox is not None:
        routes = routes.filter(geometry__intersects=Polygon.from_bbox(bbox))
    if status:
        routes = routes.filter(status=status)
    if shelter_ids is not None:
        routes = routes.filter(shelter_id__in=shelter_ids)
    return routes.order_by("name", "pk")


def route_get(*, route_id: int) -> EvacuationRoute:
    route = EvacuationRoute.objects.select_related("area").filter(pk=route_id).first()
    if route is None:
        raise NotFound(f"No evacuation route with id {route_id}.")
    return route


def zones_at(*, point: Point) -> QuerySet[AdministrativeArea]:
    """The evacuation (and other) zones that hold a point."""
    return AdministrativeArea.objects.filter(level=AreaLevel.ZONE, geometry__intersects=point).order_by("code")


# Live updates ---------------------------------------------------------------------------------------------


def shelter_live_groups(
    *, user: User | AnonymousUser | None, shelter_id: int | None = None, area_id: int | None = None
) -> tuple[list[str], list[Shelter]]:
    """Which live-update groups a connection may join, and the shelters whose current state it gets first.

    A shelter's own stream is for anyone signed in (residents watch where they are going); an area's stream,
    every shelter inside it, is for staff who see shelters there.
    """
    from shelters import events

    reader = _signed_in(user)
    if reader is None:
        raise PermissionDenied("Sign in to follow shelters live.")
    if shelter_id is not None:
        shelter = Shelter.objects.filter(pk=shelter_id).first()
        if shelter is None:
            raise NotFound(f"No shelter with id {shelter_id}.")
        return [events.shelter_group(shelter.pk)], [shelter]
    area = AdministrativeArea.objects.filter(pk=area_id).first() if area_id is not None else None
    if area is None:
        raise NotFound(f"No area with id {area_id}.")
    if not permissions.user_has_area_perm(reader, permissions.VIEW_SHELTERS, area):
        raise PermissionDenied(f"You may not follow the shelters of {area.name}.")
    shelters = Shelter.objects.filter(
        area__path__startswith=area.path, status__in=[ShelterStatus.OPEN, ShelterStatus.FULL]
    ).order_by("pk")[:500]
    return [events.area_group(area.pk)], list(shelters)


# Assets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetQuery:
    place: PlaceQuery = field(default_factory=PlaceQuery)
    asset_type: str | None = None
    state: str | None = None
    owner_id: int | None = None


def asset_owner_organisation_ids(*, user: User) -> list[int]:
    """Organisations in which the person currently holds the asset-owner role."""
    return list(
        Membership.objects.active()
        .filter(user=user, role=Role.ASSET_OWNER)
        .values_list("organisation_id", flat=True)
        .distinct()
    )


def asset_visible_to(*, user: User) -> QuerySet[Asset]:
    """An owner's assets inside the areas of the reader's asset-owner role for that owner, and every asset in the
    areas where the reader sees assets (a role over the area, or an agreement)."""
    if user.is_superuser and user.is_active:
        return Asset.objects.all()
    covered = permissions.areas_covered(user, permissions.VIEW_ASSETS)
    owned = Q(pk__in=[])
    roles = Membership.objects.active().filter(user=user, role=Role.ASSET_OWNER)
    for owner_id, path in roles.values_list("organisation_id", "area__path"):
        owned |= Q(owner_id=owner_id, area__path__startswith=path)
    return Asset.objects.filter(owned | Q(area__in=covered))


def asset_list_for_user(*, user: User, query: AssetQuery = AssetQuery()) -> QuerySet[Asset]:
    assets = asset_visible_to(user=user).select_related("owner")
    if query.asset_type:
        assets = assets.filter(asset_type=query.asset_type)
    if query.state:
        assets = assets.filter(state=query.state)
    if query.owner_id is not None:
        assets = assets.filter(owner_id=query.owner_id)
    assets = place_filter(assets, query.place)
    return assets if query.place.near is not None else assets.order_by("owner_id", "external_id")


def asset_get_for_user(*, user: User, asset_id: int) -> Asset:
    asset = asset_visible_to(user=user).select_related("owner", "area").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"No asset with id {asset_id} that you may see.")
    return asset


# Staff console ---------------------------------------------------------------------------------------------


def shelter_staff_areas(*, user: User) -> list[AdministrativeArea]:
    """The areas whose shelters the person follows as staff: those held with `view_shelters`, without the ones
    inside another held area (one live stream per area covers everything below it)."""
    held = list(permissions.areas_held(user, permissions.VIEW_SHELTERS).order_by("path"))
    roots: list[AdministrativeArea] = []
    for area in held:
        if not any(area.path.startswith(root.path) for root in roots):
            roots.append(area)
    return roots


def shelter_staff_may_manage(*, user: User | AnonymousUser | None, shelter: Shelter) -> bool:
    """Whether the reader manages the shelter (checks people in and out as staff, opens and closes it)."""
    reader = _signed_in(user)
    return reader is not None and permissions.user_has_area_perm(reader, permissions.MANAGE_SHELTERS, shelter.area)


def shelter_list_for_staff(*, user: User, query: ShelterQuery = ShelterQuery()) -> QuerySet[Shelter]:
    """Shelters matching the query inside the areas where the person sees shelters as staff."""
    covered = permissions.areas_covered(user, permissions.VIEW_SHELTERS)
    return shelter_list(query=query).filter(area__in=covered).select_related("area")
