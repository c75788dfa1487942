"""`ws/alerts/?after=<delivery id>`: a browser that was away gets the alerts sent to it meanwhile, once each."""

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import User
from alerts import events
from alerts.messages import alert_message
from alerts.models import Alert, Delivery, DeliveryState
from alerts.selectors_resident import delivery_catchup_list, delivery_recent_ids
from alerts.services import dispatch as dispatch_service
from alerts.services import lifecycle
from commsplatform.asgi import application
from tests.alerts.conftest import Broker
from tests.alerts.factories import Staff, content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(user: User, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _frames_until_done(communicator: WebsocketCommunicator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        frame = await communicator.receive_json_from(timeout=5)
        if frame["type"] == "catchup.done":
            return frames, frame
        frames.append(frame)


def _sent(staff: Staff, broker: Broker, n: int) -> list[Alert]:
    """n alerts issued and sent (nobody connected), one after another."""
    alerts = []
    for _ in range(n):
        alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2, languages=("en-US", "fr")))
        dispatch_service.alert_dispatch(alert_id=alert.pk)
        broker.run_batches()
        alerts.append(alert)
    return alerts


def _delivery(alert: Alert, person: User) -> Delivery:
    return Delivery.objects.get(alert=alert, recipient=person, transport="websocket")


def test_a_reconnecting_browser_gets_what_was_sent_after_its_last_delivery_and_nobody_elses(
    tree: AreaTree, broker: Broker
) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1, preferred_language="fr")
    neighbour = web_resident(1, 1)
    first, second, third = _sent(staff, broker, 3)
    mine = [_delivery(alert, resident) for alert in (first, second, third)]
    assert all(delivery.state == DeliveryState.SENT for delivery in mine)

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], bool]:
        inbox = await _connect(resident, f"/ws/alerts/?after={mine[0].pk}")
        frames, done = await _frames_until_done(inbox)
        nothing_more = await inbox.receive_nothing(timeout=0.3)
        await inbox.disconnect()
        everything = await _connect(resident, "/ws/alerts/?after=0")
        all_frames, _ = await _frames_until_done(everything)
        await everything.disconnect()
        return frames, done, all_frames, nothing_more

    frames, done, all_frames, nothing_more = asyncio.run(scenario())
    # Oldest first, the same frame the live path sends (alerts/consumers.py), in the person's language.
    assert frames == [
        {"type": "alert", "delivery_id": mine[1].pk, **alert_message(second, "fr")},
        {"type": "alert", "delivery_id": mine[2].pk, **alert_message(third, "fr")},
    ]
    assert frames[0]["headline"] == "Flood warning (fr)"
    assert done == {"type": "catchup.done", "after": mine[0].pk, "sent": 2, "truncated": False}
    assert nothing_more
    assert [frame["delivery_id"] for frame in all_frames] == [delivery.pk for delivery in mine]
    theirs = set(Delivery.objects.filter(recipient=neighbour).values_list("pk", flat=True))
    assert len(theirs) == 3
    assert not theirs & {frame["delivery_id"] for frame in all_frames}


