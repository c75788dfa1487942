"""The console's start page."""

from django.urls import URLPattern, URLResolver, path

from web.views import console

urlpatterns: list[URLPattern | URLResolver] = [
    path("console/", console.index, name="console"),
]
