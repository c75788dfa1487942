"""The telegram alert transport: each delivery's text to its chat, split at Telegram's limit, with the "I'm safe" /
"I need help" buttons on the last part, paced by the shared rate limiter, and every Telegram answer turned into
the outcome dispatch records (sent, retry with retry_after, blocked, failed).

A delivery remembers in Redis each part as soon as Telegram accepted it (`telegram:delivery:<alert identifier>:
<delivery id>:parts`, part → message id, kept PARTS_TTL_SECONDS; the identifier holds a UUID, so that a database
started afresh, as in tests, never meets the records of an older one). A retry then sends only the parts still
missing, and a delivery sent again after a worker died between Telegram's answer and the database commit sends
nothing again. What remains is the instant between Telegram accepting a part and that write, and a request that
timed out after Telegram had accepted it: Telegram has no idempotency key, so those two may reach a chat twice.
"""

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from redis.exceptions import RedisError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from accounts.models import ChannelKind
from alerts.transports.base import Outcome, Outgoing, Transport
from bots.telegram.api import bot_configured, bot_get, on_bot_loop
from bots.telegram.ratelimit import (
    PRIORITY_LIFE_SAFETY,
    PRIORITY_NORMAL,
    RateLimitTimeout,
    RedisRateLimiter,
    retry_after_seconds,
    wait_at_most,
)
from bots.telegram.text import split_text

logger = logging.getLogger(__name__)

PARTS_TTL_SECONDS = 3 * 24 * 3600  # longer than any delivery keeps being retried (an alert lives a day by default)
REDIS_CALL_TIMEOUT_SECONDS = 2.0
BOT_OFF = "the Telegram bot is off: TELEGRAM_BOT_TOKEN is not set"
LIFE_SAFETY_SEVERITIES = frozenset({"Extreme", "Severe"})
LIFE_SAFETY_URGENCIES = frozenset({"Immediate"})


def reply_callback_data(alert_id: int, answer: str) -> str:
    """The buttons' callback data, answered by the bot's handlers: `ar:<alert id>:safe` or `ar:<alert id>:help`."""
    return f"ar:{alert_id}:{answer}"


def interface_language(language: str) -> str:
    """One of settings.LANGUAGES for an alert language: the same code, else the same primary subtag, else default."""
    codes = [code for code, _name in settings.LANGUAGES]
    wanted = language.strip().lower().replace("_", "-")
    if wanted in codes:
        return wanted
    primary = wanted.split("-", 1)[0]
    for code in codes:
        if code.split("-", 1)[0] == primary:
            return code
    return settings.LANGUAGE_CODE


def reply_keyboard(alert_id: int, language: str) -> InlineKeyboardMarkup:
    """The two answer buttons, labelled in the recipient's language."""
    with translation.override(interface_language(language)):
        safe, help_ = gettext("I'm safe"), gettext("I need help")
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(safe, callback_data=reply_callback_data(alert_id, "safe")),
                InlineKeyboardButton(help_, callback_data=reply_callback_data(alert_id, "help")),
            ]
        ]
    )


def message_priority(payload: dict[str, Any]) -> int:
    """Life-safety (ahead of everything else the bot sends) for an Extreme or Severe alert, or an Immediate one."""
    if payload.get("severity") in LIFE_SAFETY_SEVERITIES or payload.get("urgency") in LIFE_SAFETY_URGENCIES:
        return PRIORITY_LIFE_SAFETY
    return PRIORITY_NORMAL


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _parts_key(message: Outgoing) -> str:
    alert = message.payload.get("identifier") or f"alert-{message.alert_id}"
    return f"telegram:delivery:{alert}:{message.delivery_id}:parts"


