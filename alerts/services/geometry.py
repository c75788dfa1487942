"""Turning an alert's areas (drawn polygons, circles, picked administrative areas and zones) into one geometry."""

from collections.abc import Iterable

from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import GeometryCollection, GEOSGeometry, MultiPolygon, Point, Polygon

from accounts.models import AdministrativeArea
from alerts.content import AreaContent, Circle
from commsplatform.core.errors import ValidationFailed

WGS84 = SpatialReference(4326)
# A circle of radius 0 is a point in CAP; it is given this radius so that it still targets its block.
MIN_CIRCLE_RADIUS_KM = 0.05


def _as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon | None:
    """Keep only the areal parts of a geometry (a union or repair may add lines or points)."""
    polygons: list[GEOSGeometry] = []
    if isinstance(geometry, Polygon):
        polygons = [geometry]
    elif isinstance(geometry, MultiPolygon | GeometryCollection):
        for part in geometry:
            found = _as_multipolygon(part)
            if found is not None:
                polygons.extend(found)
    polygons = [polygon for polygon in polygons if not polygon.empty]
    if not polygons:
        return None
    return MultiPolygon(*polygons, srid=4326)


def circle_polygon(circle: Circle) -> Polygon:
    """The circle as a 64-sided polygon, drawn in an equidistant projection centred on it (metres are true)."""
    local = SpatialReference(f"+proj=aeqd +lat_0={circle.lat} +lon_0={circle.lon} +x_0=0 +y_0=0 +datum=WGS84 +units=m")
    radius_m = max(circle.radius_km, MIN_CIRCLE_RADIUS_KM) * 1000.0
    disc = Point(0, 0, srid=None).buffer(radius_m, quadsegs=16)
    disc.srid = None
    gdal_disc = disc.ogr
    gdal_disc.srs = local
    gdal_disc.transform(CoordTransform(local, WGS84))
    polygon = GEOSGeometry(gdal_disc.wkb, srid=4326)
    assert isinstance(polygon, Polygon)
    return polygon


def ring_polygon(ring: Iterable[tuple[float, float]]) -> GEOSGeometry:
    """A CAP polygon ring of (lat, lon) pairs as a WGS84 polygon, repaired when it self-intersects."""
    polygon: GEOSGeometry = Polygon([(lon, lat) for lat, lon in ring], srid=4326)
    if not polygon.valid:
        polygon = polygon.make_valid()  # type: ignore[attr-defined]  # GEOS >= 3.8; missing from django-stubs
    return polygon


def area_geometry(area: AreaContent) -> MultiPolygon | None:
    """What one area resolves to; None when nothing in it is geographic (e.g. only foreign geocodes)."""
    parts: list[GEOSGeometry] = [ring_polygon(ring) for ring in area.polygons if len(ring) >= 4]
    parts += [circle_polygon(circle) for circle in area.circles]
    if area.admin_area_ids:
        found = AdministrativeArea.objects.filter(pk__in=area.admin_area_ids)
        missing = set(area.admin_area_ids) - set(found.values_list("pk", flat=True))
        if missing:
            raise ValidationFailed(
                f"Unknown administrative area ids: {sorted(missing)}.", fields={"admin_area_ids": "unknown"}
            )
        parts += [admin.geometry for admin in found]
    if not parts:
        return None
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part)
    return _as_multipolygon(union)


def union_all(geometries: Iterable[MultiPolygon | None]) -> MultiPolygon | None:
    result: GEOSGeometry | None = None
    for geometry in geometries:
        if geometry is None:
            continue
        result = geometry if result is None else result.union(geometry)
    return None if result is None else _as_multipolygon(result)
