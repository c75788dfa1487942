"""Websocket transport: to each recipient's open browser sessions, through their Channels group."""

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer
from redis.exceptions import RedisError

from accounts.models import ChannelKind
from alerts import events
from alerts.transports.base import Outcome, Outgoing, Transport

_T = TypeVar("_T")
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()


def _on_process_loop(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run on this process's own event loop, started once in a thread of its own.

    A networked channel layer keeps its connections per event loop. async_to_sync starts a new loop for
    every batch, so every batch opened (and closed) its Redis connections again; one loop for the life of
    the process keeps them.
    """
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():  # first use, or a forked worker process
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="websocket-transport", daemon=True).start()
            _loop_pid = os.getpid()
        loop = _loop
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


class WebsocketTransport(Transport):
    name = "websocket"
    channel_kind = ChannelKind.WEB
    # A task's fixed costs (Celery, a new database session, claiming, recording, the stats push) are paid
    # once per batch: at 200 they took half the time of the sends themselves.
    batch_size = 500
    # Sends in flight at once. Each holds one Redis connection, and the channel layer's pool refuses more
    # than 100 (redis-py's default): all of a batch at once failed every send past the hundredth for a retry.
    concurrency = 50

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            # In-process queues belong to the caller's event loop (tests): send from it, as before.
            results = async_to_sync(self._send_all)(messages)
        else:
            results = _on_process_loop(self._send_all(messages))
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
