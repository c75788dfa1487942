"""What every page view shares: turning domain errors into a page with the right status, the console gate,
reading points and numbers from forms, pagination."""

import math
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.geos import Point
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import User
from commsplatform.core.errors import DomainError, ValidationFailed
from web.context import console_sections

View = TypeVar("View", bound=Callable[..., HttpResponse])


def error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A page naming what went wrong, with the error's own status (400, 403, 404, 409)."""
    return render(request, "web/error.html", {"error": exc, "status": exc.status}, status=exc.status)


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def resident_required(view: View) -> View:
    """Signed-in people only; anyone else is sent to the sign-in page and back."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def console_required(section: str | None = None) -> Callable[[View], View]:
    """Staff holding a role that opens the console section (any section when None); others get 403.

    Only a gate for the page: every read and write inside still checks the permission over its own area.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            sections = console_sections(request)
            if not sections or (section is not None and section not in sections):
                from commsplatform.core.errors import PermissionDenied

                return error_page(request, PermissionDenied(_("Your roles do not open this part of the console.")))
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def parse_float(data: Mapping[str, Any], name: str, *, minimum: float, maximum: float) -> float:
    raw = str(data.get(name, "")).strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(
            _("%(field)s must be a number.") % {"field": name}, fields={name: "not a number"}
        ) from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ValidationFailed(
            _("%(field)s must be between %(min)s and %(max)s.") % {"field": name, "min": minimum, "max": maximum},
            fields={name: "out of range"},
        )
    return value


def parse_int(data: Mapping[str, Any], name: str, *, minimum: int = 0, maximum: int = 1_000_000) -> int:
    raw = str(data.get(name, "")).strip()
    if not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise ValidationFailed(_("%(field)s must be a whole number.") % {"field": name}, fields={name: "not a number"})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise ValidationFailed(
            _("%(field)s must be between %(min)s and %(max)s.") % {"field": name, "min": minimum, "max": maximum},
            fields={name: "out of range"},
        )
    return value


def parse_point(data: Mapping[str, Any], *, lat: str = "lat", lon: str = "lon", required: bool = True) -> Point | None:
    """A WGS84 point from two form fields; None when both are empty and the point is optional."""
    if not required and not str(data.get(lat, "")).strip() and not str(data.get(lon, "")).strip():
        return None
    latitude = parse_float(data, lat, minimum=-90, maximum=90)
    longitude = parse_float(data, lon, minimum=-180, maximum=180)
    return Point(longitude, latitude, srid=4326)


def paginate(request: HttpRequest, items: QuerySet[Any] | list[Any], per_page: int = 25) -> Page[Any]:
    return Paginator(items, per_page).get_page(request.GET.get("page"))
