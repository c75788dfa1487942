"""The product's routes, plus bench/load.py's trivial endpoint (/bench/trivial): never part of the product."""

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path


def trivial(request: HttpRequest) -> HttpResponse:
    """The baseline: the same daphne, ASGI handler, middleware and sync-view thread as the product's views, no work."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/trivial", trivial, name="bench-trivial"),
    path("", include("commsplatform.urls")),
]
