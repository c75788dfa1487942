"""Every channel-layer event of the alerts app is sent from here; group names come only from these helpers.

Events are sent after the transaction commits, so nobody hears of a change that was rolled back.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from alerts.models import Alert

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """Every open browser session of one person."""
    return f"alerts.user.{user_id}"


def alert_staff_group(alert_id: int) -> str:
    """Staff following one alert's dispatch."""
    return f"alerts.staff.{alert_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    """Best effort: the change is committed, and staff see it in the API's figures, on the next push or on reload,
    so a channel layer that is briefly down must not fail the request or the task that made it."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (OSError, RedisError, ChannelFull) as exc:
        logger.warning("alerts event %s not pushed to %s: %s", message["type"], group, type(exc).__name__)


def alert_state_changed(alert: Alert) -> None:
    message = {"type": "alert.state", "alert_id": alert.pk, "state": alert.state}
    group = alert_staff_group(alert.pk)
    transaction.on_commit(lambda: _send(group, message))


def alert_stats(alert_id: int, stats: dict[str, Any]) -> None:
    """Live statistics of a dispatch, sent as it runs (callers throttle)."""
    _send(alert_staff_group(alert_id), {"type": "alert.stats", "alert_id": alert_id, "stats": stats})


def reply_received(alert_id: int) -> None:
    """After commit, the latest answers to an alert counted by kind. Counted after the commit, not in the
    transaction: of two answers committed at the same time, the count made last then sees both."""
    from alerts import selectors

    def push() -> None:
        counted = selectors.reply_counts(alert_id=alert_id)
        _send(alert_staff_group(alert_id), {"type": "alert.replies", "alert_id": alert_id, **counted})

    transaction.on_commit(push, robust=True)


async def alert_message_to_user(user_id: int, delivery_id: int, payload: dict[str, Any]) -> None:
    """The websocket transport's send: the alert to every open session of one person (they drop repeats by id)."""
    layer = get_channel_layer()
    if layer is None:
        raise OSError("no channel layer configured")
    await layer.group_send(user_group(user_id), {"type": "alert.message", "delivery_id": delivery_id, **payload})


def stats_push_due(alert_id: int) -> bool:
    """At most one statistics push per alert per interval, across every worker (a Redis key with a expiry)."""
    import redis
    from django.conf import settings

    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    interval_ms = int(settings.ALERT_STATS_PUSH_INTERVAL_SECONDS * 1000)
    try:
        return bool(_redis_client.set(f"alerts:stats-push:{alert_id}", 1, nx=True, px=max(interval_ms, 1)))
    except redis.RedisError:
        return False


_redis_client: Any = None
