"""Routes of the rooms pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("rooms/", placeholder.page, name="rooms"),
]
