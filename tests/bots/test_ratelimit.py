"""The shared rate limiter, through real python-telegram-bot bots talking HTTP to the fake Bot API server, which
answers 429 whenever Telegram's limits are exceeded. Several bots on their own event loops and threads stand for
several worker processes: all they share is Redis."""

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bots.telegram import ratelimit
from bots.telegram.api import bot_build
from bots.telegram.ratelimit import (
    PRIORITY_LIFE_SAFETY,
    PRIORITY_NORMAL,
    RateLimitTimeout,
    RedisRateLimiter,
    message_cost,
    wait_at_most,
)
from tests.bots.conftest import bot_against_fake
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "424242:limiter-test"


@pytest.fixture
def fake(redis_url: str) -> Iterator[FakeTelegram]:
    with bot_against_fake(TOKEN, redis_url) as server:
        yield server


def in_processes(*workloads: Callable[[ExtBot[Any]], Awaitable[Any]]) -> list[Any]:
    """Run each workload with a bot of its own on an event loop of its own, in a thread of its own, at once."""
    results: list[Any] = [None] * len(workloads)

    def run(index: int, workload: Callable[[ExtBot[Any]], Awaitable[Any]]) -> None:
        async def main() -> Any:
            bot = bot_build()
            async with bot:
                return await workload(bot)

        try:
            results[index] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(workloads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def sender(chat_ids: list[int], priority: int | None = PRIORITY_NORMAL, text: str = "hello"):
    async def send(bot: ExtBot[Any]) -> list[float]:
        async def one(chat_id: int) -> float:
            await bot.send_message(chat_id, text, rate_limit_args=priority)
            return time.monotonic()

        return list(await asyncio.gather(*(one(chat_id) for chat_id in chat_ids)))

    return send


def test_only_message_sending_calls_take_tokens():
    assert message_cost("sendMessage", {"chat_id": 1}) == 1
    assert message_cost("sendVenue", {"chat_id": 1}) == 1
    assert message_cost("copyMessage", {"chat_id": 1}) == 1
    assert message_cost("forwardMessages", {"chat_id": 1, "message_ids": [1, 2, 3]}) == 3
    assert message_cost("sendMediaGroup", {"chat_id": 1, "media": [{}, {}]}) == 2
    for endpoint in ("sendChatAction", "answerCallbackQuery", "editMessageText", "getMe", "deleteMessage"):
        assert message_cost(endpoint, {"chat_id": 1}) == 0


@pytest.mark.services
def test_a_burst_from_several_processes_stays_within_telegrams_limits(fake: FakeTelegram) -> None:
    chats = list(range(1001, 1061))
    repeated = 2001  # one chat gets four messages: Telegram allows one a second there
    for chat_id in [*chats, repeated]:
        fake.add_chat(chat_id)
    in_processes(
        sender(chats[:30] + [repeated] * 2),
        sender(chats[30:] + [repeated] * 2, priority=PRIORITY_LIFE_SAFETY),
    )
    assert fake.count_429 == 0
    sent = fake.all_sent(method="sendMessage")
    assert len(sent) == 64
    times = sorted(message["time"] for message in sent)
    # At most the burst, then 30 a second: 64 messages take at least (64 - burst) / 30 s.
    assert times[-1] - times[0] >= (64 - ratelimit.BURST_PER_BOT) / 30 - 0.05
    for start in range(len(times)):
        in_a_second = [t for t in times[start:] if t < times[start] + 1.0]
        assert len(in_a_second) <= 30 + ratelimit.BURST_PER_BOT
    to_repeated = sorted(message["time"] for message in fake.sent(repeated))
    assert len(to_repeated) == 4
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(to_repeated))


@pytest.mark.services
def test_group_chats_get_twenty_a_minute(fake: FakeTelegram) -> None:
    group = -100_555
    fake.add_chat(group)
    (times,) = in_processes(sender([group] * 3))
    times.sort()
    assert times[2] - times[0] >= 2 * 3.0 - 0.1  # one every three seconds
    assert fake.count_429 == 0


