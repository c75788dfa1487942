"""Transports against real receivers: browser sessions over the channel layer, and a local SMTP server."""

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from accounts import services as accounts_services
from accounts.models import ChannelKind
from alerts.models import Delivery, DeliveryState, Reply
from alerts.services import dispatch as dispatch_service
from alerts.services import replies
from commsplatform.asgi import application
from commsplatform.settings.test import redis_channel_layers
from tests.alerts.conftest import Broker
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree, resident_at


async def _connect(user: Any, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
def test_websocket_reaches_every_open_session(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1, preferred_language="fr")
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2, languages=("en-US", "fr")))

    async def scenario() -> list[dict[str, Any]]:
        first = await _connect(resident, "/ws/alerts/")
        second = await _connect(resident, "/ws/alerts/")
        await sync_to_async(dispatch_service.alert_dispatch)(alert_id=alert.pk)
        await sync_to_async(broker.run_batches)()
        received = [await first.receive_json_from(timeout=5), await second.receive_json_from(timeout=5)]
        # The person answers from the browser.
        await first.send_json_to({"type": "reply", "alert_id": alert.pk, "kind": "safe"})
        answer = await first.receive_json_from(timeout=5)
        await first.send_json_to({"type": "reply", "alert_id": "x", "kind": "safe"})
        error = await first.receive_json_from(timeout=5)
        await first.disconnect()
        await second.disconnect()
        return [*received, answer, error]

    first, second, answer, error = asyncio.run(scenario())
    delivery = Delivery.objects.get(alert=alert, recipient=resident)
    assert delivery.state == DeliveryState.SENT
    for message in (first, second):
        assert message["type"] == "alert"
        assert message["delivery_id"] == delivery.pk
        assert message["language"] == "fr"
        assert message["headline"] == "Flood warning (fr)"
    assert answer["type"] == "reply.recorded"
    assert error["type"] == "error"


@pytest.mark.django_db(transaction=True)
def test_staff_follow_stats_live_and_others_are_refused(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    web_resident(1, 1)
    stranger = web_resident(8, 8)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], bool]:
        watcher = await _connect(staff.approver, f"/ws/alerts/{alert.pk}/stats/")
        initial = await watcher.receive_json_from(timeout=5)
        await sync_to_async(dispatch_service.alert_dispatch)(alert_id=alert.pk)
        await sync_to_async(broker.run_batches)()
        latest = initial
        while not await watcher.receive_nothing(timeout=1):
            latest = await watcher.receive_json_from(timeout=5)
        await watcher.disconnect()
        intruder = WebsocketCommunicator(
            application, f"/ws/alerts/{alert.pk}/stats/", headers=[(b"origin", b"http://localhost")]
        )
        intruder.scope["user"] = stranger
        connected, _ = await intruder.connect()
        return initial, latest, connected

    initial, latest, intruder_connected = asyncio.run(scenario())
    assert initial["type"] == "stats"
    assert latest["stats"]["by_state"]["sent"] == 1
    # How far each snapshot got, for a page that receives them out of order.
    assert (initial["stats"]["settled"], latest["stats"]["settled"]) == (0, 1)
    assert datetime.fromisoformat(initial["stats"]["as_of"]) < datetime.fromisoformat(latest["stats"]["as_of"])
    assert not intruder_connected


@pytest.mark.django_db(transaction=True)
def test_staff_hear_answers_counted_after_the_commit(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    first, second = web_resident(1, 1), web_resident(1.2, 1.2)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.run_batches()

    async def scenario() -> list[dict[str, Any]]:
        watcher = await _connect(staff.drafter, f"/ws/alerts/{alert.pk}/stats/")
        await watcher.receive_json_from(timeout=5)
        heard = []
        for person, kind in ((first, "need_help"), (second, "safe"), (first, "safe")):
            await sync_to_async(replies.reply_record)(user=person, alert=alert, kind=kind)
            heard.append(await watcher.receive_json_from(timeout=5))
        await watcher.disconnect()
        return heard

    heard = asyncio.run(scenario())
    assert [frame["type"] for frame in heard] == ["replies"] * 3
    assert [frame["counts"] for frame in heard] == [
        {"need_help": 1, "safe": 0},
        {"need_help": 1, "safe": 1},
        {"need_help": 0, "safe": 2},  # a person's latest answer is the one counted
    ]
    moments = [datetime.fromisoformat(frame["as_of"]) for frame in heard]
    assert moments == sorted(moments)


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_recorded_when_the_channel_layer_is_down(tree: AreaTree, broker: Broker, caplog: Any) -> None:
    staff = staff_for(tree)
    person = web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.run_batches()
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with override_settings(CHANNEL_LAYERS=redis_channel_layers(f"redis://127.0.0.1:{port}/0")):
        reply = replies.reply_record(user=person, alert=alert, kind="need_help")
    assert Reply.objects.get(pk=reply.pk).kind == "need_help"
    assert any("alerts event alert.replies not pushed" in record.getMessage() for record in caplog.records)


class _Inbox:
    def __init__(self, refuse: dict[str, str]) -> None:
        self.messages: list[Any] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox({"gone@example.org": "550 5.1.1 No such user", "busy@example.org": "451 4.3.0 Try later"})
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.mark.django_db
def test_email_sent_refused_and_retried(tree: AreaTree, smtp_server: tuple[_Inbox, int], broker: Broker) -> None:
    inbox, port = smtp_server
    staff = staff_for(tree)
    people = {}
    for address in ("ok@example.org", "gone@example.org", "busy@example.org"):
        person = resident_at(1, 1)
        accounts_services.channel_identity_link(user=person, kind=ChannelKind.EMAIL, external_id=address)
        people[address] = person
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port
    ):
        dispatch_service.alert_dispatch(alert_id=alert.pk)
        transport, ids = broker.batches.pop(0)
        dispatch_service.deliveries_send(transport_name=transport, delivery_ids=ids)
    states = {d.identity.external_id: d for d in Delivery.objects.filter(alert=alert).select_related("identity")}
    assert states["ok@example.org"].state == DeliveryState.SENT
    assert states["gone@example.org"].state == DeliveryState.FAILED
    assert "550" in states["gone@example.org"].failed_reason
    busy = states["busy@example.org"]
    assert busy.state == DeliveryState.QUEUED
    assert busy.next_attempt_at is not None
    assert "451" in busy.failed_reason
    assert broker.batches
    assert broker.batches[0][1] == [busy.pk]
    assert len(inbox.messages) == 1
    message = inbox.messages[0].content.decode()
    assert f"Message-ID: <delivery-{states['ok@example.org'].pk}@" in message
    assert "Flood warning" in message
