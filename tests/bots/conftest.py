"""The bot under test: real python-telegram-bot talking HTTP to the project's fake Bot API server, Redis for the
rate limiter, and a database the handlers' worker thread can see (transactional tests).

`Resident` plays a person in a Telegram chat: each action builds the update Telegram would send, hands it to
the bot (through the webhook view, or as long polling does, through update_receive), processes the queued
update as the Celery task would, and returns what the bot sent to the chat meanwhile.
"""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client, override_settings

from bots import tasks as bot_tasks
from bots import updates
from bots.application import application_reset
from bots.models import UpdateSource
from bots.telegram.api import bot_reset
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token"
WEBHOOK_PATH = "hook-7f3a"
WEBHOOK_SECRET = "secret-token-9c1e"


@dataclass
class Queue:
    """Updates the webhook or polling queued for processing (the Celery task's arguments)."""

    update_ids: list[int] = field(default_factory=list)

    def run(self) -> list[str]:
        results = []
        while self.update_ids:
            results.append(updates.update_process(update_id=self.update_ids.pop(0)))
        return results


@pytest.fixture
def update_queue(monkeypatch: pytest.MonkeyPatch) -> Queue:
    queue = Queue()
    monkeypatch.setattr(bot_tasks.process_update, "delay", lambda update_id: queue.update_ids.append(update_id))
    return queue


@pytest.fixture
def fake_telegram(redis_url: str, settings: Any) -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as fake:
        settings.TELEGRAM_BOT_TOKEN = TOKEN
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        settings.TELEGRAM_API_FILE_URL = fake.base_file_url
        settings.TELEGRAM_WEBHOOK_PATH = WEBHOOK_PATH
        settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.REDIS_URL = redis_url
        application_reset()
        bot_reset()
        try:
            yield fake
        finally:
            application_reset()
            bot_reset()


def webhook_post(client: Client, body: Any, *, secret: str | None = WEBHOOK_SECRET, path: str = WEBHOOK_PATH) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"/bots/telegram/{path}/", data=data, content_type="application/json", headers=headers)


class Resident:
    """A person in a private chat with the bot."""

    def __init__(
        self, fake: FakeTelegram, queue: Queue, chat_id: int, *, language_code: str = "en", via: str = "webhook"
    ) -> None:
        self.fake, self.queue, self.chat_id, self.language_code, self.via = fake, queue, chat_id, language_code, via
        self.client = Client()
        fake.add_chat(chat_id)

    def _deliver(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.fake.sent(self.chat_id))
        if self.via == "webhook":
            response = webhook_post(self.client, update)
            assert response.status_code == 200, response.content
        else:
            updates.update_receive(data=update, source=UpdateSource.POLLING)
        results = self.queue.run()
        assert "failed" not in results, f"processing failed: {results}"
        # What the person sees: messages sent or edited, not the answers to button presses.
        return [m for m in self.fake.sent(self.chat_id)[before:] if m["method"] != "answerCallbackQuery"]

    def send(self, text: str) -> list[dict[str, Any]]:
        return self._deliver(self.fake.user_message(self.chat_id, text, language_code=self.language_code))

    def press(self, data: str, message_id: int | None = None) -> list[dict[str, Any]]:
        return self._deliver(self.fake.user_callback(self.chat_id, data, message_id=message_id))

    def share_location(self, latitude: float, longitude: float) -> list[dict[str, Any]]:
        return self._deliver(self.fake.user_location(self.chat_id, latitude, longitude))

    def send_photo(self, photo: bytes, caption: str = "") -> list[dict[str, Any]]:
        return self._deliver(self.fake.user_photo(self.chat_id, photo, caption=caption))

    def last_text(self) -> str:
        sent = [message for message in self.fake.sent(self.chat_id) if message.get("text")]
        return str(sent[-1]["text"]) if sent else ""


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data or '') of every button of a message's keyboard, in order."""
    markup = message.get("reply_markup") or {}
    found = []
    for row in markup.get("inline_keyboard", []):
        for button in row:
            found.append((button["text"], button.get("callback_data", "")))
    for row in markup.get("keyboard", []):
        for button in row:
            found.append((button["text"] if isinstance(button, dict) else button, ""))
    return found


def button_data(messages: list[dict[str, Any]], label_part: str) -> str:
    """The callback data of the first inline button whose label contains `label_part`."""
    for message in reversed(messages):
        for label, data in buttons(message):
            if label_part in label and data:
                return data
    raise AssertionError(f"no button with {label_part!r} in {[buttons(m) for m in messages]}")


