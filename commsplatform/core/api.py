"""DRF glue of the kernel: domain errors and Django validation errors become specific 4xx responses."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from commsplatform.core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.fields:
            body["fields"] = exc.fields
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {name: " ".join(str(m) for e in errs for m in e.messages) for name, errs in exc.error_dict.items()}
            return Response(
                {"detail": "Invalid input.", "code": "validation_failed", "fields": fields},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"detail": " ".join(exc.messages), "code": "validation_failed"}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, DataError):
        # A value the database cannot hold (a NUL character, an unpaired surrogate, a number out of range)
        # that validation let through: the statement failed, its transaction rolled back, nothing changed.
        return Response(
            {
                "detail": "The request holds a value the database cannot store (for example a NUL character).",
                "code": "invalid_value",
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
