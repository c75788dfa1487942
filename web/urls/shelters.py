"""Routes of the shelters pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("shelters/", placeholder.page, name="shelters"),
]
