"""Erasing a person erases what the bot kept of them: their chat record, the rooms they followed here and the posts
relayed to them, and what they wrote (the stored updates, emptied but kept by id so that a replay stays ignored)."""

import pytest

from accounts import services as account_services
from bots.models import RoomFollow, RoomRelay, TelegramChat, TelegramUpdate
from bots.receivers import updates_of_chat
from rooms import services as room_services
from rooms.models import MessageKind, RoomKind, RoomVisibility
from tests.bots.conftest import Resident, onboard, user_of, webhook_post
from tests.factories import UserFactory, grant, make_area_tree

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture
def hall(fast_chats, relay_queue):
    from accounts.models import Role

    tree = make_area_tree()
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    room = room_services.room_create(
        actor=host, title="Flood town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.PUBLIC, area=tree.city_a
    )
    return tree, host, room


def stored_updates(chat_id):
    return TelegramUpdate.objects.filter(updates_of_chat(chat_id))


@pytest.mark.parametrize("via", ["bot", "staff"])
def test_erasure_removes_the_chat_its_follows_relays_and_words(fast_chats, update_queue, relay_queue, hall, via):
    tree, host, room = hall
    leaving = Resident(fast_chats, update_queue, 7501)
    staying = Resident(fast_chats, update_queue, 7502)
    for resident in (leaving, staying):
        onboard(resident, area_id=tree.city_a.pk)
        resident.press(f"room:join:{room.pk}")
        resident.send("my street is flooded, what do I do")
    room_services.message_post(actor=host, room_id=room.pk, kind=MessageKind.OFFICIAL, body="Stay upstairs.")
    relay_queue.run()
    assert RoomRelay.objects.filter(chat__chat_id=7501).count() == 1
    leaving_ids = sorted(stored_updates(7501).values_list("update_id", flat=True))
    staying_ids = sorted(stored_updates(7502).values_list("update_id", flat=True))
    assert leaving_ids
    assert staying_ids
    user = user_of(leaving)

    if via == "bot":
        leaving.send("/stop")
        leaving.press("stop:yes")
    else:
        admin = UserFactory.create(username="dpo")
        account_services.user_set_staff(actor=None, user=admin, is_staff=True, is_superuser=True)
        account_services.user_erase(actor=admin, user=user)

    assert not TelegramChat.objects.filter(chat_id=7501).exists()
    assert not RoomFollow.objects.filter(chat__chat_id=7501).exists()
    assert not RoomRelay.objects.filter(chat__chat_id=7501).exists()
    assert not stored_updates(7501).exists()  # nothing they wrote is left
    kept = TelegramUpdate.objects.filter(update_id__in=leaving_ids)
    assert kept.count() == len(leaving_ids)  # each still known by its id…
    assert list(kept.values_list("payload", flat=True)) == [{}] * len(leaving_ids)  # …and empty
    # The other person's chat, follow, relay and words are untouched.
    assert TelegramChat.objects.filter(chat_id=7502).exists()
    assert RoomFollow.objects.filter(chat__chat_id=7502).count() == 1
    assert RoomRelay.objects.filter(chat__chat_id=7502).count() == 1
    assert sorted(stored_updates(7502).values_list("update_id", flat=True))[: len(staying_ids)] == staying_ids

    # Telegram re-sending one of their updates changes nothing and brings nothing back.
    before = len(fast_chats.sent(7501))
    chat = {"id": 7501, "type": "private"}
    replay = {"update_id": leaving_ids[-1], "message": {"message_id": 1, "date": 0, "chat": chat, "text": "/start"}}
    assert webhook_post(leaving.client, replay).status_code == 200
    assert update_queue.run() == []
    assert len(fast_chats.sent(7501)) == before
    assert not TelegramChat.objects.filter(chat_id=7501).exists()
    # Posts no longer reach them.
    room_services.message_post(actor=host, room_id=room.pk, kind=MessageKind.OFFICIAL, body="Water is back.")
    relay_queue.run()
    assert not any("Water is back." in m["text"] for m in fast_chats.sent(7501, method="sendMessage"))
    assert any("Water is back." in m["text"] for m in fast_chats.sent(7502, method="sendMessage"))
