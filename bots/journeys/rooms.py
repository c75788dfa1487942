"""/rooms: the rooms a person may join, joining (a button, or the deep link room_<id>), leaving, asking a question;
and relaying the official posts, announcements, guidance and answers of a room to the chats that joined it here.

Every right is the rooms app's decision (room_access, room_join, question_ask). Who joined through the bot is a
RoomFollow; a room event's commit queues the `bots.room_relay` task (bots.receivers), which sends each post once
per chat: a RoomRelay row per (event, chat) is claimed before its message goes and marked sent after.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from accounts.models import User
from bots.journeys.common import (
    Chat,
    acknowledge,
    callback_parts,
    inline,
    on_intent,
    on_payload,
    on_step,
    onboarded,
    say,
    speaking,
    step_set,
)
from bots.models import RelayState, RoomFollow, RoomRelay, TelegramChat
from commsplatform.core.errors import DomainError, NotFound, PermissionDenied
from rooms import services as room_services
from rooms.events import event_view
from rooms.models import OFFICIAL_KINDS, MessageKind, QuestionState, Room, RoomEvent, RoomKind
from rooms.selectors import (
    event_list_after,
    hidden_message_ids,
    message_list_for,
    room_access,
    room_get,
    room_list_for_user,
)

logger = logging.getLogger(__name__)

LISTED = 8
RECENT_POSTS = 3  # official posts shown on joining
TITLE_IN_BUTTON = 40
QUESTION_STEP = "rooms.question"
# Room posts relayed to the chats that joined the room here: what the organisers say, never the chat.
RELAYED_KINDS = frozenset(str(kind) for kind in OFFICIAL_KINDS)
RELAY_CHUNK = 50  # relays claimed and sent at once
RELAY_CONCURRENCY = 25
RELAY_CLAIM_SECONDS = 600  # a claim older than this belongs to a worker that died: the relay is taken again
RELAY_BUDGET_SECONDS = 200  # one task run sends for at most this long, then leaves the rest to its retry
RELAY_WAIT_SECONDS = 60.0  # how long one chunk may wait for the rate limiter (life-safety messages go first)
# A relay's row is what stops a replay from sending it again; a task is never retried this late.
RELAY_RETENTION = timedelta(days=7)


# --- data work (sync, in a worker thread) -------------------------------------------------------------------


def _user(chat: Chat) -> User:
    return User.objects.get(pk=chat.uid)


def _short(title: str) -> str:
    return title if len(title) <= TITLE_IN_BUTTON else title[: TITLE_IN_BUTTON - 1] + "…"


@dataclass(frozen=True)
class Listed:
    room_id: int
    title: str
    kind: str
    followed: bool


def _rooms(chat: Chat) -> list[Listed]:
    followed = set(RoomFollow.objects.filter(chat_id=chat.pk).values_list("room_id", flat=True))
    rooms = room_list_for_user(user=_user(chat))
    # The rooms already joined here first, then the others as the rooms app orders them.
    rooms.sort(key=lambda room: room.pk not in followed)
    return [Listed(room.pk, room.title, room.kind, room.pk in followed) for room in rooms[:LISTED]]


@dataclass(frozen=True)
class Joined:
    status: str  # "joined", "not_found", "denied"
    code: str = ""
    title: str = ""
    recent: list[tuple[str, str]] = field(default_factory=list)  # (kind, body), oldest first


def _join(chat: Chat, room_id: int) -> Joined:
    user = _user(chat)
    try:
        access = room_services.room_join(user=user, room_id=room_id)
    except NotFound:
        return Joined("not_found")
    except PermissionDenied as exc:
        return Joined("denied", code=exc.code)
    RoomFollow.objects.get_or_create(chat_id=chat.pk, room_id=room_id)
    recent = [message for message in message_list_for(access=access, limit=50) if message.kind in RELAYED_KINDS]
    posts = [(message.kind, message.body) for message in reversed(recent[:RECENT_POSTS])]
    return Joined("joined", title=access.room.title, recent=posts)


def _leave(chat: Chat, room_id: int) -> str | None:
    """Leave the room (and stop its posts here); its title, or None when there is no such room."""
    RoomFollow.objects.filter(chat_id=chat.pk, room_id=room_id).delete()
    try:
        room = room_get(room_id=room_id)
        room_services.room_leave(user=_user(chat), room_id=room_id)
    except NotFound:
        return None
    return room.title


def _room_to_ask(chat: Chat, room_id: int) -> tuple[str, str]:
    """(title, "") when the person may enter the room to ask, else ("", the reason's code)."""
    try:
        room = room_get(room_id=room_id)
        room_access(room=room, user=_user(chat))
    except NotFound:
        return "", "not_found"
    except PermissionDenied as exc:
        return "", exc.code
    return room.title, ""


def _ask(chat: Chat, room_id: int, body: str) -> tuple[str, str]:
    """("pending" or "open", title) when asked, else ("error", the error's code)."""
    try:
        question = room_services.question_ask(actor=_user(chat), room_id=room_id, body=body, language=chat.language)
    except DomainError as exc:
        return "error", exc.code
    return str(question.question_state), question.room.title


# --- what the person sees ------------------------------------------------------------------------------------


def _kind_label(kind: str) -> str:
    return str(RoomKind(kind).label) if kind in RoomKind.values else kind


def _refusal(code: str) -> str:
    return {
        "not_found": _("This room does not exist any more."),
        "banned": _("You were banned from this room, so you cannot join it."),
        "staff_only": _("This room is for the staff of its area only."),
        "not_open": _("This room is not open yet. Please try again later."),
        "not_allowed": _(
            "You may not join this room: it is for the people of its area, the members of its groups, or invited "
            "people only."
        ),
    }.get(code, _("You may not join this room."))


def _question_refusal(code: str) -> str:
    return {
        "not_found": _("This room does not exist any more."),
        "listener": _("In this room, listeners cannot ask questions."),
        "muted": _("You are muted in this room for now, so you cannot ask questions."),
        "room_closed": _("This room is closed: it takes no more questions."),
        "rate_limited": _("You are sending questions too fast. Please wait a little and try again."),
        "slow_mode": _("This room takes one question at a time from each person. Please wait a little and try again."),
        "too_long": _("Your question is too long. Please make it shorter."),
        "validation_failed": _("Please write your question as text."),
    }.get(code, _refusal(code))


def _post_heading(kind: str, title: str, corrected: bool) -> str:
    if corrected:
        return _("Corrected post in %(room)s:") % {"room": title}
    headings: dict[str, str] = {
        MessageKind.OFFICIAL: _("Official update in %(room)s:"),
        MessageKind.ANNOUNCEMENT: _("Announcement in %(room)s:"),
        MessageKind.GUIDANCE: _("Guidance in %(room)s:"),
        MessageKind.ANSWER: _("Answer to a question in %(room)s:"),
    }
    return headings.get(kind, _("Posted in %(room)s:")) % {"room": title}


async def show_rooms(update: Update, chat: Chat) -> None:
    await sync_to_async(step_set)(chat, "")
    rooms = await sync_to_async(_rooms)(chat)
    with speaking(chat):
        if not rooms:
            await say(update, _("There is no room you can join right now."))
            return
        lines = [_("Rooms you can join:")]
        rows: list[list[tuple[str, str]]] = []
        for room in rooms:
            mark = _("(joined)") if room.followed else ""
            lines.append(f"• {room.title} — {_kind_label(room.kind)} {mark}".rstrip())
            if room.followed:
                rows.append(
                    [
                        (_("Ask in %(room)s") % {"room": _short(room.title)}, f"room:ask:{room.room_id}"),
                        (_("Leave %(room)s") % {"room": _short(room.title)}, f"room:leave:{room.room_id}"),
                    ]
                )
            else:
                rows.append([(_("Join %(room)s") % {"room": _short(room.title)}, f"room:join:{room.room_id}")])
        markup = inline(rows)
    await say(update, "\n".join(lines), markup=markup)


async def join(update: Update, chat: Chat, room_id: int) -> None:
    joined = await sync_to_async(_join)(chat, room_id)
    with speaking(chat):
        if joined.status != "joined":
            await say(update, _refusal(joined.code if joined.status == "denied" else "not_found"))
            return
        text = _(
            "You joined %(room)s. Its official updates, announcements, guidance and answers will reach you here."
        ) % {"room": joined.title}
        if joined.recent:
            text += "\n\n" + _("Latest from the room:")
            for kind, body in joined.recent:
                text += f"\n\n{_post_heading(kind, joined.title, False)}\n{body}"
        buttons = [(_("Ask a question"), f"room:ask:{room_id}"), (_("Leave the room"), f"room:leave:{room_id}")]
        markup = inline([buttons])
    await say(update, text, markup=markup)


async def leave(update: Update, chat: Chat, room_id: int) -> None:
    title = await sync_to_async(_leave)(chat, room_id)
    with speaking(chat):
        if title is None:
            await say(update, _refusal("not_found"))
            return
        await say(update, _("You left %(room)s. Its posts will no longer reach you here.") % {"room": title})


async def ask(update: Update, chat: Chat, room_id: int) -> None:
    title, refused = await sync_to_async(_room_to_ask)(chat, room_id)
    if refused:
        with speaking(chat):
            await say(update, _question_refusal(refused))
        return
    await sync_to_async(step_set)(chat, QUESTION_STEP, {"room_id": room_id})
    with speaking(chat):
        await say(update, _("Write your question for %(room)s in one message.") % {"room": title})


# --- handlers ------------------------------------------------------------------------------------------------


async def rooms_command(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await show_rooms(update, chat)


@on_intent("rooms")
async def rooms_intent(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await show_rooms(update, chat)


async def room_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    await acknowledge(update)
    parts = callback_parts(update)
    action = parts[1] if len(parts) == 3 else ""
    room_id = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() and len(parts[2]) <= 12 else 0
    if action not in {"join", "leave", "ask"} or not room_id:
        with speaking(chat):
            await say(update, _("This button is not valid any more. Send /rooms to see the rooms you can join."))
        return
    await sync_to_async(step_set)(chat, "")
    if action == "join":
        await join(update, chat, room_id)
    elif action == "leave":
        await leave(update, chat, room_id)
    else:
        await ask(update, chat, room_id)


@on_payload("room")
async def room_link(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat, argument: str) -> None:
    """t.me/<bot>?start=room_<id>: joined once the person is onboarded."""
    if argument.isdigit() and len(argument) <= 12:
        await join(update, chat, int(argument))


@on_step(QUESTION_STEP)
async def question_given(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    message = update.effective_message
    room_id = int(chat.step_data.get("room_id") or 0)
    body = (message.text or "").strip() if message is not None else ""
    if not body:
        with speaking(chat):
            await say(update, _("Please write your question as text."))
        return
    await sync_to_async(step_set)(chat, "")
    state, detail = await sync_to_async(_ask)(chat, room_id, body)
    with speaking(chat):
        if state == "error":
            text = _question_refusal(detail)
        elif state == QuestionState.PENDING:
            text = _("Thank you. Your question will appear in %(room)s once a moderator approves it.") % {
                "room": detail
            }
        else:
            text = _("Thank you. Your question is posted in %(room)s.") % {"room": detail}
    await say(update, text)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("rooms", onboarded(rooms_command)),
        CallbackQueryHandler(onboarded(room_pressed), pattern=r"^room:"),
    ]


# --- relaying room posts to the chats that joined the room here (the bots.room_relay task) --------------------


@dataclass
class RelayReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0  # still to send: the task retries
    claimed_elsewhere: int = 0  # being sent by another run (or by one that died: taken again after its claim)
    retry_after: float = 0.0


@dataclass(frozen=True)
class _Outgoing:
    relay_id: int
    chat_id: int
    parts: list[str]
    first_part: int


@dataclass(frozen=True)
class _Outcome:
    relay_id: int
    state: str
    parts_sent: int
    reason: str = ""
    retry_after: float = 0.0


def _relayed_event(room: Room, seq: int) -> RoomEvent | None:
    """The event, if it is a post everyone in the room sees and that is relayed."""
    found = event_list_after(room=room, after=seq - 1, limit=1)
    event = found[0] if found and found[0].seq == seq else None
    if event is None or event.type != "message.posted" or event.data.get("kind") not in RELAYED_KINDS:
        return None
    if event_view(event.type, event.data, event.actor_id, moderator=False, viewer_id=None) is None:
        return None
    if event.data.get("message_id") in hidden_message_ids(room=room):
        return None
    return event


def _claim(event: RoomEvent) -> list[RoomRelay]:
    now = timezone.now()
    claimable = Q(state=RelayState.PENDING) | Q(
        state=RelayState.SENDING, claimed_at__lt=now - timedelta(seconds=RELAY_CLAIM_SECONDS)
    )
    ids = list(
        RoomRelay.objects.filter(claimable, event=event).order_by("pk").values_list("pk", flat=True)[:RELAY_CHUNK]
    )
    if not ids:
        return []
    token = uuid.uuid4().hex
    RoomRelay.objects.filter(claimable, pk__in=ids).update(
        state=RelayState.SENDING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1
    )
    return list(RoomRelay.objects.filter(claim_token=token, state=RelayState.SENDING).select_related("chat__user"))


def _outgoing(room: Room, event: RoomEvent, relay: RoomRelay) -> _Outgoing | _Outcome:
    from bots.telegram.text import split_text

    chat: TelegramChat = relay.chat
    if chat.user is None:
        return _Outcome(relay.pk, RelayState.FAILED, relay.parts_sent, reason="no account")
    try:
        room_access(room=room, user=chat.user)
    except PermissionDenied as exc:  # banned, erased, or no longer of the room's area since joining
        return _Outcome(relay.pk, RelayState.FAILED, relay.parts_sent, reason=f"no access: {exc.code}")
    with translation.override(chat.language):
        heading = _post_heading(str(event.data.get("kind")), room.title, bool(event.data.get("supersedes_id")))
    parts = split_text(f"{heading}\n\n{event.data.get('body') or ''}")
    return _Outgoing(relay.pk, chat.chat_id, parts, relay.parts_sent)


async def _send_all(messages: Sequence[_Outgoing]) -> list[_Outcome]:
    from bots.telegram.api import bot_get
    from bots.telegram.ratelimit import PRIORITY_NORMAL, RateLimitTimeout, retry_after_seconds, wait_at_most

    bot = await bot_get()
    slots = asyncio.Semaphore(RELAY_CONCURRENCY)

    async def one(message: _Outgoing) -> _Outcome:
        sent = message.first_part
        async with slots:
            try:
                for text in message.parts[message.first_part :]:
                    await bot.send_message(message.chat_id, text, rate_limit_args=PRIORITY_NORMAL)
                    sent += 1
            except RetryAfter as error:
                return _Outcome(message.relay_id, RelayState.PENDING, sent, "telegram 429", retry_after_seconds(error))
            except RateLimitTimeout as error:
                return _Outcome(message.relay_id, RelayState.PENDING, sent, "rate limiter", error.retry_after)
            except Forbidden as error:
                return _Outcome(message.relay_id, RelayState.FAILED, sent, f"telegram: {error.message}"[:300])
            except BadRequest as error:
                return _Outcome(message.relay_id, RelayState.FAILED, sent, f"telegram: {error.message}"[:300])
            except (NetworkError, TelegramError) as error:  # timeouts, 5xx, connection errors
                return _Outcome(message.relay_id, RelayState.PENDING, sent, f"telegram: {type(error).__name__}")
            except Exception as exc:  # noqa: BLE001 - the limiter's Redis, or a surprise: retried, never lost
                logger.warning("room relay %s: %s", message.relay_id, type(exc).__name__)
                return _Outcome(message.relay_id, RelayState.PENDING, sent, type(exc).__name__)
        return _Outcome(message.relay_id, RelayState.SENT, sent)

    with wait_at_most(RELAY_WAIT_SECONDS):
        return list(await asyncio.gather(*(one(message) for message in messages)))


def _record(outcomes: Sequence[_Outcome], report: RelayReport) -> None:
    now = timezone.now()
    for outcome in outcomes:
        fields: dict[str, Any] = {"state": outcome.state, "parts_sent": outcome.parts_sent, "reason": outcome.reason}
        if outcome.state == RelayState.SENT:
            fields["sent_at"] = now
            report.sent += 1
        elif outcome.state == RelayState.FAILED:
            report.failed += 1
        else:
            report.pending += 1
            report.retry_after = max(report.retry_after, outcome.retry_after)
        RoomRelay.objects.filter(pk=outcome.relay_id, state=RelayState.SENDING).update(**fields)


def room_event_relay(*, room_id: int, seq: int) -> RelayReport:
    """Send one room post to every chat that joined the room here before it was posted; once per chat, whatever
    replays. What cannot be made exactly-once is a worker dying between Telegram's answer and the record: that
    post reaches those chats again once the claim has timed out (RELAY_CLAIM_SECONDS)."""
    from bots.telegram.api import on_bot_loop

    report = RelayReport()
    try:
        room = room_get(room_id=room_id)
    except NotFound:
        return report
    event = _relayed_event(room, seq)
    if event is None:
        return report
    follows = RoomFollow.objects.filter(room=room, created_at__lte=event.at).values_list("chat_id", flat=True)
    RoomRelay.objects.bulk_create(
        [RoomRelay(event=event, chat_id=chat_id) for chat_id in follows.iterator()], ignore_conflicts=True
    )
    deadline = time.monotonic() + RELAY_BUDGET_SECONDS
    while time.monotonic() < deadline:
        claimed = _claim(event)
        if not claimed:
            break
        outgoing: list[_Outgoing] = []
        outcomes: list[_Outcome] = []
        for relay in claimed:
            prepared = _outgoing(room, event, relay)
            if isinstance(prepared, _Outgoing):
                outgoing.append(prepared)
            else:
                outcomes.append(prepared)
        if outgoing:
            outcomes.extend(on_bot_loop(_send_all(outgoing)))
        _record(outcomes, report)
        if report.pending:
            break  # the limiter or Telegram asked to wait: the task's retry comes back for these
    left = RoomRelay.objects.filter(event=event)
    report.pending = left.filter(state=RelayState.PENDING).count()
    report.claimed_elsewhere = left.filter(state=RelayState.SENDING).count()
    return report


def room_relays_prune() -> int:
    """Delete the record of relays older than RELAY_RETENTION; returns how many went."""
    deleted, _ = RoomRelay.objects.filter(created_at__lt=timezone.now() - RELAY_RETENTION).delete()
    return deleted
