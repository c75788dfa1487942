"""What the bot does when other apps announce something: a person erased, a room event published.

Connected in BotsConfig.ready; the apps that send these signals never import bots.
"""

import logging
from typing import Any

from django.db.models import Q

from bots.models import RoomFollow, TelegramChat, TelegramUpdate

logger = logging.getLogger(__name__)

# Events after which a person no longer gets a room's posts in their chat.
MEMBER_GONE = frozenset({"member.left", "member.banned"})


def updates_of_chat(chat_id: int) -> Q:
    """Stored updates that came from one private chat (its id is also the person's user id there)."""
    return (
        Q(payload__message__chat__id=chat_id)
        | Q(payload__edited_message__chat__id=chat_id)
        | Q(payload__callback_query__message__chat__id=chat_id)
        | Q(payload__callback_query__from__id=chat_id)
        | Q(payload__message__from__id=chat_id)
    )


def user_erased(sender: Any, user: Any, **kwargs: Any) -> None:
    """Inside the erasing transaction: the chat record (its follows and relays go with it) and what the person
    wrote. Each stored update keeps its update_id, emptied, so that Telegram re-sending it still changes nothing."""
    chat_ids = list(TelegramChat.objects.filter(user=user).values_list("chat_id", flat=True))
    for chat_id in chat_ids:
        TelegramUpdate.objects.filter(updates_of_chat(chat_id)).update(payload={}, error="")
    TelegramChat.objects.filter(user=user).delete()


def room_event_published(sender: Any, event: Any, **kwargs: Any) -> None:
    """After a room event's commit: relay official posts to the chats following the room; forget the follows of
    people who left or were banned."""
    from bots.journeys.rooms import RELAYED_KINDS

    if event.type in MEMBER_GONE:
        subject = (event.data or {}).get("subject_id")
        if subject is not None:
            RoomFollow.objects.filter(room_id=event.room_id, chat__user_id=subject).delete()
        return
    if event.type != "message.posted" or (event.data or {}).get("kind") not in RELAYED_KINDS:
        return
    if not RoomFollow.objects.filter(room_id=event.room_id).exists():
        return
    from bots.tasks import room_relay

    room_relay.delay(event.room_id, event.seq)  # the signal comes after the commit: the task finds the event
