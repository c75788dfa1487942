"""Routes of the console rooms pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/rooms/", placeholder.page, name="console-rooms"),
]
