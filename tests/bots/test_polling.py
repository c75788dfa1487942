"""Long polling: python-telegram-bot's Updater pulls updates with getUpdates from the fake server and hands each
to update_receive, as the webhook does; an update Telegram delivers twice is stored and queued once."""

import asyncio
import time

import pytest

from bots.models import TelegramUpdate, UpdateSource
from bots.polling import polling_application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _poll_until(condition, seconds: float = 15.0) -> None:
    async def scenario() -> None:
        application = polling_application()
        async with application:
            assert application.updater is not None
            await application.updater.start_polling(timeout=1, poll_interval=0.0)
            await application.start()
            deadline = time.monotonic() + seconds
            while not await asyncio.to_thread(condition):
                assert time.monotonic() < deadline, "the updates did not arrive"
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # time for anything still in the Application's queue to go through
            await application.updater.stop()
            await application.stop()

    asyncio.run(scenario())


def test_polled_updates_are_stored_and_queued_once(fake_telegram, update_queue):
    fake_telegram.add_chat(7001)
    first = fake_telegram.user_message(7001, "/start", deliver="polling")
    fake_telegram.user_message(7001, "hello", deliver="polling")
    fake_telegram.push_update(dict(first))  # Telegram sends the first one again

    # All three fetched and confirmed (nothing pending at the fake), two stored.
    _poll_until(lambda: not fake_telegram.pending_updates() and TelegramUpdate.objects.count() == 2)

    stored = list(TelegramUpdate.objects.order_by("update_id").values_list("update_id", "source"))
    assert stored == [(first["update_id"], UpdateSource.POLLING), (first["update_id"] + 1, UpdateSource.POLLING)]
    assert update_queue.update_ids == [first["update_id"], first["update_id"] + 1]
    assert TelegramUpdate.objects.get(update_id=first["update_id"]).payload["message"]["text"] == "/start"
