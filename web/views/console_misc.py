"""Console pages for reports triage, the audit viewer and the charts (deliveries of an alert, a shelter's occupancy).

Every read goes through the domain selectors and every write through one domain service: each keeps its own
check over the area, so a page only shows and changes what its reader may.
"""

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from accounts.selectors import audit_events_for_user
from alerts.models import REPORT_TRANSITIONS, CitizenReport, ReportStatus
from alerts.selectors import alert_get_for_user, alert_require_staff, delivery_timeline
from alerts.selectors_reports import report_get_for_user, report_triage_list_for_user
from alerts.services.reports import report_set_status
from classifier import selectors as classifier_selectors
from classifier import services as classifier_services
from classifier.labels import label_set_active
from commsplatform.core.audit import audit_chain_verify
from commsplatform.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from rooms.record import room_verify
from rooms.selectors import room_get
from shelters.selectors import shelter_get, shelter_history_for_user
from web.views.common import console_required, error_page, paginate, parse_int, signed_in_user

TRIAGE_ACTIONS = (ReportStatus.TRIAGED, ReportStatus.VERIFIED, ReportStatus.DISMISSED)


# --- Reports triage -------------------------------------------------------------------------------------------


def _report_feature(report: CitizenReport) -> dict[str, Any]:
    assert report.location is not None
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [report.location.x, report.location.y]},
        "properties": {"id": report.pk, "name": f"#{report.pk}", "urgency": report.urgency},
    }


def _triage(request: HttpRequest, *, error: DomainError | None = None) -> HttpResponse:
    user = signed_in_user(request)
    wanted = request.GET.get("status") or None
    if wanted is not None and wanted not in ReportStatus.values:
        return error_page(request, ValidationFailed(_("Unknown status."), fields={"status": "unknown"}))
    page = paginate(request, report_triage_list_for_user(user=user, status=wanted).select_related("area"))
    reports = list(page.object_list)
    report_ids = [r.pk for r in reports]
    # The classifier's rows and the group assignments only where the reader may see residents' texts.
    texts = {
        t.object_id: t
        for t in classifier_selectors.text_triage_list_for_user(user=user).filter(
            content_type=ContentType.objects.get_for_model(CitizenReport), object_id__in=report_ids
        )
    }
    assignments: dict[int, list[Any]] = {}
    for assignment in classifier_selectors.assignment_list_for_user(user=user).filter(
        user_id__in={r.reporter_id for r in reports}, ended_at__isnull=True
    ):
        assignments.setdefault(assignment.user_id, []).append(assignment)
    groups = list(classifier_selectors.group_list_for_user(user=user)[:500])
    rows = [
        {
            "report": r,
            "text": texts.get(r.pk),
            "assignments": assignments.get(r.reporter_id, []),
            "transitions": [s for s in TRIAGE_ACTIONS if s in REPORT_TRANSITIONS[ReportStatus(r.status)]],
        }
        for r in reports
    ]
    features = {"type": "FeatureCollection", "features": [_report_feature(r) for r in reports if r.location]}
    context = {
        "page": page,
        "rows": rows,
        "status": wanted or "",
        "statuses": ReportStatus.choices,
        "labels": label_set_active().labels,
        "groups": groups,
        "features": features,
        "error": error,
    }
    return render(request, "console/reports/triage.html", context, status=error.status if error else 200)


@console_required("reports")
@require_GET
def reports_triage(request: HttpRequest) -> HttpResponse:
    return _triage(request)


def _done(request: HttpRequest, text: str, report_id: int) -> HttpResponse:
    messages.success(request, text)
    query = request.POST.get("list_status", "")
    suffix = f"?status={query}" if query in ReportStatus.values else ""
    return redirect(f"{reverse('web:console-reports')}{suffix}#report-{report_id}")


