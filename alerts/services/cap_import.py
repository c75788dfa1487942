"""Importing CAP documents (a file upload or a polled feed's entry) as drafts, or issued for trusted senders;
and the trusted senders themselves.

All or nothing per document: every alert of a container is read and validated before anything is written,
and all are written in one transaction. An alert whose <sender> is a TrustedSender of the importing
organisation with auto_issue, whose geometry lies inside that sender's area, that has not expired and (when
the sender requires it) carries a verified signature is issued at once; every other stays a draft for the
usual two-person approval.

Permissions: imports by the system (a polled feed, `manage.py cap_check`) need none. A person importing a file
needs `draft_alerts` over the alert's area, as when drafting. An imported alert whose CAP areas resolve to no
geometry (e.g. only geocodes of a foreign scheme) is still imported as a draft, for someone to give it an area
before approval; then the person needs `draft_alerts` somewhere (they will only be able to submit it once its
area is one they cover), and is recorded as its drafter, so the two-person rule holds for it too.
"""

import logging

from django.contrib.gis.geos import MultiPolygon
from django.db import transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, Organisation, User
from alerts.cap_xml import ReadAlert, cap_document_read
from alerts.content import AlertContent
from alerts.models import Alert, AlertOrigin, AlertState, CapFeed, MsgType, TrustedSender
from alerts.services import lifecycle
from alerts.services.geometry import area_geometry, union_all
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)


def _content_geometry(content: AlertContent) -> MultiPolygon | None:
    return union_all(area_geometry(area) for info in content.infos for area in info.areas)


def _superseded(content: AlertContent) -> Alert | None:
    """The latest alert here that an Update/Cancel's references name (sender,identifier,sent)."""
    if content.msg_type not in (MsgType.UPDATE, MsgType.CANCEL) or not content.references:
        return None
    found: list[Alert] = []
    for reference in content.references:
        parts = reference.split(",")
        if len(parts) != 3:
            continue
        sender, identifier, _sent = parts
        alert = Alert.objects.filter(identifier=identifier, sender=sender).first()
        if alert is not None:
            found.append(alert)
    if not found:
        return None
    return max(found, key=lambda alert: (alert.sent or alert.created_at, alert.pk))


def _trusted_sender(content: AlertContent, organisation: Organisation | None) -> TrustedSender | None:
    if organisation is None or not content.sender:
        return None
    return (
        TrustedSender.objects.filter(sender=content.sender, organisation=organisation, auto_issue=True)
        .select_related("area")
        .first()
    )


def _auto_issue_reason(alert: Alert, read: ReadAlert, trusted: TrustedSender | None) -> tuple[bool, str]:
    """Whether to issue at once, and why (or why not), in words that go to the audit record."""
    if trusted is None:
        return False, "sender is not trusted for automatic issue"
    if alert.geometry is None:
        return False, "no geometry to check against the trusted sender's area"
    if not trusted.area.geometry.buffer(1e-6).covers(alert.geometry):
        return False, "the alert's area reaches outside the trusted sender's area"
    if trusted.require_signature and not read.signature.verified:
        return False, "the trusted sender requires a verified signature"
    if alert.expires is not None and alert.expires <= timezone.now():
        return False, "the alert has already expired"
    if alert.supersedes_id is not None and alert.supersedes is not None:
        if alert.supersedes.state != AlertState.ISSUED:
            return False, f"the alert it updates or cancels is {alert.supersedes.state}"
    return True, f"trusted CAP sender (trusted sender #{trusted.pk})"


def _check_actor(actor: User, organisation: Organisation | None, geometry: MultiPolygon | None) -> None:
    if actor.is_superuser:
        return
    if organisation is not None and not actor.memberships.active().filter(organisation=organisation).exists():
        raise PermissionDenied("You do not hold a role in that organisation.")
    if geometry is None:
        if not permissions.areas_held(actor, permissions.DRAFT_ALERTS).exists():
            raise PermissionDenied("You may not import alerts: you draft alerts in no area.")
    elif not permissions.user_covers_geometry(actor, permissions.DRAFT_ALERTS, geometry):
        raise PermissionDenied("You may not import this alert: your role does not cover all of its area.")


