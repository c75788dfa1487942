"""Celery tasks of the rooms app: thin, idempotent, by id."""

from celery import shared_task

from rooms import alert_rooms


@shared_task(
    name="rooms.alert_announce",
    acks_late=True,
    max_retries=5,
    default_retry_delay=10,
    soft_time_limit=110,
    time_limit=120,
)
def alert_announce(alert_id: int) -> int:
    """Post an issued alert in the rooms of its areas; returns how many rooms got it now (a retry adds none)."""
    return alert_rooms.alert_announce(alert_id=alert_id)
