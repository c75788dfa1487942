"""Periodic shelters tasks: the occupancy history's regular snapshot of every open shelter."""

from celery import shared_task

from shelters.services import occupancy_snapshot_record


@shared_task(name="shelters.occupancy_snapshot", time_limit=300, soft_time_limit=270)
def occupancy_snapshot() -> int:
    return occupancy_snapshot_record()
