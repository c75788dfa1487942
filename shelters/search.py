"""Search over places (shelters, assets): free text in any language, street, postcode, bounding box, distance.

The same queries run on SpatiaLite and PostGIS. On PostgreSQL, migration 0002 adds trigram indexes for the
text lookups and a geography index that answers nearest-first ordering (`GeographyDistance`).
"""

import json
import math
import unicodedata
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, FloatField, Func, Model, QuerySet, Value
from django.db.models.sql.compiler import SQLCompiler

from shelters.models import postcode_normalise, search_normalise

M = TypeVar("M", bound=Model)

MAX_TOKENS = 8
MAX_QUERY_CHARS = 200
METRES_PER_DEGREE = 111_320.0


class GeographyDistance(Func):
    """Distance in metres on the sphere, written `location::geography <-> point::geography` (PostGIS only).

    Ordering by it is answered by the GiST index on `(location::geography)`: a nearest-first scan that stops
    after the first rows, instead of measuring every row.
    """

    output_field = FloatField()

    def __init__(self, expression: str | Expression, point: Point) -> None:
        super().__init__(expression, Value(point, output_field=PointField(srid=4326)))

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, *args: Any, **kwargs: Any
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        return f"({lhs}::geography <-> {rhs}::geography)", (*lhs_params, *rhs_params)


def distance_expression(point: Point) -> Expression:
    """Metres from `point` to each row's location, in the form each database can order by fastest."""
    if connection.vendor == "postgresql":
        return GeographyDistance("location", point)
    return Distance("location", point)


def distance_in_metres(value: Any) -> float:
    """Annotated distances are plain floats on PostGIS and `Distance` measures on SpatiaLite."""
    return float(value.m) if hasattr(value, "m") else float(value)


def json_list_contains(queryset: QuerySet[M], field: str, value: str) -> QuerySet[M]:
    """Rows whose JSON list `field` holds `value` (a validated code: no quotes inside)."""
    if connection.vendor == "postgresql":
        return queryset.filter(**{f"{field}__contains": [value]})
    # SQLite stores the list as JSON text and has no containment operator: match the quoted token.
    return queryset.filter(**{f"{field}__icontains": json.dumps(value)})


def bbox_around(point: Point, radius_m: float) -> Polygon:
    """A longitude/latitude box holding every point within `radius_m` of `point` (for an index pre-filter)."""
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(point.y)), 0.01))
    return Polygon.from_bbox(
        (max(point.x - dlon, -180.0), max(point.y - dlat, -90.0), min(point.x + dlon, 180.0), min(point.y + dlat, 90.0))
    )


@dataclass(frozen=True)
class PlaceQuery:
    """What to look for. Every part is optional; the parts combine with AND."""

    q: str = ""
    street: str = ""
    postcode: str = ""
    bbox: tuple[float, float, float, float] | None = None
    near: Point | None = None
    within_m: float | None = None


def place_filter(queryset: QuerySet[M], query: PlaceQuery) -> QuerySet[M]:
    """Apply a place query to a queryset of a model with `search_text`, `street`, `postcode` and `location`.

    With `near`, rows are annotated with `distance` and ordered nearest first.
    """
    for token in search_normalise(query.q[:MAX_QUERY_CHARS]).split()[:MAX_TOKENS]:
        queryset = queryset.filter(search_text__contains=token)
    street = unicodedata.normalize("NFKC", query.street[:MAX_QUERY_CHARS]).strip()
    if street:
        queryset = queryset.filter(street__icontains=street)
    postcode = postcode_normalise(query.postcode[:MAX_QUERY_CHARS])
    if postcode:
        queryset = queryset.filter(postcode__startswith=postcode)
    if query.bbox is not None:
        queryset = queryset.filter(location__intersects=Polygon.from_bbox(query.bbox))
    if query.near is not None:
        if query.within_m is not None:
            queryset = queryset.filter(
                location__intersects=bbox_around(query.near, query.within_m),
                location__distance_lte=(query.near, D(m=query.within_m)),
            )
        queryset = queryset.annotate(distance=distance_expression(query.near)).order_by("distance", "pk")
    return queryset
