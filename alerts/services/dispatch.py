"""Dispatch: from an issued alert to one delivery per (recipient, transport), queued, claimed, sent, recorded.

Every step can be replayed and a worker can die anywhere:
- deliveries are written by one INSERT … SELECT under a unique constraint (a replay inserts nothing);
- a transport task claims its deliveries with a conditional UPDATE (only `queued` ones, with a fresh
  token) and records each outcome only while its claim still holds, so a delivery is recorded sent once;
- `deliveries_redrive` (beat) returns deliveries claimed too long ago to the queue, re-enqueues queued
  ones whose task was lost (worker killed, broker restarted) and re-runs dispatches that did not finish.
What cannot be made exactly-once is the instant between a provider accepting a message and our commit:
a worker killed there sends that message again after the claim times out. Each message carries its
delivery id (websocket payload, e-mail Message-ID) so that the receiving side can drop the repeat.
"""

import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import ChannelIdentity
from alerts import events, selectors, targeting
from alerts.messages import alert_message
from alerts.models import Alert, AlertState, Delivery, DeliveryState
from alerts.transports import queue_for, transport_get, transport_names
from alerts.transports.base import Outcome, Outgoing

ENQUEUE_CHUNK = 5000


def _enqueue(alert_priority: int, transport: str, delivery_ids: Sequence[int], countdown: float = 0.0) -> None:
    from alerts.tasks import send_batch

    options: dict[str, Any] = {"queue": queue_for(transport), "priority": alert_priority}
    if countdown:
        options["countdown"] = countdown
    send_batch.apply_async(args=(transport, list(delivery_ids)), **options)


def _enqueue_pending(alert: Alert, *, now: datetime) -> int:
    """Queue every delivery of the alert not yet handed to a task, in batches of each transport's size."""
    queued = 0
    for name in transport_names():
        batch_size = transport_get(name).batch_size
        pending = Delivery.objects.filter(
            alert=alert, transport=name, state=DeliveryState.QUEUED, enqueued_at__isnull=True
        ).order_by("pk")
        while True:
            chunk = list(pending.values_list("pk", flat=True)[:ENQUEUE_CHUNK])
            if not chunk:
                break
            Delivery.objects.filter(pk__in=chunk, enqueued_at__isnull=True).update(enqueued_at=now)
            for start in range(0, len(chunk), batch_size):
                _enqueue(alert.priority, name, chunk[start : start + batch_size])
            queued += len(chunk)
    return queued


def alert_dispatch(*, alert_id: int) -> int:
    """Write and queue the deliveries of an issued alert; return how many were queued now (0 on a replay)."""
    now = timezone.now()
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None or alert.state != AlertState.ISSUED:
        return 0
    if alert.expires is not None and alert.expires <= now:
        return 0
    Alert.objects.filter(pk=alert.pk, dispatch_started_at__isnull=True).update(dispatch_started_at=now)
    if alert.targeted_count is None:
        targeted = targeting.recipients(alert, now=now).values("pk").distinct().count()
        Alert.objects.filter(pk=alert.pk).update(targeted_count=targeted)
    with transaction.atomic():
        targeting.deliveries_create(alert, now=now)
    queued = _enqueue_pending(alert, now=now)
    Alert.objects.filter(pk=alert.pk).update(dispatch_completed_at=timezone.now())
    _push_stats(alert.pk, force=True)
    return queued


def _push_stats(alert_id: int, *, force: bool = False) -> None:
    if force or events.stats_push_due(alert_id):
        alert = Alert.objects.filter(pk=alert_id).defer("geometry").first()
        if alert is not None:
            events.alert_stats(alert_id, selectors.alert_stats(alert=alert))


@dataclass
class SendReport:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _backoff(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    ceiling = min(settings.ALERT_RETRY_MAX_SECONDS, settings.ALERT_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0)))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.ALERT_RETRY_MAX_SECONDS)


