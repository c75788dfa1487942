"""Thin Celery tasks of the bot: the work is in bots.updates and, for room posts, bots.journeys.rooms."""

import random
from typing import Any

from celery import shared_task

from bots import updates


@shared_task(name="bots.process_update", acks_late=True)
def process_update(update_id: int) -> str:
    return updates.update_process(update_id=update_id)


@shared_task(name="bots.updates_prune")
def updates_prune() -> int:
    return updates.updates_prune()


@shared_task(name="bots.room_relay", bind=True, acks_late=True, max_retries=30, soft_time_limit=270, time_limit=300)
def room_relay(self: Any, room_id: int, seq: int) -> dict[str, int]:
    """Relay one room post (room_id, seq) to the chats that joined the room through the bot; replays send nothing
    twice. Retried while Telegram or the rate limiter asks to wait, or while another run holds some of it."""
    from bots.journeys.rooms import RELAY_CLAIM_SECONDS, room_event_relay

    report = room_event_relay(room_id=room_id, seq=seq)
    if report.pending:
        # Backoff with jitter, never sooner than Telegram asked.
        ceiling = min(300.0, 5.0 * 2 ** min(self.request.retries, 6))
        raise self.retry(countdown=max(report.retry_after, random.uniform(ceiling / 2, ceiling)))  # noqa: S311 - jitter
    if report.claimed_elsewhere:
        raise self.retry(countdown=RELAY_CLAIM_SECONDS + 5)
    return {"sent": report.sent, "failed": report.failed}


@shared_task(name="bots.room_relays_prune")
def room_relays_prune() -> int:
    from bots.journeys.rooms import room_relays_prune as prune

    return prune()
