"""An alert's life: draft → submitted → approved → issued → updated / cancelled / expired, and templates.

Two-person rule: whoever approves is not whoever drafted. Drafting needs `draft_alerts`, approving and
issuing `approve_alerts`, over areas that together cover the alert's geometry (accounts.permissions).
Issuing commits, then enqueues the dispatch (`alerts.dispatch`) on commit.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, Organisation, User
from alerts import events, signals
from alerts.content import (
    AlertContent,
    AreaContent,
    Circle,
    InfoContent,
    Pair,
    Resource,
    cap_reference,
    content_as_json,
    content_check,
    content_from_json,
)
from alerts.models import (
    Alert,
    AlertOrigin,
    AlertState,
    AlertTemplate,
    Area,
    CapStatus,
    Info,
    MsgType,
    Scope,
    Severity,
    Urgency,
)
from alerts.services.geometry import area_geometry, union_all
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

EDITABLE_STATES = (AlertState.DRAFT,)
LIVE_STATES = (AlertState.ISSUED,)


def new_identifier() -> str:
    return f"{settings.CAP_IDENTIFIER_PREFIX}-{uuid.uuid4().hex}"


def alert_priority(content_infos: list[InfoContent], status: str) -> int:
    """0 for Extreme or Immediate (life safety) … 9 for tests; deliveries are queued in this order."""
    if status != CapStatus.ACTUAL:
        return 9
    if not content_infos:
        return 4
    best = 6
    for info in content_infos:
        if info.severity == Severity.EXTREME or info.urgency == Urgency.IMMEDIATE:
            return 0
        if info.severity == Severity.SEVERE:
            best = min(best, 2)
        elif info.severity == Severity.MODERATE or info.urgency == Urgency.EXPECTED:
            best = min(best, 4)
    return best


def _check_content(content: AlertContent) -> None:
    problems = content_check(content)
    if problems:
        raise ValidationFailed(
            "The alert breaks CAP 1.2 rules: " + "; ".join(str(problem) for problem in problems[:10]),
            code="cap_rule",
            fields={problem.element: f"{problem.message} [{problem.rule}]" for problem in problems},
        )


def _require_cover(actor: User | None, perm: str, alert: Alert, what: str) -> None:
    if actor is None:
        return
    if alert.geometry is None:
        if not actor.is_superuser:
            raise PermissionDenied(f"You may not {what}: the alert has no area yet to check your areas against.")
        return
    if not permissions.user_covers_geometry(actor, perm, alert.geometry):
        raise PermissionDenied(f"You may not {what}: your role does not cover all of the alert's area.")


def _write_content(alert: Alert, content: AlertContent) -> None:
    """Replace the alert's CAP fields, infos and areas with `content`, and derive geometry, expiry and priority."""
    for name in (
        "status",
        "msg_type",
        "scope",
        "source",
        "restriction",
        "addresses",
        "codes",
        "note",
        "references",
        "incidents",
    ):
        setattr(alert, name, getattr(content, name))
    alert.extra = dict(content.extra)
    area_geometries = []
    for info in content.infos:
        for area in info.areas:
            area_geometries.append(area_geometry(area))
    alert.geometry = union_all(area_geometries)
    expiries = [info.expires for info in content.infos]
    alert.expires = max(expiries) if expiries and all(expiries) else None  # type: ignore[type-var]
    alert.priority = alert_priority(content.infos, content.status)
    alert.save()
    alert.infos.all().delete()
    geometries = iter(area_geometries)
    for info_position, info in enumerate(content.infos):
        info_row = Info.objects.create(
            alert=alert,
            position=info_position,
            language=info.language,
            categories=list(info.categories),
            event=info.event,
            response_types=list(info.response_types),
            urgency=info.urgency,
            severity=info.severity,
            certainty=info.certainty,
            audience=info.audience,
            event_codes=[{"valueName": p.value_name, "value": p.value} for p in info.event_codes],
            effective=info.effective,
            onset=info.onset,
            expires=info.expires,
            sender_name=info.sender_name,
            headline=info.headline,
            description=info.description,
            instruction=info.instruction,
            web=info.web,
            contact=info.contact,
            parameters=[{"valueName": p.value_name, "value": p.value} for p in info.parameters],
            resources=[
                {
                    "resourceDesc": r.resource_desc,
                    "mimeType": r.mime_type,
                    "size": r.size,
                    "uri": r.uri,
                    "derefUri": r.deref_uri,
                    "digest": r.digest,
                }
                for r in info.resources
            ],
        )
        for area_position, area in enumerate(info.areas):
            area_row = Area.objects.create(
                info=info_row,
                position=area_position,
                area_desc=area.area_desc,
                polygons=[[[lat, lon] for lat, lon in ring] for ring in area.polygons],
                circles=[{"lat": c.lat, "lon": c.lon, "radius_km": c.radius_km} for c in area.circles],
                geocodes=[{"valueName": p.value_name, "value": p.value} for p in area.geocodes],
                altitude=area.altitude,
                ceiling=area.ceiling,
                geometry=next(geometries),
            )
            if area.admin_area_ids:
                area_row.admin_areas.set(area.admin_area_ids)


