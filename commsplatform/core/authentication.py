"""API authentication that also names the actor of the audit record (the middleware runs before DRF
authenticates a Basic-auth request, so it could not know who that is)."""

from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]  # the package has no type hints
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from commsplatform.core.context import context_set_actor


class AuditedBasicAuthentication(BasicAuthentication):
    """HTTP Basic, naming the actor of the audit record; failed attempts count against the sign-in limit
    (settings.RATE_LIMITS["login"], per address), beyond which credentials are not even checked (429)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        rate = settings.RATE_LIMITS.get("login")
        if rate:
            usage = get_usage(request, group="api.basic-auth", key="ip", rate=rate, increment=False)
            if usage is not None and usage["count"] >= usage["limit"]:
                raise Throttled(wait=max(1, int(usage["time_left"])))
        try:
            result = super().authenticate(request)
        except AuthenticationFailed:
            if rate:
                get_usage(request, group="api.basic-auth", key="ip", rate=rate, increment=True)
            raise
        if result is not None:
            context_set_actor(result[0].pk)
        return result


class AuditedBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of AuditedBasicAuthentication: HTTP Basic, as DRF's own class."""

    target_class = AuditedBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}
