"""Query-string parameters of the shelters API, each parsed or refused with a message naming it."""

import math
from collections.abc import Iterable, Mapping

from django.contrib.gis.geos import Point

from commsplatform.core.errors import ValidationFailed
from shelters.search import MAX_QUERY_CHARS, PlaceQuery

MAX_RADIUS_M = 500_000.0


def text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if len(value) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"{name} is longer than {MAX_QUERY_CHARS} characters.", fields={name: "too long"})
    return value.strip()


def number(params: Mapping[str, str], name: str, *, low: float, high: float) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number.", fields={name: "not a number"}) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low:g} and {high:g}.", fields={name: "out of range"})
    return value


def integer(params: Mapping[str, str], name: str, *, low: int, high: int, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise ValidationFailed(f"{name} must be a whole number from {low} to {high}.", fields={name: "out of range"})
    return int(raw)


def point(params: Mapping[str, str]) -> Point | None:
    """`lon` and `lat` (WGS84), both or neither."""
    lon = number(params, "lon", low=-180, high=180)
    lat = number(params, "lat", low=-90, high=90)
    if (lon is None) != (lat is None):
        raise ValidationFailed("Give both lon and lat.", fields={"lon" if lon is None else "lat": "required"})
    return Point(lon, lat, srid=4326) if lon is not None and lat is not None else None


def bbox(params: Mapping[str, str]) -> tuple[float, float, float, float] | None:
    """`bbox=min_lon,min_lat,max_lon,max_lat`."""
    raw = params.get("bbox")
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValidationFailed("bbox is min_lon,min_lat,max_lon,max_lat.", fields={"bbox": "invalid"})
    x0, y0, x1, y1 = values
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ValidationFailed("bbox corners must be in range and in order.", fields={"bbox": "invalid"})
    return x0, y0, x1, y1


def choice_list(params: Mapping[str, str], name: str, allowed: Iterable[str]) -> list[str]:
    raw = params.get(name, "")
    values = [part.strip() for part in raw.split(",") if part.strip()]
    allowed_set = set(allowed)
    unknown = sorted(set(values) - allowed_set)
    if unknown:
        raise ValidationFailed(
            f"Unknown {name}: {', '.join(unknown)[:200]} (known: {', '.join(sorted(allowed_set))}).",
            fields={name: "unknown"},
        )
    return values


def choice(params: Mapping[str, str], name: str, allowed: Iterable[str]) -> str | None:
    values = choice_list(params, name, allowed)
    if len(values) > 1:
        raise ValidationFailed(f"Give one {name}.", fields={name: "several"})
    return values[0] if values else None


def boolean(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name, "").lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ValidationFailed(f"{name} is true or false.", fields={name: "not a boolean"})


def place_query(params: Mapping[str, str]) -> PlaceQuery:
    """`q`, `street`, `postcode`, `bbox`, and `lon`+`lat` with an optional `within_m`."""
    near = point(params)
    within = number(params, "within_m", low=1, high=MAX_RADIUS_M)
    if within is not None and near is None:
        raise ValidationFailed("within_m needs lon and lat.", fields={"within_m": "needs lon and lat"})
    return PlaceQuery(
        q=text(params, "q"),
        street=text(params, "street"),
        postcode=text(params, "postcode"),
        bbox=bbox(params),
        near=near,
        within_m=within,
    )
