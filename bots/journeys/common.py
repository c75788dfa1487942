"""What every journey shares: the chat's record and language, the step waiting for the next message, and how to
answer. Journeys are thin: they read and change data only through the services and selectors of the apps that
own it, run in a worker thread with `sync_to_async`.

Conventions:
- every text the person reads is written with gettext inside `speaking(chat)`, so it is in their language;
- callback data is "<journey>:<action>[:<argument>]", at most 64 bytes (Telegram's limit);
- a journey that waits for free text, a location or a photo sets `step_set(chat, "<journey>.<what>")` and
  registers the function that takes it with `@on_step("<journey>.<what>")`;
- a journey that answers plain words registers `@on_intent("<name>")` and its keywords in INTENT_KEYWORDS.
"""

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import ContextTypes

from bots.models import TelegramChat

logger = logging.getLogger(__name__)
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]
UNSPACED_LANGUAGES = {"ja", "zh-hans"}
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass
class Chat:
    """A snapshot of the chat's record, read at the start of each update."""

    pk: int
    chat_id: int
    user_id: int | None
    language: str
    step: str
    step_data: dict[str, Any] = field(default_factory=dict)
    onboarded: bool = False
    start_payload: str = ""

    @property
    def uid(self) -> int:
        """The person's user id; only for chats that gave their consent (they have an account)."""
        if self.user_id is None:
            raise LookupError("this chat has no account yet")
        return self.user_id


def language_from(code: str | None) -> str:
    """The interface language for a Telegram language_code ("pt-br", "zh-hans", "fr"), English otherwise."""
    if not code:
        return settings.LANGUAGE_CODE
    code = code.lower()
    if code in LANGUAGE_CODES:
        return code
    if code.startswith("zh"):
        return "zh-hans"
    base = code.split("-", 1)[0]
    return base if base in LANGUAGE_CODES else settings.LANGUAGE_CODE


def _snapshot(record: TelegramChat) -> Chat:
    return Chat(
        pk=record.pk,
        chat_id=record.chat_id,
        user_id=record.user_id,
        language=record.language,
        step=record.step,
        step_data=dict(record.step_data or {}),
        onboarded=record.onboarded_at is not None and record.user_id is not None,
        start_payload=record.start_payload,
    )


def chat_load(chat_id: int, language_code: str | None) -> Chat:
    record, _created = TelegramChat.objects.get_or_create(
        chat_id=chat_id, defaults={"language": language_from(language_code)}
    )
    return _snapshot(record)


def chat_reload(chat: Chat) -> Chat:
    return _snapshot(TelegramChat.objects.get(pk=chat.pk))


async def chat_of(update: Update) -> Chat:
    assert update.effective_chat is not None
    user = update.effective_user
    return await sync_to_async(chat_load)(update.effective_chat.id, user.language_code if user else None)


def step_set(chat: Chat, step: str, data: dict[str, Any] | None = None) -> None:
    TelegramChat.objects.filter(pk=chat.pk).update(step=step, step_data=data or {})
    chat.step, chat.step_data = step, data or {}


async def step_set_async(chat: Chat, step: str, data: dict[str, Any] | None = None) -> None:
    await sync_to_async(step_set)(chat, step, data)


@contextlib.contextmanager
def speaking(chat: Chat) -> Iterator[None]:
    """Texts written inside are in the chat's language."""
    with translation.override(chat.language):
        yield


