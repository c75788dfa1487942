"""What every WebSocket consumer of the project shares: dispatch without a database sweep per message.

Channels' `AsyncConsumer.dispatch` runs `close_old_connections` in a worker thread before EVERY message a
consumer handles, database or not. A town hall's official update is one message to each of thousands of
consumers, so that is thousands of thread hops for handlers that only pick a pre-serialised text and write it
to the socket (bench/townhall.py profiled about 30 % of daphne's time there). Our consumers touch the database
only through `database_sync_to_async`, which closes stale connections itself, in the thread that uses them,
before and after each call: the per-message sweep adds nothing for them.
"""

from typing import Any

from channels.consumer import get_handler_name


class NoSweepDispatchMixin:
    """Put first in a consumer's bases. Its handlers must reach the database only via database_sync_to_async."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
