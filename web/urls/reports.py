"""Routes of the reports pages."""

from django.urls import URLPattern, URLResolver, path

from web.views import placeholder

urlpatterns: list[URLPattern | URLResolver] = [
    path("report/", placeholder.page, name="report"),
]
