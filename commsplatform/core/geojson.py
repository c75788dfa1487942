"""GeoJSON geometry field for API input and output, typed in the OpenAPI schema.

Input must be plain WGS84 GeoJSON: a `crs` member is refused, so that no client-supplied spatial
reference ever reaches GDAL (GDAL before 3.9 cannot be stopped from opening files or URLs it names).
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

GEOJSON_GEOMETRY_SCHEMA = {
    "type": "object",
    "description": "A GeoJSON geometry in WGS84 longitude/latitude (RFC 7946).",
    "properties": {
        "type": {
            "type": "string",
            "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"],
        },
        "coordinates": {"type": "array", "items": {}},
    },
    "required": ["type", "coordinates"],
}

MAX_GEOJSON_COORDINATES_CHARS = 2_000_000


@extend_schema_field(GEOJSON_GEOMETRY_SCHEMA)
class GeoJsonField(GeometryField):
    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a GeoJSON geometry object.")
        if "crs" in value:
            raise serializers.ValidationError("A 'crs' member is not accepted: send WGS84 longitude/latitude.")
        if value.get("type") not in GEOJSON_GEOMETRY_SCHEMA["properties"]["type"]["enum"]:  # type: ignore[index]
            raise serializers.ValidationError(f"Unsupported geometry type {value.get('type')!r}.")
        if len(str(value.get("coordinates"))) > MAX_GEOJSON_COORDINATES_CHARS:
            raise serializers.ValidationError("The geometry is too large.")
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            raise
        except Exception as exc:
            raise serializers.ValidationError(f"Invalid GeoJSON geometry: {exc}") from exc
