"""The room's record: `room_verify` and `manage.py room_verify` prove an untouched room intact, and fail, naming
the event, when a stored event or message is altered or removed behind the services' back (raw SQL)."""

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from rooms import services
from rooms.models import Message, Room, RoomEvent
from rooms.record import event_hash, room_verify
from tests.rooms.conftest import People, make_room

pytestmark = pytest.mark.django_db


def _busy_room(tree: Any, people: People) -> Room:
    """A room with many kinds of events: posts, an edit, questions, hands, a poll, moderation, settings."""
    room = make_room(tree, people, questions_premoderated=True)
    r = room.pk
    services.room_join(user=people.alice, room_id=r)
    services.room_join(user=people.bob, room_id=r)
    official = services.message_post(actor=people.host, room_id=r, kind="official", body="Shelters are open.")
    services.message_edit(actor=people.host, room_id=r, message_id=official.pk, body="Shelters 1 and 2 are open.")
    chat = services.message_post(actor=people.alice, room_id=r, kind="chat", body="Where is shelter 2?")
    rude = services.message_post(actor=people.bob, room_id=r, kind="chat", body="rude words")
    services.message_hide(actor=people.moderator, room_id=r, message_id=rude.pk, reason="Insults")
    services.message_hide(actor=people.moderator, room_id=r, message_id=chat.pk, reason="By mistake")
    services.message_unhide(actor=people.moderator, room_id=r, message_id=chat.pk)
    question = services.question_ask(actor=people.alice, room_id=r, body="Is the bridge closed?")
    refused = services.question_ask(actor=people.bob, room_id=r, body="Off topic")
    services.question_approve(actor=people.moderator, room_id=r, question_id=question.pk)
    services.question_reject(actor=people.moderator, room_id=r, question_id=refused.pk, reason="Off topic")
    services.question_vote(actor=people.bob, room_id=r, question_id=question.pk)
    services.question_answer(actor=people.host, room_id=r, question_id=question.pk, body="Yes, until noon.")
    services.hand_raise(actor=people.carol, room_id=r)
    services.hand_decide(actor=people.moderator, room_id=r, user_id=people.carol.pk, grant=True)
    poll = services.poll_create(actor=people.host, room_id=r, question="Evacuate tonight?", choices=["yes", "no"])
    services.poll_vote(actor=people.alice, room_id=r, poll_id=poll.pk, choices=[0])
    services.poll_close(actor=people.host, room_id=r, poll_id=poll.pk)
    services.room_member_mute(actor=people.moderator, room_id=r, user_id=people.bob.pk, minutes=5, reason="Spam")
    services.room_member_ban(actor=people.moderator, room_id=r, user_id=people.bob.pk, reason="Threats")
    services.room_update(actor=people.host, room_id=r, changes={"slow_mode_seconds": 10})
    services.message_pin(actor=people.host, room_id=r, message_id=official.pk, pinned=True)
    services.room_leave(user=people.alice, room_id=r)
    room.refresh_from_db()
    return room


