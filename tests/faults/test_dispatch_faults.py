"""Faults mid-dispatch, with a real Celery worker and beat, a real redis-server and the lane's PostgreSQL cluster.

Each case issues an alert to RECIPIENTS people and, once some but not all of them were sent their message, breaks
something: the worker is killed with SIGKILL and a new one started; the worker's Redis (broker and channel layer)
is restarted, losing every queued task; the PostgreSQL cluster is restarted, ending every session of the worker,
beat and this test; or the transport fails a tenth of the sends transiently. Recovery is the system's own: beat
runs `alerts.redrive` (every second here instead of every 30 s). Every recipient must end with exactly one
message at the transport (its log of physical sends) and exactly one delivery recorded as sent.
"""

import os
import time
from collections.abc import Callable

import pytest
from django.db import connection

from alerts.models import Delivery
from tests.factories import AreaTree
from tests.faults.workers import (
    Stack,
    issue,
    postgres_restart,
    provider_lookups,
    recorded_sends,
    report_case,
    residents,
    sent_rows,
    wait_for,
)

# Enough for the fault to land while batches are in flight on both worker processes (batches of 100), few enough
# that each case takes seconds.
RECIPIENTS = 2_000

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").split(":", 1)[0] not in ("postgis", "postgres", "postgresql"),
        reason="the fault cases run on PostGIS (a real worker writing beside the test)",
    ),
]


def _physical_total(stack: Stack) -> int:
    return sum(recorded_sends(stack.folder).values())


def test_worker_killed_mid_dispatch(tree: AreaTree, stack_factory: Callable[..., Stack]) -> None:
    recipients = residents(RECIPIENTS)
    # What dispatch cannot close itself: a process killed between the provider's acceptance and our commit. Here
    # the provider can be asked what it accepted (see recording_transport.py); the lookups are counted below.
    stack = stack_factory(extra_env={"RECORDING_LOOKUP": "1"})
    alert = issue(tree, stack)
    # Mid-batch (batches of 100), not at a batch's end.
    wait_for(lambda: sent_rows(alert) >= RECIPIENTS // 5 + 50, "a fifth of the deliveries", alert=alert)
    stack.kill_worker()
    killed_at = sent_rows(alert)
    assert 0 < killed_at < RECIPIENTS, "the worker finished before it could be killed"
    stack.start_worker()
    wait_for(lambda: sent_rows(alert) == RECIPIENTS, "every delivery sent after the restart", alert=alert)

    # Replaying the dispatch and a send batch through the real worker sends nothing and writes no delivery.
    before = recorded_sends(stack.folder)
    some = list(Delivery.objects.filter(alert=alert).values_list("pk", flat=True)[:100])
    stack.send_task("alerts.dispatch", [alert.pk])
    stack.send_task("alerts.send_batch", ["recording", some], queue="deliveries.recording")
    time.sleep(3)  # what must not happen: a bounded wait is the only way to see it did not
    assert Delivery.objects.filter(alert=alert).count() == RECIPIENTS
    physical = recorded_sends(stack.folder)
    assert physical == before
    lookups = provider_lookups(stack.folder)
    # Only a message in flight when the worker died can have reached the provider unrecorded: one per process.
    assert lookups <= 2
    report_case(
        "worker killed (SIGKILL) mid-dispatch",
        alert,
        recipients,
        physical,
        f"{killed_at} sent when killed; {lookups} resends found already accepted by the provider and not made;"
        " dispatch and a batch replayed after",
    )


def test_redis_restarted_mid_dispatch(tree: AreaTree, stack_factory: Callable[..., Stack]) -> None:
    recipients = residents(RECIPIENTS)
    stack = stack_factory()
    alert = issue(tree, stack)
    wait_for(lambda: sent_rows(alert) >= RECIPIENTS // 5, "a fifth of the deliveries", alert=alert)
    stack.redis.restart()  # every queued task is lost with it: the server keeps nothing on disk
    restarted_at = sent_rows(alert)
    assert 0 < restarted_at < RECIPIENTS, "the dispatch finished before Redis could be restarted"
    wait_for(lambda: sent_rows(alert) == RECIPIENTS, "every delivery sent after Redis came back", alert=alert)
    report_case(
        "Redis (broker + channel layer) restarted mid-dispatch",
        alert,
        recipients,
        recorded_sends(stack.folder),
        f"{restarted_at} sent when restarted",
    )


def test_postgres_restarted_mid_dispatch(tree: AreaTree, stack_factory: Callable[..., Stack]) -> None:
    recipients = residents(RECIPIENTS)
    # A sent batch's outcomes are recorded across a lost session for up to half the claim timeout: 5 s here, for
    # a restart on a busy machine (the other cases' 4 s claims make their recovery quick).
    stack = stack_factory(extra_env={"ALERT_CLAIM_TIMEOUT_SECONDS": "10"})
    alert = issue(tree, stack)
    wait_for(lambda: sent_rows(alert) >= RECIPIENTS // 5, "a fifth of the deliveries", alert=alert)
    before = sent_rows(alert)
    postgres_restart()
    # This test's own session ended with the others: drop it, the next query opens a new one.
    connection.close()
    physical_at = _physical_total(stack)
    assert before > 0
    assert physical_at < RECIPIENTS, "the dispatch finished before PostgreSQL could be restarted"
    wait_for(lambda: sent_rows(alert) == RECIPIENTS, "every delivery sent after PostgreSQL came back", alert=alert)
    report_case(
        "PostgreSQL restarted mid-dispatch",
        alert,
        recipients,
        recorded_sends(stack.folder),
        f"{before} sent when the restart began, {physical_at} when it ended",
    )


def test_transport_failing_a_tenth_of_sends(tree: AreaTree, stack_factory: Callable[..., Stack]) -> None:
    recipients = residents(RECIPIENTS)
    stack = stack_factory(extra_env={"RECORDING_FAIL_RATE": "0.10"})
    alert = issue(tree, stack)
    wait_for(lambda: sent_rows(alert) == RECIPIENTS, "every delivery sent despite transient failures", alert=alert)
    retried = Delivery.objects.filter(alert=alert, attempts__gt=1).count()
    assert retried > RECIPIENTS * 0.05  # about a tenth needed a second attempt
    report_case(
        "transport failing 10 % of sends transiently", alert, recipients, recorded_sends(stack.folder), "retry_after"
    )
