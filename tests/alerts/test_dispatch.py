"""Dispatch: deliveries written once per (recipient, transport), sent once, replays change nothing."""

import pytest

from accounts import services as accounts_services
from accounts.models import ChannelKind
from alerts.models import AlertState, Delivery, DeliveryState
from alerts.services import dispatch as dispatch_service
from alerts.services import lifecycle
from tests.alerts.conftest import Broker
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree, UserFactory, resident_at

pytestmark = pytest.mark.django_db


def test_dispatch_reaches_each_resident_inside_once(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    inside = [web_resident(1 + i * 0.1, 1) for i in range(5)]
    web_resident(8, 8)  # in the city, outside the alert's rectangle
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    assert alert.state == AlertState.ISSUED
    assert dispatch_service.alert_dispatch(alert_id=alert.pk) == 5
    assert dispatch_service.alert_dispatch(alert_id=alert.pk) == 0  # replay
    broker.run_batches()
    sent = Delivery.objects.filter(alert=alert, state=DeliveryState.SENT)
    assert sorted(sent.values_list("recipient_id", flat=True)) == sorted(u.pk for u in inside)
    # Replaying a send task changes nothing.
    ids = list(sent.values_list("pk", flat=True))
    report = dispatch_service.deliveries_send(transport_name="websocket", delivery_ids=ids)
    assert report.claimed == 0
    assert Delivery.objects.filter(alert=alert).count() == 5


def test_language_fallback_chain(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    french = web_resident(1, 1, preferred_language="fr")
    spanish = web_resident(1.2, 1, preferred_language="es")
    japanese = web_resident(1.4, 1, preferred_language="ja")
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2, languages=("en-US", "fr-CA", "es")))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    languages = dict(Delivery.objects.filter(alert=alert).values_list("recipient_id", "language"))
    assert languages == {french.pk: "fr-CA", spanish.pk: "es", japanese.pk: "en-US"}


def test_subscribers_and_channels(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    follower = UserFactory.create()
    accounts_services.consent_give(user=follower, purpose="terms", version="1")
    accounts_services.subscription_add(user=follower, area=tree.district_a1)
    accounts_services.channel_identity_link(user=follower, kind=ChannelKind.EMAIL, external_id="f@example.org")
    accounts_services.channel_identity_link(user=follower, kind=ChannelKind.WEB, external_id=f"user:{follower.pk}")
    neighbour = UserFactory.create()  # follows city B only: not reached
    accounts_services.consent_give(user=neighbour, purpose="terms", version="1")
    accounts_services.subscription_add(user=neighbour, area=tree.city_b)
    accounts_services.channel_identity_link(user=neighbour, kind=ChannelKind.WEB, external_id=f"user:{neighbour.pk}")
    no_channel = resident_at(1, 1)  # targeted but unreachable
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    rows = set(Delivery.objects.filter(alert=alert).values_list("recipient_id", "transport"))
    assert rows == {(follower.pk, "email"), (follower.pk, "websocket")}
    alert.refresh_from_db()
    assert alert.targeted_count == 2
    assert no_channel.pk not in {r for r, _ in rows}


def test_update_reaches_earlier_recipients_and_new_ones(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    first = web_resident(1, 1)
    later = web_resident(4, 4)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.run_batches()
    update = lifecycle.alert_followup_draft(
        actor=staff.drafter, alert=alert, msg_type="Update", content=content_over(3, 3, 5, 5)
    )
    lifecycle.alert_submit(actor=staff.drafter, alert=update)
    lifecycle.alert_approve(actor=staff.approver, alert=update, issue=True)
    alert.refresh_from_db()
    assert alert.state == AlertState.UPDATED
    dispatch_service.alert_dispatch(alert_id=update.pk)
    broker.run_batches()
    recipients = set(Delivery.objects.filter(alert=update, state="sent").values_list("recipient_id", flat=True))
    assert recipients == {first.pk, later.pk}
    assert update.references == [f"{alert.sender},{alert.identifier},{alert.sent.isoformat()}"]


@pytest.mark.django_db(transaction=True)
def test_sent_messages_are_recorded_across_a_lost_database_session(
    tree: AreaTree, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database going away after the transport sent (a PostgreSQL restart) must not leave the claim to time
    out: the re-drive would send the message again. The outcome is recorded once the session is back."""
    from django.db import OperationalError

    staff = staff_for(tree)
    person = web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    record = dispatch_service._record
    failures = [OperationalError("server closed the connection unexpectedly")]

    def record_after_a_restart(*args: object, **kwargs: object) -> None:
        if failures:
            raise failures.pop()
        record(*args, **kwargs)  # type: ignore[arg-type] # the arguments deliveries_send gave

    monkeypatch.setattr(dispatch_service, "_record", record_after_a_restart)
    broker.run_batches()
    assert not failures
    delivery = Delivery.objects.get(alert=alert, recipient=person)
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 1)