def _verify_command(room: Room) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("room_verify", str(room.pk), stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _event(room: Room, type_: str, nth: int = 0) -> RoomEvent:
    return list(RoomEvent.objects.filter(room=room, type=type_).order_by("seq"))[nth]


def _set_event_data(event: RoomEvent, data: dict[str, Any]) -> None:
    if connection.vendor == "postgresql":
        sql = "UPDATE rooms_roomevent SET data = CAST(%s AS jsonb) WHERE id = %s"
    else:
        sql = "UPDATE rooms_roomevent SET data = %s WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(data), event.pk])


def _delete_events(room: Room, *seqs: int) -> None:
    with connection.cursor() as cursor:
        for seq in seqs:
            cursor.execute("DELETE FROM rooms_roomevent WHERE room_id = %s AND seq = %s", [room.pk, seq])


def _fails_naming(room: Room, *names: str) -> None:
    """Both the function and the command fail, and every problem list names the given events."""
    room.refresh_from_db()
    result = room_verify(room=room)
    assert not result.ok
    problems = " | ".join(result.problems)
    output, error = _verify_command(room)
    assert error is not None, output
    assert error.returncode == 1
    for name in names:
        assert name in problems, problems
        assert name in output, output
    assert "FAILED" in output


def test_an_untouched_room_with_every_kind_of_event_verifies(tree, people):
    room = _busy_room(tree, people)
    types = set(RoomEvent.objects.filter(room=room).values_list("type", flat=True))
    assert {"room.created", "member.joined", "message.posted", "message.hidden", "message.unhidden",
            "question.approved", "question.rejected", "question.voted", "question.answered", "hand.raised",
            "hand.granted", "poll.opened", "poll.voted", "poll.closed", "member.muted", "member.banned",
            "room.updated", "message.pinned", "member.left"} <= types  # fmt: skip

    result = room_verify(room=room)
    output, error = _verify_command(room)

    assert result.ok, result.problems
    assert result.events == room.last_seq == RoomEvent.objects.filter(room=room).count()
    assert error is None
    assert output.strip() == f"room {room.pk} ({room.slug}): ok, {room.last_seq} events"


def test_the_command_takes_a_slug_or_all_and_refuses_an_unknown_room(tree, people):
    room = _busy_room(tree, people)
    out = StringIO()
    call_command("room_verify", room.slug, stdout=out)
    call_command("room_verify", "--all", stdout=out)
    assert out.getvalue().count(": ok,") == 2
    with pytest.raises(CommandError, match="No room"):
        call_command("room_verify", "no-such-room", stdout=StringIO())
    with pytest.raises(CommandError, match="at least one room"):
        call_command("room_verify", stdout=StringIO())


def test_altering_an_events_data_fails_and_names_the_event(tree, people):
    room = _busy_room(tree, people)
    event = _event(room, "member.banned")
    _set_event_data(event, {**event.data, "reason": "nothing happened"})

    _fails_naming(room, f"event #{event.seq} (member.banned) was altered")


def test_rewriting_an_event_with_a_new_hash_still_breaks_the_next_link(tree, people):
    room = _busy_room(tree, people)
    event = _event(room, "poll.closed")
    data = {**event.data, "results": [0, 1]}

    digest = event_hash(prev_hash=event.prev_hash, room_id=room.pk, seq=event.seq, at=event.at,
                        actor_id=event.actor_id, type_=event.type, data=data)  # fmt: skip
    _set_event_data(event, data)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rooms_roomevent SET hash = %s WHERE id = %s", [digest, event.pk])

    _fails_naming(room, f"event #{event.seq + 1} ")
    assert "does not follow the event before it" in " ".join(room_verify(room=room).problems)


def test_altering_a_posted_message_in_its_event_fails_twice_over(tree, people):
    room = _busy_room(tree, people)
    event = _event(room, "message.posted", 1)  # the edited official post
    _set_event_data(event, {**event.data, "body": "No shelter is open."})

    _fails_naming(room, f"event #{event.seq} (message.posted) was altered", f"message {event.data['message_id']}")


def test_deleting_an_event_in_the_middle_fails_and_names_it(tree, people):
    room = _busy_room(tree, people)
    hidden = _event(room, "message.hidden")
    _delete_events(room, hidden.seq)

    _fails_naming(room, f"event #{hidden.seq} is missing")
    # The event after the gap no longer follows its predecessor either.
    assert f"event #{hidden.seq + 1} " in " ".join(room_verify(room=room).problems)


def test_deleting_the_newest_events_is_caught_by_the_room_head(tree, people):
    room = _busy_room(tree, people)
    last = room.last_seq
    _delete_events(room, last, last - 1)

    _fails_naming(room, f"events #{last - 1}..#{last} were removed")


def test_deleting_a_message_posting_event_leaves_the_message_unrecorded(tree, people):
    room = _busy_room(tree, people)
    last = room.last_seq
    # Post last so its event is the newest, then cut it and move the head back: the chain is whole again.
    message = services.message_post(actor=people.host, room_id=room.pk, kind="official", body="Unrecorded")
    room.refresh_from_db()
    _delete_events(room, room.last_seq)
    Room.objects.filter(pk=room.pk).update(last_seq=last, last_hash=RoomEvent.objects.get(room=room, seq=last).hash)

    _fails_naming(room, f"message {message.pk} is not in the record")


def test_altering_a_messages_body_in_the_table_fails_and_names_the_message(tree, people):
    room = _busy_room(tree, people)
    message = Message.objects.filter(room=room, kind="answer").get()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rooms_message SET body = %s WHERE id = %s", ["No, it is open.", message.pk])

    _fails_naming(room, f"message {message.pk} was altered")


def test_the_record_refuses_updates_and_deletes_through_the_orm(tree, people):
    room = make_room(tree, people)
    event = RoomEvent.objects.get(room=room, seq=1)

    event.data = {"title": "Something else"}
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        RoomEvent.objects.filter(room=room).update(type="room.deleted")
    with pytest.raises(TypeError, match="append-only"):
        RoomEvent.objects.filter(room=room).delete()

    assert RoomEvent.objects.get(room=room, seq=1).type == "room.created"
    assert room_verify(room=room).ok


def test_deleting_a_message_from_its_table_fails_and_names_it(tree, people):
    room = _busy_room(tree, people)
    message = Message.objects.filter(room=room, kind="chat", hidden_at__isnull=False).get()
    posted = next(e for e in RoomEvent.objects.filter(room=room, type="message.posted")
                  if e.data["message_id"] == message.pk)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM rooms_message WHERE id = %s", [message.pk])

    _fails_naming(room, f"message {message.pk} (posted by event #{posted.seq}) was deleted")
