"""Live occupancy over WebSocket: the current state on connect, every change after the commit, and only to those
who may watch (a shelter: anyone signed in; an area: staff who see shelters there)."""

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from commsplatform.asgi import application
from shelters import events, services
from tests.factories import UserFactory
from tests.shelters.factories import ShelterFactory, staff

ORIGIN = [(b"origin", b"http://localhost")]


async def _open(user: Any, path: str) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _close_connections() -> None:
    """The consumers' database work ran in asgiref's worker thread: close its connection before the test ends."""
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
def test_watchers_get_the_state_then_each_check_in(tree):
    manager = staff("shelter_manager", tree.city_a, tree.organisation)
    resident = UserFactory.create()
    shelter = ShelterFactory.create(capacity=2)

    async def scenario() -> list[dict[str, Any]]:
        watcher, connected, _ = await _open(resident, f"/ws/shelters/{shelter.pk}/")
        staff_view, staff_connected, _ = await _open(manager, f"/ws/shelters/areas/{tree.city_a.pk}/")
        assert connected
        assert staff_connected
        received = [await watcher.receive_json_from(timeout=5), await staff_view.receive_json_from(timeout=5)]
        await sync_to_async(services.shelter_check_in)(actor=manager, shelter=shelter, people=2)
        received += [await watcher.receive_json_from(timeout=5), await staff_view.receive_json_from(timeout=5)]
        await watcher.send_json_to({"type": "check_in"})
        received.append(await watcher.receive_json_from(timeout=5))
        await watcher.disconnect()
        await staff_view.disconnect()
        await _close_connections()
        return received

    initial, initial_staff, update, update_staff, refusal = asyncio.run(scenario())
    assert initial == initial_staff
    assert initial["type"] == "shelter.updated"
    assert (initial["shelter"]["occupancy"], initial["shelter"]["status"]) == (0, "open")
    assert update == update_staff
    assert (update["shelter"]["occupancy"], update["shelter"]["status"]) == (2, "full")
    assert update["shelter"]["version"] > initial["shelter"]["version"]
    assert set(update["shelter"]) == {
        "id",
        "name",
        "status",
        "occupancy",
        "capacity",
        "free_places",
        "version",
        "at",
        "location",
    }
    assert refusal["code"] == "read_only"


@pytest.mark.django_db(transaction=True)
def test_a_refused_check_in_sends_nothing(tree):
    shelter = ShelterFactory.create(capacity=1)
    services.shelter_occupancy_set(actor=None, shelter=shelter, occupancy=1)
    resident = UserFactory.create()

    async def scenario() -> bool:
        watcher, _, _ = await _open(resident, f"/ws/shelters/{shelter.pk}/")
        await watcher.receive_json_from(timeout=5)
        with pytest.raises(services.ShelterFull):
            await sync_to_async(services.shelter_check_in)(actor=resident, shelter=shelter, people=1)
        quiet = await watcher.receive_nothing(timeout=0.5)
        await watcher.disconnect()
        await _close_connections()
        return quiet

    assert asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_who_may_not_watch(tree):
    shelter = ShelterFactory.create()
    resident = UserFactory.create()
    manager_elsewhere = staff("shelter_manager", tree.city_b, tree.organisation)

    async def scenario() -> list[tuple[bool, int | None]]:
        attempts = [
            (AnonymousUser(), f"/ws/shelters/{shelter.pk}/"),
            (resident, "/ws/shelters/999999/"),
            (resident, f"/ws/shelters/areas/{tree.city_a.pk}/"),
            (manager_elsewhere, f"/ws/shelters/areas/{tree.city_a.pk}/"),
        ]
        results = []
        for user, path in attempts:
            _, connected, code = await _open(user, path)
            results.append((connected, code))
        await _close_connections()
        return results

    assert asyncio.run(scenario()) == [(False, 4401), (False, 4404), (False, 4403), (False, 4403)]


def test_group_names_come_from_the_helpers():
    assert events.shelter_group(7) == "shelters.shelter.7"
    assert events.area_group(3) == "shelters.area.3"
