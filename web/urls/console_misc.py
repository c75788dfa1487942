"""Routes of the console misc pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/reports/", placeholder.page, name="console-reports"),
    path("console/audit/", placeholder.page, name="console-audit"),
]