@pytest.mark.services
def test_a_waiting_life_safety_message_goes_before_normal_ones(fake: FakeTelegram) -> None:
    chats = list(range(3001, 3041))
    urgent_chats = list(range(4001, 4011))
    for chat_id in chats + urgent_chats:
        fake.add_chat(chat_id)

    async def late_urgent(bot: ExtBot[Any]) -> list[float]:
        await asyncio.sleep(0.3)  # the normal broadcast is under way and the bot's bucket empty
        return await sender(urgent_chats, priority=PRIORITY_LIFE_SAFETY, text="evacuate")(bot)

    with override_settings(TELEGRAM_RATE_PER_BOT=10.0):
        in_processes(sender(chats, text="room post"), late_urgent)
    order = [message["text"] for message in sorted(fake.all_sent(method="sendMessage"), key=lambda m: m["time"])]
    first, last = order.index("evacuate"), len(order) - 1 - order[::-1].index("evacuate")
    # Once the first life-safety message is through, the others follow without a normal one taking their turn
    # (one may slip in while the first is being granted, before the rest have registered as waiting).
    assert order[first : last + 1].count("room post") <= 1
    assert first <= 10  # ... and they did not wait for the 40 normal messages
    assert fake.count_429 == 0


@pytest.mark.services
def test_a_429_pauses_every_process_and_is_raised_to_the_caller(fake: FakeTelegram) -> None:
    fake.add_chat(11)
    fake.add_chat(12)
    fake.inject("429", count=1, retry_after=2, chat_ids=[11])

    async def hit(bot: ExtBot[Any]) -> float:
        with pytest.raises(RetryAfter):
            await bot.send_message(11, "first", rate_limit_args=PRIORITY_NORMAL)
        return time.monotonic()

    async def other_process(bot: ExtBot[Any]) -> float:
        await asyncio.sleep(0.3)
        await bot.send_message(12, "second", rate_limit_args=PRIORITY_LIFE_SAFETY)
        return time.monotonic()

    hit_at, sent_at = in_processes(hit, other_process)
    assert sent_at - hit_at >= 1.9  # the other process waited out Telegram's retry_after
    assert [message["text"] for message in fake.sent(12)] == ["second"]
    assert fake.sent(11) == []


@pytest.mark.services
def test_an_interactive_reply_waits_out_a_short_429_once(fake: FakeTelegram) -> None:
    fake.add_chat(21)
    fake.inject("429", count=1, retry_after=1, chat_ids=[21])

    async def reply(bot: ExtBot[Any]) -> float:
        started = time.monotonic()
        await bot.send_message(21, "Thanks, noted.")  # no rate_limit_args: a handler's reply
        return time.monotonic() - started

    (took,) = in_processes(reply)
    assert took >= 0.95
    assert [message["text"] for message in fake.sent(21)] == ["Thanks, noted."]


@pytest.mark.services
def test_a_long_429_is_not_waited_out_even_for_a_reply(fake: FakeTelegram) -> None:
    fake.add_chat(22)
    fake.inject("429", count=1, retry_after=30, chat_ids=[22])

    async def reply(bot: ExtBot[Any]) -> float:
        started = time.monotonic()
        with pytest.raises(RetryAfter):
            await bot.send_message(22, "Thanks, noted.")
        return time.monotonic() - started

    (took,) = in_processes(reply)
    assert took < 5
    assert fake.sent(22) == []


@pytest.mark.services
def test_a_caller_with_a_deadline_gets_a_timeout_instead_of_waiting(fake: FakeTelegram) -> None:
    fake.add_chat(31)

    async def bounded(bot: ExtBot[Any]) -> float:
        limiter = bot.rate_limiter
        assert isinstance(limiter, RedisRateLimiter)
        await limiter.pause(20)
        started = time.monotonic()
        with wait_at_most(1.0), pytest.raises(RateLimitTimeout) as raised:
            await bot.send_message(31, "not now", rate_limit_args=PRIORITY_LIFE_SAFETY)
        assert 18 < raised.value.retry_after <= 20
        return time.monotonic() - started

    (took,) = in_processes(bounded)
    assert took < 1.0
    assert fake.sent(31) == []


@pytest.mark.services
def test_calls_that_send_nothing_are_not_held_back(fake: FakeTelegram) -> None:
    fake.add_chat(41)

    async def busy(bot: ExtBot[Any]) -> float:
        limiter = bot.rate_limiter
        assert isinstance(limiter, RedisRateLimiter)
        await limiter.pause(20)  # sending is paused for everyone
        started = time.monotonic()
        await bot.send_chat_action(41, "typing")
        await bot.get_me()
        return time.monotonic() - started

    (took,) = in_processes(busy)
    assert took < 2