def cap_import(
    *,
    actor: User | None,
    data: bytes,
    organisation: Organisation | None = None,
    feed: CapFeed | None = None,
    require_schema: bool = False,
    feed_entry: str = "",
) -> list[Alert]:
    """Import every CAP alert of the document (an alert, or an Atom/RSS/EDXL-DE container of alerts).

    Raises CapRejected (400) naming the problem, Conflict (409) when an identifier is already here, and
    PermissionDenied (403); in every case nothing is written.
    """
    document = cap_document_read(data, require_schema=require_schema)
    origin = AlertOrigin.CAP_FEED if feed is not None else AlertOrigin.CAP_FILE
    if feed is not None:
        organisation = feed.organisation
    identifiers = [read.content.identifier for read in document.alerts]
    repeated = {identifier for identifier in identifiers if identifiers.count(identifier) > 1}
    if repeated:
        raise Conflict(
            f"The document carries identifier {sorted(repeated)[0]!r} more than once.", code="duplicate_alert"
        )
    existing = Alert.objects.filter(identifier__in=identifiers).values_list("identifier", flat=True).first()
    if existing is not None:
        raise Conflict(f"An alert with identifier {existing!r} already exists.", code="duplicate_alert")
    imported: list[Alert] = []
    with transaction.atomic():
        for read in document.alerts:
            content = read.content
            if feed is not None:
                content.extra["feed"] = {"id": feed.pk, "entry": feed_entry[:500]}
            geometry = _content_geometry(content)
            if actor is not None:
                _check_actor(actor, organisation, geometry)
            supersedes = _superseded(content)
            # The actor's cover was checked above, including for alerts that resolve to no geometry yet.
            alert = lifecycle.alert_draft_create(
                actor=None, content=content, organisation=organisation, origin=origin, supersedes=supersedes
            )
            if actor is not None:
                alert.drafted_by = actor
                alert.save(update_fields=["drafted_by", "updated_at"])
            issue, reason = _auto_issue_reason(alert, read, _trusted_sender(content, organisation))
            audit_record(
                action="alerts.cap_imported",
                target=alert,
                actor_id=actor.pk if actor is not None else None,
                data={
                    "identifier": alert.identifier,
                    "origin": origin,
                    "feed_id": feed.pk if feed is not None else None,
                    "cap_version": read.version,
                    "schema": read.schema,
                    "signed": read.signature.signed,
                    "signature_verified": read.signature.verified,
                    "supersedes_id": supersedes.pk if supersedes is not None else None,
                    "auto_issue": issue,
                    "auto_issue_reason": reason,
                    "position": read.position,
                    "document_kind": document.kind,
                },
            )
            if issue:
                alert = lifecycle.alert_issue_automatically(alert=alert, reason=reason)
            imported.append(alert)
    return imported


# Trusted senders ------------------------------------------------------------------------------------


def _require_approver(actor: User | None, organisation: Organisation, area: AdministrativeArea) -> None:
    """Trust is granted by who may approve alerts over the area, for an organisation they hold a role in."""
    lifecycle.require_role_in(
        actor,
        organisation=organisation,
        perm=permissions.APPROVE_ALERTS,
        area=area,
        what="approve alerts, so trust senders,",
    )


def trusted_sender_create(
    *,
    actor: User | None,
    sender: str,
    organisation: Organisation,
    area: AdministrativeArea,
    auto_issue: bool = False,
    require_signature: bool = False,
) -> TrustedSender:
    _require_approver(actor, organisation, area)
    sender = sender.strip()
    if not sender:
        raise ValidationFailed("A trusted sender needs the CAP <sender> value.", fields={"sender": "required"})
    with transaction.atomic():
        if TrustedSender.objects.filter(sender=sender, organisation=organisation).exists():
            raise Conflict(
                f"{sender!r} is already a trusted sender of this organisation.", fields={"sender": "duplicate"}
            )
        trusted = TrustedSender.objects.create(
            sender=sender,
            organisation=organisation,
            area=area,
            auto_issue=auto_issue,
            require_signature=require_signature,
        )
        audit_record(
            action="alerts.trusted_sender_created",
            target=trusted,
            area_id=area.pk,
            actor_id=actor.pk if actor is not None else None,
            data={"auto_issue": auto_issue, "require_signature": require_signature},
        )
    return trusted


def trusted_sender_update(
    *,
    actor: User,
    trusted: TrustedSender,
    area: AdministrativeArea | None = None,
    auto_issue: bool | None = None,
    require_signature: bool | None = None,
) -> TrustedSender:
    _require_approver(actor, trusted.organisation, trusted.area)
    if area is not None:
        _require_approver(actor, trusted.organisation, area)
        trusted.area = area
    if auto_issue is not None:
        trusted.auto_issue = auto_issue
    if require_signature is not None:
        trusted.require_signature = require_signature
    with transaction.atomic():
        trusted.save()
        audit_record(
            action="alerts.trusted_sender_updated",
            target=trusted,
            area_id=trusted.area_id,
            actor_id=actor.pk,
            data={"auto_issue": trusted.auto_issue, "require_signature": trusted.require_signature},
        )
    return trusted


def trusted_sender_delete(*, actor: User, trusted: TrustedSender) -> None:
    _require_approver(actor, trusted.organisation, trusted.area)
    with transaction.atomic():
        audit_record(action="alerts.trusted_sender_deleted", target=trusted, area_id=trusted.area_id, actor_id=actor.pk)
        trusted.delete()
