"""Routes of the console shelters pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/shelters/", placeholder.page, name="console-shelters"),
    path("console/assets/", placeholder.page, name="console-assets"),
]
