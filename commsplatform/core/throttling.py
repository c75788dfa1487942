"""Rate limits, counted in the shared cache (Redis: every daphne process sees the same counts).

The API uses DRF's throttles (per anonymous address, per signed-in user, and scoped ones), the pages' forms use
django-ratelimit (`rate_limited`). Both read their rates from settings when a request comes, so that a deployment
sets them in the environment and tests can change them with override_settings; a rate of None turns a limit off.
A request over a limit gets 429 with Retry-After, and the view does not run: nothing changes.
"""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]  # the package has no type hints
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

if TYPE_CHECKING:
    from rest_framework.views import APIView

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - not bound to: the rate-limit key of callers without an address


def client_address(request: HttpRequest) -> str:
    """The caller's address as DRF's throttles see it (the last proxy's X-Forwarded-For entry when
    REST_FRAMEWORK["NUM_PROXIES"] says there is a proxy; the peer address otherwise), for the forms' limits too."""
    ident = throttling.BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    # A server that gives no peer address (a unix socket, some test clients): all such callers count as one.
    return str(ident) if ident else UNKNOWN_ADDRESS


class _RatesFromSettings(throttling.SimpleRateThrottle):
    """DRF binds THROTTLE_RATES when it is imported; these read the settings in force at each request."""

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No rate in REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] for {self.scope!r}.")
        return rates[self.scope]


class AnonRateThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    """Anonymous callers, per address (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"])."""


class UserRateThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Signed-in callers, per user; anonymous ones per address ("user")."""


class ReportSubmitThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    """Citizen reports sent, per user ("reports"); reading one's reports is not counted."""

    scope = "reports"

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


def _too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(
        request,
        "web/too_many_requests.html",
        {"retry_after": retry_after, "minutes": max(1, (retry_after + 59) // 60)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(group: str, *, key: str = "ip", method: str = "POST") -> Callable[[View], View]:
    """Limit a page's `method` requests to settings.RATE_LIMITS[group] per `key` (django-ratelimit's keys: "ip",
    "user_or_ip", "post:<field>" to count per submitted value, e.g. the username tried); over it, an HTML 429 page.
    Addresses are `client_address` (settings.RATELIMIT_IP_META_KEY)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            rate = settings.RATE_LIMITS.get(group)
            if rate and request.method == method:
                usage = get_usage(request, group=f"web.{group}", key=key, rate=rate, increment=True)
                if usage is not None and usage["should_limit"]:
                    return _too_many(request, max(1, int(usage["time_left"])))
            return view(request, *args, **kwargs)

        return cast(View, limited)

    return decorate
