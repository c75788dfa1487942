"""Citizen reports: what residents saw (text, where, a photo), queued for the classifier, triaged by staff.

Fact-checking before trust: new → triaged → verified or dismissed, only by staff of the report's area.
A photo is accepted only when its bytes decode as JPEG, PNG or WebP within the size cap (the name and the
declared content type are not trusted); it is stored under a random name.
"""

from __future__ import annotations

import uuid
from typing import IO

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from alerts.models import REPORT_TRANSITIONS, CitizenReport, ReportStatus
from alerts.selectors_reports import REPORT_STAFF_PERMS, report_area_at
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

PHOTO_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MAX_PIXELS = 40_000_000


def photo_check(photo: IO[bytes]) -> tuple[bytes, str, str]:
    """The photo's bytes, content type and extension, or ValidationFailed. Decodes the header with Pillow."""
    from PIL import Image, UnidentifiedImageError

    data = photo.read(settings.REPORT_PHOTO_MAX_BYTES + 1)
    if len(data) > settings.REPORT_PHOTO_MAX_BYTES:
        raise ValidationFailed(
            f"The photo is larger than {settings.REPORT_PHOTO_MAX_BYTES // (1024 * 1024)} MB.",
            fields={"photo": "too_large"},
        )
    if not data:
        raise ValidationFailed("The photo is empty.", fields={"photo": "empty"})
    import io

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed("The photo is not a JPEG, PNG or WebP image.", fields={"photo": "invalid"}) from exc
    if kind not in PHOTO_TYPES:
        raise ValidationFailed("The photo must be a JPEG, PNG or WebP image.", fields={"photo": "type"})
    if width * height > MAX_PIXELS:
        raise ValidationFailed("The photo has too many pixels.", fields={"photo": "too_large"})
    content_type, extension = PHOTO_TYPES[kind]
    return data, content_type, extension


def report_create(
    *, reporter: User, text: str, location: Point | None = None, photo: IO[bytes] | None = None
) -> CitizenReport:
    """Record a report and queue its text for the classifier after commit."""
    if not reporter.is_active or reporter.erased_at is not None:
        raise PermissionDenied("This account cannot send reports.")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("Say what you see.", fields={"text": "required"})
    if len(text) > settings.REPORT_TEXT_MAX_CHARS:
        raise ValidationFailed(
            f"The text is too long ({settings.REPORT_TEXT_MAX_CHARS} characters at most).", fields={"text": "too_long"}
        )
    if location is not None:
        if location.srid not in (None, 4326) or not (-180 <= location.x <= 180 and -90 <= location.y <= 90):
            raise ValidationFailed("The location must be WGS84 longitude/latitude.", fields={"location": "range"})
        location.srid = 4326
    checked = photo_check(photo) if photo is not None else None
    area = report_area_at(location=location, reporter=reporter)
    with transaction.atomic():
        report = CitizenReport(reporter=reporter, text=text, location=location, area=area)
        if checked is not None:
            data, content_type, extension = checked
            report.photo.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(data), save=False)
            report.photo_content_type = content_type
        report.save()
        audit_record(
            action="alerts.report_created",
            target=report,
            actor_id=reporter.pk,
            area_id=area.pk if area else None,
            data={"photo": checked is not None, "located": location is not None},
        )
        from classifier.services import text_classify_enqueue

        text_classify_enqueue(source=report, text=text, author=reporter)
    return report


def report_require_staff(*, user: User, report: CitizenReport) -> None:
    if user.is_active and user.is_superuser:
        return
    if report.area is None or not any(
        permissions.user_has_area_perm(user, perm, report.area) for perm in REPORT_STAFF_PERMS
    ):
        raise PermissionDenied("You may not triage reports of this area.")


def report_set_status(*, actor: User, report: CitizenReport, status: str, note: str = "") -> CitizenReport:
    """Move a report along new → triaged → verified / dismissed (staff of its area)."""
    if status not in ReportStatus.values:
        raise ValidationFailed(f"Unknown status {status!r}.", fields={"status": "unknown"})
    if len(note) > 1000:
        raise ValidationFailed("The note is too long (1000 characters at most).", fields={"note": "too_long"})
    report_require_staff(user=actor, report=report)
    with transaction.atomic():
        locked = CitizenReport.objects.select_for_update().get(pk=report.pk)
        if status not in REPORT_TRANSITIONS[ReportStatus(locked.status)]:
            raise Conflict(f"A {locked.status} report cannot become {status}.")
        previous = locked.status
        locked.status = status
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        if note:
            locked.staff_note = note.strip()
        locked.save(update_fields=["status", "status_changed_at", "status_changed_by", "staff_note", "updated_at"])
        audit_record(
            action="alerts.report_status_changed",
            target=locked,
            actor_id=actor.pk,
            area_id=locked.area_id,
            data={"from": previous, "to": status},
        )
    return locked


def report_classification_set(
    *, report_id: int, category: str, score: float, urgency: int, model_name: str, model_version: str
) -> bool:
    """Written by the classifier: the category and urgency that order the triage queue. False if the report is gone."""
    updated = CitizenReport.objects.filter(pk=report_id).update(
        category=category[:64],
        category_score=score,
        urgency=max(0, min(2, urgency)),
        model_name=model_name[:200],
        model_version=model_version[:100],
        classified_at=timezone.now(),
    )
    return bool(updated)


def reports_erase_for_user(*, user: User) -> int:
    """Delete a person's reports and their photos (on erasure)."""
    count = 0
    photos: list[str] = []
    for report in CitizenReport.objects.filter(reporter=user):
        if report.photo:
            photos.append(report.photo.name)
        report.delete()
        count += 1
    if photos:
        # The files go once the erasure has committed, so that a rollback keeps them with their rows.
        storage = CitizenReport._meta.get_field("photo").storage

        def delete_photos() -> None:
            for name in photos:
                storage.delete(name)

        transaction.on_commit(delete_photos)
    return count