def alert_content(alert: Alert) -> AlertContent:
    """The alert's content as plain data (what CAP export writes and templates store)."""
    infos = []
    for info in alert.infos.all().prefetch_related("areas__admin_areas"):
        areas = [
            AreaContent(
                area_desc=area.area_desc,
                polygons=[[(float(lat), float(lon)) for lat, lon in ring] for ring in area.polygons],
                circles=[Circle(lat=c["lat"], lon=c["lon"], radius_km=c["radius_km"]) for c in area.circles],
                geocodes=[Pair(value_name=p["valueName"], value=p["value"]) for p in area.geocodes],
                admin_area_ids=[admin.pk for admin in area.admin_areas.all()],
                altitude=area.altitude,
                ceiling=area.ceiling,
            )
            for area in info.areas.all()
        ]
        infos.append(
            InfoContent(
                language=info.language,
                categories=list(info.categories),
                event=info.event,
                response_types=list(info.response_types),
                urgency=info.urgency,
                severity=info.severity,
                certainty=info.certainty,
                audience=info.audience,
                event_codes=[Pair(value_name=p["valueName"], value=p["value"]) for p in info.event_codes],
                effective=info.effective,
                onset=info.onset,
                expires=info.expires,
                sender_name=info.sender_name,
                headline=info.headline,
                description=info.description,
                instruction=info.instruction,
                web=info.web,
                contact=info.contact,
                parameters=[Pair(value_name=p["valueName"], value=p["value"]) for p in info.parameters],
                resources=[
                    Resource(
                        resource_desc=r["resourceDesc"],
                        mime_type=r["mimeType"],
                        size=r.get("size"),
                        uri=r.get("uri", ""),
                        deref_uri=r.get("derefUri", ""),
                        digest=r.get("digest", ""),
                    )
                    for r in info.resources
                ],
                areas=areas,
            )
        )
    return AlertContent(
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent,
        source=alert.source,
        restriction=alert.restriction,
        addresses=alert.addresses,
        codes=list(alert.codes),
        note=alert.note,
        references=list(alert.references),
        incidents=alert.incidents,
        infos=infos,
        extra=dict(alert.extra),
    )


def _audit(action: str, alert: Alert, actor: User | None, **data: Any) -> None:
    audit_record(
        action=action,
        target=alert,
        actor_id=actor.pk if actor is not None else None,
        data={"identifier": alert.identifier, "state": alert.state, **data},
    )


def alert_draft_create(
    *,
    actor: User | None,
    content: AlertContent,
    organisation: Organisation | None = None,
    origin: str = AlertOrigin.DRAFTED,
    supersedes: Alert | None = None,
) -> Alert:
    """Write a new draft. The content must follow CAP's rules; the actor must cover its area."""
    _check_content(content)
    if content.identifier and Alert.objects.filter(identifier=content.identifier).exists():
        raise Conflict(f"An alert with identifier {content.identifier!r} already exists.", code="duplicate_alert")
    if organisation is not None and actor is not None and not actor.is_superuser:
        if not actor.memberships.active().filter(organisation=organisation).exists():
            raise PermissionDenied("You do not hold a role in that organisation.")
    with transaction.atomic():
        alert = Alert(
            identifier=content.identifier or new_identifier(),
            sender=content.sender or settings.CAP_SENDER,
            sent=content.sent,
            origin=origin,
            organisation=organisation,
            drafted_by=actor,
            supersedes=supersedes,
            original=(supersedes.original or supersedes) if supersedes is not None else None,
        )
        _write_content(alert, content)
        _require_cover(actor, permissions.DRAFT_ALERTS, alert, "draft this alert")
        _audit("alerts.drafted", alert, actor, origin=origin)
    return alert


