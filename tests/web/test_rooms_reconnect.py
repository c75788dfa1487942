"""A room page whose WebSocket is cut gets, on reconnecting, what it missed: each post once and in order.

The page connects through Playwright's WebSocket route, so that the test can cut the connection to the server first
(the page does not notice), post while nobody listens, then cut the page's side: live.js reconnects and rooms.js
names the newest event it applied (`?after=`), as docs/rooms.md asks of a client (tests/faults/test_daphne_killed.py
does the same with a daphne killed under twenty clients).
"""

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from rooms import services
from rooms.models import RoomEvent, RoomKind, RoomVisibility
from tests.factories import UserFactory, grant, resident_at


@pytest.mark.django_db(transaction=True)
def test_a_room_page_that_lost_its_connection_catches_up_once_and_in_order(visit: Any, tree: Any) -> None:
    host = UserFactory.create(username="mayor-reconnect")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    alice = resident_at(2, 2, username="alice-reconnect")
    room = services.room_create(
        actor=host, title="Storm town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.AREA, area=tree.city_a
    )
    connections: list[dict[str, Any]] = []

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        seen: dict[str, Any] = {"url": ws.url, "page": ws, "server": server, "events": [], "sent": []}
        server.on_close(lambda code, reason: None)  # a cut to the server stays unnoticed by the page

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "event":
                seen["events"].append(frame["id"])
            ws.send(message)

        def to_server(message: str | bytes) -> None:
            seen["sent"].append(json.loads(message).get("type"))
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)
        connections.append(seen)

    page = visit(f"/rooms/{room.pk}/", user=alice)
    page.route_web_socket(re.compile(r"/ws/rooms/"), route)
    page.reload()
    live = page.locator("#room-live")
    expect(live).to_have_attribute("data-state", "live")
    official = page.locator('[data-list="official"] [data-field="body"]')

    services.message_post(actor=host, room_id=room.pk, kind="official", body="Update 1")
    expect(official).to_have_text(["Update 1"])
    applied = RoomEvent.objects.filter(room=room).order_by("-seq").values_list("seq", flat=True).first()

    first = connections[-1]
    first["server"].close()  # from now on nothing from the server reaches the page
    services.message_post(actor=host, room_id=room.pk, kind="official", body="Update 2")
    services.message_post(actor=host, room_id=room.pk, kind="official", body="Update 3")
    expect(official).to_have_text(["Update 1"])  # missed while cut off
    first["page"].close(code=4000, reason="cut")

    expect(official).to_have_text(["Update 3", "Update 2", "Update 1"])  # newest first, each once
    expect(live).to_have_attribute("data-state", "live")
    second = connections[-1]
    assert second is not first
    assert second["url"].endswith(f"/ws/rooms/{room.pk}/?after={applied}")
    assert "catchup" not in second["sent"]
    assert len(second["events"]) == len(set(second["events"])) >= 2
    assert second["events"] == sorted(second["events"])
