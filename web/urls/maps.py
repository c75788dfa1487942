"""Routes of the base map's vector layers."""

from django.urls import URLPattern, URLResolver, path

from web.views import maps

urlpatterns: list[URLPattern | URLResolver] = [
    path("map/areas.geojson", maps.areas_geojson, name="map-areas"),
    path("map/routes.geojson", maps.routes_geojson, name="map-routes"),
]