def _lock(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def alert_draft_update(*, actor: User, alert: Alert, content: AlertContent) -> Alert:
    """Change a draft's content (only while it is a draft; a returned alert is a draft again)."""
    _check_content(content)
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state not in EDITABLE_STATES:
            raise Conflict(f"Only a draft can be edited; this alert is {alert.state}.", code="not_editable")
        _require_cover(actor, permissions.DRAFT_ALERTS, alert, "edit this alert")
        content.identifier = alert.identifier
        content.sender = alert.sender
        content.sent = alert.sent
        _write_content(alert, content)
        _require_cover(actor, permissions.DRAFT_ALERTS, alert, "draft for this area")
        _audit("alerts.edited", alert, actor)
    return alert


def alert_draft_delete(*, actor: User, alert: Alert) -> None:
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state != AlertState.DRAFT:
            raise Conflict("Only a draft can be deleted; issued alerts stay on record.", code="not_deletable")
        _require_cover(actor, permissions.DRAFT_ALERTS, alert, "delete this alert")
        _audit("alerts.deleted", alert, actor)
        alert.delete()


def alert_submit(*, actor: User, alert: Alert) -> Alert:
    """Ask for approval. The alert must be complete enough to issue."""
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state != AlertState.DRAFT:
            raise Conflict(f"Only a draft can be submitted; this alert is {alert.state}.", code="bad_state")
        _require_cover(actor, permissions.DRAFT_ALERTS, alert, "submit this alert")
        _check_issuable(alert, timezone.now())
        alert.state = AlertState.SUBMITTED
        alert.submitted_at = timezone.now()
        alert.rejection_reason = ""
        alert.save(update_fields=["state", "submitted_at", "rejection_reason", "updated_at"])
        _audit("alerts.submitted", alert, actor)
    return alert


def alert_reject(*, actor: User, alert: Alert, reason: str) -> Alert:
    """Send a submitted alert back to its drafter, with the reason."""
    if not reason.strip():
        raise ValidationFailed("Say why the alert is sent back.", fields={"reason": "required"})
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state not in (AlertState.SUBMITTED, AlertState.APPROVED):
            raise Conflict(f"Only a submitted alert can be sent back; this one is {alert.state}.", code="bad_state")
        _require_cover(actor, permissions.APPROVE_ALERTS, alert, "review this alert")
        alert.state = AlertState.DRAFT
        alert.rejection_reason = reason.strip()[:2000]
        alert.approved_by = None
        alert.approved_at = None
        alert.save(update_fields=["state", "rejection_reason", "approved_by", "approved_at", "updated_at"])
        _audit("alerts.rejected", alert, actor, reason=alert.rejection_reason)
    return alert


def alert_approve(*, actor: User, alert: Alert, issue: bool = False) -> Alert:
    """Approve a submitted alert (never one's own draft); with `issue`, issue it in the same step."""
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state != AlertState.SUBMITTED:
            raise Conflict(f"Only a submitted alert can be approved; this one is {alert.state}.", code="bad_state")
        if alert.drafted_by_id is not None and alert.drafted_by_id == actor.pk:
            raise PermissionDenied("Two-person rule: you drafted this alert, so someone else must approve it.")
        _require_cover(actor, permissions.APPROVE_ALERTS, alert, "approve this alert")
        _check_issuable(alert, timezone.now())
        alert.state = AlertState.APPROVED
        alert.approved_by = actor
        alert.approved_at = timezone.now()
        alert.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
        _audit("alerts.approved", alert, actor)
        if issue:
            _issue(alert, actor)
    return alert


def _check_issuable(alert: Alert, now: datetime) -> None:
    if alert.msg_type in (MsgType.ALERT, MsgType.UPDATE) and alert.geometry is None:
        raise ValidationFailed(
            "The alert's areas resolve to no geometry: draw a polygon or circle, or pick an area.",
            code="no_geometry",
            fields={"areas": "no_geometry"},
        )
    if alert.expires is not None and alert.expires <= now:
        raise ValidationFailed("The alert has already expired.", code="expired", fields={"expires": "past"})
    if alert.supersedes_id is not None:
        previous = Alert.objects.get(pk=alert.supersedes_id)
        if previous.state != AlertState.ISSUED:
            raise Conflict(
                f"The alert this one updates or cancels is {previous.state}, not issued.", code="stale_reference"
            )


def _issue(alert: Alert, actor: User | None, *, reason: str = "") -> None:
    """Within the caller's transaction: stamp, close what it supersedes, and dispatch on commit."""
    from alerts.tasks import dispatch

    now = timezone.now()
    _check_issuable(alert, now)
    if alert.sent is None:
        alert.sent = now.replace(microsecond=0)
    lifetime = timedelta(hours=settings.ALERT_DEFAULT_LIFETIME_HOURS)
    for info in alert.infos.filter(expires__isnull=True):
        info.expires = alert.sent + lifetime
        info.save(update_fields=["expires"])
    expiries = [info.expires for info in alert.infos.all() if info.expires is not None]
    alert.expires = max(expiries) if expiries else alert.sent + lifetime
    alert.state = AlertState.ISSUED
    alert.issued_by = actor
    alert.issued_at = now
    alert.save(update_fields=["sent", "expires", "state", "issued_by", "issued_at", "updated_at"])
    if alert.supersedes_id is not None:
        closed = AlertState.CANCELLED if alert.msg_type == MsgType.CANCEL else AlertState.UPDATED
        Alert.objects.filter(pk=alert.supersedes_id, state=AlertState.ISSUED).update(state=closed, closed_at=now)
    _audit("alerts.issued", alert, actor, reason=reason)
    events.alert_state_changed(alert)
    if _is_dispatched(alert):
        transaction.on_commit(lambda: dispatch.delay(alert.pk))
    signals.alert_issued.send(sender=Alert, alert=alert)


def _is_dispatched(alert: Alert) -> bool:
    """Only actual, public alerts reach residents; tests, exercises and restricted messages stay on record."""
    return (
        alert.status == CapStatus.ACTUAL
        and alert.scope == Scope.PUBLIC
        and alert.msg_type in (MsgType.ALERT, MsgType.UPDATE, MsgType.CANCEL)
    )


def alert_issue(*, actor: User, alert: Alert) -> Alert:
    """Issue an approved alert (the approver, or anyone else who may approve over its area)."""
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state != AlertState.APPROVED:
            raise Conflict(f"Only an approved alert can be issued; this one is {alert.state}.", code="bad_state")
        _require_cover(actor, permissions.APPROVE_ALERTS, alert, "issue this alert")
        _issue(alert, actor)
    return alert


def alert_issue_automatically(*, alert: Alert, reason: str) -> Alert:
    """Issue without a second person: for a trusted CAP sender or an automatic sensor rule, said in `reason`."""
    with transaction.atomic():
        alert = _lock(alert)
        if alert.state not in (AlertState.DRAFT, AlertState.SUBMITTED, AlertState.APPROVED):
            raise Conflict(f"This alert is already {alert.state}.", code="bad_state")
        _issue(alert, None, reason=reason)
    return alert


def alert_followup_draft(
    *, actor: User, alert: Alert, msg_type: str, content: AlertContent | None = None, note: str = ""
) -> Alert:
    """Draft an Update or a Cancel of an issued alert. It references the alert and, once issued, replaces it.

    Without `content`, the follow-up carries the alert's own infos and areas (a Cancel usually does).
    """
    if msg_type not in (MsgType.UPDATE, MsgType.CANCEL):
        raise ValidationFailed("A follow-up is an Update or a Cancel.", fields={"msg_type": "invalid"})
    if alert.state != AlertState.ISSUED:
        raise Conflict(f"Only an issued alert can be updated or cancelled; this one is {alert.state}.")
    if alert.sent is None:
        raise Conflict("This alert was never sent.")
    _require_cover(actor, permissions.DRAFT_ALERTS, alert, "follow this alert up")
    base = content or alert_content(alert)
    base.identifier = ""
    base.sender = ""
    base.sent = None
    base.msg_type = msg_type
    base.note = note or base.note
    base.extra = {}
    references = list(alert.references) if alert.original_id else []
    references.append(cap_reference(sender=alert.sender, identifier=alert.identifier, sent=alert.sent))
    base.references = list(dict.fromkeys(references))
    if content is None:
        for info in base.infos:
            info.expires = None if msg_type == MsgType.UPDATE else info.expires
            info.effective = None
    return alert_draft_create(
        actor=actor, content=base, organisation=alert.organisation, origin=alert.origin, supersedes=alert
    )


def alert_expire_due(*, now: datetime | None = None) -> int:
    """Mark issued alerts whose expiry has passed as expired; return how many. Their queued deliveries stop."""
    now = now or timezone.now()
    expired = 0
    for alert_id in Alert.objects.filter(state=AlertState.ISSUED, expires__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            alert = Alert.objects.select_for_update().get(pk=alert_id)
            if alert.state != AlertState.ISSUED:
                continue
            alert.state = AlertState.EXPIRED
            alert.closed_at = now
            alert.save(update_fields=["state", "closed_at", "updated_at"])
            _audit("alerts.expired", alert, None)
            events.alert_state_changed(alert)
            expired += 1
    return expired


# Templates -------------------------------------------------------------------------------------------


def require_role_in(
    actor: User | None, *, organisation: Organisation, perm: str, area: AdministrativeArea, what: str
) -> None:
    """The actor holds a role in the organisation and `perm` over the area (templates, feeds, trusted senders)."""
    if actor is None or actor.is_superuser:
        return
    if not actor.memberships.active().filter(organisation=organisation).exists():
        raise PermissionDenied("You do not hold a role in that organisation.")
    if not permissions.user_has_area_perm(actor, perm, area):
        raise PermissionDenied(f"You may not {what} in {area.name}.")


def _template_check(actor: User | None, organisation: Organisation, area: AdministrativeArea) -> None:
    require_role_in(actor, organisation=organisation, perm=permissions.DRAFT_ALERTS, area=area, what="draft alerts")


def alert_template_create(
    *, actor: User | None, organisation: Organisation, area: AdministrativeArea, name: str, content: AlertContent
) -> AlertTemplate:
    _template_check(actor, organisation, area)
    content.identifier = ""
    content.sent = None
    _check_content(content)
    if not name.strip():
        raise ValidationFailed("A template needs a name.", fields={"name": "required"})
    with transaction.atomic():
        if AlertTemplate.objects.filter(organisation=organisation, name=name.strip()).exists():
            raise Conflict(f"A template named {name.strip()!r} already exists.", fields={"name": "duplicate"})
        template = AlertTemplate.objects.create(
            name=name.strip(),
            organisation=organisation,
            area=area,
            content=content_as_json(content),
            created_by=actor,
        )
        audit_record(action="alerts.template_created", target=template, area_id=area.pk, data={"name": template.name})
    return template


def _require_approver_for_automatic(actor: User, template: AlertTemplate) -> None:
    """A template that an automatic sensor rule issues from is issued without a second person: changing it
    is an approver's decision, as making the rule automatic was."""
    from alerts.models import SensorRule

    automatic = SensorRule.objects.filter(template=template, automatic=True, is_active=True).exists()
    if automatic and not permissions.user_has_area_perm(actor, permissions.APPROVE_ALERTS, template.area):
        raise PermissionDenied("An automatic sensor rule issues from this template: only an approver may change it.")


def alert_template_update(*, actor: User, template: AlertTemplate, name: str, content: AlertContent) -> AlertTemplate:
    _template_check(actor, template.organisation, template.area)
    _require_approver_for_automatic(actor, template)
    content.identifier = ""
    content.sent = None
    _check_content(content)
    with transaction.atomic():
        template.name = name.strip() or template.name
        template.content = content_as_json(content)
        template.save(update_fields=["name", "content", "updated_at"])
        audit_record(action="alerts.template_updated", target=template, area_id=template.area_id)
    return template


def alert_template_delete(*, actor: User, template: AlertTemplate) -> None:
    _template_check(actor, template.organisation, template.area)
    with transaction.atomic():
        audit_record(action="alerts.template_deleted", target=template, area_id=template.area_id)
        try:
            template.delete()
        except ProtectedError:
            # Sensor rules draft from it (a protected reference): a conflict to resolve, not a server error.
            raise Conflict(
                "Sensor rules draft from this template: change or delete them first.", code="template_in_use"
            ) from None


def alert_draft_from_template(
    *, actor: User | None, template: AlertTemplate, origin: str = AlertOrigin.TEMPLATE, note: str = ""
) -> Alert:
    """A new draft with the template's content (its expiries reset: they are set again on issue)."""
    content = content_from_json(template.content)
    for info in content.infos:
        info.expires = None
        info.effective = None
        info.onset = None
    if note:
        content.note = note
    return alert_draft_create(actor=actor, content=content, organisation=template.organisation, origin=origin)