def inline(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data)."""
    for row in rows:
        for _label, data in row:
            assert len(data.encode()) <= 64, f"callback data over 64 bytes: {data!r}"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def location_keyboard(share_label: str | None, *others: str) -> ReplyKeyboardMarkup:
    """A one-time reply keyboard: a button that shares the location (when labelled), then one row per other label."""
    rows = [[KeyboardButton(share_label, request_location=True)]] if share_label else []
    rows += [[KeyboardButton(label)] for label in others]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)


def _split(text: str) -> list[str]:
    from bots.telegram.text import split_text

    return split_text(text)


async def say(update: Update, text: str, *, markup: Markup | None = None, parse_mode: str | None = None) -> Message:
    """Send text to the update's chat (split at Telegram's limit; the keyboard goes with the last part)."""
    assert update.effective_chat is not None
    bot = update.get_bot()
    parts = _split(text) or [text]
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await bot.send_message(
            chat_id=update.effective_chat.id, text=part, parse_mode=parse_mode, reply_markup=markup if last else None
        )
    assert message is not None
    return message


async def acknowledge(update: Update, text: str | None = None) -> None:
    """Answer a button press (Telegram shows a spinner until it is answered)."""
    if update.callback_query is not None:
        await update.callback_query.answer(text)


async def say_sorry(update: Update) -> None:
    try:
        chat = await chat_of(update)
        with speaking(chat):
            text = _("Sorry, something went wrong on our side. Please try again in a moment.")
        await say(update, text)
    except Exception as exc:  # noqa: BLE001 - the apology is best effort; the error is already logged
        logger.warning("could not apologise in a telegram chat: %s", type(exc).__name__)


def callback_parts(update: Update) -> list[str]:
    assert update.callback_query is not None
    return (update.callback_query.data or "").split(":")


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE, Chat], Awaitable[None]]
STEPS: dict[str, Handler] = {}
INTENTS: dict[str, Handler] = {}
# Deep-link payloads of /start, by prefix ("room" for room_<id>): run once the person is onboarded.
PAYLOADS: dict[str, Callable[[Update, ContextTypes.DEFAULT_TYPE, Chat, str], Awaitable[None]]] = {}
# Plain words that start a journey, per intent: each a comma-separated list, translated in the catalogues (so
# that "refugio" finds shelters in Spanish). Matching is on whole words, ignoring case and punctuation; the
# longest keyword found wins ("not safe" over "safe").
INTENT_KEYWORDS: dict[str, str] = {
    "shelters": gettext_noop("shelter, shelters, refuge, evacuation centre"),
    "alerts": gettext_noop("alert, alerts, warning, warnings"),
    # Not "ok": people type it to acknowledge anything, and here it would record "I'm safe".
    "safe": gettext_noop("safe, i'm safe, i am safe"),
    "need_help": gettext_noop("help me, need help, sos, emergency, not safe"),
    "rooms": gettext_noop("room, rooms, town hall"),
    "report": gettext_noop("report"),
    "profile": gettext_noop("profile, my data, settings"),
    "help": gettext_noop("help, menu, commands"),
}


# Intents that record something about the person: only a message that says just that (one of the keywords,
# nothing more) counts, never a keyword inside a longer text ("is my family safe?", "I am not safe").
WHOLE_MESSAGE_INTENTS = {"safe"}


def on_step(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        STEPS[name] = handler
        return handler

    return register


def on_intent(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        INTENTS[name] = handler
        return handler

    return register


def on_payload(prefix: str) -> Callable[[Any], Any]:
    def register(handler: Any) -> Any:
        PAYLOADS[prefix] = handler
        return handler

    return register


def _normalised(text: str) -> str:
    """Lower case, typographic apostrophes made plain, punctuation gone, single spaces."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower().replace("\u2019", "'")).split())


def intent_of(text: str, language: str) -> str | None:
    """The journey plain words ask for, in the chat's language or in English."""
    words = _normalised(text)
    # Chinese and Japanese put no spaces between words: there a keyword may sit anywhere in the text.
    unspaced = language in UNSPACED_LANGUAGES
    best: tuple[int, str] | None = None
    for intent, keywords in INTENT_KEYWORDS.items():
        with translation.override(language):
            translated = _(keywords)
        for keyword in {*translated.split(","), *keywords.split(",")}:
            keyword = _normalised(keyword)
            if not keyword:
                continue
            if intent in WHOLE_MESSAGE_INTENTS:
                found = words == keyword
            else:
                found = f" {keyword} " in f" {words} " or (unspaced and not keyword.isascii() and keyword in words)
            if found:
                if best is None or len(keyword) > best[0]:
                    best = (len(keyword), intent)
    return best[1] if best else None


def onboarded(handler: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """A handler for people who finished /start; others are asked to start first."""

    async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await chat_of(update)
        if not chat.onboarded:
            await acknowledge(update)
            with speaking(chat):
                text = _("Welcome! Send /start to choose your language and your area first.")
            await say(update, text)
            return
        await handler(update, context, chat)

    wrapped.__name__ = handler.__name__
    return wrapped
