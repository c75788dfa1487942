"""API authentication that also names the actor of the audit record (the middleware runs before DRF
authenticates a Basic-auth request, so it could not know who that is)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BasicAuthentication
from rest_framework.request import Request

from commsplatform.core.context import context_set_actor


class AuditedBasicAuthentication(BasicAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            context_set_actor(result[0].pk)
        return result


class AuditedBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description of AuditedBasicAuthentication: HTTP Basic, as DRF's own class."""

    target_class = AuditedBasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}
