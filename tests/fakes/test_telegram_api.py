"""The fake Telegram Bot API, driven by real python-telegram-bot code over real HTTP."""

import asyncio
import datetime as dtm
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.conftest import REPO_ROOT
from tests.fakes.telegram_api import FakeTelegram

CHAT = 4242
# A 2x3 PNG: signature, then the IHDR chunk's width and height.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03" + b"\x00" * 16


@pytest.fixture(autouse=True)
def _retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns when RetryAfter.retry_after is read as an int; opt in to the coming timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(seed=1, limits=False) as server:
        server.add_chat(CHAT)
        yield server


def with_bot(fake: FakeTelegram, use: Callable[[Bot], Awaitable[Any]], *, token: str | None = None, **kw: Any) -> Any:
    async def main() -> Any:
        bot = Bot(token or fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url, **kw)
        async with bot:
            return await use(bot)

    return asyncio.run(main())


def test_get_me_answers_the_bot(fake):
    me = with_bot(fake, lambda bot: bot.get_me())

    assert me.id == 123
    assert me.is_bot
    assert me.username == "fake_bot"


def test_send_message_is_recorded_with_its_keyboard(fake):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])

    async def use(bot: Bot) -> Any:
        first = await bot.send_message(
            CHAT,
            "<b>Flood</b> warning",
            parse_mode="HTML",
            reply_markup=keyboard,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
        second = await bot.send_message(CHAT, "Share?", reply_markup=ReplyKeyboardMarkup([[KeyboardButton("Hi")]]))
        third = await bot.send_message(CHAT, "Done", reply_markup=ReplyKeyboardRemove())
        return first, second, third

    first, second, third = with_bot(fake, use)

    assert (first.message_id, second.message_id, third.message_id) == (1, 2, 3)
    assert first.text == "Flood warning"  # as the user sees it
    assert first.chat.type == "private"
    assert first.from_user.is_bot
    assert first.reply_markup == keyboard
    assert second.reply_markup is None  # Telegram returns only inline keyboards
    sent = fake.sent(CHAT)
    assert [m["method"] for m in sent] == ["sendMessage"] * 3
    assert sent[0]["text"] == "<b>Flood</b> warning"
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    assert sent[0]["link_preview_options"] == {"is_disabled": True}
    assert sent[1]["reply_markup"]["keyboard"] == [[{"text": "Hi"}]]
    assert sent[2]["reply_markup"] == {"remove_keyboard": True}
    assert fake.all_sent() == sent
    assert [c["method"] for c in fake.calls] == ["getMe", "sendMessage", "sendMessage", "sendMessage"]


def test_telegram_validation_becomes_bad_request(fake):
    async def use(bot: Bot) -> list[str]:
        errors = []
        cases: tuple[dict[str, Any], ...] = (
            {"chat_id": CHAT, "text": "x" * 4097},
            {"chat_id": CHAT, "text": "  "},
            {"chat_id": 999, "text": "hello"},
            {"chat_id": CHAT, "text": "<br>", "parse_mode": "HTML"},
            {"chat_id": CHAT, "text": "Stay safe.", "parse_mode": "MarkdownV2"},
            {
                "chat_id": CHAT,
                "text": "go",
                "reply_markup": InlineKeyboardMarkup([[InlineKeyboardButton("x", url="http://localhost:8000/")]]),
            },
        )
        for kwargs in cases:
            with pytest.raises(BadRequest) as caught:
                await bot.send_message(**kwargs)
            errors.append(caught.value.message)
        await bot.send_message(CHAT, "x" * 4096)
        await bot.send_message(CHAT, "Stay safe\\. *Now*", parse_mode="MarkdownV2")
        return errors

    errors = with_bot(fake, use)

    assert errors[:3] == ["Message is too long", "Message text is empty", "Chat not found"]
    assert errors[3].startswith('Can\'t parse entities: unsupported start tag "br"')
    assert "character '.' is reserved" in errors[4]
    assert "wrong http url" in errors[5]
    assert len(fake.sent(CHAT)) == 2


def test_wrong_token_is_invalid_token_and_unknown_method_404(fake):
    with pytest.raises(InvalidToken):
        with_bot(fake, lambda bot: bot.get_me(), token="999:WRONG")

    response = httpx.post(f"{fake.base_url}999:WRONG/getMe")
    assert (response.status_code, response.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    response = httpx.post(f"{fake.base_url}{fake.token}/sendTelepathy", json={})
    assert (response.status_code, response.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


def test_json_bodies_and_get_are_understood(fake):
    response = httpx.post(
        f"{fake.base_url}{fake.token}/sendmessage",  # method names are case-insensitive
        json={"chat_id": str(CHAT), "text": "json", "reply_markup": {"remove_keyboard": True}},
    )
    assert response.json()["ok"], response.text
    assert httpx.get(f"{fake.base_url}{fake.token}/getMe").json()["result"]["username"] == "fake_bot"
    assert fake.sent(CHAT)[0]["reply_markup"] == {"remove_keyboard": True}


def test_flood_limit_surfaces_as_retry_after():
    with FakeTelegram(rate_per_chat=0.5, burst_per_chat=1) as fake:
        fake.add_chat(CHAT)

        async def use(bot: Bot) -> RetryAfter:
            await bot.send_message(CHAT, "first")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(CHAT, "second")
            return caught.value

        error = with_bot(fake, use)

        assert error.retry_after == dtm.timedelta(seconds=2)
        assert fake.count_429 == 1
        assert [m["text"] for m in fake.sent(CHAT)] == ["first"]
        assert fake.calls[-1]["status"] == 429

        fake.set_limits(enabled=False)
        with_bot(fake, lambda bot: asyncio.gather(*(bot.send_message(CHAT, str(i)) for i in range(10))))
        assert len(fake.sent(CHAT)) == 11


def test_per_bot_and_per_group_buckets():
    with FakeTelegram(rate_per_bot=0.5, burst_per_bot=3, burst_per_group=1) as fake:
        for chat_id in (1, 2, 3, 4, -5):
            fake.add_chat(chat_id)

        async def use(bot: Bot) -> int:
            for chat_id in (1, 2, 3):
                await bot.send_message(chat_id, "hello")
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "over the bot's limit")
            fake.set_limits(rate_per_bot=100)
            await bot.send_message(-5, "group")
            with pytest.raises(RetryAfter):
                await bot.send_message(-5, "group again")
            await bot.send_chat_action(-5, "typing")  # not a message: no limit
            return fake.count_429

        assert with_bot(fake, use) == 2
        assert fake.sent(-5)[0]["text"] == "group"


def test_blocked_chat_is_forbidden(fake):
    fake.block(CHAT)

    async def use(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(CHAT, "hello")

    with_bot(fake, use)
    assert fake.sent(CHAT) == []


def test_injected_faults(fake):
    fake.inject("5xx", count=1)
    fake.inject("403", methods=["sendLocation"], count=1)
    fake.inject("chat_not_found", chat_ids=[CHAT], methods=["sendVenue"])

    async def use(bot: Bot) -> None:
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "lost")
        await bot.send_message(CHAT, "delivered")
        with pytest.raises(Forbidden):
            await bot.send_location(CHAT, 1.0, 2.0)
        await bot.send_location(CHAT, 1.0, 2.0)
        for _ in range(2):
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.send_venue(CHAT, 1.0, 2.0, "Hall", "Main St 1")
        fake.clear_faults()
        await bot.send_venue(CHAT, 1.0, 2.0, "Hall", "Main St 1")

    with_bot(fake, use)

    assert [m["method"] for m in fake.sent(CHAT)] == ["sendMessage", "sendLocation", "sendVenue"]
    assert fake.sent(CHAT)[0]["text"] == "delivered"
    assert fake.fault_counts == {"5xx": 1, "403": 1, "chat_not_found": 2, "timeout": 0, "429": 0}


def test_fault_rate_is_reproducible_with_a_seed():
    def outcomes(seed: int) -> list[int]:
        with FakeTelegram(seed=seed, limits=False) as fake:
            fake.add_chat(CHAT)
            fake.inject("5xx", rate=0.5, status=500)
            with httpx.Client() as client:
                url = f"{fake.base_url}{fake.token}/sendMessage"
                return [client.post(url, json={"chat_id": CHAT, "text": "x"}).status_code for _ in range(20)]

    first = outcomes(7)
    assert first == outcomes(7)
    assert {200, 500} == set(first)


def test_injected_timeout_times_out_and_stop_does_not_wait_for_it():
    fake = FakeTelegram().start()
    fake.add_chat(CHAT)
    fake.inject("timeout", count=1)  # the server would answer after 30 s
    request = HTTPXRequest(read_timeout=0.3)

    async def use(bot: Bot) -> None:
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")

    with_bot(fake, use, request=request)
    started = time.monotonic()
    fake.stop()

    assert time.monotonic() - started < 5
    assert fake.sent(CHAT) == []
    assert fake.fault_counts["timeout"] == 1


def test_get_updates_returns_pushed_updates_and_respects_offset(fake):
    first = fake.user_message(CHAT, "/start", deliver="polling")
    second = fake.user_location(CHAT, 52.52, 13.40, deliver="polling")
    webhook_only = fake.user_message(CHAT, "not queued")

    async def use(bot: Bot) -> Any:
        updates = await bot.get_updates(timeout=0)
        confirmed = await bot.get_updates(offset=updates[0].update_id + 1, timeout=0)
        threading.Timer(0.2, fake.user_message, (CHAT, "later"), {"deliver": "polling"}).start()
        waited = await bot.get_updates(offset=confirmed[-1].update_id + 1, timeout=5)
        return updates, confirmed, waited

    updates, confirmed, waited = with_bot(fake, use)

    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[1].message.location.latitude == pytest.approx(52.52)
    assert [u.update_id for u in confirmed] == [second["update_id"]]
    assert [u.message.text for u in waited] == ["later"]
    assert webhook_only["update_id"] == second["update_id"] + 1


def test_get_updates_conflicts_with_a_webhook(fake):
    async def use(bot: Bot) -> Any:
        await bot.set_webhook("https://example.org/telegram/webhook", secret_token="s3cret")
        info = await bot.get_webhook_info()
        with pytest.raises(BadRequest, match=r"(?i)https url"):
            await bot.set_webhook("http://example.org/hook")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        return info

    info = with_bot(fake, use)

    assert info.url == "https://example.org/telegram/webhook"
    assert fake.webhook == {"url": ""}


def test_user_photo_can_be_downloaded(fake):
    update = fake.user_photo(CHAT, PNG, caption="water rising")
    photo = update["message"]["photo"][-1]

    async def use(bot: Bot) -> bytearray:
        file = await bot.get_file(photo["file_id"])
        return await file.download_as_bytearray()

    assert with_bot(fake, use) == bytearray(PNG)
    assert (photo["width"], photo["height"]) == (2, 3)
    assert update["message"]["caption"] == "water rising"


def test_send_photo_upload_venue_and_location_are_recorded(fake):
    async def use(bot: Bot) -> Any:
        photo = await bot.send_photo(CHAT, PNG, caption="map")
        again = await bot.send_photo(CHAT, photo.photo[-1].file_id)
        venue = await bot.send_venue(CHAT, 52.5, 13.4, "Shelter A", "Main St 1")
        location = await bot.send_location(CHAT, 48.1, 11.6)
        return photo, again, venue, location

    photo, again, venue, location = with_bot(fake, use)

    assert again.photo[-1].file_id == photo.photo[-1].file_id
    assert fake.file_bytes(photo.photo[-1].file_id) == PNG
    assert venue.venue.title == "Shelter A"
    assert location.location.longitude == pytest.approx(11.6)
    sent = fake.sent(CHAT)
    assert [m["method"] for m in sent] == ["sendPhoto", "sendPhoto", "sendVenue", "sendLocation"]
    assert sent[0]["caption"] == "map"
    assert sent[0]["photo"] == photo.photo[-1].file_id
    assert (sent[2]["latitude"], sent[2]["longitude"], sent[2]["title"], sent[2]["address"]) == (
        52.5,
        13.4,
        "Shelter A",
        "Main St 1",
    )
    assert (sent[3]["latitude"], sent[3]["longitude"]) == (48.1, 11.6)
    assert fake.calls[1]["files"]["photo"]["size"] == len(PNG)


def test_callback_answer_edit_and_delete(fake):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("I am safe", callback_data="safe")]])
    with_bot(fake, lambda bot: bot.send_message(CHAT, "Are you safe?", reply_markup=keyboard))
    update = fake.user_callback(CHAT, "safe")
    query = update["callback_query"]
    assert query["message"]["message_id"] == 1
    assert query["message"]["reply_markup"] == keyboard.to_dict()

    async def use(bot: Bot) -> None:
        await bot.answer_callback_query(query["id"], text="Thanks")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query["id"])
        await bot.edit_message_text("Marked safe", chat_id=CHAT, message_id=1)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("Marked safe", chat_id=CHAT, message_id=1)
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=1, reply_markup=keyboard)
        await bot.delete_message(CHAT, 1)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("gone", chat_id=CHAT, message_id=1)

    with_bot(fake, use)

    methods = [m["method"] for m in fake.sent(CHAT)]
    assert methods == [
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
    ]
    assert fake.sent(CHAT, method="answerCallbackQuery")[0]["text"] == "Thanks"


