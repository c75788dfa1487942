"""A closing WebSocket cancels its consumer's channel-layer receive; the receive must then end, whenever the
cancellation lands. With a redis-py socket timeout it sometimes did not (asyncio.wait_for on Python 3.11 loses a
cancellation that arrives while a command is written), and the consumer kept popping from Redis forever.

These run against the real Redis with the project's own channel layer configuration (settings.base), whatever
layer the test settings chose."""

import asyncio
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from django.test import override_settings

from commsplatform.settings import base
from rooms import presence

# Cancellation points from "before the first command" to "inside the blocking pop", several times over: on the
# old configuration a receive failed to end within the first few dozen.
DELAYS = [step * 0.0001 for step in range(40)] * 3


async def _stuck_after_cancel(start: Any) -> list[float]:
    """Start an operation, cancel it after each delay, and return the delays after which it did not end."""
    stuck = []
    for delay in DELAYS:
        task = asyncio.ensure_future(start())
        await asyncio.sleep(delay)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=3)
        if not done:
            stuck.append(delay)
            break
    return stuck


@pytest.mark.services
def test_a_cancelled_receive_always_ends(redis_url):
    config: dict[str, Any] = base.CHANNEL_LAYERS["default"]["CONFIG"]  # type: ignore[assignment]
    host = {**config["hosts"][0], "address": redis_url}

    async def scenario() -> list[float]:
        layer = RedisChannelLayer(hosts=[host])

        async def receive() -> Any:
            return await layer.receive(await layer.new_channel())

        try:
            return await _stuck_after_cancel(receive)
        finally:
            await layer.flush()

    assert asyncio.run(scenario()) == []


@pytest.mark.services
def test_a_cancelled_presence_refresh_always_ends(redis_url):
    async def scenario() -> list[float]:
        async def refresh_forever() -> None:
            while True:
                await presence.presence_refresh(1, "specific.test!cancel")

        return await _stuck_after_cancel(refresh_forever)

    with override_settings(REDIS_URL=redis_url):
        assert asyncio.run(scenario()) == []
