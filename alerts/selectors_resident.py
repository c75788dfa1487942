"""Reads for a resident's own alert inbox: the alerts sent to them or concerning them now, and their answers."""

from collections.abc import Iterable

from django.db.models import F, Q

from accounts.models import User
from alerts import targeting
from alerts.models import Alert, Delivery, DeliveryState, Reply
from alerts.selectors import alert_active_list

# Alerts in force are few; each is checked against the person with one indexed query.
MAX_ACTIVE_CHECKED = 20


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
