"""Routes of the alerts pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("", placeholder.page, name="home"),
]
