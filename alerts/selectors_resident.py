"""Reads for a resident's own alert inbox: the alerts sent to them or concerning them now, and their answers."""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from alerts import targeting
from alerts.messages import alert_message
from alerts.models import Alert, AlertState, Delivery, DeliveryState, Reply
from alerts.selectors import alert_active_list

# Alerts in force are few; each is checked against the person with one indexed query.
MAX_ACTIVE_CHECKED = 20
# Deliveries sent again to a reconnecting browser at most; the alerts page shows every alert on a reload.
CATCHUP_LIMIT = 100
# Seconds allowed between the clocks of two deliveries workers (see delivery_catchup_list).
CATCHUP_CLOCK_MARGIN = 10
WEBSOCKET = "websocket"  # alerts.transports.websocket.WebsocketTransport.name


def alert_list_for_recipient(*, user: User, limit: int = 50) -> list[Alert]:
    """Alerts sent to the person on any channel, and alerts in force whose area holds them now (they may answer
    those too, see `replies.reply_record`), newest first, with their infos and areas."""
    sent = set(
        Delivery.objects.filter(recipient=user)
        .exclude(state__in=[DeliveryState.EXPIRED, DeliveryState.SUPERSEDED])
        .values_list("alert_id", flat=True)
        .order_by()
        .distinct()
    )
    concerning = {
        alert.pk
        for alert in alert_active_list().exclude(pk__in=sent)[:MAX_ACTIVE_CHECKED]
        if targeting.recipients(alert).filter(pk=user.pk).exists()
    }
    alerts = (
        Alert.objects.filter(pk__in=sent | concerning)
        .prefetch_related("infos__areas")
        .order_by(F("sent").desc(nulls_last=True), "-pk")
    )
    return list(alerts[:limit])


def alert_get_for_recipient(*, user: User, alert_id: int) -> Alert | None:
    """An alert the person was sent, or a public one in force: both are theirs to read without any role.
    None otherwise (staff then read it through `selectors.alert_get_for_user`)."""
    sent = Delivery.objects.filter(recipient=user, alert_id=alert_id).values("alert_id")
    in_force = alert_active_list().filter(pk=alert_id).values("pk")
    return (
        Alert.objects.filter(pk=alert_id)
        .filter(Q(pk__in=sent) | Q(pk__in=in_force))
        .prefetch_related("infos__areas")
        .first()
    )


def reply_latest_by_alert(*, user: User, alert_ids: Iterable[int]) -> dict[int, Reply]:
    """The person's own latest answer to each of the alerts."""
    return {
        reply.alert_id: reply for reply in Reply.objects.filter(user=user, is_latest=True, alert_id__in=list(alert_ids))
    }


def delivery_catchup_list(
    *, user: User, after: int, have: Iterable[int] = (), limit: int = CATCHUP_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """What a browser that reconnects to `ws/alerts/?after=<delivery id>&have=<ids>` missed: the person's websocket
    deliveries that were sent or are being sent (`claimed`: a send may have left just before its state was
    recorded), each as the frame the live path sends, oldest first; and whether older ones were left out.

    Those with a greater id than `after` (the newest the browser applied), and those with a smaller one that may have
    been sent after it, less the ids the browser says it has (`have`). Ids follow the order alerts were dispatched in,
    not the order of the sends: two alerts' batches run side by side on the deliveries workers, so an older alert's
    delivery may leave after a newer one reached the browser, and go to a connection that has just died. Such a send
    was recorded after `after` was claimed (the send of `after` follows its claim), give or take the clocks of two
    workers (CATCHUP_CLOCK_MARGIN).

    At most `limit`, the newest: after a long absence the latest alerts matter, and the page shows all on a reload.
    Alerts since updated, cancelled or expired are left out, as a send would leave them out now (their update or
    cancellation is an alert of its own, with deliveries of its own)."""
    window = Q(pk__gt=after)
    newest_claimed = (
        Delivery.objects.filter(recipient=user, transport=WEBSOCKET, pk=after)
        .values_list("claimed_at", flat=True)
        .first()
    )
    if newest_claimed is not None:
        since = newest_claimed - timedelta(seconds=CATCHUP_CLOCK_MARGIN)
        window |= Q(pk__lt=after) & (Q(state=DeliveryState.CLAIMED) | Q(sent_at__gte=since))
    now = timezone.now()
    missed = (
        Delivery.objects.filter(
            window,
            recipient=user,
            transport=WEBSOCKET,
            state__in=[DeliveryState.SENT, DeliveryState.CLAIMED],
            alert__state=AlertState.ISSUED,
        )
        .filter(Q(alert__expires__isnull=True) | Q(alert__expires__gt=now))
        .exclude(pk__in=list(have))
        .order_by("-pk")
        .values_list("pk", "alert_id", "language")
    )
    rows = list(missed[: limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit][::-1]
    # Not the geometry: a city's polygons weigh hundreds of kilobytes, and the message needs none of it.
    alerts = {
        alert.pk: alert
        for alert in Alert.objects.filter(pk__in={alert_id for _pk, alert_id, _language in rows})
        .defer("geometry")
        .prefetch_related("infos")
    }
    rendered: dict[tuple[int, str], dict[str, Any]] = {}
    frames = []
    for delivery_id, alert_id, language in rows:
        key = (alert_id, language)
        if key not in rendered:
            rendered[key] = alert_message(alerts[alert_id], language)
        frames.append({"type": "alert", "delivery_id": delivery_id, **rendered[key]})
    return frames, truncated


def delivery_recent_ids(*, user: User, limit: int = 20) -> list[int]:
    """The person's newest websocket deliveries (ids, newest first): the alerts page, rendered with everything sent so
    far, asks its live connection for what comes after the first (`after`) and names them all as had (`have`)."""
    newest = Delivery.objects.filter(recipient=user, transport=WEBSOCKET).order_by("-pk").values_list("pk", flat=True)
    return list(newest[:limit])
