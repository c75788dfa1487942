"""What every WebSocket consumer of the project shares: dispatch without a database sweep per message.

Channels' `AsyncConsumer.dispatch` runs `close_old_connections` in a worker thread before EVERY message a
consumer handles, database or not. A town hall's official update is one message to each of thousands of
consumers, so that is thousands of thread hops for handlers that only pick a pre-serialised text and write it
to the socket (bench/townhall.py profiled about 30 % of daphne's time there). Our consumers touch the database
only through `database_sync_to_async`, which closes stale connections itself, in the thread that uses them,
before and after each call: the per-message sweep adds nothing for them.

A frame for a client that has just gone is dropped too. Between the TCP close and the moment daphne marks the
connection disconnected, a group message (a presence count when thousands leave a town hall at once) can still
reach the consumer; daphne's protocol then raises autobahn's `Disconnected` from `send`, which would end the
consumer with "Exception inside application" before it handles its `websocket.disconnect` (group discard,
presence). The frame could not be delivered anyway; the client catches up from the record when it reconnects.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from autobahn.exception import Disconnected  # daphne's WebSocket protocol (daphne requires autobahn)
from channels.consumer import get_handler_name

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _dropping_frames_for_gone_clients(send: Send) -> Send:
    async def guarded(message: dict[str, Any]) -> None:
        try:
            await send(message)
        except Disconnected:
            if message.get("type") != "websocket.send":
                raise
            logger.debug("dropped a frame for a client that had disconnected")

    return guarded


class NoSweepDispatchMixin:
    """Put first in a consumer's bases. Its handlers must reach the database only via database_sync_to_async."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        await super().__call__(scope, receive, _dropping_frames_for_gone_clients(send))  # type: ignore[misc]

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
