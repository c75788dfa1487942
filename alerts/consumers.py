"""WebSocket consumers: a person's alert inbox, and staff's live view of one alert's dispatch.

Thin, as STYLE.md asks: the permission check in `connect` through a selector, one handler per event type,
database access only through services and selectors wrapped with database_sync_to_async.
"""

import re
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from alerts import events, selectors, selectors_resident
from alerts.models import Alert, ReplyKind
from alerts.services import replies
from commsplatform.core.consumers import NoSweepDispatchMixin
from commsplatform.core.errors import DomainError

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# A delivery id: digits only, short enough for a bigint (int() would also take "+1", " 1" and other scripts' digits).
DELIVERY_ID = re.compile(r"[0-9]{1,18}")
MAX_HAVE = 50  # ids a reconnecting browser names as applied already (`have`), below its newest


def catchup_query(query_string: bytes) -> tuple[int, list[int]] | None:
    """`?after=<delivery id>&have=<id>,<id>…` of a reconnecting inbox (docs/alerts.md); None without `after`."""
    query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    if "after" not in query:
        return None
    after, have = query["after"][0], query.get("have", [""])[0]
    have_ids = have.split(",") if have else []
    if not DELIVERY_ID.fullmatch(after) or len(have_ids) > MAX_HAVE or not all(map(DELIVERY_ID.fullmatch, have_ids)):
        raise ValueError(f"after must be a delivery id, and have at most {MAX_HAVE} of them, comma-separated.")
    return int(after), [int(pk) for pk in have_ids]


class AlertInboxConsumer(NoSweepDispatchMixin, AsyncJsonWebsocketConsumer):
    """`ws/alerts/`: alerts sent to the signed-in person arrive here; they may answer "safe" / "need help"."""

    group: str | None = None
    caught_up: frozenset[int] = frozenset()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = events.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        try:
            catchup = catchup_query(self.scope.get("query_string", b""))
        except ValueError as exc:
            await self.send_json({"type": "error", "code": "invalid", "message": str(exc)})
            return
        if catchup is None:
            return
        after, have = catchup
        # Read only now, after joining the group: a delivery is then either live, or in the catch-up (sent, or
        # claimed: its send may have reached the group before we joined), or both — the live copy is dropped.
        frames, truncated = await self._missed(user, after, have)
        self.caught_up = frozenset(frame["delivery_id"] for frame in frames)
        for frame in frames:
            await self.send_json(frame)
        await self.send_json({"type": "catchup.done", "after": after, "sent": len(frames), "truncated": truncated})

    @database_sync_to_async
    def _missed(self, user: User, after: int, have: list[int]) -> tuple[list[dict[str, Any]], bool]:
        return selectors_resident.delivery_catchup_list(user=user, after=after, have=have)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "reply":
            await self.send_json({"type": "error", "code": "unknown_message", "message": "Expected a reply."})
            return
        alert_id, kind = content.get("alert_id"), content.get("kind")
        if not isinstance(alert_id, int) or kind not in ReplyKind.values:
            await self.send_json(
                {"type": "error", "code": "invalid", "message": "A reply needs an integer alert_id and a kind."}
            )
            return
        try:
            reply_id = await self._reply(self.scope["user"], alert_id, kind)
        except DomainError as exc:
            await self.send_json({"type": "error", "code": exc.code, "message": exc.message})
            return
        await self.send_json({"type": "reply.recorded", "alert_id": alert_id, "reply_id": reply_id, "kind": kind})

    @database_sync_to_async
    def _reply(self, user: User, alert_id: int, kind: str) -> int:
        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None:
            raise DomainError("No such alert.", code="not_found")
        return replies.reply_record(user=user, alert=alert, kind=kind).pk

    async def alert_message(self, event: dict[str, Any]) -> None:
        # Live messages that arrived while `connect` ran are handled after it: those it sent already are dropped.
        # Not those at or below `after`: deliveries of different alerts may be sent out of id order (priorities,
        # retries), so one below the client's newest may never have reached it; the page drops what it has.
        if event.get("delivery_id") in self.caught_up:
            return
        await self.send_json({**{k: v for k, v in event.items() if k != "type"}, "type": "alert"})


class AlertStatsConsumer(NoSweepDispatchMixin, AsyncJsonWebsocketConsumer):
    """`ws/alerts/<id>/stats/`: live statistics of one alert, for staff responsible for its area."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        alert_id = int(self.scope["url_route"]["kwargs"]["alert_id"])
        if not await self._may_follow(user, alert_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Joined before the figures are read, so that no push made in between is missed. One read before a push
        # may then arrive after it: each snapshot says how far it got (`settled`, `as_of`), and the page keeps the
        # furthest.
        self.group = events.alert_staff_group(alert_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        stats = await self._stats(alert_id)
        if stats is None:  # deleted since the check (a draft)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        await self.send_json({"type": "stats", "alert_id": alert_id, "stats": stats})

    @database_sync_to_async
    def _may_follow(self, user: User, alert_id: int) -> bool:
        try:
            alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
            selectors.alert_require_staff(user=user, alert=alert)
        except DomainError:
            return False
        return True

    @database_sync_to_async
    def _stats(self, alert_id: int) -> dict[str, Any] | None:
        # Read again after joining: the state and the targeted count may have changed since the check.
        alert = Alert.objects.defer("geometry").filter(pk=alert_id).first()
        return None if alert is None else selectors.alert_stats(alert=alert)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "error", "code": "read_only", "message": "This stream only sends."})

    async def alert_stats(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "stats", "alert_id": event["alert_id"], "stats": event["stats"]})

    async def alert_state(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "state", "alert_id": event["alert_id"], "state": event["state"]})

    async def alert_replies(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "replies", "alert_id": event["alert_id"], "counts": event["counts"], "as_of": event["as_of"]}
        )
