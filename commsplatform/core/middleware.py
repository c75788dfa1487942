"""Sets the acting user and client address of each request for the audit record."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

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


class RejectNulMiddleware:
    """A NUL character in the path or query string is refused with 400 before any view runs: PostgreSQL
    cannot hold one in text, and no legitimate client sends it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return JsonResponse(
                {"detail": "NUL characters are not allowed in the address.", "code": "invalid_value"}, status=400
            )
        return self.get_response(request)
