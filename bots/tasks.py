"""Thin Celery tasks of the bot: the work is in bots.updates."""

from celery import shared_task

from bots import updates


@shared_task(name="bots.process_update", acks_late=True)
def process_update(update_id: int) -> str:
    return updates.update_process(update_id=update_id)


@shared_task(name="bots.updates_prune")
def updates_prune() -> int:
    return updates.updates_prune()