def test_commands_and_chat_action(fake):
    async def use(bot: Bot) -> Any:
        await bot.set_my_commands([("start", "Begin"), ("help", "What I can do")], language_code="en")
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([("Start!", "bad")])
        commands = await bot.get_my_commands(language_code="en")
        await bot.delete_my_commands(language_code="en")
        assert await bot.send_chat_action(CHAT, "typing")
        return commands

    commands = with_bot(fake, use)

    assert [c.command for c in commands] == ["start", "help"]
    assert fake.commands(language_code="en") == []
    assert fake.sent(CHAT) == []  # a chat action is no message


def test_wait_for_waits_for_a_matching_message(fake):
    def send_later() -> None:
        time.sleep(0.1)
        with_bot(fake, lambda bot: bot.send_message(CHAT, "Evacuate now"))

    threading.Thread(target=send_later).start()

    message = fake.wait_for(CHAT, lambda m: "Evacuate" in m["text"], timeout=5)

    assert message["message_id"] == 1
    with pytest.raises(AssertionError, match="Evacuate now"):
        fake.wait_for(CHAT, lambda m: m["text"] == "never", timeout=0.1)
    fake.clear()
    assert fake.sent(CHAT) == []
    assert fake.calls == []


def test_cli_serves_until_sigterm(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--token", "9:T"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,  # its first line is the URL it serves on
        stderr=(tmp_path / "fake-telegram.log").open("wb"),
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert httpx.get(f"{base_url}9:T/getMe").json()["result"]["id"] == 9
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
