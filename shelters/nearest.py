"""The nearest-open-shelter query: the rows it returns, and how each database is asked for them.

Why the PostGIS query is compiled by hand: it answers people looking for a place to go, at the rate they refresh
a map during an emergency. PostgreSQL answers it in about 0.1 ms from the geography index, but through the ORM
the call took about four times as long as the same query run bare, spent building, compiling and instantiating
the queryset on every call (issue 4, bench/shelters.py). So the SQL of each shape of the query (which filters are
present) is written once, kept with its placeholders, and run on a cursor; its rows become `PublicShelter`s,
not model instances.
`nearest_by_orm` is the same query through the ORM: SpatiaLite runs it (it has no nearest-first index, so the
query itself dominates there), and the tests check on PostGIS that both find the same shelters.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache, cached_property
from typing import Any, cast

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Exists, F, Field, FloatField, Func, OuterRef, QuerySet

from shelters.models import Shelter, ShelterBeds, ShelterStatus, free_places_of
from shelters.search import distance_expression, distance_in_metres, json_list_contains

WGS84 = 4326


@dataclass(frozen=True)
class PublicShelter:
    """What anyone may see of a shelter (no contacts, notes or source data), under the model's attribute
    names, so the API's shelter feature (`NearestShelterFeatureSerializer`) reads it as it reads a `Shelter`."""

    id: int
    name: str
    names: dict[str, str]
    address: str
    street: str
    postcode: str
    area_id: int
    hazards: list[str]
    status: str
    capacity: int | None
    capacity_outdoor: int | None
    occupancy: int
    step_free_access: bool
    pets_allowed: bool
    medical_care: bool
    power: bool
    water: bool
    languages: list[str]
    operator_id: int | None
    phone: str
    email: str
    version: int
    occupancy_updated_at: datetime | None
    lon: float
    lat: float

    @property
    def pk(self) -> int:
        return self.id

    @property
    def free_places(self) -> int | None:
        return free_places_of(self.capacity, self.occupancy)

    @cached_property
    def location(self) -> Point:
        # Built when asked for: a GEOS object costs more than the rest of the row, and few callers need one.
        return Point(self.lon, self.lat, srid=WGS84)


@dataclass(frozen=True)
class NearestShelter:
    shelter: PublicShelter
    distance_m: float


# The shelter's columns in the order of PublicShelter's fields, before lon and lat (which both queries compute).
COLUMNS = tuple(field.name for field in fields(PublicShelter))[:-2]
# Read as JSON text on PostgreSQL (Django has psycopg leave jsonb undecoded, for JSONField to decode).
JSON_INDEXES = tuple(COLUMNS.index(name) for name in ("names", "hazards", "languages"))


def nearest_by_orm(
    *,
    point: Point,
    people: int,
    need_fields: Sequence[str],
    hazard: str | None,
    language: str | None,
    bed: str | None,
    limit: int,
    max_distance_m: float | None,
    exclude_ids: Sequence[int],
) -> list[NearestShelter]:
    """Open shelters with room for `people`, with every need, hazard, language and free bed asked for,
    nearest first (the arguments are checked by `selectors.shelter_nearest`)."""
    shelters: QuerySet[Shelter] = Shelter.objects.filter(
        status=ShelterStatus.OPEN, capacity__isnull=False, occupancy__lte=F("capacity") - people
    )
    for need_field in need_fields:
        shelters = shelters.filter(**{need_field: True})
    if hazard:
        shelters = json_list_contains(shelters, "hazards", hazard)
    if language:
        shelters = json_list_contains(shelters, "languages", language)
    if bed is not None:
        free_bed = ShelterBeds.objects.filter(shelter=OuterRef("pk"), category=bed, occupied__lt=F("capacity"))
        shelters = shelters.filter(Exists(free_bed))
    if exclude_ids:
        shelters = shelters.exclude(pk__in=exclude_ids)
    shelters = shelters.annotate(distance=distance_expression(point))
    if max_distance_m is not None:
        shelters = shelters.filter(distance__lte=max_distance_m)
    # Ordered by distance alone: a second key would stop PostGIS from walking its index nearest first.
    shelters = shelters.annotate(
        lon=Func("location", function="ST_X", output_field=FloatField()),
        lat=Func("location", function="ST_Y", output_field=FloatField()),
    )
    rows = shelters.order_by("distance").values_list(*COLUMNS, "lon", "lat", "distance")[:limit]
    return [
        NearestShelter(shelter=PublicShelter(*values), distance_m=distance_in_metres(distance))
        for *values, distance in rows
    ]


