"""Reads of the alerts app, each with its permission check: who may see which alert, statistics, replies."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncSecond
from django.utils import timezone

from accounts import permissions
from accounts.models import AdministrativeArea, User
from alerts.models import (
    DELIVERY_FINAL_STATES,
    Alert,
    AlertState,
    AlertTemplate,
    Delivery,
    DeliveryState,
    Reply,
    ReplyKind,
    Scope,
)
from commsplatform.core.errors import NotFound, PermissionDenied

STAFF_PERMS = (permissions.DRAFT_ALERTS, permissions.APPROVE_ALERTS)


def _staff_filter(user: User) -> Q | None:
    """Alerts whose area meets an area where the user drafts or approves; None when they are staff nowhere."""
    if user.is_superuser:
        return Q()
    condition = Q(pk__in=[])
    found = False
    for perm in STAFF_PERMS:
        for area in permissions.areas_held(user, perm):
            condition |= Q(geometry__intersects=area.geometry)
            found = True
    return condition if found else None


def alert_list_for_user(*, user: User, state: str | None = None) -> QuerySet[Alert]:
    """Everyone sees issued public alerts; staff also every alert meeting their areas (drafts included)."""
    staff = _staff_filter(user)
    public = Q(scope=Scope.PUBLIC) & ~Q(state__in=[AlertState.DRAFT, AlertState.SUBMITTED, AlertState.APPROVED])
    # Staff are residents too: other areas' issued public alerts are theirs to read like anyone's.
    alerts = Alert.objects.filter(public if staff is None else staff | Q(drafted_by=user) | public)
    if state:
        alerts = alerts.filter(state=state)
    return alerts.select_related("drafted_by", "approved_by").prefetch_related("infos__areas")


def alert_get_for_user(*, user: User, alert_id: int) -> Alert:
    alert = alert_list_for_user(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    return alert


def alert_active_list(*, area: AdministrativeArea | None = None) -> QuerySet[Alert]:
    """Issued, unexpired, public alerts (the public feed), optionally meeting an area."""
    alerts = Alert.objects.filter(state=AlertState.ISSUED, scope=Scope.PUBLIC).filter(
        Q(expires__isnull=True) | Q(expires__gt=timezone.now())
    )
    if area is not None:
        alerts = alerts.filter(geometry__intersects=area.geometry)
    return alerts.prefetch_related("infos__areas")


def alert_require_staff(*, user: User, alert: Alert) -> None:
    """Statistics, deliveries and replies of an alert are for staff over its area."""
    if user.is_superuser or alert.drafted_by_id == user.pk:
        return
    if alert.geometry is None or not any(
        permissions.areas_held(user, perm).filter(geometry__intersects=alert.geometry).exists() for perm in STAFF_PERMS
    ):
        raise PermissionDenied("Only staff responsible for this alert's area may see this.")


def alert_stats(*, alert: Alert) -> dict[str, Any]:
    """Targeted, queued, sent, failed by reason, replied; time to first and last delivery (seconds).

    Several processes push these figures while a dispatch runs (the dispatch itself, each batch), and the channel
    layer does not keep their order, so each snapshot says how far it got: `settled`, the deliveries in a final
    state (a count that never goes down), and `as_of`, when its reading began. A reader keeps the one with more
    settled, or the later one when they settled as many.
    """
    as_of = timezone.now()
    by_state: dict[str, int] = dict.fromkeys(DeliveryState.values, 0)
    by_transport: dict[str, dict[str, int]] = {}
    for row in Delivery.objects.filter(alert=alert).values("transport", "state").annotate(n=Count("pk")):
        by_state[row["state"]] += row["n"]
        by_transport.setdefault(row["transport"], dict.fromkeys(DeliveryState.values, 0))[row["state"]] = row["n"]
    failed_by_reason = {
        row["failed_reason"] or "unknown": row["n"]
        for row in Delivery.objects.filter(alert=alert, state=DeliveryState.FAILED)
        .values("failed_reason")
        .annotate(n=Count("pk"))
        .order_by("-n")[:20]
    }
    times = Delivery.objects.filter(alert=alert, state=DeliveryState.SENT).aggregate(
        first=Min("sent_at"), last=Max("sent_at")
    )
    reachable = Delivery.objects.filter(alert=alert).values("recipient_id").distinct().count()
    started = alert.issued_at

    def seconds_since_issue(value: Any) -> float | None:
        return round((value - started).total_seconds(), 3) if value is not None and started is not None else None

    return {
        "alert_id": alert.pk,
        "state": alert.state,
        "targeted": alert.targeted_count,
        "reachable": reachable,
        "deliveries": sum(by_state.values()),
        "settled": sum(by_state[state] for state in DELIVERY_FINAL_STATES),
        "by_state": by_state,
        "by_transport": by_transport,
        "failed_by_reason": failed_by_reason,
        "replied": reply_counts(alert_id=alert.pk)["counts"],
        "first_sent_at": times["first"].isoformat() if times["first"] else None,
        "last_sent_at": times["last"].isoformat() if times["last"] else None,
        "seconds_to_first": seconds_since_issue(times["first"]),
        "seconds_to_last": seconds_since_issue(times["last"]),
        "dispatch_completed": alert.dispatch_completed_at is not None,
        "as_of": as_of.isoformat(),
    }


def reply_counts(*, alert_id: int) -> dict[str, Any]:
    """Each person's latest answer to an alert, counted by kind, and when they were counted (`as_of`)."""
    as_of = timezone.now()
    counts = dict(
        Reply.objects.filter(alert_id=alert_id, is_latest=True).values_list("kind").annotate(n=Count("pk")).order_by()
    )
    return {"counts": {kind: counts.get(kind, 0) for kind in ReplyKind.values}, "as_of": as_of.isoformat()}


