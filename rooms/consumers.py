"""`ws/rooms/<id>/`: the live protocol of a room (docs/rooms.md lists every frame).

Thin, as STYLE.md asks: rights are checked at connect through a selector and again by the service on every
action; every database access goes through a service or selector wrapped with database_sync_to_async.
Events arrive already projected and serialised (rooms/events.py); the consumer only picks the right text.
"""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from accounts.models import User
from commsplatform.core.consumers import NoSweepDispatchMixin
from commsplatform.core.errors import DomainError, PermissionDenied
from rooms import events, presence, selectors, services
from rooms.models import Room

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# A connection may send this many frames in a burst, refilled at FRAMES_PER_SECOND.
FRAME_BURST = 30
FRAMES_PER_SECOND = 5.0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


# Each action: the service it calls, and how its result is acknowledged.
Action = Callable[[User, int, dict[str, Any]], dict[str, Any]]
ACTIONS: dict[str, Action] = {
    "message.post": lambda u, r, c: {"message_id": services.message_post(
        actor=u, room_id=r, kind=c.get("kind", "chat"), body=c.get("body"), language=c.get("language", "")).pk},
    "message.edit": lambda u, r, c: {"message_id": services.message_edit(
        actor=u, room_id=r, message_id=c.get("message_id"), body=c.get("body")).pk},
    "message.hide": lambda u, r, c: {"message_id": services.message_hide(
        actor=u, room_id=r, message_id=c.get("message_id"), reason=c.get("reason")).pk},
    "message.unhide": lambda u, r, c: {"message_id": services.message_unhide(
        actor=u, room_id=r, message_id=c.get("message_id")).pk},
    "message.pin": lambda u, r, c: {"message_id": services.message_pin(
        actor=u, room_id=r, message_id=c.get("message_id"), pinned=c.get("pinned", True)).pk},
    "message.seen": lambda u, r, c: {"recorded": services.messages_seen(
        user=u, room_id=r, message_ids=c.get("message_ids"))},
    "question.ask": lambda u, r, c: {"message_id": services.question_ask(
        actor=u, room_id=r, body=c.get("body"), language=c.get("language", "")).pk},
    "question.vote": lambda u, r, c: {"votes": services.question_vote(
        actor=u, room_id=r, question_id=c.get("question_id"), up=c.get("up", True)).votes},
    "question.approve": lambda u, r, c: {"message_id": services.question_approve(
        actor=u, room_id=r, question_id=c.get("question_id")).pk},
    "question.reject": lambda u, r, c: {"message_id": services.question_reject(
        actor=u, room_id=r, question_id=c.get("question_id"), reason=c.get("reason")).pk},
    "question.answer": lambda u, r, c: {"answer_id": services.question_answer(
        actor=u, room_id=r, question_id=c.get("question_id"), body=c.get("body"), answer_id=c.get("answer_id")).pk},
    "hand.raise": lambda u, r, c: {"state": services.hand_raise(actor=u, room_id=r).state},
    "hand.lower": lambda u, r, c: {"lowered": services.hand_lower(actor=u, room_id=r)},
    "hand.grant": lambda u, r, c: {"state": services.hand_decide(
        actor=u, room_id=r, user_id=c.get("user_id"), grant=True).state},
    "hand.revoke": lambda u, r, c: {"state": services.hand_decide(
        actor=u, room_id=r, user_id=c.get("user_id"), grant=False).state},
    "poll.create": lambda u, r, c: {"poll_id": services.poll_create(
        actor=u, room_id=r, question=c.get("question"), choices=c.get("choices"),
        multiple=c.get("multiple", False), anonymous=c.get("anonymous", True)).pk},
    "poll.vote": lambda u, r, c: {"results": services.poll_vote(
        actor=u, room_id=r, poll_id=c.get("poll_id"), choices=c.get("choices"))},
    "poll.close": lambda u, r, c: {"poll_id": services.poll_close(actor=u, room_id=r, poll_id=c.get("poll_id")).pk},
    "member.role": lambda u, r, c: {"role": services.room_member_role_set(
        actor=u, room_id=r, user_id=c.get("user_id"), role=c.get("role")).role},
    "member.mute": lambda u, r, c: {"user_id": services.room_member_mute(
        actor=u, room_id=r, user_id=c.get("user_id"), minutes=c.get("minutes"), reason=c.get("reason")).user_id},
    "member.unmute": lambda u, r, c: {"user_id": services.room_member_unmute(
        actor=u, room_id=r, user_id=c.get("user_id")).user_id},
    "member.ban": lambda u, r, c: {"user_id": services.room_member_ban(
        actor=u, room_id=r, user_id=c.get("user_id"), reason=c.get("reason")).user_id},
    "member.unban": lambda u, r, c: {"user_id": services.room_member_unban(
        actor=u, room_id=r, user_id=c.get("user_id")).user_id},
    "room.update": lambda u, r, c: {"room_id": services.room_update(
        actor=u, room_id=r, changes=c.get("changes")).pk},
}  # fmt: skip


