"""The three flows of a scaled-out deployment, across processes: what one daphne takes in reaches a person connected
to the other, through Redis (channel layer and broker), PostgreSQL and the Celery workers of separate queues.

Real HTTP requests (HTTP Basic, as API clients sign in) and real WebSocket clients (the `websockets` package, signed
in with a session cookie as a browser is) against daphne `a` and daphne `b` of tests/stack.py.
"""

import asyncio
import re
from typing import Any

import pytest

from accounts.models import Role
from alerts.models import Alert, Delivery, DeliveryState
from rooms import services as room_services
from rooms.models import RoomKind, RoomVisibility
from shelters.models import Shelter
from tests.alerts.factories import alert_api_body, staff_for, web_resident
from tests.factories import UserFactory, grant, make_area_tree, resident_at
from tests.shelters.factories import ShelterFactory, staff
from tests.stack import Stack, basic_auth, http_json, session_cookie, ws_connect, ws_expect

HEADLINE = "Flash flood on the river"
INSTRUCTION = "Move to higher ground."

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-test-password-42"  # UserFactory's


def _wait_for(condition: Any, *, timeout: float = 20.0, what: str) -> Any:
    """Poll the database from the test process until `condition()` is truthy (the work is in other processes)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _tasks(log: str, name: str) -> list[str]:
    """Ids of the tasks called `name` that this worker's log says succeeded."""
    return re.findall(rf"Task {re.escape(name)}\[([0-9a-f-]+)\] succeeded", log)


