"""Builders for alert tests: content over a rectangle, staff who draft and approve, reachable residents."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ChannelKind, Role, User
from alerts.content import AlertContent, AreaContent, InfoContent
from alerts.models import Alert
from alerts.services import lifecycle
from tests.factories import AreaTree, UserFactory, grant, resident_at


def rectangle(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """A closed CAP ring of (lat, lon) pairs."""
    return [(y0, x0), (y0, x1), (y1, x1), (y1, x0), (y0, x0)]


def alert_api_body(
    x0: float = 0.5, y0: float = 0.5, x1: float = 2, y1: float = 2, *, info: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of POST /api/alerts/: one English info, Extreme flood, over the rectangle (x0, y0)-(x1, y1).

    `info` adds or replaces fields of the info; `extra` adds top-level fields.
    """
    return {
        "infos": [
            {
                "language": "en-US",
                "categories": ["Met"],
                "event": "Flood",
                "urgency": "Immediate",
                "severity": "Extreme",
                "certainty": "Observed",
                "headline": "Flash flood",
                "areas": [{"area_desc": "Riverside", "polygons": [rectangle(x0, y0, x1, y1)]}],
                **(info or {}),
            }
        ],
        **extra,
    }


def content_over(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    *,
    languages: tuple[str, ...] = ("en-US",),
    severity: str = "Severe",
    urgency: str = "Expected",
    hours: float | None = 6,
) -> AlertContent:
    expires = timezone.now() + timedelta(hours=hours) if hours is not None else None
    return AlertContent(
        infos=[
            InfoContent(
                language=language,
                categories=["Met"],
                event="Flood",
                urgency=urgency,
                severity=severity,
                certainty="Likely",
                headline=f"Flood warning ({language})",
                description="The river is rising.",
                instruction="Move to higher ground.",
                expires=expires,
                areas=[AreaContent(area_desc="Riverside", polygons=[rectangle(x0, y0, x1, y1)])],
            )
            for language in languages
        ]
    )


@dataclass
class Staff:
    drafter: User
    approver: User


def staff_for(tree: AreaTree) -> Staff:
    drafter = UserFactory.create(username="drafter")
    approver = UserFactory.create(username="approver")
    grant(drafter, Role.ALERT_DRAFTER, tree.city_a, tree.organisation)
    grant(approver, Role.ALERT_APPROVER, tree.city_a, tree.organisation)
    return Staff(drafter, approver)


def web_resident(lon: float, lat: float, **kwargs: object) -> User:
    """A resident living at (lon, lat) who receives alerts in the browser."""
    user = resident_at(lon, lat, **kwargs)
    accounts_services.channel_identity_link(user=user, kind=ChannelKind.WEB, external_id=f"user:{user.pk}")
    return user


def issued_alert(staff: Staff, content: AlertContent) -> Alert:
    """Drafted, submitted, approved and issued by two people (the dispatch is enqueued on commit)."""
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content)
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    return lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)
