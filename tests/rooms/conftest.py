"""Rooms fixtures: a town hall in Alphaville with its host, a moderator, residents; a WebSocket client helper.

The live tests use real WebSocket consumers through channels' WebsocketCommunicator, on the in-memory channel
layer in the SpatiaLite lane and on the Redis channel layer in the PostGIS lane (TEST_CHANNEL_LAYER=redis).
"""

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.models import Role, User
from commsplatform.asgi import application
from rooms import services
from rooms.models import Room, RoomKind, RoomVisibility
from tests.factories import AreaTree, UserFactory, grant, resident_at

ORIGIN = [(b"origin", b"http://localhost")]


@dataclass
class People:
    host: User
    moderator: User
    speaker: User
    alice: User  # residents of Alphaville
    bob: User
    carol: User
    outsider: User  # lives in Betatown


@pytest.fixture
def people(tree: AreaTree, redis_url: str) -> People:
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    moderator = UserFactory.create(username="moderator")
    grant(moderator, Role.MODERATOR, tree.city_a, tree.organisation)
    speaker = UserFactory.create(username="health-officer")
    grant(speaker, Role.OFFICIAL, tree.city_a, tree.organisation)
    return People(
        host=host,
        moderator=moderator,
        speaker=speaker,
        alice=resident_at(2, 2, username="alice"),
        bob=resident_at(3, 3, username="bob"),
        carol=resident_at(4, 4, username="carol"),
        outsider=resident_at(25, 5, username="outsider"),
    )


def make_room(tree: AreaTree, people: People, **kwargs: Any) -> Room:
    options: dict[str, Any] = {
        "title": "Flood town hall",
        "kind": RoomKind.TOWN_HALL,
        "visibility": RoomVisibility.PUBLIC,
        "area": tree.city_a,
        "chat_open": True,
        "questions_premoderated": False,
    }
    options.update(kwargs)
    return services.room_create(actor=people.host, **options)


@pytest.fixture
def town_hall(tree: AreaTree, people: People) -> Room:
    return make_room(tree, people)


class Client:
    """One person's WebSocket connection to a room, with helpers to act and to wait for frames."""

    def __init__(self, communicator: WebsocketCommunicator, welcome: dict[str, Any]):
        self.ws = communicator
        self.welcome = welcome
        self._ref = 0
        self._kept: list[dict[str, Any]] = []  # frames that arrived while waiting for a reply

    async def frame(self, timeout: float = 5) -> dict[str, Any]:
        if self._kept:
            return self._kept.pop(0)
        return json.loads(await self.ws.receive_from(timeout=timeout))

    async def act(self, frame_type: str, /, **fields: Any) -> dict[str, Any]:
        """Send an action and return its ack or error, keeping the event frames that arrive meanwhile."""
        self._ref += 1
        ref = f"r{self._ref}"
        await self.ws.send_to(text_data=json.dumps({"type": frame_type, "ref": ref, **fields}))
        return await self.reply(ref)

    async def reply(self, ref: Any) -> dict[str, Any]:
        while True:
            frame = json.loads(await self.ws.receive_from(timeout=5))
            if frame.get("ref") == ref and frame["type"] in {"ack", "error", "pong", "presence", "catchup.done"}:
                return frame
            self._kept.append(frame)

    async def event(self, name: str, timeout: float = 5) -> dict[str, Any]:
        """The next event frame of this type, skipping others."""
        while True:
            frame = await self.frame(timeout)
            if frame["type"] == "event" and frame["event"] == name:
                return frame

    async def events_until_quiet(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Every frame until none arrives for `quiet` seconds."""
        # receive_nothing, not a receive that times out: a timed-out receive stops the application.
        frames, self._kept = self._kept, []
        while not await self.ws.receive_nothing(timeout=quiet):
            frames.append(json.loads(await self.ws.receive_from(timeout=5)))
        return frames

    async def close(self) -> None:
        await self.ws.disconnect(timeout=10)


async def connect(user: Any, room: Room, *, after: int | None = None) -> tuple[Client | None, int | None]:
    path = f"/ws/rooms/{room.pk}/" + (f"?after={after}" if after is not None else "")
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=10)
    if not connected:
        return None, code
    welcome = json.loads(await communicator.receive_from(timeout=5))
    assert welcome["type"] == "welcome"
    return Client(communicator, welcome), None


async def join(user: Any, room: Room, **kwargs: Any) -> Client:
    client, code = await connect(user, room, **kwargs)
    assert client is not None, f"connection refused with {code}"
    return client


async def finish(*clients: Client) -> None:
    for client in clients:
        await client.close()
    # The consumers' database work ran in asgiref's worker thread: close its connection before the test ends.
    await sync_to_async(connections.close_all)()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