def nearest_by_sql(
    *,
    point: Point,
    people: int,
    need_fields: Sequence[str],
    hazard: str | None,
    language: str | None,
    bed: str | None,
    limit: int,
    max_distance_m: float | None,
    exclude_ids: Sequence[int],
) -> list[NearestShelter]:
    """`nearest_by_orm` for PostGIS, through the hand-compiled SQL of its shape."""
    if point.srid not in (None, WGS84):
        point = cast(Point, point.transform(WGS84, clone=True))
    x, y = point.x, point.y
    sql = _postgis_sql(
        need_fields=tuple(sorted(set(need_fields))),
        hazard=bool(hazard),
        language=bool(language),
        bed=bed is not None,
        exclude=bool(exclude_ids),
        max_distance=max_distance_m is not None,
    )
    params: list[Any] = [x, y, ShelterStatus.OPEN.value, people]
    if hazard:
        params.append(json.dumps([hazard]))
    if language:
        params.append(json.dumps([language]))
    if bed is not None:
        params.append(bed)
    if exclude_ids:
        params.append(list(exclude_ids))
    if max_distance_m is not None:
        params += [x, y, max_distance_m]
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    for *values, distance in rows:
        for index in JSON_INDEXES:
            values[index] = json.loads(values[index])
        found.append(NearestShelter(shelter=PublicShelter(*values), distance_m=float(distance)))
    return found


def _column(model: type[Shelter | ShelterBeds], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(field.column)}"


@cache
def _postgis_sql(
    *, need_fields: tuple[str, ...], hazard: bool, language: bool, bed: bool, exclude: bool, max_distance: bool
) -> str:
    """The SQL of one shape of the query, as `nearest_by_orm` writes it on PostGIS, with placeholders for
    the point, the status, the people, the filters' values and the limit (in that order).

    Only names from the models and fixed text go into it; every value is a parameter.
    """

    def shelter(name: str) -> str:
        return _column(Shelter, name)

    def beds(name: str) -> str:
        return _column(ShelterBeds, name)

    location = shelter("location")
    # As search.GeographyDistance writes it: the form the geography index orders by.
    distance = f"({location}::geography <-> ST_SetSRID(ST_MakePoint(%s, %s), {WGS84})::geography)"
    where = [
        f"{shelter('status')} = %s",
        f"{shelter('capacity')} IS NOT NULL",
        f"{shelter('occupancy')} <= ({shelter('capacity')} - %s)",
        *(shelter(name) for name in need_fields),
    ]
    if hazard:
        where.append(f"{shelter('hazards')} @> %s::jsonb")
    if language:
        where.append(f"{shelter('languages')} @> %s::jsonb")
    if bed:
        free_bed = f"{beds('category')} = %s AND {beds('occupied')} < {beds('capacity')}"
        beds_table = connection.ops.quote_name(ShelterBeds._meta.db_table)
        # Names from the models; the category is a parameter.
        where.append(f"EXISTS (SELECT 1 FROM {beds_table} WHERE {beds('shelter')} = {shelter('id')} AND {free_bed})")  # noqa: S608
    if exclude:
        where.append(f"NOT ({shelter('id')} = ANY(%s))")
    if max_distance:
        where.append(f"{distance} <= %s")
    selected = [*(shelter(name) for name in COLUMNS), f"ST_X({location})", f"ST_Y({location})"]
    table = connection.ops.quote_name(Shelter._meta.db_table)
    return "\n".join(
        [
            f"SELECT {', '.join(selected)}, {distance} AS distance",
            f"FROM {table} WHERE {' AND '.join(where)}",
            "ORDER BY distance LIMIT %s",
        ]
    )
