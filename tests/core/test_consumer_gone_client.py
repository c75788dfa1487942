"""A frame sent to a client that has just disconnected is dropped; the consumer goes on to handle its disconnect.

daphne's protocol raises autobahn's `Disconnected` from `send` in the moment between the TCP close and its own
"disconnected" mark (bench/townhall.py saw it when 2,000 clients left a town hall at once)."""

import asyncio
from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.generic.websocket import AsyncWebsocketConsumer

from commsplatform.core.consumers import NoSweepDispatchMixin


class _Echo(NoSweepDispatchMixin, AsyncWebsocketConsumer):
    seen: list[str]

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=f"echo {text_data}")
        self.seen.append(f"after send {text_data}")

    async def disconnect(self, code: int) -> None:
        self.seen.append(f"disconnect {code}")


def _run(failure: BaseException) -> tuple[list[str], list[dict[str, Any]]]:
    seen: list[str] = []
    sent: list[dict[str, Any]] = []
    incoming: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "one"},
        {"type": "websocket.disconnect", "code": 1006},
    ]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise failure
        sent.append(message)

    class Echo(_Echo):
        channel_layer_alias = "no-layer"  # no channel layer: only the client's messages

    Echo.seen = seen
    app = Echo.as_asgi()
    scope = {"type": "websocket", "path": "/ws/echo/", "headers": [], "subprotocols": []}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    return seen, sent


def test_a_frame_for_a_gone_client_is_dropped_and_the_disconnect_is_handled():
    seen, sent = _run(Disconnected("Attempt to send on a closed protocol"))
    assert [m["type"] for m in sent] == ["websocket.accept"]
    assert seen == ["after send one", "disconnect 1006"]


def test_other_send_errors_still_end_the_consumer():
    with pytest.raises(RuntimeError, match="boom"):
        _run(RuntimeError("boom"))
