"""The vector base map: administrative areas, evacuation zones and evacuation routes as GeoJSON (public
information), simplified for a slow connection and cached by the browser for a few minutes."""

import json
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts.models import AreaLevel
from accounts.selectors import area_list
from shelters.selectors import route_list

# About 10 m at mid latitudes: invisible at city zoom, and a fraction of the bytes of surveyed boundaries.
SIMPLIFY_DEGREES = 0.0001
BASE_LEVELS = (AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.NEIGHBOURHOOD, AreaLevel.ZONE)
MAX_FEATURES = 2000


def _geometry(geometry: GEOSGeometry) -> dict[str, Any]:
    simplified = geometry.simplify(SIMPLIFY_DEGREES, preserve_topology=True)
    data: dict[str, Any] = json.loads(simplified.geojson)
    return data


@require_GET
@cache_control(public=True, max_age=300)
def areas_geojson(request: HttpRequest) -> JsonResponse:
    levels = [level for level in request.GET.get("levels", "").split(",") if level in AreaLevel.values]
    areas = area_list().filter(level__in=levels or BASE_LEVELS).only("pk", "name", "code", "level", "geometry")
    features = [
        {
            "type": "Feature",
            "id": area.pk,
            "properties": {"id": area.pk, "name": area.name, "code": area.code, "level": area.level},
            "geometry": _geometry(area.geometry),
        }
        for area in areas[:MAX_FEATURES]
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features})


@require_GET
@cache_control(public=True, max_age=60)
def routes_geojson(request: HttpRequest) -> JsonResponse:
    features = [
        {
            "type": "Feature",
            "id": route.pk,
            "properties": {"id": route.pk, "name": route.name, "status": route.status, "level": "route"},
            "geometry": _geometry(route.geometry),
        }
        for route in route_list()[:MAX_FEATURES]
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features})