def deliveries_send(*, transport_name: str, delivery_ids: Sequence[int]) -> SendReport:
    """Claim, send and record a batch of deliveries on one transport. Replaying it changes nothing."""
    report = SendReport()
    transport = transport_get(transport_name)
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk__in=list(delivery_ids),
        transport=transport_name,
        state=DeliveryState.QUEUED,
    ).update(state=DeliveryState.CLAIMED, claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    report.claimed = claimed
    if not claimed:
        return report
    rows = list(
        Delivery.objects.filter(claim_token=token, state=DeliveryState.CLAIMED).values(
            "pk", "alert_id", "recipient_id", "language", "attempts", "identity__external_id", "identity__is_active"
        )
    )
    # Not the geometry: a city's polygons weigh hundreds of kilobytes, and sending needs none of it.
    batch_alerts = Alert.objects.filter(pk__in={row["alert_id"] for row in rows}).defer("geometry")
    alerts = {alert.pk: alert for alert in batch_alerts}
    outgoing: list[Outgoing] = []
    attempts: dict[int, int] = {}
    rendered: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        alert = alerts[row["alert_id"]]
        if alert.state in (AlertState.UPDATED, AlertState.CANCELLED):
            _record(token, [Outcome(row["pk"], "failed", reason="superseded")], report, final=DeliveryState.SUPERSEDED)
            continue
        if alert.state == AlertState.EXPIRED or (alert.expires is not None and alert.expires <= now):
            _record(token, [Outcome(row["pk"], "failed", reason="expired")], report, final=DeliveryState.EXPIRED)
            continue
        if row["identity__is_active"] is False:
            _record(token, [Outcome(row["pk"], "blocked", reason="channel deactivated")], report)
            continue
        key = (alert.pk, row["language"])
        if key not in rendered:
            rendered[key] = alert_message(alert, row["language"])
        attempts[row["pk"]] = row["attempts"]
        outgoing.append(
            Outgoing(
                delivery_id=row["pk"],
                alert_id=alert.pk,
                recipient_id=row["recipient_id"],
                address=row["identity__external_id"] or "",
                language=row["language"],
                payload=rendered[key],
            )
        )
    if outgoing:
        priorities = {alert_id: alert.priority for alert_id, alert in alerts.items()}
        alert_of = {message.delivery_id: message.alert_id for message in outgoing}
        # The transport sends no further message of the batch until the outcomes it yielded are recorded.
        for outcomes in transport.send(outgoing):
            _record_outliving_outage(
                token, outcomes, report, attempts=attempts, priorities=priorities, alert_of=alert_of
            )
    for alert_id in alerts:
        unfinished = Delivery.objects.filter(alert_id=alert_id, state__in=[DeliveryState.QUEUED, DeliveryState.CLAIMED])
        # The last batch always pushes, so that staff see the final figures whatever the throttle.
        _push_stats(alert_id, force=not unfinished.exists())
    return report


def _record_outliving_outage(token: str, outcomes: list[Outcome], report: SendReport, **kwargs: Any) -> None:
    """_record, waiting out a lost database session (PostgreSQL restarted, a failover) for up to half the claim
    timeout. These messages have left already: a failure here would leave their claims to time out and the re-drive
    would send them again (found by tests/faults: a restart mid-dispatch repeated one message per worker process).
    Recording again is safe: each update holds only while our claim does."""
    deadline = time.monotonic() + settings.ALERT_CLAIM_TIMEOUT_SECONDS / 2
    while True:
        try:
            _record(token, outcomes, report, **kwargs)
            return
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            connection.close()  # the next query opens a new session
            time.sleep(0.2)


def _record(
    token: str,
    outcomes: Iterable[Outcome],
    report: SendReport,
    *,
    final: str | None = None,
    attempts: dict[int, int] | None = None,
    priorities: dict[int, int] | None = None,
    alert_of: dict[int, int] | None = None,
) -> None:
    """Record outcomes, but only for deliveries this claim still holds."""
    now = timezone.now()
    sent: list[int] = []
    retries: dict[float, list[int]] = defaultdict(list)
    for outcome in outcomes:
        report.outcomes[final or outcome.status] += 1
        if outcome.status == "sent" and not outcome.provider_message_id:
            # The common case is recorded for the whole batch by one UPDATE below, without a queryset each.
            sent.append(outcome.delivery_id)
            continue
        mine = Delivery.objects.filter(pk=outcome.delivery_id, claim_token=token, state=DeliveryState.CLAIMED)
        if outcome.status == "sent":
            mine.update(state=DeliveryState.SENT, sent_at=now, provider_message_id=outcome.provider_message_id)
        elif outcome.status == "retry":
            tries = (attempts or {}).get(outcome.delivery_id, settings.ALERT_MAX_ATTEMPTS)
            if tries >= settings.ALERT_MAX_ATTEMPTS:
                mine.update(
                    state=DeliveryState.FAILED, failed_reason=f"gave up after {tries} attempts: {outcome.reason}"[:500]
                )
                continue
            delay = _backoff(tries, outcome.retry_after)
            updated = mine.update(
                state=DeliveryState.QUEUED,
                claim_token="",
                next_attempt_at=now + timedelta(seconds=delay),
                enqueued_at=now,
                failed_reason=outcome.reason[:500],
            )
            if updated:
                # Grouped by tenths of a second, rounded UP: a task due before next_attempt_at would claim nothing
                # and leave the delivery to the re-drive (minutes later).
                retries[math.ceil(delay * 10) / 10].append(outcome.delivery_id)
        elif outcome.status == "blocked":
            if mine.update(state=DeliveryState.BLOCKED, failed_reason=outcome.reason[:500]):
                identity_ids = Delivery.objects.filter(pk=outcome.delivery_id).values("identity_id")
                ChannelIdentity.objects.filter(pk__in=identity_ids, is_active=True).update(
                    is_active=False, deactivated_reason=outcome.reason[:200]
                )
        else:
            mine.update(state=final or DeliveryState.FAILED, failed_reason=outcome.reason[:500])
    if sent:
        Delivery.objects.filter(pk__in=sent, claim_token=token, state=DeliveryState.CLAIMED).update(
            state=DeliveryState.SENT, sent_at=now
        )
    for delay, ids in retries.items():
        by_alert: dict[int, list[int]] = defaultdict(list)
        for delivery_id in ids:
            by_alert[(alert_of or {}).get(delivery_id, 0)].append(delivery_id)
        for alert_id, alert_ids in by_alert.items():
            transport = Delivery.objects.filter(pk=alert_ids[0]).values_list("transport", flat=True).first()
            if transport is not None:
                _enqueue((priorities or {}).get(alert_id, 5), transport, alert_ids, countdown=delay)


@dataclass
class RedriveReport:
    reclaimed: int = 0
    requeued: int = 0
    redispatched: int = 0


def deliveries_redrive(*, now: datetime | None = None) -> RedriveReport:
    """Recover from lost work: stale claims, lost tasks, unfinished dispatches. Safe to run at any time."""
    now = now or timezone.now()
    report = RedriveReport()
    stale_claim = now - timedelta(seconds=settings.ALERT_CLAIM_TIMEOUT_SECONDS)
    report.reclaimed = Delivery.objects.filter(state=DeliveryState.CLAIMED, claimed_at__lt=stale_claim).update(
        state=DeliveryState.QUEUED, claim_token="", enqueued_at=None, next_attempt_at=None
    )
    lost_after = now - timedelta(seconds=settings.ALERT_REDRIVE_AFTER_SECONDS)
    Delivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=lost_after),
        state=DeliveryState.QUEUED,
        enqueued_at__lt=lost_after,
    ).update(enqueued_at=None)
    live = Alert.objects.filter(state=AlertState.ISSUED).filter(Q(expires__isnull=True) | Q(expires__gt=now))
    for alert in live.filter(deliveries__state=DeliveryState.QUEUED, deliveries__enqueued_at__isnull=True).distinct():
        report.requeued += _enqueue_pending(alert, now=now)
    unfinished = live.filter(dispatch_completed_at__isnull=True).filter(
        Q(dispatch_started_at__lt=lost_after) | Q(dispatch_started_at__isnull=True, issued_at__lt=lost_after)
    )
    from alerts.tasks import dispatch

    for alert_id in unfinished.values_list("pk", flat=True):
        dispatch.delay(alert_id)
        report.redispatched += 1
    # Deliveries of alerts that ended while queued will never be sent: close them with the reason.
    Delivery.objects.filter(
        state=DeliveryState.QUEUED, alert__state__in=[AlertState.UPDATED, AlertState.CANCELLED]
    ).update(state=DeliveryState.SUPERSEDED, failed_reason="superseded")
    Delivery.objects.filter(
        Q(alert__state=AlertState.EXPIRED) | Q(alert__expires__lte=now), state=DeliveryState.QUEUED
    ).update(state=DeliveryState.EXPIRED, failed_reason="expired")
    return report
