"""Sets the acting user and client address of each request for the audit record."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from commsplatform.core.context import acting_as


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        actor_id = user.pk if user is not None and user.is_authenticated else None
        address = request.META.get("REMOTE_ADDR") or "unknown"
        request_id = request.headers.get("X-Request-ID", "")[:64] or None
        with acting_as(actor_id=actor_id, source=f"http:{address}", request_id=request_id):
            return self.get_response(request)
