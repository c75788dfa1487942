"""Pages of GeoJSON: a FeatureCollection with the count and the links to the next and previous pages."""

from typing import Any

from rest_framework.response import Response

from commsplatform.core.pagination import LimitOffsetPagination


class GeoJsonLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 1000

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "type": "FeatureCollection",
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "features": data["features"],
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The page's FeatureCollection (`schema`), with the count and the links beside its features."""
        paginated = super().get_paginated_response_schema(schema)
        links = {name: paginated["properties"][name] for name in ("count", "next", "previous")}
        return {"allOf": [schema, {"type": "object", "required": ["count"], "properties": links}]}
