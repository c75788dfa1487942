"""The resident's "Report what you see" page: text, an optional place and photo, and the list of their reports."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from alerts.selectors_reports import report_list_mine
from alerts.services.reports import report_create
from commsplatform.core.errors import DomainError, ValidationFailed
from commsplatform.core.throttling import rate_limited
from web.views.common import error_page, parse_point, resident_required, signed_in_user


def _field_messages() -> dict[tuple[str, str], str]:
    """The services' field codes, said in the reader's language."""
    max_mb = settings.REPORT_PHOTO_MAX_BYTES // (1024 * 1024)
    return {
        ("text", "required"): _("Say what you see."),
        ("text", "too_long"): _("The text is too long (%(max)s characters at most).")
        % {"max": settings.REPORT_TEXT_MAX_CHARS},
        ("photo", "too_large"): _("The photo is too large (%(max)s MB at most).") % {"max": max_mb},
        ("photo", "empty"): _("The photo is empty."),
        ("photo", "invalid"): _("The photo is not a JPEG, PNG or WebP image."),
        ("photo", "type"): _("The photo must be a JPEG, PNG or WebP image."),
        ("lat", "not a number"): _("The latitude must be a number."),
        ("lat", "out of range"): _("The latitude must be between -90 and 90."),
        ("lon", "not a number"): _("The longitude must be a number."),
        ("lon", "out of range"): _("The longitude must be between -180 and 180."),
        ("location", "range"): _("The location must be a longitude and latitude."),
    }


def _errors(exc: DomainError) -> dict[str, str]:
    known = _field_messages()
    found = {field: known.get((field, code), exc.message) for field, code in exc.fields.items()}
    return found or {"form": exc.message}


@resident_required
@rate_limited("report", key="user_or_ip")
def report_page(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            location = parse_point(request.POST, required=False)
            photo = request.FILES.get("photo")
            if photo is not None and photo.size is not None and photo.size > settings.REPORT_PHOTO_MAX_BYTES:
                # Refused before it is read; the service would refuse it too.
                raise ValidationFailed("The photo is too large.", fields={"photo": "too_large"})
            report_create(reporter=user, text=request.POST.get("text", ""), location=location, photo=photo)
        except ValidationFailed as exc:
            errors, status = _errors(exc), exc.status
        except DomainError as exc:
            return error_page(request, exc)
        else:
            messages.success(request, _("Thank you. Your report was sent to the emergency staff."))
            return redirect("web:report")
    context: dict[str, Any] = {
        "errors": errors,
        "form": request.POST if request.method == "POST" else {},
        "reports": report_list_mine(user=user)[:50],
        "text_max": settings.REPORT_TEXT_MAX_CHARS,
        "photo_max_mb": settings.REPORT_PHOTO_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "web/reports/report.html", context, status=status)
