"""Every channel-layer event of the rooms app is sent from here; group names come only from these helpers.

A room event is projected once, when it is published, into what a moderator sees, what the person it is about
sees and what everyone else sees, and each is serialised once; consumers pick one and forward the text as is.
The same projection serves catch-up from the stored record, so a reconnecting client gets exactly what a
connected one got.
"""

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from rooms import signals
from rooms.models import RoomEvent

logger = logging.getLogger(__name__)

# Events only moderators, and the person they are about, ever see.
PRIVATE_TYPES = frozenset(
    {
        "member.joined",
        "member.left",
        "member.role_changed",
        "member.muted",
        "member.unmuted",
        "member.banned",
        "member.unbanned",
        "question.rejected",
    }
)


def room_group(room_id: int) -> str:
    """Every connection to one room."""
    return f"rooms.{room_id}"


def moderator_group(room_id: int) -> str:
    """The connections of the room's hosts and moderators, who also see what others do not."""
    return f"rooms.{room_id}.moderators"


def member_group(room_id: int, user_id: int) -> str:
    """Every connection of one person to one room (to refresh their rights, or close them when banned)."""
    return f"rooms.{room_id}.u.{user_id}"


def _subject(event_type: str, data: dict[str, Any], actor_id: int | None) -> int | None:
    """The person an event is about, who sees it in full even when others do not."""
    if "subject_id" in data:
        return int(data["subject_id"])
    if event_type == "message.posted" and data.get("question_state") == "pending":
        return actor_id
    return None


def event_view(
    event_type: str, data: dict[str, Any], actor_id: int | None, *, moderator: bool, viewer_id: int | None,
    hidden_ids: set[int] | frozenset[int] = frozenset(),
) -> dict[str, Any] | None:  # fmt: skip
    """What one viewer sees of an event, or None when they see nothing of it."""
    if moderator:
        return data
    is_subject = viewer_id is not None and viewer_id == _subject(event_type, data, actor_id)
    if event_type in PRIVATE_TYPES:
        return data if is_subject else None
    # Any event that carries the text of a message hidden now (posted, approved, shown again) shows nothing.
    if "body" in data and data.get("message_id") in hidden_ids:
        return None
    if event_type == "message.posted":
        if data.get("question_state") == "pending" and not is_subject:
            return None
    if event_type == "message.hidden":
        return {"message_id": data["message_id"]}
    if event_type == "poll.voted":
        return {k: v for k, v in data.items() if k != "voter_id"}
    return data


def wire(event: RoomEvent, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "event",
        "id": event.seq,
        "event": event.type,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "data": data,
    }


def _text(event: RoomEvent, data: dict[str, Any] | None) -> str | None:
    return None if data is None else json.dumps(wire(event, data), separators=(",", ":"), ensure_ascii=False)


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (OSError, RedisError) as exc:
        # The event is in the record: clients that missed it get it on catch-up.
        logger.warning("room event not pushed to %s: %s", group, type(exc).__name__)


def _send_all(sends: list[tuple[str, dict[str, Any]]]) -> None:
    for group, message in sends:
        _send(group, message)


def room_event_published(event: RoomEvent) -> None:
    """After commit, push the event to everyone in the room, each receiving their projection of it."""
    data, actor = event.data, event.actor_id
    subject = _subject(event.type, data, actor)
    public = _text(event, event_view(event.type, data, actor, moderator=False, viewer_id=None))
    message: dict[str, Any] = {
        "type": "room.event",
        "id": event.seq,
        "public": public,
        "moderator": _text(event, data),
    }
    subject_text = None
    if subject is not None:
        subject_text = _text(event, event_view(event.type, data, actor, moderator=False, viewer_id=subject))
    if public is None:
        # Only moderators and the person concerned see it: not sent to everyone (a room of thousands would
        # otherwise carry every join and every pending question to every connection, to be dropped there).
        sends = [(moderator_group(event.room_id), message)]
        if subject is not None and subject_text is not None:
            only_them = {"type": "room.event", "id": event.seq, "public": subject_text, "moderator": None}
            sends.append((member_group(event.room_id, subject), only_them))
    else:
        if subject is not None:
            message["subject"] = subject
            message["subject_text"] = subject_text
        sends = [(room_group(event.room_id), message)]
    transaction.on_commit(lambda: _send_all(sends))
    transaction.on_commit(lambda: _signal_published(event))


def _signal_published(event: RoomEvent) -> None:
    """Tell other apps (the bot relays official posts) without their failure reaching the room's caller."""
    for receiver, result in signals.room_event_published.send_robust(sender=RoomEvent, event=event):
        if isinstance(result, Exception):
            logger.error(
                "room event %s: receiver %s failed: %s",
                event.pk,
                getattr(receiver, "__qualname__", receiver),
                type(result).__name__,
                exc_info=result,
            )


def member_rights_changed(room_id: int, user_id: int) -> None:
    """Tell one person's open connections to re-read their rights (a role change, a mute, a ban)."""
    group = member_group(room_id, user_id)
    transaction.on_commit(lambda: _send(group, {"type": "room.rights", "user_id": user_id}))


async def presence_broadcast(room_id: int, count: int) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(room_group(room_id), {"type": "room.presence", "count": count})
