"""/rooms end to end: listing, joining (button and deep link), refusals, questions, leaving; and the relay of a
room's official posts to the chats that joined it through the bot: once per chat, whatever replays or fails."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from bots import tasks as bot_tasks
from bots.models import RelayState, RoomFollow, RoomRelay
from rooms import services as room_services
from rooms.models import Message, MessageKind, QuestionState, RoomKind, RoomMember, RoomVisibility
from tests.bots.conftest import Resident, button_data, buttons, onboard, sent_texts, tr, user_of
from tests.factories import UserFactory, grant, make_area_tree, resident_at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def town(fast_chats, relay_queue):
    tree = make_area_tree()
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.region, tree.organisation)
    moderator = UserFactory.create(username="moderator")
    grant(moderator, Role.MODERATOR, tree.city_a, tree.organisation)
    hall = room_services.room_create(
        actor=host, title="Flood town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.PUBLIC, area=tree.city_a
    )
    return tree, host, moderator, hall


def relayed(fake, chat_id, body):
    """The relays of a post: messages of their own that end with its text."""
    return [m["text"] for m in fake.sent(chat_id, method="sendMessage") if m["text"].endswith(f":\n\n{body}")]


def post(host, room, body, kind=MessageKind.OFFICIAL):
    return room_services.message_post(actor=host, room_id=room.pk, kind=kind, body=body)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_list_join_and_receive_the_rooms_official_posts(fast_chats, update_queue, relay_queue, town, language):
    tree, host, _moderator, hall = town
    post(host, hall, "Welcome. Questions are answered at 6 pm.")
    resident = Resident(fast_chats, update_queue, 7301, language_code=language)
    onboard(resident, language=language, area_id=tree.city_a.pk)

    listed = resident.send("/rooms")
    assert "Flood town hall" in listed[-1]["text"]
    assert [data for _label, data in buttons(listed[-1])] == [f"room:join:{hall.pk}"]

    joined = resident.press(f"room:join:{hall.pk}")
    assert "Flood town hall" in joined[-1]["text"]
    assert "Welcome. Questions are answered at 6 pm." in joined[-1]["text"]  # the latest posts come with it
    assert [data for _label, data in buttons(joined[-1])] == [f"room:ask:{hall.pk}", f"room:leave:{hall.pk}"]
    user = user_of(resident)
    assert RoomMember.objects.get(room=hall, user=user).left_at is None
    assert RoomFollow.objects.filter(chat__chat_id=7301, room=hall).exists()
    relay_queue.queued.clear()

    post(host, hall, "Sandbags at the town square from 3 pm.")
    alice = resident_at(2, 2, username="alice")
    room_services.room_join(user=alice, room_id=hall.pk)
    room_services.room_update(actor=host, room_id=hall.pk, changes={"chat_open": True})
    post(alice, hall, "Is the bridge open?", kind=MessageKind.CHAT)  # chat is not relayed
    assert len(relay_queue.queued) == 1
    queued = list(relay_queue.queued)
    [report] = relay_queue.run()
    assert (report.sent, report.failed, report.pending) == (1, 0, 0)

    heading = tr("Official update in %(room)s:", language) % {"room": "Flood town hall"}
    assert (
        fast_chats.sent(7301, method="sendMessage")[-1]["text"]
        == f"{heading}\n\nSandbags at the town square from 3 pm."
    )
    if language == "en":
        assert heading == "Official update in Flood town hall:"
        assert joined[-1]["text"].startswith(
            "You joined Flood town hall. Its official updates, announcements, guidance and answers will reach you here."
        )

    # A replayed task (the broker redelivers, a worker retries) sends nothing again.
    relay_queue.queued.extend(queued * 2)
    assert [(r.sent, r.pending) for r in relay_queue.run()] == [(0, 0), (0, 0)]
    assert len(relayed(fast_chats, 7301, "Sandbags at the town square from 3 pm.")) == 1
    assert RoomRelay.objects.get().state == RelayState.SENT


def test_a_deep_link_joins_the_room_once_onboarded(fast_chats, update_queue, town):
    tree, _host, _moderator, hall = town
    resident = Resident(fast_chats, update_queue, 7302)
    resident.send(f"/start room_{hall.pk}")
    resident.press("lang:en")
    consent = fast_chats.sent(7302)
    resident.press(button_data(consent, "I agree"))
    resident.press(f"area:pick:{tree.city_a.pk}")
    done = resident.press("need:done")
    assert sent_texts(done)[-1].startswith("You joined Flood town hall.")
    assert RoomFollow.objects.filter(chat__chat_id=7302, room=hall).exists()
    # Onboarded already: the same link joins at once (and joining twice changes nothing).
    again = resident.send(f"/start room_{hall.pk}")
    assert sent_texts(again)[-1].startswith("You joined Flood town hall.")
    assert RoomFollow.objects.filter(chat__chat_id=7302).count() == 1


def test_rooms_one_may_not_join_are_refused(fast_chats, update_queue, relay_queue, town):
    tree, host, moderator, hall = town
    invited = room_services.room_create(
        actor=host, title="Crisis cell", kind=RoomKind.COMMUNITY, visibility=RoomVisibility.INVITE, area=tree.city_a
    )
    staff = room_services.room_create(
        actor=host, title="Staff room", kind=RoomKind.COORDINATION, visibility=RoomVisibility.PUBLIC, area=tree.city_a
    )
    beta = room_services.room_create(
        actor=host, title="Betatown meeting", kind=RoomKind.COMMUNITY, visibility=RoomVisibility.AREA, area=tree.city_b
    )
    resident = Resident(fast_chats, update_queue, 7303)
    onboard(resident, area_id=tree.city_a.pk)

    listed = resident.send("/rooms")
    assert [data for _label, data in buttons(listed[-1])] == [f"room:join:{hall.pk}"]  # only what they may join
    expected = {
        invited.pk: "You may not join this room: it is for the people of its area, the members of its groups, or "
        "invited people only.",
        staff.pk: "This room is for the staff of its area only.",
        beta.pk: "You may not join this room: it is for the people of its area, the members of its groups, or "
        "invited people only.",
        987654: "This room does not exist any more.",
    }
    for room_id, text in expected.items():
        assert sent_texts(resident.press(f"room:join:{room_id}")) == [text], room_id
    for garbage in ("room:join:abc", "room:dance:1", "room:join", "room:join:1:2", "room:join:0"):
        assert sent_texts(resident.press(garbage)) == [
            "This button is not valid any more. Send /rooms to see the rooms you can join."
        ], garbage
    assert not RoomFollow.objects.exists()
    assert not RoomMember.objects.filter(user=user_of(resident)).exists()

    # Banned after joining: the follow goes with the ban, and joining again is refused.
    resident.press(f"room:join:{hall.pk}")
    room_services.room_member_ban(actor=moderator, room_id=hall.pk, user_id=user_of(resident).pk, reason="Spam")
    assert not RoomFollow.objects.exists()
    assert sent_texts(resident.press(f"room:join:{hall.pk}")) == [
        "You were banned from this room, so you cannot join it."
    ]
    relay_queue.queued.clear()
    post(host, hall, "Only for those still here.")
    assert relay_queue.queued == []  # nobody follows the room here any more


def test_ask_a_question_and_get_the_answer(fast_chats, update_queue, relay_queue, town):
    tree, host, moderator, hall = town
    resident = Resident(fast_chats, update_queue, 7304, language_code="es")
    onboard(resident, language="es", area_id=tree.city_a.pk)
    resident.press(f"room:join:{hall.pk}")
    resident.press(f"room:ask:{hall.pk}")
    asked = resident.send("When will the water be drinkable again?")
    question = Message.objects.get(room=hall, kind=MessageKind.QUESTION)
    assert question.body == "When will the water be drinkable again?"
    assert question.author == user_of(resident)
    assert question.question_state == QuestionState.PENDING  # a town hall pre-moderates questions
    assert question.language == "es"
    pending = tr("Thank you. Your question will appear in %(room)s once a moderator approves it.", "es") % {
        "room": "Flood town hall"
    }
    assert sent_texts(asked) == [pending]

    room_services.question_approve(actor=moderator, room_id=hall.pk, question_id=question.pk)
    room_services.question_answer(actor=host, room_id=hall.pk, question_id=question.pk, body="Tomorrow morning.")
    relay_queue.run()
    heading = tr("Answer to a question in %(room)s:", "es") % {"room": "Flood town hall"}
    assert fast_chats.sent(7304, method="sendMessage")[-1]["text"] == f"{heading}\n\nTomorrow morning."

    # A muted person is told why their question is refused; the step ends either way.
    room_services.room_member_mute(
        actor=moderator, room_id=hall.pk, user_id=question.author_id, minutes=5, reason="Calm"
    )
    resident.press(f"room:ask:{hall.pk}")
    refused = resident.send("And the power?")
    assert sent_texts(refused) == [tr("You are muted in this room for now, so you cannot ask questions.", "es")]
    assert Message.objects.filter(kind=MessageKind.QUESTION).count() == 1


def test_leaving_stops_the_posts(fast_chats, update_queue, relay_queue, town):
    tree, host, _moderator, hall = town
    resident = Resident(fast_chats, update_queue, 7305)
    onboard(resident, area_id=tree.city_a.pk)
    resident.press(f"room:join:{hall.pk}")
    left = resident.press(f"room:leave:{hall.pk}")
    assert sent_texts(left) == ["You left Flood town hall. Its posts will no longer reach you here."]
    assert not RoomFollow.objects.exists()
    assert RoomMember.objects.get(room=hall, user=user_of(resident)).left_at is not None
    relay_queue.queued.clear()
    post(host, hall, "After you left.")
    assert relay_queue.queued == []
    # Leaving on the web (or anywhere) also stops them: the follow goes with the member.left event.
    resident.press(f"room:join:{hall.pk}")
    room_services.room_leave(user=user_of(resident), room_id=hall.pk)
    assert not RoomFollow.objects.exists()


def test_the_relay_survives_telegram_errors_and_never_sends_twice(fast_chats, update_queue, relay_queue, town):
    tree, host, _moderator, hall = town
    residents = [Resident(fast_chats, update_queue, chat_id) for chat_id in (7306, 7307, 7308)]
    for resident in residents:
        onboard(resident, area_id=tree.city_a.pk)
        resident.press(f"room:join:{hall.pk}")
    fast_chats.block(7308)  # this person blocked the bot
    fast_chats.inject("5xx", chat_ids=[7306], count=1)
    relay_queue.queued.clear()

    # Within the room's 4,000 characters, but over Telegram's 4,096 UTF-16 units with its heading: two messages.
    post(host, hall, "Evacuation buses leave at 5 pm. " + "🚌 " * 1800)
    queued = list(relay_queue.queued)
    [first] = relay_queue.run()
    assert (first.sent, first.failed, first.pending) == (1, 1, 1)

    relay_queue.queued.extend(queued)  # the task's retry
    [second] = relay_queue.run()
    assert (second.sent, second.pending) == (1, 0)
    relay_queue.queued.extend(queued)  # and one more replay for good measure
    relay_queue.run()
    for chat_id in (7306, 7307):
        parts = [m["text"] for m in fast_chats.sent(chat_id, method="sendMessage")][-2:]
        assert parts[0].startswith("Official update in Flood town hall:")
        texts = [m["text"] for m in fast_chats.sent(chat_id, method="sendMessage")]
        assert sum(text.startswith("Official update in Flood town hall:") for text in texts) == 1  # no part twice
        assert "".join(parts).count("🚌") == 1800
    states = dict(RoomRelay.objects.values_list("chat__chat_id", "state"))
    assert states == {7306: RelayState.SENT, 7307: RelayState.SENT, 7308: RelayState.FAILED}


def test_the_celery_task_relays(fast_chats, update_queue, relay_queue, town):
    tree, host, _moderator, hall = town
    resident = Resident(fast_chats, update_queue, 7309)
    onboard(resident, area_id=tree.city_a.pk)
    resident.press(f"room:join:{hall.pk}")
    relay_queue.queued.clear()
    post(host, hall, "Guidance: boil water before drinking.", kind=MessageKind.GUIDANCE)
    [(room_id, seq)] = relay_queue.queued
    result = bot_tasks.room_relay.apply(args=(room_id, seq)).get()
    assert result == {"sent": 1, "failed": 0}
    assert relayed(fast_chats, 7309, "Guidance: boil water before drinking.") == [
        "Guidance in Flood town hall:\n\nGuidance: boil water before drinking."
    ]


def test_old_relays_are_pruned(fast_chats, update_queue, relay_queue, town):
    tree, host, _moderator, hall = town
    resident = Resident(fast_chats, update_queue, 7310)
    onboard(resident, area_id=tree.city_a.pk)
    resident.press(f"room:join:{hall.pk}")
    relay_queue.queued.clear()
    post(host, hall, "An old post.")
    relay_queue.run()
    post(host, hall, "A new post.")
    relay_queue.run()
    old = RoomRelay.objects.order_by("pk").first()
    RoomRelay.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert bot_tasks.room_relays_prune.apply().get() == 1
    assert list(RoomRelay.objects.values_list("event__data__body", flat=True)) == ["A new post."]
