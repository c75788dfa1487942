"""The sensor routes at their real paths, for tests that run before alerts/api/urls.py includes them."""

from django.urls import include, path

urlpatterns = [path("api/alerts/", include("alerts.api.sensor_urls"))]