def test_without_after_nothing_is_replayed(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    _sent(staff, broker, 1)

    async def scenario() -> bool:
        inbox = await _connect(resident, "/ws/alerts/")
        quiet = await inbox.receive_nothing(timeout=0.3)
        await inbox.disconnect()
        return quiet

    assert asyncio.run(scenario())


def test_the_catch_up_is_bounded_to_the_newest_and_says_so(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    alerts = _sent(staff, broker, 4)
    ids = [_delivery(alert, resident).pk for alert in alerts]

    frames, truncated = delivery_catchup_list(user=resident, after=0, limit=2)
    assert [frame["delivery_id"] for frame in frames] == ids[2:]
    assert truncated
    frames, truncated = delivery_catchup_list(user=resident, after=ids[1], have=[ids[0]], limit=2)
    assert [frame["delivery_id"] for frame in frames] == ids[2:]
    assert not truncated
    assert delivery_recent_ids(user=resident, limit=3) == ids[:0:-1]
    assert delivery_recent_ids(user=web_resident(1, 1)) == []


def test_only_alerts_a_send_would_still_send_are_caught_up(tree: AreaTree, broker: Broker) -> None:
    """Sent, or claimed (its send may be out already); not queued (its send is still to come, live), not failed, and
    not an alert since cancelled: the live path would not send it now, and its Cancel is an alert of its own."""
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    sent, cancelled = _sent(staff, broker, 2)
    cancel = lifecycle.alert_followup_draft(actor=staff.drafter, alert=cancelled, msg_type="Cancel")
    lifecycle.alert_submit(actor=staff.drafter, alert=cancel)
    lifecycle.alert_approve(actor=staff.approver, alert=cancel, issue=True)
    dispatch_service.alert_dispatch(alert_id=cancel.pk)
    broker.run_batches()
    claimed, queued = (issued_alert(staff, content_over(0.5, 0.5, 2, 2)) for _ in range(2))
    for alert in (claimed, queued):
        dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.batches.clear()  # their tasks have not run
    Delivery.objects.filter(alert=claimed).update(state=DeliveryState.CLAIMED)

    frames, _ = delivery_catchup_list(user=resident, after=0)
    assert [frame["alert_id"] for frame in frames] == [sent.pk, cancel.pk, claimed.pk]
    assert frames[1]["msg_type"] == "Cancel"


def test_an_older_alert_sent_after_a_newer_one_reached_the_browser_is_caught_up_unless_the_browser_has_it(
    tree: AreaTree, broker: Broker
) -> None:
    """Two alerts' batches run side by side: the newer alert's delivery reaches the browser, then its connection
    drops, then the older alert's delivery (a smaller id) is sent. `after` alone would skip it."""
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    older, newer = (issued_alert(staff, content_over(0.5, 0.5, 2, 2)) for _ in range(2))
    for alert in (older, newer):
        dispatch_service.alert_dispatch(alert_id=alert.pk)
    (older_batch, older_ids), (newer_batch, newer_ids) = broker.batches
    broker.batches.clear()
    dispatch_service.deliveries_send(transport_name=newer_batch, delivery_ids=newer_ids)  # the browser applies it
    dispatch_service.deliveries_send(transport_name=older_batch, delivery_ids=older_ids)  # after the drop
    late, applied = _delivery(older, resident), _delivery(newer, resident)
    assert late.pk < applied.pk

    async def scenario(path: str) -> list[int]:
        inbox = await _connect(resident, path)
        frames, _ = await _frames_until_done(inbox)
        await inbox.disconnect()
        return [frame["delivery_id"] for frame in frames]

    assert asyncio.run(scenario(f"/ws/alerts/?after={applied.pk}")) == [late.pk]
    assert asyncio.run(scenario(f"/ws/alerts/?after={applied.pk}&have={late.pk}")) == []
    # Someone else's delivery as `after` opens no window onto the person's own.
    other = web_resident(1, 1)
    assert delivery_catchup_list(user=other, after=applied.pk) == ([], False)


@pytest.mark.parametrize(
    "query",
    [
        "after=-1",
        "after=abc",
        "after=1.5",
        "after=+3",
        "after=%20 4",
        "after=",
        "after=" + "1" * 19,
        "after=١٢",
        "after=3&have=x",
        "after=3&have=1,,2",
        "after=3&have=" + ",".join(["1"] * 51),
    ],
)
def test_a_bad_after_is_answered_with_an_error_and_the_inbox_stays_live(
    tree: AreaTree, broker: Broker, query: str
) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    (alert,) = _sent(staff, broker, 1)
    delivery = _delivery(alert, resident)
    payload = alert_message(alert, "en-US")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        inbox = await _connect(resident, f"/ws/alerts/?{query}")
        error = await inbox.receive_json_from(timeout=5)
        await events.alert_message_to_user(resident.pk, delivery.pk, payload)
        live = await inbox.receive_json_from(timeout=5)
        await inbox.disconnect()
        return error, live

    error, live = asyncio.run(scenario())
    assert error["type"] == "error"
    assert error["code"] == "invalid"
    assert live["type"] == "alert"
    assert live["delivery_id"] == delivery.pk


def test_a_delivery_caught_up_and_then_arriving_live_is_sent_once(tree: AreaTree, broker: Broker) -> None:
    """A worker claimed it and sent it just before the browser joined, or just after: it is in the catch-up, and its
    live copy, queued for the consumer while it was connecting or arriving later, is dropped. Others still pass."""
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    earlier, racing = (issued_alert(staff, content_over(0.5, 0.5, 2, 2)) for _ in range(2))
    for alert in (earlier, racing):
        dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.batches.clear()
    Delivery.objects.filter(alert=racing).update(state=DeliveryState.CLAIMED)
    seen, claimed = _delivery(earlier, resident), _delivery(racing, resident)
    later = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    payload = alert_message(racing, "en-US")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        inbox = await _connect(resident, f"/ws/alerts/?after={seen.pk}")
        caught_up, _ = await _frames_until_done(inbox)
        await events.alert_message_to_user(resident.pk, claimed.pk, payload)
        await sync_to_async(dispatch_service.alert_dispatch)(alert_id=later.pk)
        await sync_to_async(broker.run_batches)()
        live = [await inbox.receive_json_from(timeout=5)]
        if not await inbox.receive_nothing(timeout=0.3):
            live.append(await inbox.receive_json_from(timeout=1))
        await inbox.disconnect()
        return caught_up, live

    caught_up, live = asyncio.run(scenario())
    assert [frame["delivery_id"] for frame in caught_up] == [claimed.pk]
    assert [frame["delivery_id"] for frame in live] == [_delivery(later, resident).pk]