def onboard(
    resident: Resident, *, language: str = "en", area_id: int | None = None, location: tuple[float, float] | None = None
) -> None:
    """Take a resident through /start to the end: language, consent, a place, no needs."""
    resident.send("/start")
    resident.press(f"lang:{language}")
    consent = [
        m for m in resident.fake.sent(resident.chat_id) if any(d.startswith("consent:yes") for _l, d in buttons(m))
    ]
    resident.press(button_data(consent, ""))  # the "I agree" button
    if location is not None:
        resident.share_location(*location)
    else:
        assert area_id is not None
        resident.press(f"area:pick:{area_id}")
    resident.press("need:done")


# --- for the journeys' tests: what a chat was sent, quicker chats, the alert pipeline, the room relay queue ---


def sent_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The texts of the messages among what the bot sent (callback answers, venues and the like left out)."""
    return [str(message["text"]) for message in messages if message["method"] == "sendMessage"]


def venues(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in messages if message["method"] == "sendVenue"]


def user_of(resident: Resident) -> Any:
    from accounts.models import User

    return User.objects.get(telegram_chat__chat_id=resident.chat_id)


@contextlib.contextmanager
def bot_against_fake(token: str, redis_url: str) -> Iterator[FakeTelegram]:
    """A fake Bot API server for `token`, the settings pointing the bot at it, and a clean limiter around it."""
    with (
        FakeTelegram(token=token) as server,
        override_settings(
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_API_BASE_URL=server.base_url,
            TELEGRAM_API_FILE_URL=server.base_file_url,
            REDIS_URL=redis_url,
        ),
    ):
        telegram_keys_clear(redis_url)
        bot_reset()
        try:
            yield server
        finally:
            bot_reset()
            telegram_keys_clear(redis_url)


@pytest.fixture(autouse=True)
def _retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns whenever a RetryAfter is made without it


def telegram_keys_clear(url: str) -> None:
    """Forget the rate limiter's buckets and the transport's record of parts sent (ids restart with each run)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter("telegram:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def fast_chats(fake_telegram: FakeTelegram, settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeTelegram:
    """Private chats that take 20 messages a second, on the fake server and in the bot's limiter alike (Telegram
    takes one): for tests whose point is not the pacing, which would otherwise wait a second per message."""
    settings.TELEGRAM_RATE_PER_CHAT = 20.0
    fake_telegram.set_limits(rate_per_chat=20.0, burst_per_chat=20.0)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns whenever a RetryAfter is made without it
    telegram_keys_clear(settings.REDIS_URL)
    bot_reset()  # the limiter reads the rates when the bot is built
    return fake_telegram


@dataclass
class AlertPipeline:
    """Alert dispatches and delivery batches, run by hand: the alert reaches chats through the real telegram
    transport and the fake server."""

    dispatches: list[int] = field(default_factory=list)
    batches: list[tuple[str, list[int]]] = field(default_factory=list)

    def run(self) -> None:
        from alerts.services import dispatch as dispatch_service

        while self.dispatches or self.batches:
            while self.dispatches:
                dispatch_service.alert_dispatch(alert_id=self.dispatches.pop(0))
            while self.batches:
                transport, ids = self.batches.pop(0)
                dispatch_service.deliveries_send(transport_name=transport, delivery_ids=ids)


@pytest.fixture
def alert_pipeline(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> AlertPipeline:
    from alerts import tasks as alert_tasks
    from alerts.services import dispatch as dispatch_service
    from rooms import tasks as rooms_tasks

    pipeline = AlertPipeline()
    telegram_keys_clear(redis_url)

    def enqueue(priority: int, transport: str, ids: list[int], countdown: float = 0.0) -> None:
        pipeline.batches.append((transport, list(ids)))

    monkeypatch.setattr(dispatch_service, "_enqueue", enqueue)
    monkeypatch.setattr(alert_tasks.dispatch, "delay", lambda alert_id: pipeline.dispatches.append(alert_id))
    monkeypatch.setattr(rooms_tasks.alert_announce, "delay", lambda alert_id: None)
    return pipeline


@dataclass
class RelayQueue:
    """Room posts queued for relaying to Telegram (the bots.room_relay task's arguments)."""

    queued: list[tuple[int, int]] = field(default_factory=list)

    def run(self) -> list[Any]:
        from bots.journeys.rooms import room_event_relay

        reports = []
        while self.queued:
            room_id, seq = self.queued.pop(0)
            reports.append(room_event_relay(room_id=room_id, seq=seq))
        return reports


@pytest.fixture
def relay_queue(monkeypatch: pytest.MonkeyPatch) -> RelayQueue:
    queue = RelayQueue()
    monkeypatch.setattr(bot_tasks.room_relay, "delay", lambda room_id, seq: queue.queued.append((room_id, seq)))
    return queue


def tr(text: str, language: str) -> str:
    """The catalogue's translation of a journey's text, which must exist (not fall back to English) outside en."""
    from django.utils import translation

    with translation.override(language):
        translated = translation.gettext(text)
    if language != "en":
        assert translated != text, f"no {language} translation for {text!r}"
    return translated
