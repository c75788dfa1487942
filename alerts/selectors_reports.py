"""Reads of citizen reports: the staff triage queue (area-scoped, most urgent first) and a resident's own reports."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import AdministrativeArea, AreaLevel, ResidentProfile, User
from alerts.models import CitizenReport, ReportStatus
from commsplatform.core.errors import NotFound

# Civil protection staff who draft alerts act on reports; staff who may see residents follow them up.
REPORT_STAFF_PERMS = (permissions.DRAFT_ALERTS, permissions.VIEW_RESIDENTS)
FINEST_FIRST = (AreaLevel.NEIGHBOURHOOD, AreaLevel.DISTRICT, AreaLevel.ZONE, AreaLevel.CITY)
OPEN_STATUSES = (ReportStatus.NEW, ReportStatus.TRIAGED)


def report_area_at(*, location: Point | None, reporter: User) -> AdministrativeArea | None:
    """The finest area at the report's location, else at the reporter's home (used for scoping only)."""
    point = location
    if point is None:
        point = ResidentProfile.objects.filter(user=reporter).values_list("home_location", flat=True).first()
    if point is None:
        return None
    found = {a.level: a for a in AdministrativeArea.objects.filter(geometry__intersects=point, level__in=FINEST_FIRST)}
    for level in FINEST_FIRST:
        if level in found:
            return found[level]
    return None


def _staff_scope(user: User) -> Q | None:
    """None for a superuser (everything); else the areas the user covers with a report permission."""
    if user.is_active and user.is_superuser:
        return None
    scope = Q(pk__in=[])
    for perm in REPORT_STAFF_PERMS:
        scope |= Q(area__in=permissions.areas_covered(user, perm))
    return scope


def report_triage_list_for_user(*, user: User, status: str | None = None) -> QuerySet[CitizenReport]:
    """Reports of the user's areas, open ones by default: most urgent first, then the longest waiting."""
    reports = CitizenReport.objects.all()
    scope = _staff_scope(user)
    if scope is not None:
        reports = reports.filter(scope)
    reports = reports.filter(status=status) if status else reports.filter(status__in=OPEN_STATUSES)
    return reports.order_by("-urgency", "created_at", "id")


def report_list_mine(*, user: User) -> QuerySet[CitizenReport]:
    return CitizenReport.objects.filter(reporter=user).order_by("-created_at", "-id")


def report_get_for_user(*, user: User, report_id: int) -> CitizenReport:
    """The report, for its reporter or for staff of its area; NotFound for anyone else (no existence leak)."""
    report = CitizenReport.objects.filter(pk=report_id).select_related("area").first()
    if report is not None and report.reporter_id == user.pk:
        return report
    if report is not None:
        scope = _staff_scope(user)
        if scope is None or CitizenReport.objects.filter(scope, pk=report.pk).exists():
            return report
    raise NotFound("No such report.")


def report_is_staff_view(*, user: User, report: CitizenReport) -> bool:
    scope = _staff_scope(user)
    return scope is None or CitizenReport.objects.filter(scope, pk=report.pk).exists()
