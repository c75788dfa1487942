"""The room's tamper-evident record: appending events to a room's hash chain, and proving the chain intact.

Each event's hash is SHA-256 over the previous hash and a canonical JSON of the event (room, sequence number,
time, actor, type, data). The room row holds the head (last sequence number and hash), so removing the newest
events is noticed too. `room_verify` also checks the room's current state against the record: every message
must have been posted through an event that says exactly what the message says, and every message an event
posted must still exist.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from rooms.models import Message, Room, RoomEvent

GENESIS = "0" * 64


def _canonical(room_id: int, seq: int, at: datetime, actor_id: int | None, type_: str, data: Any) -> bytes:
    document = {"room": room_id, "seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor_id,
                "type": type_, "data": data}  # fmt: skip
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(*, prev_hash: str, room_id: int, seq: int, at: datetime, actor_id: int | None, type_: str,
               data: Any) -> str:  # fmt: skip
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(_canonical(room_id, seq, at, actor_id, type_, data))
    return digest.hexdigest()


def event_append(*, room: Room, type_: str, actor_id: int | None, data: dict[str, Any]) -> RoomEvent:
    """Append one event. The caller holds the room row locked (`room_lock`) inside its transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_append must run inside the transaction that makes the change.")
    # Stored times round-trip through the database; keep the precision every backend keeps.
    at = timezone.now()
    seq = room.last_seq + 1
    prev = room.last_hash or GENESIS
    digest = event_hash(prev_hash=prev, room_id=room.pk, seq=seq, at=at, actor_id=actor_id, type_=type_, data=data)
    event = RoomEvent.objects.create(
        room=room, seq=seq, at=at, actor_id=actor_id, type=type_, data=data, prev_hash=prev, hash=digest
    )
    room.last_seq = seq
    room.last_hash = digest
    Room.objects.filter(pk=room.pk).update(last_seq=seq, last_hash=digest)
    return event


@dataclass
class VerifyResult:
    room_id: int
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def room_verify(*, room: Room) -> VerifyResult:
    """Walk the room's chain from its first event and compare the room's state with it."""
    result = VerifyResult(room_id=room.pk)
    prev = GENESIS
    expected_seq = 1
    posted: dict[int, tuple[str, int]] = {}  # message id -> the text its event posted, and that event
    for event in RoomEvent.objects.filter(room=room).order_by("seq").iterator(chunk_size=2000):
        result.events += 1
        if event.seq != expected_seq:
            result.problems.append(f"event #{expected_seq} is missing (the next stored event is #{event.seq})")
            expected_seq = event.seq
        if event.prev_hash != prev:
            result.problems.append(f"event #{event.seq} ({event.type}) does not follow the event before it")
        digest = event_hash(
            prev_hash=event.prev_hash, room_id=room.pk, seq=event.seq, at=event.at, actor_id=event.actor_id,
            type_=event.type, data=event.data,
        )  # fmt: skip
        if digest != event.hash:
            result.problems.append(f"event #{event.seq} ({event.type}) was altered: its hash does not match")
        if event.type == "message.posted" and isinstance(event.data, dict):
            posted[int(event.data.get("message_id", 0))] = (str(event.data.get("body", "")), event.seq)
        prev = event.hash
        expected_seq += 1
    if room.last_seq != expected_seq - 1:
        result.problems.append(
            f"the record ends at event #{expected_seq - 1} but the room's head is event #{room.last_seq}: "
            f"events #{expected_seq}..#{room.last_seq} were removed"
        )
    elif room.last_seq and room.last_hash != prev:
        result.problems.append(f"the room's head does not match event #{room.last_seq}")
    stored = set()
    for message_id, body in Message.objects.filter(room=room).values_list("pk", "body").iterator(chunk_size=2000):
        stored.add(message_id)
        if message_id not in posted:
            result.problems.append(f"message {message_id} is not in the record")
        elif posted[message_id][0] != body:
            result.problems.append(f"message {message_id} was altered: its text differs from the record")
    # Messages are never deleted (hiding keeps them): one the record posted must still be there.
    for message_id in sorted(set(posted) - stored):
        result.problems.append(f"message {message_id} (posted by event #{posted[message_id][1]}) was deleted")
    return result
