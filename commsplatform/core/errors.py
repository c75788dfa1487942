"""Errors that services raise; interfaces turn them into HTTP 4xx, bot replies or error frames."""

from collections.abc import Mapping


class DomainError(Exception):
    """Something the caller asked for cannot be done; nothing was changed."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = dict(fields or {})


class ValidationFailed(DomainError):
    code = "validation_failed"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