class RoomConsumer(NoSweepDispatchMixin, AsyncWebsocketConsumer):
    room_id = 0
    user: User
    moderator = False
    role = ""
    caught_up_to = 0
    joined = False
    refresher: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        try:
            role, moderator, room_info = await self._enter()
        except PermissionDenied as exc:
            await self.close(code=CLOSE_UNAUTHENTICATED if exc.code == "unauthenticated" else CLOSE_FORBIDDEN,
                             reason=exc.message[:120])  # fmt: skip
            return
        except DomainError as exc:
            await self.close(code=CLOSE_NOT_FOUND, reason=exc.message[:120])
            return
        self.role, self.moderator = role, moderator
        await self.channel_layer.group_add(events.room_group(self.room_id), self.channel_name)
        await self.channel_layer.group_add(events.member_group(self.room_id, user.pk), self.channel_name)
        if moderator:
            await self.channel_layer.group_add(events.moderator_group(self.room_id), self.channel_name)
        self.joined = True
        await self.accept()
        await presence.presence_enter(self.room_id, self.channel_name)
        self.refresher = asyncio.get_running_loop().create_task(self._keep_present())
        # Read the head only now, after joining the group: an event is then either live or in catch-up.
        last = await self._head()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        after = query.get("after", [""])[0]
        self.caught_up_to = last
        await self._send({"type": "welcome", "room": room_info, "role": role, "user_id": user.pk,
                          "last_event_id": last, "presence": await presence.presence_count(self.room_id)})  # fmt: skip
        if after.isdigit():
            await self._catch_up(int(after), until=last)

    async def disconnect(self, code: int) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
        if self.joined:
            await self.channel_layer.group_discard(events.room_group(self.room_id), self.channel_name)
            await self.channel_layer.group_discard(events.member_group(self.room_id, self.user.pk), self.channel_name)
            await self.channel_layer.group_discard(events.moderator_group(self.room_id), self.channel_name)
            try:
                await presence.presence_leave(self.room_id, self.channel_name)
            except (OSError, RedisError):
                pass  # its entry expires after ROOM_PRESENCE_TTL_SECONDS without refreshes

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._error("malformed", "Frames are JSON text.")
            return
        if len(text_data) > settings.ROOM_FRAME_MAX_BYTES or len(text_data.encode()) > settings.ROOM_FRAME_MAX_BYTES:
            await self._error("too_large", f"A frame is at most {settings.ROOM_FRAME_MAX_BYTES} bytes.")
            return
        if not self._take_token():
            await self._error("rate_limited", "Too many frames; slow down.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("malformed", "The frame is not valid JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self._error("malformed", 'A frame is a JSON object with a "type".')
            return
        kind, ref = content["type"], content.get("ref")
        if ref is not None and not isinstance(ref, (str, int)):
            ref = None
        if kind == "ping":
            await presence.presence_refresh(self.room_id, self.channel_name)
            await self._send({"type": "pong", "ref": ref})
        elif kind == "presence":
            await self._send({"type": "presence", "count": await presence.presence_count(self.room_id), "ref": ref})
        elif kind == "catchup":
            after = _int(content.get("after"))
            if after < 0:
                await self._error("invalid", "catchup needs an integer after.", ref)
            else:
                await self._catch_up(after, until=None, ref=ref)
        elif kind in ACTIONS:
            try:
                result = await self._act(kind, content)
            except DomainError as exc:
                await self._error(exc.code, exc.message, ref, fields=exc.fields)
                return
            await self._send({"type": "ack", "action": kind, "ref": ref, "result": result})
        else:
            await self._error("unknown_type", f"Unknown frame type {kind[:40]!r}.", ref)

    # --- events from the channel layer ---

    async def room_event(self, message: dict[str, Any]) -> None:
        if message["id"] <= self.caught_up_to:
            return  # published while this connection was opening: it is in the catch-up, or before `after`
        if self.moderator:
            text = message["moderator"]
        elif message.get("subject") == self.user.pk:
            text = message["subject_text"]
        else:
            text = message["public"]
        if text is not None:
            await self.send(text_data=text)

    async def room_rights(self, message: dict[str, Any]) -> None:
        try:
            self.role, moderator, _info = await self._enter(join=False)
        except DomainError as exc:
            await self._error(exc.code, exc.message)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if moderator != self.moderator:
            change = self.channel_layer.group_add if moderator else self.channel_layer.group_discard
            await change(events.moderator_group(self.room_id), self.channel_name)
            self.moderator = moderator
        await self._send({"type": "rights", "role": self.role})

    async def room_presence(self, message: dict[str, Any]) -> None:
        await self._send({"type": "presence", "count": message["count"]})

    # --- helpers ---

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":"), ensure_ascii=False))

    async def _error(self, code: str, message: str, ref: Any = None, fields: dict[str, str] | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message, "ref": ref}
        if fields:
            frame["fields"] = fields
        await self._send(frame)

    def _take_token(self) -> bool:
        now = time.monotonic()
        tokens, last = getattr(self, "_bucket", (float(FRAME_BURST), now))
        tokens = min(float(FRAME_BURST), tokens + (now - last) * FRAMES_PER_SECOND)
        if tokens < 1:
            self._bucket = (tokens, now)
            return False
        self._bucket = (tokens - 1, now)
        return True

    async def _keep_present(self) -> None:
        interval = max(1.0, settings.ROOM_PRESENCE_TTL_SECONDS / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await presence.presence_refresh(self.room_id, self.channel_name)
            except (OSError, RedisError):
                continue  # Redis away for now: the next refresh tries again

    async def _catch_up(self, after: int, *, until: int | None, ref: Any = None) -> None:
        frames, more = await self._events_after(after, until)
        for text in frames:
            await self.send(text_data=text)
        await self._send({"type": "catchup.done", "after": after, "more": more, "ref": ref})

    @database_sync_to_async
    def _enter(self, join: bool = True) -> tuple[str, bool, dict[str, Any]]:
        if join:
            access = services.room_join(user=self.user, room_id=self.room_id)
        else:
            access = selectors.room_access(room=selectors.room_get(room_id=self.room_id), user=self.user)
        return access.role, access.is_moderator, room_summary(access.room)

    @database_sync_to_async
    def _head(self) -> int:
        return selectors.room_get(room_id=self.room_id).last_seq

    @database_sync_to_async
    def _events_after(self, after: int, until: int | None) -> tuple[list[str], bool]:
        room = selectors.room_get(room_id=self.room_id)
        access = selectors.room_access(room=room, user=self.user)
        limit = settings.ROOM_CATCHUP_MAX_EVENTS
        stored = selectors.event_list_after(room=room, after=after, limit=limit + 1)
        more = len(stored) > limit
        stored = stored[:limit]
        if until is not None:
            stored = [e for e in stored if e.seq <= until]
        hidden = selectors.hidden_message_ids(room=room)
        frames = []
        for event in stored:
            view = events.event_view(event.type, event.data, event.actor_id, moderator=access.is_moderator,
                                     viewer_id=self.user.pk, hidden_ids=hidden)  # fmt: skip
            if view is not None:
                frames.append(json.dumps(events.wire(event, view), separators=(",", ":"), ensure_ascii=False))
        return frames, more

    @database_sync_to_async
    def _act(self, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        return ACTIONS[kind](self.user, self.room_id, content)


def room_summary(room: Room) -> dict[str, Any]:
    return {
        "id": room.pk,
        "slug": room.slug,
        "title": room.title,
        "kind": room.kind,
        "visibility": room.visibility,
        "audience": room.audience,
        "languages": room.languages,
        "chat_open": room.chat_open,
        "questions_premoderated": room.questions_premoderated,
        "slow_mode_seconds": room.slow_mode_seconds,
        "ends_at": room.ends_at.isoformat() if room.ends_at else None,
    }
