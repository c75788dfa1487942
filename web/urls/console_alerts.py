"""Routes of the console alerts pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/alerts/", placeholder.page, name="console-alerts"),
]
