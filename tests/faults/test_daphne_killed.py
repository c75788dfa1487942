"""A daphne killed with clients connected: they reconnect to the other daphne and catch up from their last event.

Twenty residents follow a town hall over WebSocket on daphne `a`; the host posts official updates over WebSocket on
daphne `b`, one every POST_INTERVAL seconds. After KILL_AFTER posts, daphne `a` gets SIGKILL (no close frames, no
cleanup: its channel-layer group memberships and presence entries stay behind in Redis) while the host keeps
posting. Each resident's client does what web/static/web/rooms.js does, as docs/rooms.md ("Reconnecting and
catch-up") asks of a client, sent by the load balancer to the daphne left: after live.js's 500 ms first backoff, it
reconnects to `ws/rooms/<id>/?after=<the newest event id it applied>`, and sends `catchup` again while
`catchup.done.more` is true. It applies every `event` frame it receives (rooms.js drops an id it already applied,
which this client counts instead), so an event sent to it twice counts as a duplicate. (rooms.js used to reconnect
without `?after=` and send a `catchup` frame once open; that raced the live events: with 50 posts, 19 of 1,000
arrived twice.)

Targeted: every post made once all residents were connected, times the residents. Delivered: the posts each
resident received at least once.

The second case does the same for the alert inbox (`ws/alerts/`): thirty residents are connected to daphne `a`;
staff issue ALERTS alerts over HTTP on daphne `b`, one every ALERT_INTERVAL seconds, each dispatched by the alerts
worker and sent to all thirty by the deliveries worker through the channel layer; daphne `a` gets SIGKILL right after
the ALERT_KILL_AFTER-th is issued, while its sends are in flight. Each client does what web/static/web/alerts.js
does (docs/alerts.md): it reconnects to the daphne left with `ws/alerts/?after=<the newest delivery id it applied>`
(and `&have=<those below it>`: an older alert's delivery may be sent after a newer one's) and is sent, before
anything live, the deliveries it missed. Targeted: alerts times residents (each resident has one
websocket delivery per alert); delivered: alerts each client received at least once; duplicated: frames of an alert
a client had received already.
"""

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from accounts.models import Role
from alerts.models import Delivery, DeliveryState
from rooms import services as room_services
from rooms.models import RoomKind, RoomVisibility
from tests.alerts.factories import rectangle, staff_for, web_resident
from tests.factories import UserFactory, grant, make_area_tree, resident_at
from tests.faults.report import fault_report
from tests.stack import (
    SKIPPED_FAMILIES,
    Stack,
    basic_auth,
    http_json,
    running_stack,
    session_cookie,
    worker_families,
    ws_connect,
    ws_expect,
)

PARTICIPANTS = 20
POSTS = 40
KILL_AFTER = 12
# The room protocol lets one connection send 5 frames a second after a burst of 30 (rooms/consumers.py).
POST_INTERVAL = 0.1
FIRST_BACKOFF = 0.5  # live.js's first reconnection delay
CATCH_UP_TIMEOUT = 30.0
# The stack's broker and channel layer: a Redis database of this case's own.
REDIS_DB = 12
# The alert inbox case.
INBOXES = 30
ALERTS = 8
ALERT_KILL_AFTER = 3  # daphne a is killed right after issuing this many, while their sends are in flight
ALERT_INTERVAL = 0.3
PASSWORD = "a-test-password-42"  # UserFactory's

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def stack(django_db_blocker: Any, tmp_path: Path) -> Iterator[Stack]:
    """Two daphnes (rooms need no worker: events are published by the daphne that commits them)."""
    yield from _stack(django_db_blocker, tmp_path, with_workers=False)


@pytest.fixture
def stack_with_workers(django_db_blocker: Any, tmp_path: Path) -> Iterator[Stack]:
    """Two daphnes and the workers an alert needs: `alerts` (dispatch) and `deliveries` (the sends)."""
    yield from _stack(django_db_blocker, tmp_path, with_workers=True)


def _stack(django_db_blocker: Any, tmp_path: Path, *, with_workers: bool) -> Iterator[Stack]:
    families = worker_families(skip=(*SKIPPED_FAMILIES, "default")).values() if with_workers else ()
    with running_stack(
        tmp_path / "stack", django_db_blocker, redis_db=REDIS_DB, families=families, lane="faults"
    ) as stack:
        yield stack


