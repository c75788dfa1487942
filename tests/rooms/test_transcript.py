"""Transcripts through the API: the public one leaves out what moderation hid and what concerned individual members,
but says how much was hidden; the auditors' one has everything, with reasons, hashes and the verification."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from rooms import services
from rooms.models import Message, Room, RoomVisibility
from tests.factories import UserFactory, grant
from tests.rooms.conftest import People, make_room

pytestmark = pytest.mark.django_db


@dataclass
class Story:
    room: Room
    hidden: Message
    pending: Message
    refused: Message


def _story(tree: Any, people: People, **room_options: Any) -> Story:
    room = make_room(tree, people, questions_premoderated=True, **room_options)
    r = room.pk
    services.room_join(user=people.alice, room_id=r)
    services.room_join(user=people.bob, room_id=r)
    services.message_post(actor=people.host, room_id=r, kind="official", body="The river road is closed.")
    services.message_post(actor=people.alice, room_id=r, kind="chat", body="Thanks <script>alert(1)</script> & bye")
    hidden = services.message_post(actor=people.bob, room_id=r, kind="chat", body="SECRET-INSULT")
    services.message_hide(actor=people.moderator, room_id=r, message_id=hidden.pk, reason="REASON-INSULTS")
    pending = services.question_ask(actor=people.alice, room_id=r, body="PENDING-QUESTION")
    refused = services.question_ask(actor=people.bob, room_id=r, body="REFUSED-QUESTION")
    services.question_reject(actor=people.moderator, room_id=r, question_id=refused.pk, reason="REASON-OFF-TOPIC")
    services.room_member_mute(actor=people.moderator, room_id=r, user_id=people.bob.pk, minutes=5,
                              reason="REASON-MUTE")  # fmt: skip
    room.refresh_from_db()
    return Story(room=room, hidden=hidden, pending=pending, refused=refused)


def _client(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _get(client: APIClient, room: Room, query: str) -> Any:
    return client.get(f"/api/rooms/{room.pk}/transcript/?{query}")


@pytest.fixture
def auditor(tree):
    user = UserFactory.create(username="auditor")
    grant(user, Role.AUDITOR, tree.city_a, tree.organisation)
    return user


SECRETS = ("SECRET-INSULT", "REASON-INSULTS", "PENDING-QUESTION", "REFUSED-QUESTION", "REASON-OFF-TOPIC",
           "REASON-MUTE")  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "md", "html"])
def test_the_public_transcript_leaves_out_hidden_and_private_items_but_counts_them(tree, people, fmt):
    story = _story(tree, people)

    response = _get(_client(people.carol), story.room, f"format={fmt}")

    assert response.status_code == 200, response.content
    text = response.content.decode()
    for secret in SECRETS:
        assert secret not in text
    assert "The river road is closed." in text
    if fmt == "json":
        transcript = json.loads(text)
        assert transcript["audit"] is False
        assert transcript["hidden_messages"] == 1
        types = {e["type"] for e in transcript["events"]}
        assert not types & {"member.joined", "member.muted", "question.rejected", "message.hidden"}
        assert "verification" not in transcript
        assert all("hash" not in e for e in transcript["events"])
    else:
        assert "1 message(s) were hidden by moderators" in text


@pytest.mark.parametrize("fmt", ["json", "md", "html"])
def test_the_auditors_transcript_has_hidden_items_reasons_hashes_and_the_verification(tree, people, auditor, fmt):
    story = _story(tree, people)

    response = _get(_client(auditor), story.room, f"format={fmt}&audit=1")

    assert response.status_code == 200, response.content
    text = response.content.decode()
    for secret in SECRETS:
        assert secret in text
    if fmt == "json":
        transcript = json.loads(text)
        assert transcript["audit"] is True
        assert transcript["verification"] == {"ok": True, "events": story.room.last_seq, "problems": []}
        assert transcript["head"] == {"seq": story.room.last_seq, "hash": story.room.last_hash}
        assert len(transcript["events"]) == story.room.last_seq
        assert all(len(e["hash"]) == 64 and len(e["prev_hash"]) == 64 for e in transcript["events"])
        posted = [e for e in transcript["events"] if e["type"] == "message.posted"]
        assert [e["data"]["message_id"] for e in posted if e.get("hidden")] == [story.hidden.pk]
    else:
        assert ("record intact" if fmt == "html" else "events, intact.") in text
        assert story.room.last_hash in text
        assert "[HIDDEN]" in text


def test_the_auditors_transcript_reports_a_broken_record(tree, people, auditor):
    story = _story(tree, people)
    Message.objects.filter(pk=story.pending.pk).update(body="Something the asker never wrote")

    transcript = _get(_client(auditor), story.room, "format=json&audit=1").json()

    assert transcript["verification"]["ok"] is False
    assert f"message {story.pending.pk} was altered" in " ".join(transcript["verification"]["problems"])


def test_a_resident_cannot_read_the_auditors_transcript(tree, people):
    story = _story(tree, people)

    response = _get(_client(people.alice), story.room, "format=json&audit=1")

    assert response.status_code == 403
    assert b"SECRET-INSULT" not in response.content


def test_the_rooms_moderator_may_read_the_auditors_transcript(tree, people):
    story = _story(tree, people)

    response = _get(_client(people.moderator), story.room, "format=json&audit=1")

    assert response.status_code == 200
    assert b"SECRET-INSULT" in response.content


def test_anyone_reads_the_public_transcript_of_a_public_room_but_not_of_an_area_room(tree, people):
    public = _story(tree, people)
    area = make_room(tree, people, visibility=RoomVisibility.AREA, title="Alphaville residents")
    services.message_post(actor=people.host, room_id=area.pk, kind="official", body="AREA-ONLY")

    anonymous = _client()
    readable = _get(anonymous, public.room, "format=md")
    refused = _get(anonymous, area, "format=md")
    audit = _get(anonymous, public.room, "format=json&audit=1")
    outsider = _get(_client(people.outsider), area, "format=json")
    resident = _get(_client(people.alice), area, "format=json")

    assert readable.status_code == 200
    assert "The river road is closed." in readable.content.decode()
    assert refused.status_code in {401, 403}
    assert b"AREA-ONLY" not in refused.content
    assert audit.status_code in {401, 403}
    assert outsider.status_code == 403
    assert b"AREA-ONLY" not in outsider.content
    assert resident.status_code == 200
    assert b"AREA-ONLY" in resident.content


def test_html_escapes_message_bodies(tree, people):
    story = _story(tree, people)

    html = _get(_client(people.carol), story.room, "format=html").content.decode()

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; bye" in html


def test_markdown_is_plain_text_with_each_event_on_its_own_line(tree, people):
    story = _story(tree, people)

    response = _get(_client(people.carol), story.room, "format=md")

    assert response["Content-Type"].startswith("text/markdown")
    assert f'filename="room-{story.room.pk}-public.md"' in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith(f"# {story.room.title}\n")
    assert "Official update" in text
    assert "The river road is closed." in text


def test_an_unknown_format_is_refused_and_an_unknown_room_is_not_found(tree, people):
    story = _story(tree, people)

    assert _get(_client(people.carol), story.room, "format=pdf").status_code == 400
    assert _client(people.carol).get("/api/rooms/999999/transcript/?format=json").status_code == 404


def test_a_message_hidden_after_it_was_approved_or_shown_again_stays_out_of_the_public_transcript(tree, people):
    story = _story(tree, people)
    r = story.room.pk
    # Approved, then hidden: the approval event carries the question's text.
    services.question_approve(actor=people.moderator, room_id=r, question_id=story.pending.pk)
    services.message_hide(actor=people.moderator, room_id=r, message_id=story.pending.pk, reason="Doxxing")
    # Hidden, shown again, hidden again: the "shown again" event carries the text.
    services.message_unhide(actor=people.moderator, room_id=r, message_id=story.hidden.pk)
    services.message_hide(actor=people.moderator, room_id=r, message_id=story.hidden.pk, reason="Insults again")

    for fmt in ("json", "md", "html"):
        text = _get(_client(people.carol), story.room, f"format={fmt}").content.decode()
        assert "PENDING-QUESTION" not in text, fmt
        assert "SECRET-INSULT" not in text, fmt
    assert _get(_client(people.carol), story.room, "format=json").json()["hidden_messages"] == 2


def test_hiding_an_edited_message_hides_its_earlier_versions_and_showing_it_shows_them(tree, people):
    story = _story(tree, people)
    r = story.room.pk
    first = services.message_post(actor=people.carol, room_id=r, kind="chat", body="VERSION-ONE")
    second = services.message_edit(actor=people.carol, room_id=r, message_id=first.pk, body="VERSION-TWO")
    services.message_hide(actor=people.moderator, room_id=r, message_id=second.pk, reason="Insults in both")

    hidden = _get(_client(people.alice), story.room, "format=json").json()
    audited = _get(_client(people.moderator), story.room, "format=json&audit=1").json()
    services.message_unhide(actor=people.moderator, room_id=r, message_id=second.pk)
    shown = _get(_client(people.alice), story.room, "format=json").content.decode()

    assert "VERSION-ONE" not in json.dumps(hidden)
    assert "VERSION-TWO" not in json.dumps(hidden)
    assert hidden["hidden_messages"] == 3  # the story's one, and both versions
    hiding = [e for e in audited["events"] if e["type"] == "message.hidden"][-1]
    assert hiding["data"]["version_ids"] == [first.pk]
    assert audited["verification"]["ok"] is True
    assert "VERSION-ONE" in shown
    assert "VERSION-TWO" in shown
    assert not Message.objects.filter(pk__in=[first.pk, second.pk], hidden_at__isnull=False).exists()