def test_an_alert_issued_over_http_on_b_reaches_a_resident_connected_to_a_through_the_workers(stack: Stack) -> None:
    tree = make_area_tree()
    team = staff_for(tree)
    resident = web_resident(1, 1)
    outside = web_resident(25, 5)  # in Betatown: not targeted
    drafter = basic_auth(team.drafter.username, PASSWORD)
    approver = basic_auth(team.approver.username, PASSWORD)

    async def scenario(resident_cookie: str, outside_cookie: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        async with (
            await ws_connect(stack.ws_url("a", "/ws/alerts/"), cookie=resident_cookie) as inbox,
            await ws_connect(stack.ws_url("a", "/ws/alerts/"), cookie=outside_cookie) as other,
        ):
            status, created = await asyncio.to_thread(
                http_json,
                "POST",
                stack.http_url("b", "/api/alerts/"),
                alert_api_body(info={"headline": HEADLINE, "instruction": INSTRUCTION}),
                authorization=drafter,
            )
            assert status == 201, created
            alert_id = created["id"]
            status, body = await asyncio.to_thread(
                http_json, "POST", stack.http_url("b", f"/api/alerts/{alert_id}/submit/"), authorization=drafter
            )
            assert status == 200, body
            status, body = await asyncio.to_thread(
                http_json,
                "POST",
                stack.http_url("b", f"/api/alerts/{alert_id}/approve/"),
                {"issue": True},
                authorization=approver,
            )
            assert status == 200, body
            assert body["state"] == "issued"
            frame = await ws_expect(inbox, lambda f: f.get("type") == "alert", what="the alert on daphne a")
            # Whatever reached the outsider by now would have come with the resident's: nothing may.
            stray: list[dict[str, Any]] = []
            try:
                stray.append(await ws_expect(other, lambda f: True, timeout=1.0))
            except AssertionError:
                pass
            return alert_id, frame, stray

    alert_id, frame, stray = asyncio.run(scenario(session_cookie(resident), session_cookie(outside)))

    assert frame["alert_id"] == alert_id
    assert frame["headline"] == HEADLINE
    assert frame["instruction"] == INSTRUCTION
    assert stray == []
    # The delivery the frame names is the resident's websocket delivery, recorded sent by the deliveries worker.
    delivery = _wait_for(
        lambda: Delivery.objects.filter(pk=frame["delivery_id"], state=DeliveryState.SENT).first(),
        what="the delivery to be recorded sent",
    )
    assert (delivery.alert_id, delivery.recipient_id, delivery.transport) == (alert_id, resident.pk, "websocket")
    assert Delivery.objects.filter(alert_id=alert_id).count() == 1
    assert Alert.objects.get(pk=alert_id).targeted_count == 1
    # Targeting ran on the alerts worker, the sending on the deliveries worker, each on its own queues only.
    logs = {name: stack.log(name) for name in stack.families}
    assert len(_tasks(logs["worker-alerts"], "alerts.dispatch")) == 1, stack.log_tail()
    assert len(_tasks(logs["worker-deliveries"], "alerts.send_batch")) >= 1, stack.log_tail()
    for name, log in logs.items():
        if name != "worker-alerts":
            assert not _tasks(log, "alerts.dispatch"), name
        if name != "worker-deliveries":
            assert not _tasks(log, "alerts.send_batch"), name


def test_a_room_post_on_b_reaches_the_participants_connected_to_a(stack: Stack) -> None:
    tree = make_area_tree()
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    residents = [resident_at(2 + n * 0.1, 2, username=f"resident{n}") for n in range(3)]
    room = room_services.room_create(
        actor=host,
        title="Flood town hall",
        kind=RoomKind.TOWN_HALL,
        visibility=RoomVisibility.PUBLIC,
        area=tree.city_a,
        chat_open=True,
        questions_premoderated=False,
    )
    path = f"/ws/rooms/{room.pk}/"

    async def scenario(host_cookie: str, cookies: list[str]) -> tuple[int, int, list[dict[str, Any]]]:
        participants = [await ws_connect(stack.ws_url("a", path), cookie=cookie) for cookie in cookies]
        try:
            for ws in participants:
                await ws_expect(ws, lambda f: f.get("type") == "welcome", what="the welcome on daphne a")
            async with await ws_connect(stack.ws_url("b", path), cookie=host_cookie) as mayor:
                await ws_expect(mayor, lambda f: f.get("type") == "welcome", what="the host's welcome on daphne b")
                await mayor.send(
                    '{"type": "message.post", "kind": "official", "body": "Shelters are open.", "ref": "p1"}'
                )
                ack = await ws_expect(mayor, lambda f: f.get("type") in ("ack", "error"), what="the ack")
                assert ack["type"] == "ack", ack
                message_id = ack["result"]["message_id"]
                # A participant's chat post on b as well: every participant on a gets both, the poster included.
                async with await ws_connect(stack.ws_url("b", path), cookie=cookies[0]) as poster:
                    await ws_expect(poster, lambda f: f.get("type") == "welcome", what="a welcome on daphne b")
                    await poster.send(
                        '{"type": "message.post", "kind": "chat", "body": "We are on our way.", "ref": 1}'
                    )
                    chat_ack = await ws_expect(poster, lambda f: f.get("type") in ("ack", "error"), what="the ack")
                    assert chat_ack["type"] == "ack", chat_ack
                    chat_id = chat_ack["result"]["message_id"]
            received = []
            for ws in participants:
                for wanted in (message_id, chat_id):
                    received.append(
                        await ws_expect(
                            ws,
                            lambda f, wanted=wanted: (
                                f.get("type") == "event"
                                and f.get("event") == "message.posted"
                                and f["data"].get("message_id") == wanted
                            ),
                            what="the post on daphne a",
                        )
                    )
            return message_id, chat_id, received
        finally:
            for ws in participants:
                await ws.close()

    message_id, chat_id, received = asyncio.run(
        scenario(session_cookie(host), [session_cookie(resident) for resident in residents])
    )

    bodies = [(frame["data"]["message_id"], frame["data"]["body"]) for frame in received]
    assert bodies == [(message_id, "Shelters are open."), (chat_id, "We are on our way.")] * len(residents)
    assert [frame["data"]["kind"] for frame in received[:2]] == ["official", "chat"]
    # Both are in the room's record, which daphne a serves over HTTP too.
    status, listed = http_json(
        "GET", stack.http_url("a", f"/api/rooms/{room.pk}/messages/"), authorization=basic_auth("resident1", PASSWORD)
    )
    assert status == 200, listed
    items = listed["results"] if isinstance(listed, dict) else listed
    assert {item["id"] for item in items} >= {message_id, chat_id}


def test_a_check_in_on_b_updates_the_shelter_live_channel_on_a(stack: Stack) -> None:
    tree = make_area_tree()
    shelter = ShelterFactory.create(name="North School", lon=2.0, lat=2.0, capacity=20, status="open")
    manager = staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    resident = UserFactory.create()

    async def scenario(cookie: str) -> tuple[dict[str, Any], dict[str, Any], int, Any]:
        async with await ws_connect(stack.ws_url("a", f"/ws/shelters/{shelter.pk}/"), cookie=cookie) as page:
            first = await ws_expect(page, lambda f: f.get("type") == "shelter.updated", what="the current state")
            status, stay = await asyncio.to_thread(
                http_json,
                "POST",
                stack.http_url("b", f"/api/shelters/{shelter.pk}/check-in/"),
                {"people": 3},
                authorization=basic_auth(manager.username, PASSWORD),
            )
            update = await ws_expect(page, lambda f: f.get("type") == "shelter.updated", what="the check-in")
            return first["shelter"], update["shelter"], status, stay

    first, update, status, stay = asyncio.run(scenario(session_cookie(resident)))

    assert status == 201, stay
    assert (first["id"], first["occupancy"], first["free_places"]) == (shelter.pk, 0, 20)
    assert (update["id"], update["occupancy"], update["free_places"]) == (shelter.pk, 3, 17)
    assert update["version"] > first["version"]
    assert Shelter.objects.get(pk=shelter.pk).occupancy == 3
