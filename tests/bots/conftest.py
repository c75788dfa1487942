"""The bot under test: real python-telegram-bot talking HTTP to the project's fake Bot API server, Redis for the
rate limiter, and a database the handlers' worker thread can see (transactional tests).

`Resident` plays a person in a Telegram chat: each action builds the update Telegram would send, hands it to
the bot (through the webhook view, or as long polling does, through update_receive), processes the queued
update as the Celery task would, and returns what the bot sent to the chat meanwhile.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

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