@require_POST
@console_required("reports")
def report_status(request: HttpRequest, report_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        report = report_get_for_user(user=user, report_id=report_id)
        report_set_status(
            actor=user, report=report, status=request.POST.get("status", ""), note=request.POST.get("note", "")
        )
    except DomainError as exc:
        return _triage(request, error=exc)
    return _done(request, _("Report #%(id)s updated.") % {"id": report_id}, report_id)


@require_POST
@console_required("reports")
def report_relabel(request: HttpRequest, report_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        report = report_get_for_user(user=user, report_id=report_id)
        text = (
            classifier_selectors.text_triage_list_for_user(user=user)
            .filter(content_type=ContentType.objects.get_for_model(CitizenReport), object_id=report.pk)
            .first()
        )
        if text is None:
            raise NotFound(_("This report's text is not in your areas' classifier queue."))
        classifier_services.text_relabel(actor=user, text=text, label=request.POST.get("label", ""))
    except DomainError as exc:
        return _triage(request, error=exc)
    return _done(request, _("The category of report #%(id)s was corrected.") % {"id": report_id}, report_id)


@require_POST
@console_required("reports")
def assignment_end(request: HttpRequest, assignment_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        report_id = parse_int(request.POST, "report", minimum=0, maximum=2**62) if request.POST.get("report") else 0
        assignment = classifier_selectors.assignment_get_for_user(user=user, assignment_id=assignment_id)
        classifier_services.assignment_end(actor=user, assignment=assignment, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _triage(request, error=exc)
    return _done(request, _("The group assignment was ended."), report_id)


@require_POST
@console_required("reports")
def assignment_add(request: HttpRequest, report_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        report = report_get_for_user(user=user, report_id=report_id)
        group_id = parse_int(request.POST, "group", minimum=1, maximum=2**62)
        group = classifier_selectors.group_list_for_user(user=user).filter(pk=group_id).first()
        if group is None:
            raise NotFound(_("No such group in your areas."))
        reason = request.POST.get("reason", "").strip()
        if not reason:  # as the API's serializer: staff always say why they put someone in a group
            raise ValidationFailed(_("Say why."), fields={"reason": "required"})
        classifier_services.assignment_add(actor=user, user=report.reporter, group=group, reason=reason)
    except DomainError as exc:
        return _triage(request, error=exc)
    return _done(request, _("The author of report #%(id)s was added to the group.") % {"id": report_id}, report_id)


# --- Audit viewer ---------------------------------------------------------------------------------------------


def _day(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(_("Dates are written YYYY-MM-DD."), fields={name: "invalid"}) from None


@console_required("audit")
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    try:
        events = audit_events_for_user(user=user)
        since, until = _day(request, "since"), _day(request, "until")
        action = request.GET.get("action", "").strip()[:100]
        room_result = _room_verify(request, user) if request.GET.get("room") else None
    except DomainError as exc:
        return error_page(request, exc)
    actions = sorted(set(events.values_list("action", flat=True).distinct()))
    if action:
        events = events.filter(action=action)
    if since:
        events = events.filter(at__gte=datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        events = events.filter(at__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))
    chain = audit_chain_verify() if request.GET.get("verify") else None
    query = request.GET.copy()
    for name in ("page", "verify", "room"):
        query.pop(name, None)
    page = paginate(request, events.order_by("-seq"), per_page=50)
    context = {
        "page": page,
        "rows": [(event, json.dumps(event.data, sort_keys=True, ensure_ascii=False)) for event in page.object_list],
        "actions": actions,
        "action": action,
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
        "chain": chain,
        "room_result": room_result,
        "query": query.urlencode(),
    }
    return render(request, "console/audit/audit.html", context)


def _room_verify(request: HttpRequest, user: Any) -> Any:
    """A room's own hash chain, for auditors of the room's area (as the API's RoomVerifyApi)."""
    room = room_get(room_id=parse_int(request.GET, "room", minimum=1, maximum=2**62))
    if not permissions.user_has_area_perm(user, permissions.VIEW_AUDIT, room.area):
        raise PermissionDenied(_("Verifying a room's record is for auditors of its area."))
    return room_verify(room=room)


# --- Charts ---------------------------------------------------------------------------------------------------


@console_required("alerts")
@require_GET
def chart_deliveries(request: HttpRequest, alert_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        alert = alert_get_for_user(user=user, alert_id=alert_id)
        alert_require_staff(user=user, alert=alert)
        bucket = parse_int(request.GET, "bucket", minimum=1, maximum=86400) if request.GET.get("bucket") else None
    except DomainError as exc:
        return error_page(request, exc)
    timeline = delivery_timeline(alert=alert, bucket_seconds=bucket)
    series = {
        "x": [int(row["at"].timestamp()) for row in timeline],
        "series": [[row["sent_total"] for row in timeline], [row["failed_total"] for row in timeline]],
    }
    info = alert.infos.all()[0] if alert.infos.all() else None
    context = {
        "alert": alert,
        "headline": info.headline if info else "",
        "timeline": timeline,
        "series": series,
        "bucket_seconds": timeline[0]["bucket_seconds"] if timeline else None,
    }
    return render(request, "console/charts/deliveries.html", context)


@console_required("shelters")
@require_GET
def chart_occupancy(request: HttpRequest, shelter_id: int) -> HttpResponse:
    user = signed_in_user(request)
    try:
        shelter = shelter_get(shelter_id=shelter_id)
        days = parse_int(request.GET, "days", minimum=1, maximum=90) if request.GET.get("days") else 7
        snapshots = list(
            shelter_history_for_user(user=user, shelter=shelter, since=timezone.now() - timedelta(days=days))[:5000]
        )
    except DomainError as exc:
        return error_page(request, exc)
    series = {
        "x": [int(s.at.timestamp()) for s in snapshots],
        "series": [[s.occupancy for s in snapshots], [s.capacity for s in snapshots]],
    }
    context = {"shelter": shelter, "snapshots": snapshots, "series": series, "days": days}
    return render(request, "console/charts/occupancy.html", context)