@dataclass
class Participant:
    """One resident's client: where it is connected, the highest event id it processed, the posts it applied."""

    cookie: str
    daphne: str = "a"
    last_id: int = 0
    first_welcome: int = 0  # the room's newest event id when this client first connected
    applied: Counter[int] = field(default_factory=Counter)
    connections: list[str] = field(default_factory=list)
    caught_up: int = 0  # events received between a welcome and its catchup.done
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def _read_with_failover(
    stack: Stack,
    client: "Participant | Inbox",
    done: asyncio.Event,
    path: Callable[[], str],
    handle: Callable[[Any, dict[str, Any]], Awaitable[None]],
) -> None:
    """Read frames into `handle` until `done`, reconnecting as live.js does: a refused connection is tried again
    with backoff; after a lost one, the next connection (to `path()`, which says what to catch up) goes to the
    daphne left, as the load balancer takes the dead one out."""
    backoff = FIRST_BACKOFF
    while not done.is_set():
        try:
            ws = await ws_connect(stack.ws_url(client.daphne, path()), cookie=client.cookie)
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
            await asyncio.sleep(backoff * (1 + random.random() / 2))
            backoff = min(backoff * 2, 15)
            continue
        backoff = FIRST_BACKOFF
        client.connections.append(client.daphne)
        try:
            async for raw in ws:
                await handle(ws, json.loads(raw))
                if done.is_set():
                    break
        except ConnectionClosed:
            pass
        finally:
            await ws.close()
        if not done.is_set():
            client.daphne = "b"
            await asyncio.sleep(FIRST_BACKOFF * (1 + random.random() / 2))