# Steps a delivery timeline is cut into: the smallest that gives at most TIMELINE_MAX_BUCKETS buckets.
TIMELINE_STEPS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400)
TIMELINE_MAX_BUCKETS = 120


def delivery_timeline(*, alert: Alert, bucket_seconds: int | None = None) -> list[dict[str, Any]]:
    """Deliveries of an alert over time: sent and failed per bucket, and their running totals.

    A sent delivery counts at its `sent_at`; a failed or blocked one at its last claim (when its final attempt
    began: the record keeps no separate failure time). Counted per second in the database, then cut into
    buckets (chosen from the span when not given); empty buckets between the first and the last are kept.
    Callers check `alert_require_staff` first.
    """
    per_second: dict[datetime, list[int]] = {}
    sources = (
        (0, "sent_at", (DeliveryState.SENT,)),
        (1, "claimed_at", (DeliveryState.FAILED, DeliveryState.BLOCKED)),
    )
    for index, field, states in sources:
        rows = (
            Delivery.objects.filter(alert=alert, state__in=states, **{f"{field}__isnull": False})
            .annotate(second=TruncSecond(field))
            .values("second")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            per_second.setdefault(row["second"], [0, 0])[index] += row["n"]
    if not per_second:
        return []
    first, last = min(per_second), max(per_second)
    span = (last - first).total_seconds()
    if bucket_seconds is None:
        bucket_seconds = next((s for s in TIMELINE_STEPS if span / s < TIMELINE_MAX_BUCKETS), TIMELINE_STEPS[-1])
    bucket_seconds = max(int(bucket_seconds), 1, int(span // 2000) + 1)
    origin = datetime.fromtimestamp(first.timestamp() // bucket_seconds * bucket_seconds, tz=UTC)
    count = int((last - origin).total_seconds() // bucket_seconds) + 1
    buckets = [[0, 0] for _ in range(count)]
    for second, (sent, failed) in per_second.items():
        index = int((second - origin).total_seconds() // bucket_seconds)
        buckets[index][0] += sent
        buckets[index][1] += failed
    timeline: list[dict[str, Any]] = []
    sent_total = failed_total = 0
    for index, (sent, failed) in enumerate(buckets):
        sent_total += sent
        failed_total += failed
        timeline.append(
            {
                "at": origin + timedelta(seconds=index * bucket_seconds),
                "bucket_seconds": bucket_seconds,
                "sent": sent,
                "failed": failed,
                "sent_total": sent_total,
                "failed_total": failed_total,
            }
        )
    return timeline


def delivery_list_for_user(*, user: User, alert: Alert, state: str | None = None) -> QuerySet[Delivery]:
    alert_require_staff(user=user, alert=alert)
    deliveries = Delivery.objects.filter(alert=alert).order_by("pk")
    if state:
        deliveries = deliveries.filter(state=state)
    return deliveries


def reply_counts_by_area(*, user: User, alert: Alert) -> list[dict[str, Any]]:
    """Latest replies per administrative area (aggregates only: no individual is shown)."""
    alert_require_staff(user=user, alert=alert)
    rows = (
        Reply.objects.filter(alert=alert, is_latest=True)
        .values("area_id", "area__name", "area__level", "kind")
        .annotate(n=Count("pk"))
        .order_by("area__name")
    )
    areas: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        entry = areas.setdefault(
            row["area_id"],
            {"area_id": row["area_id"], "name": row["area__name"] or "unknown", "level": row["area__level"] or ""},
        )
        entry[row["kind"]] = row["n"]
    for entry in areas.values():
        for kind in ReplyKind.values:
            entry.setdefault(kind, 0)
    return list(areas.values())


def reply_need_help_list_for_user(*, user: User, alert: Alert) -> QuerySet[Reply]:
    """Individual "I need help" replies, only in areas where the user may see residents (sensitive)."""
    alert_require_staff(user=user, alert=alert)
    replies = Reply.objects.filter(alert=alert, is_latest=True, kind=ReplyKind.NEED_HELP).select_related("area")
    if user.is_superuser:
        return replies
    covered = permissions.areas_covered(user, permissions.VIEW_RESIDENTS)
    return replies.filter(area__in=covered)


def delivery_list_for_recipient(*, user: User) -> QuerySet[Delivery]:
    """The alerts a person was sent, newest first."""
    return (
        Delivery.objects.filter(recipient=user)
        .exclude(state__in=[DeliveryState.EXPIRED, DeliveryState.SUPERSEDED])
        .select_related("alert")
        .order_by("-pk")
    )


def template_list_for_user(*, user: User) -> QuerySet[AlertTemplate]:
    if user.is_superuser:
        return AlertTemplate.objects.all()
    organisations = user.memberships.active().values("organisation_id")
    covered = permissions.areas_covered(user, permissions.DRAFT_ALERTS)
    return AlertTemplate.objects.filter(organisation__in=organisations, area__in=covered)


def template_get_for_user(*, user: User, template_id: int) -> AlertTemplate:
    template = template_list_for_user(user=user).filter(pk=template_id).first()
    if template is None:
        raise NotFound("No such template.")
    return template
