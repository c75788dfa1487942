"""Celery tasks of the alerts app: thin, idempotent wrappers that take ids and call one service.

Queues come from settings.CELERY_TASK_ROUTES ("alerts.*" → alerts); delivery batches are sent to
"deliveries.<transport>" by the dispatch service.
"""

from typing import Any

from celery import shared_task

from alerts.services import cap_feeds, lifecycle
from alerts.services import dispatch as dispatch_service


@shared_task(name="alerts.dispatch", acks_late=True, reject_on_worker_lost=True, max_retries=None)
def dispatch(alert_id: int) -> int:
    return dispatch_service.alert_dispatch(alert_id=alert_id)


@shared_task(name="alerts.send_batch", acks_late=True, reject_on_worker_lost=True)
def send_batch(transport: str, delivery_ids: list[int]) -> dict[str, Any]:
    report = dispatch_service.deliveries_send(transport_name=transport, delivery_ids=delivery_ids)
    return {"claimed": report.claimed, "outcomes": dict(report.outcomes)}


@shared_task(name="alerts.redrive")
def redrive() -> dict[str, int]:
    report = dispatch_service.deliveries_redrive()
    return {"reclaimed": report.reclaimed, "requeued": report.requeued, "redispatched": report.redispatched}


@shared_task(name="alerts.expire")
def expire() -> int:
    return lifecycle.alert_expire_due()


@shared_task(name="alerts.poll_feeds", soft_time_limit=240, time_limit=270)
def poll_feeds() -> dict[str, int]:
    """Poll the CAP feeds that are due (beat runs this every minute; a feed keeps its own interval)."""
    reports = cap_feeds.cap_feeds_poll_due()
    return {
        "polled": len(reports),
        "imported": sum(len(report.imported) for report in reports),
        "failed": sum(1 for report in reports if report.errors),
    }
