"""API authentication that also names the actor of the audit record (the middleware runs before DRF
authenticates a Basic-auth request, so it could not know who that is)."""

from typing import Any

from rest_framework.authentication import BasicAuthentication
from rest_framework.request import Request

from commsplatform.core.context import context_set_actor


class AuditedBasicAuthentication(BasicAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            context_set_actor(result[0].pk)
        return result