class TelegramTransport(Transport):
    name = "telegram"
    channel_kind = ChannelKind.TELEGRAM
    # Telegram allows about 30 messages a second for the whole bot, so a batch of 50 takes at least 1.7 s; small
    # batches spread an alert over every worker process and keep each claim far shorter than its timeout.
    batch_size = 50
    # Sends of a batch in flight at once; the limiter paces them, so more would only wait longer.
    concurrency = 25

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        if not messages:
            return
        if not bot_configured():
            yield [Outcome(message.delivery_id, "retry", reason=BOT_OFF) for message in messages]
            return
        # The sends run on the process's bot loop (in its own thread); each outcome comes back through this queue
        # as soon as it is final, to be recorded while the others are still being sent.
        outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        runner = threading.Thread(
            target=self._run, args=(messages, outcomes.put), name="telegram-transport", daemon=True
        )
        runner.start()
        remaining = len(messages)
        while remaining:
            group = [outcomes.get()]
            while True:
                try:
                    group.append(outcomes.get_nowait())
                except queue.Empty:
                    break
            remaining -= len(group)
            yield group

    def _run(self, messages: Sequence[Outgoing], report: Callable[[Outcome], None]) -> None:
        """Send on the bot loop; whatever goes wrong, every message gets exactly one outcome."""
        reported: set[int] = set()

        def once(outcome: Outcome) -> None:
            reported.add(outcome.delivery_id)
            report(outcome)

        try:
            on_bot_loop(self._send_all(messages, once))
        except Exception as exc:  # turned into retries below: never a lost delivery
            logger.exception("telegram transport: a batch of %d failed", len(messages))
            reason = f"telegram transport: {type(exc).__name__}: {exc}"[:300]
            for message in messages:
                if message.delivery_id not in reported:  # the coroutine has ended: `reported` is settled
                    report(Outcome(message.delivery_id, "retry", reason=reason))

    async def _send_all(self, messages: Sequence[Outgoing], report: Callable[[Outcome], None]) -> None:
        bot = await bot_get()
        limiter = bot.rate_limiter
        if not isinstance(limiter, RedisRateLimiter):
            raise TypeError("the process's bot has no RedisRateLimiter")
        slots = asyncio.Semaphore(self.concurrency)
        keyboards: dict[tuple[int, str], InlineKeyboardMarkup] = {}

        async def one(message: Outgoing) -> None:
            language = str(message.payload.get("language") or message.language or "")
            key = (message.alert_id, language)
            if key not in keyboards:
                keyboards[key] = reply_keyboard(message.alert_id, language)
            keyboard = None if message.payload.get("msg_type") == "Cancel" else keyboards[key]
            async with slots:
                try:
                    outcome = await self._deliver(bot, limiter, message, keyboard)
                except Exception as exc:  # one delivery's surprise must not take the batch down
                    logger.exception("telegram transport: delivery %s", message.delivery_id)
                    outcome = Outcome(message.delivery_id, "retry", reason=f"{type(exc).__name__}: {exc}"[:300])
            report(outcome)

        # The whole batch waits for tokens at most half the claim timeout, so that its claim never runs out while
        # it sends (another worker would then claim and send the same deliveries).
        with wait_at_most(settings.ALERT_CLAIM_TIMEOUT_SECONDS / 2):
            await asyncio.gather(*(one(message) for message in messages))

    async def _deliver(
        self, bot: ExtBot[Any], limiter: RedisRateLimiter, message: Outgoing, keyboard: InlineKeyboardMarkup | None
    ) -> Outcome:
        delivery_id = message.delivery_id
        parts = split_text(str(message.payload.get("text") or ""))
        if not parts:
            return Outcome(delivery_id, "failed", reason="empty message")
        try:
            chat_id = int(message.address)
        except ValueError:
            return Outcome(delivery_id, "failed", reason=f"not a Telegram chat id: {message.address!r}"[:200])
        key = _parts_key(message)
        try:
            async with asyncio.timeout(REDIS_CALL_TIMEOUT_SECONDS):
                done = {int(index): _text(value) for index, value in (await limiter.redis.hgetall(key)).items()}
        except (RedisError, OSError, TimeoutError) as exc:
            return Outcome(delivery_id, "retry", reason=f"redis: {type(exc).__name__}")
        priority = message_priority(message.payload)
        last_id = ""
        for index, text in enumerate(parts):
            if index in done:
                last_id = done[index]
                continue
            last = index == len(parts) - 1
            try:
                sent = await bot.send_message(
                    chat_id, text, reply_markup=keyboard if last else None, rate_limit_args=priority
                )
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                return Outcome(delivery_id, "retry", reason=f"telegram 429: {error.message}", retry_after=seconds)
            except RateLimitTimeout as error:
                return Outcome(delivery_id, "retry", reason=error.message, retry_after=error.retry_after)
            except Forbidden as error:
                return Outcome(delivery_id, "blocked", reason=f"telegram: {error.message}")
            except ChatMigrated as error:
                return Outcome(delivery_id, "failed", reason=f"telegram: group moved to chat {error.new_chat_id}")
            except BadRequest as error:
                if "chat not found" in error.message.lower():
                    return Outcome(delivery_id, "blocked", reason=f"telegram: {error.message}")
                return Outcome(delivery_id, "failed", reason=f"telegram: {error.message}")
            except InvalidToken as error:
                return Outcome(delivery_id, "retry", reason=f"telegram rejected the bot token: {error.message}")
            except NetworkError as error:  # TimedOut, connection errors, 5xx
                return Outcome(delivery_id, "retry", reason=f"telegram: {type(error).__name__}: {error.message}")
            except TelegramError as error:
                return Outcome(delivery_id, "retry", reason=f"telegram: {type(error).__name__}: {error.message}")
            except (RedisError, OSError, TimeoutError) as exc:  # the limiter could not reach Redis: nothing sent
                return Outcome(delivery_id, "retry", reason=f"rate limiter: {type(exc).__name__}")
            last_id = str(sent.message_id)
            try:
                async with asyncio.timeout(REDIS_CALL_TIMEOUT_SECONDS):
                    async with limiter.redis.pipeline(transaction=True) as pipe:
                        pipe.hset(key, str(index), last_id)
                        pipe.expire(key, PARTS_TTL_SECONDS)
                        await pipe.execute()
            except (RedisError, OSError, TimeoutError):
                # Sent, but not remembered: a retry of a later part would send this one again. Carry on.
                logger.warning("telegram transport: delivery %s part %d sent but not remembered", delivery_id, index)
        return Outcome(delivery_id, "sent", provider_message_id=last_id)
