"""Websocket transport: to each recipient's open browser sessions, through their Channels group."""

import asyncio
from collections.abc import Iterator, Sequence

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from redis.exceptions import RedisError

from accounts.models import ChannelKind
from alerts import events
from alerts.transports.base import Outcome, Outgoing, Transport


class WebsocketTransport(Transport):
    name = "websocket"
    channel_kind = ChannelKind.WEB
    batch_size = 200
    # Sends in flight at once. Each holds one Redis connection, and the channel layer's pool refuses more
    # than 100 (redis-py's default): all 200 of a batch at once failed half of every batch for a retry.
    concurrency = 50

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        results = async_to_sync(self._send_all)(messages)
        yield results

    async def _send_all(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(message: Outgoing) -> Outcome:
            try:
                async with slots:
                    await events.alert_message_to_user(message.recipient_id, message.delivery_id, message.payload)
            except (OSError, TimeoutError, RedisError, ChannelFull) as exc:
                return Outcome(message.delivery_id, "retry", reason=f"channel layer: {type(exc).__name__}")
            return Outcome(message.delivery_id, "sent")

        return list(await asyncio.gather(*(one(message) for message in messages)))
