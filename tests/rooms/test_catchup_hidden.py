"""Catch-up over the WebSocket must not replay the text of a message that is hidden now, whichever event
carries it (`message.posted`, `question.approved`, `message.unhidden`)."""

import json

import pytest

from rooms import services
from tests.rooms.conftest import finish, join, make_room, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_catch_up_does_not_replay_a_hidden_messages_text(tree, people):
    room = make_room(tree, people, questions_premoderated=True)
    question = services.question_ask(actor=people.bob, room_id=room.pk, body="QUESTION-LATER-HIDDEN")
    services.question_approve(actor=people.moderator, room_id=room.pk, question_id=question.pk)
    services.message_hide(actor=people.moderator, room_id=room.pk, message_id=question.pk, reason="Doxxing")

    async def scenario():
        alice = await join(people.alice, room, after=0)
        frames = await alice.events_until_quiet()
        await finish(alice)
        return frames

    frames = run(scenario())
    assert any(f["type"] == "catchup.done" for f in frames)
    assert "QUESTION-LATER-HIDDEN" not in json.dumps(frames)