async def _follow(stack: Stack, room_id: int, person: Participant, done: asyncio.Event) -> None:
    """Read the room until `done`; on a lost connection, reconnect to the daphne left with ?after=<last id>."""
    state = {"first": True, "catching_up": False}

    def path() -> str:
        return f"/ws/rooms/{room_id}/" + ("" if state["first"] else f"?after={person.last_id}")

    async def handle(ws: Any, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            if state["first"]:
                person.last_id = person.first_welcome = frame["last_event_id"]
            state["catching_up"] = not state["first"]
            state["first"] = False
            person.connected.set()
        elif kind == "event":
            person.last_id = max(person.last_id, frame["id"])
            person.caught_up += state["catching_up"]
            if frame["event"] == "message.posted":
                person.applied[frame["data"]["message_id"]] += 1
        elif kind == "catchup.done":
            state["catching_up"] = False
            if frame["more"]:
                await ws.send(json.dumps({"type": "catchup", "after": person.last_id}))

    await _read_with_failover(stack, person, done, path, handle)


async def _scenario(
    stack: Stack, room_id: int, host_cookie: str, people: list[Participant]
) -> tuple[list[int], int, float]:
    """Post POSTS updates on b, kill a after KILL_AFTER of them; the posted message ids, how many were posted after
    the kill, and how long the slowest client took to have everything once the last post was acknowledged."""
    done = asyncio.Event()
    followers = [asyncio.create_task(_follow(stack, room_id, person, done)) for person in people]
    try:
        await asyncio.wait_for(asyncio.gather(*(person.connected.wait() for person in people)), 30)
        posted: list[int] = []
        killed_at = 0
        async with await ws_connect(stack.ws_url("b", f"/ws/rooms/{room_id}/"), cookie=host_cookie) as host:
            await ws_expect(host, lambda f: f.get("type") == "welcome", what="the host's welcome")
            for n in range(POSTS):
                if n == KILL_AFTER:
                    await asyncio.to_thread(stack.kill, "daphne-a")
                    killed_at = len(posted)
                body = {"type": "message.post", "kind": "official", "body": f"Update {n + 1}", "ref": n}
                await host.send(json.dumps(body))
                ack = await ws_expect(
                    host, lambda f, n=n: f.get("type") in ("ack", "error") and f.get("ref") == n, what="an ack"
                )
                assert ack["type"] == "ack", ack
                posted.append(ack["result"]["message_id"])
                await asyncio.sleep(POST_INTERVAL)
        loop = asyncio.get_running_loop()
        finished = loop.time()
        wanted = set(posted)
        while not all(wanted <= set(person.applied) for person in people):
            if loop.time() - finished > CATCH_UP_TIMEOUT:
                break  # counted as lost below
            await asyncio.sleep(0.1)
        waited = loop.time() - finished
        # Anything still in flight (a repeat) would arrive now: give it the time a live event takes, then stop.
        await asyncio.sleep(0.5)
        return posted, len(posted) - killed_at, waited
    finally:
        done.set()
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


def test_clients_of_a_killed_daphne_reconnect_to_the_other_and_catch_up_without_loss_or_duplicate(
    stack: Stack,
) -> None:
    tree = make_area_tree()
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    residents = [resident_at(1 + (n % 5), 1 + (n // 5), username=f"resident{n}") for n in range(PARTICIPANTS)]
    room = room_services.room_create(
        actor=host,
        title="Flood town hall",
        kind=RoomKind.TOWN_HALL,
        visibility=RoomVisibility.PUBLIC,
        area=tree.city_a,
        chat_open=True,
        questions_premoderated=False,
    )
    host_cookie = session_cookie(host)
    cookies = [session_cookie(resident) for resident in residents]

    async def run() -> tuple[list[Participant], list[int], int, float]:
        people = [Participant(cookie=cookie) for cookie in cookies]
        posted, after_kill, waited = await _scenario(stack, room.pk, host_cookie, people)
        return people, posted, after_kill, waited

    people, posted, after_kill, waited = asyncio.run(run())

    assert not stack.alive("daphne-a")
    wanted = set(posted)
    targeted = len(posted) * len(people)
    delivered = sum(len(wanted & set(person.applied)) for person in people)
    duplicated = sum(count - 1 for person in people for count in person.applied.values() if count > 1)
    strays = sum(1 for person in people for message_id in person.applied if message_id not in wanted)
    moved = sum(1 for person in people if person.connections[:1] == ["a"] and person.connections[-1] == "b")
    caught_up = sum(person.caught_up for person in people)
    fault_report(
        "daphne killed with clients connected (room events)",
        targeted=targeted,
        delivered=delivered,
        lost=targeted - delivered,
        duplicated=duplicated + strays,
        detail=(
            f"{len(people)} clients on daphne a, {len(posted)} posts on b,"
            f" a SIGKILLed after {len(posted) - after_kill};"
            f" {moved} clients moved to b, {caught_up} events caught up from the record,"
            f" all had everything {waited:.1f} s after the last post"
        ),
    )
    # The case proves something only if every client lost its connection and posts went on meanwhile.
    assert moved == len(people), [person.connections for person in people]
    assert after_kill > 0
    assert caught_up > 0

    # Started again (systemd restarts a dead daphne), daphne a serves the room's record to a client that was away.
    stack.restart("daphne-a")

    async def returning() -> list[int]:
        ws = await ws_connect(stack.ws_url("a", f"/ws/rooms/{room.pk}/?after={start}"), cookie=cookies[0])
        async with ws:
            frames: list[int] = []
            while True:
                frame = await ws_expect(ws, lambda f: f.get("type") in ("event", "catchup.done"), what="catch-up")
                if frame["type"] == "catchup.done":
                    return frames
                if frame["event"] == "message.posted":
                    frames.append(frame["data"]["message_id"])

    start = min(person.first_welcome for person in people)
    assert asyncio.run(returning()) == posted


# --- the alert inbox ---


@dataclass
class Inbox:
    """One resident's alerts page: where it is connected, the newest delivery it applied, the frames per alert."""

    cookie: str
    daphne: str = "a"
    last_id: int = 0
    received: Counter[int] = field(default_factory=Counter)  # alert id -> frames received
    deliveries: set[int] = field(default_factory=set)
    connections: list[str] = field(default_factory=list)
    caught_up: int = 0  # alerts received in a catch-up (between connecting and catchup.done)
    errors: list[dict[str, Any]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def _read_inbox(stack: Stack, person: Inbox, done: asyncio.Event) -> None:
    """Read ws/alerts/ until `done`; every connection asks for what came after the newest delivery applied (the page
    was rendered with no alert: 0 at first) and names those below it it has, as alerts.js does; on a lost connection,
    reconnect to the daphne left."""
    catching_up = [True]

    def path() -> str:
        catching_up[0] = True  # each connection starts with its catch-up
        have = sorted(pk for pk in person.deliveries if pk < person.last_id)[-20:]
        return f"/ws/alerts/?after={person.last_id}" + (f"&have={','.join(map(str, have))}" if have else "")

    async def handle(ws: Any, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "alert":
            person.received[frame["alert_id"]] += 1
            person.deliveries.add(frame["delivery_id"])
            person.last_id = max(person.last_id, frame["delivery_id"])
            person.caught_up += catching_up[0]
        elif kind == "catchup.done":
            catching_up[0] = False
            person.connected.set()
        elif kind == "error":
            person.errors.append(frame)

    await _read_with_failover(stack, person, done, path, handle)


def _issue_over_http(stack: Stack, drafter: str, approver: str, n: int) -> int:
    """Draft, submit and approve-and-issue one alert over the API of daphne b, as staff do; its id."""
    body = {
        "infos": [
            {
                "language": "en-US",
                "categories": ["Met"],
                "event": "Flood",
                "urgency": "Immediate",
                "severity": "Severe",
                "certainty": "Observed",
                "headline": f"River level, bulletin {n + 1}",
                "areas": [{"area_desc": "Riverside", "polygons": [rectangle(0.5, 0.5, 7, 7)]}],
            }
        ]
    }
    status, created = http_json("POST", stack.http_url("b", "/api/alerts/"), body, authorization=drafter)
    assert status == 201, created
    alert_id: int = created["id"]
    status, answer = http_json("POST", stack.http_url("b", f"/api/alerts/{alert_id}/submit/"), authorization=drafter)
    assert status == 200, answer
    status, answer = http_json(
        "POST", stack.http_url("b", f"/api/alerts/{alert_id}/approve/"), {"issue": True}, authorization=approver
    )
    assert status == 200, answer
    assert answer["state"] == "issued", answer
    return alert_id


async def _alert_scenario(
    stack: Stack, drafter: str, approver: str, people: list[Inbox]
) -> tuple[list[int], int, float]:
    """Issue ALERTS alerts on b, kill a right after ALERT_KILL_AFTER of them; the alert ids, how many were issued
    after the kill, and how long the slowest client took to have every alert once the last was issued."""
    done = asyncio.Event()
    readers = [asyncio.create_task(_read_inbox(stack, person, done)) for person in people]
    try:
        await asyncio.wait_for(asyncio.gather(*(person.connected.wait() for person in people)), 30)
        issued: list[int] = []
        killed_at = 0
        for n in range(ALERTS):
            issued.append(await asyncio.to_thread(_issue_over_http, stack, drafter, approver, n))
            if n + 1 == ALERT_KILL_AFTER:
                await asyncio.to_thread(stack.kill, "daphne-a")
                killed_at = len(issued)
            await asyncio.sleep(ALERT_INTERVAL)
        loop = asyncio.get_running_loop()
        finished = loop.time()
        wanted = set(issued)
        while not all(wanted <= set(person.received) for person in people):
            if loop.time() - finished > CATCH_UP_TIMEOUT:
                break  # counted as lost below
            await asyncio.sleep(0.1)
        waited = loop.time() - finished
        await asyncio.sleep(0.5)  # a repeat still in flight would arrive now
        return issued, len(issued) - killed_at, waited
    finally:
        done.set()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


@pytest.mark.timeout(60)
def test_alert_inboxes_of_a_killed_daphne_reconnect_to_the_other_and_catch_up_without_loss_or_duplicate(
    stack_with_workers: Stack,
) -> None:
    stack = stack_with_workers
    tree = make_area_tree()
    team = staff_for(tree)
    residents = [web_resident(1 + (n % 6), 1 + (n // 6), username=f"inbox{n}") for n in range(INBOXES)]
    cookies = [session_cookie(resident) for resident in residents]
    drafter = basic_auth(team.drafter.username, PASSWORD)
    approver = basic_auth(team.approver.username, PASSWORD)

    async def run() -> tuple[list[Inbox], list[int], int, float]:
        people = [Inbox(cookie=cookie) for cookie in cookies]
        issued, after_kill, waited = await _alert_scenario(stack, drafter, approver, people)
        return people, issued, after_kill, waited

    people, issued, after_kill, waited = asyncio.run(run())

    assert not stack.alive("daphne-a")
    wanted = set(issued)
    targeted = len(issued) * len(people)
    # Every resident was sent every alert, on the websocket, and every send was recorded.
    websocket = Delivery.objects.filter(alert_id__in=issued, transport="websocket")
    assert websocket.count() == targeted
    assert not websocket.exclude(state=DeliveryState.SENT).exists()
    delivered = sum(len(wanted & set(person.received)) for person in people)
    duplicated = sum(count - 1 for person in people for count in person.received.values() if count > 1)
    strays = sum(1 for person in people for alert_id in person.received if alert_id not in wanted)
    # Each client was sent its own deliveries only.
    own = {
        resident_pk: set(websocket.filter(recipient_id=resident_pk).values_list("pk", flat=True))
        for resident_pk in (resident.pk for resident in residents)
    }
    foreign = sum(len(person.deliveries - own[resident.pk]) for person, resident in zip(people, residents, strict=True))
    moved = sum(1 for person in people if person.connections[:1] == ["a"] and person.connections[-1] == "b")
    caught_up = sum(person.caught_up for person in people)
    fault_report(
        "daphne killed with clients connected (alert inboxes)",
        targeted=targeted,
        delivered=delivered,
        lost=targeted - delivered,
        duplicated=duplicated + strays + foreign,
        detail=(
            f"{len(people)} inboxes on daphne a, {len(issued)} alerts issued on b and sent by the workers,"
            f" a SIGKILLed after {len(issued) - after_kill}; {moved} clients moved to b,"
            f" {caught_up} alerts caught up on reconnecting, all had every alert {waited:.1f} s after the last"
        ),
    )
    assert [person.errors for person in people if person.errors] == []
    # The case proves something only if every client lost its connection and alerts went on meanwhile.
    assert moved == len(people), [person.connections for person in people]
    assert after_kill > 0
    assert caught_up > 0
