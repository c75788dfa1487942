"""Periodic accounts tasks: permissions whose memberships or agreements start or end by time alone."""

from celery import shared_task

from accounts.permissions import permissions_refresh_due


@shared_task(name="accounts.permissions_refresh", time_limit=600, soft_time_limit=570)
def permissions_refresh() -> int:
    return permissions_refresh_due()
