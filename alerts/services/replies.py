"""Replies to alerts: "I'm safe" / "I need help", optionally with where the person is, linked to the delivery."""

from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AdministrativeArea, AreaLevel, ResidentProfile, User
from alerts import events
from alerts.models import Alert, AlertState, Delivery, DeliveryState, Reply, ReplyKind
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed

FINEST_FIRST = [AreaLevel.NEIGHBOURHOOD, AreaLevel.DISTRICT, AreaLevel.ZONE, AreaLevel.CITY]


def _area_at(point: Point | None) -> AdministrativeArea | None:
    """The finest administrative area containing the point (neighbourhood, then district, then city)."""
    if point is None:
        return None
    candidates = {
        a.level: a for a in AdministrativeArea.objects.filter(geometry__intersects=point, level__in=FINEST_FIRST)
    }
    for level in FINEST_FIRST:
        if level in candidates:
            return candidates[level]
    return None


def _concerns_now(alert: Alert, user: User) -> bool:
    """Whether an alert still in force targets the person now (they moved into its area or followed it after it
    was sent): they may answer it too, without a delivery, rather than be left unheard."""
    from alerts import targeting

    if alert.state not in (AlertState.ISSUED, AlertState.UPDATED):
        return False
    if alert.expires is not None and alert.expires <= timezone.now():
        return False
    return targeting.recipients(alert).filter(pk=user.pk).exists()


def reply_record(*, user: User, alert: Alert, kind: str, message: str = "", location: Point | None = None) -> Reply:
    """Record a recipient's answer. Only people the alert (or its chain) was sent to, or whom it concerns now
    while it is in force, may answer it."""
    if kind not in ReplyKind.values:
        raise ValidationFailed(f"Unknown reply {kind!r}.", fields={"kind": "unknown"})
    if len(message) > 1000:
        raise ValidationFailed("The message is too long (1000 characters at most).", fields={"message": "too_long"})
    if location is not None:
        if location.srid not in (None, 4326) or not (-180 <= location.x <= 180 and -90 <= location.y <= 90):
            raise ValidationFailed("The location must be WGS84 longitude/latitude.", fields={"location": "range"})
        location.srid = 4326
    if alert.state not in (AlertState.ISSUED, AlertState.UPDATED, AlertState.EXPIRED, AlertState.CANCELLED):
        raise Conflict("This alert was never issued.")
    chain = Q(alert=alert)
    if alert.original_id is not None:
        chain |= Q(alert_id=alert.original_id) | Q(alert__original_id=alert.original_id)
    chain |= Q(alert__original_id=alert.pk)
    deliveries = Delivery.objects.filter(chain, recipient=user)
    delivery = deliveries.filter(state=DeliveryState.SENT).order_by("-pk").first() or deliveries.order_by("-pk").first()
    if delivery is None and not _concerns_now(alert, user):
        raise PermissionDenied("This alert was not sent to you.")
    home = ResidentProfile.objects.filter(user=user).values_list("home_location", flat=True).first()
    area = _area_at(location) or _area_at(home)
    with transaction.atomic():
        Reply.objects.filter(alert=alert, user=user, is_latest=True).update(is_latest=False)
        reply = Reply.objects.create(
            alert=alert, delivery=delivery, user=user, kind=kind, message=message.strip(), location=location, area=area
        )
        audit_record(
            action="alerts.replied",
            target=reply,
            actor_id=user.pk,
            area_id=area.pk if area else None,
            data={"alert_id": alert.pk, "kind": kind},
        )
        events.reply_received(alert.pk)
    return reply
