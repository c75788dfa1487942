"""The alert lifecycle and the dispatch's rules: states, expiry, retries, re-drive, cancels, templates, mutual aid."""

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import AreaLevel, Role
from alerts.content import AreaContent, Circle
from alerts.models import Alert, AlertState, Delivery, DeliveryState
from alerts.services import dispatch as dispatch_service
from alerts.services import lifecycle
from alerts.transports import registry_clear
from alerts.transports.base import Outcome, Outgoing, Transport
from commsplatform.core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.alerts.conftest import Broker
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.factories import AreaTree, OrganisationFactory, UserFactory, grant

pytestmark = pytest.mark.django_db


def test_states_and_who_may_move_them(tree: AreaTree) -> None:
    staff = staff_for(tree)
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 2, 2))
    with pytest.raises(Conflict):
        lifecycle.alert_approve(actor=staff.approver, alert=alert)  # not submitted yet
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    with pytest.raises(Conflict):
        lifecycle.alert_draft_update(actor=staff.drafter, alert=alert, content=content_over(1, 1, 3, 3))
    with pytest.raises(PermissionDenied):
        lifecycle.alert_approve(actor=staff.drafter, alert=alert)  # a drafter does not approve
    lifecycle.alert_reject(actor=staff.approver, alert=alert, reason="Say which bridge is closed.")
    alert.refresh_from_db()
    assert alert.state == AlertState.DRAFT
    assert alert.rejection_reason == "Say which bridge is closed."
    lifecycle.alert_draft_update(actor=staff.drafter, alert=alert, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    lifecycle.alert_approve(actor=staff.approver, alert=alert)
    alert = lifecycle.alert_issue(actor=staff.approver, alert=alert)
    assert alert.state == AlertState.ISSUED
    assert alert.approved_by == staff.approver
    assert alert.drafted_by == staff.drafter
    with pytest.raises(Conflict):
        lifecycle.alert_draft_delete(actor=staff.drafter, alert=alert)


def test_priority_puts_life_safety_first(tree: AreaTree) -> None:
    staff = staff_for(tree)
    extreme = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 2, 2, severity="Extreme"))
    minor = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 2, 2, severity="Minor"))
    assert extreme.priority == 0
    assert minor.priority > extreme.priority


def test_expired_alert_is_not_issued_and_not_sent(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    web_resident(1, 1)
    stale = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(0.5, 0.5, 2, 2, hours=1))
    Alert.objects.filter(pk=stale.pk).update(expires=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationFailed, match="expired"):
        lifecycle.alert_submit(actor=staff.drafter, alert=stale)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2, hours=1))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    Alert.objects.filter(pk=alert.pk).update(expires=timezone.now() - timedelta(seconds=1))
    broker.run_batches()
    assert list(Delivery.objects.filter(alert=alert).values_list("state", flat=True)) == [DeliveryState.EXPIRED]
    assert lifecycle.alert_expire_due() == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.EXPIRED


def test_cancel_reaches_the_same_people_and_stops_what_is_still_queued(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)  # queued, not yet sent
    cancel = lifecycle.alert_followup_draft(actor=staff.drafter, alert=alert, msg_type="Cancel", note="False alarm")
    assert cancel.msg_type == "Cancel"
    assert cancel.supersedes_id == alert.pk
    lifecycle.alert_submit(actor=staff.drafter, alert=cancel)
    lifecycle.alert_approve(actor=staff.approver, alert=cancel, issue=True)
    dispatch_service.alert_dispatch(alert_id=cancel.pk)
    broker.run_batches()
    states = dict(Delivery.objects.filter(recipient=resident).values_list("alert_id", "state"))
    assert states == {alert.pk: DeliveryState.SUPERSEDED, cancel.pk: DeliveryState.SENT}
    alert.refresh_from_db()
    assert alert.state == AlertState.CANCELLED


class RateLimited(Transport):
    name = "websocket"
    channel_kind = "web"

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        yield [Outcome(m.delivery_id, "retry", reason="429 Too Many Requests", retry_after=120) for m in messages]


@pytest.fixture
def rate_limited() -> Iterator[None]:
    with override_settings(ALERT_TRANSPORTS={"websocket": "tests.alerts.test_lifecycle.RateLimited"}):
        registry_clear()
        yield
    registry_clear()


def test_retry_honours_the_providers_retry_after(tree: AreaTree, broker: Broker, rate_limited: None) -> None:
    staff = staff_for(tree)
    web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    transport, ids = broker.batches.pop(0)
    before = timezone.now()
    dispatch_service.deliveries_send(transport_name=transport, delivery_ids=ids)
    delivery = Delivery.objects.get(alert=alert)
    assert delivery.state == DeliveryState.QUEUED
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= before + timedelta(seconds=120)
    assert delivery.failed_reason == "429 Too Many Requests"
    assert broker.batches == [("websocket", [delivery.pk])]
    # Too early: the re-enqueued batch claims nothing.
    assert dispatch_service.deliveries_send(transport_name="websocket", delivery_ids=[delivery.pk]).claimed == 0


class Flaky(Transport):
    name = "websocket"
    channel_kind = "web"

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        yield [Outcome(m.delivery_id, "retry", reason="502 Bad Gateway") for m in messages]


def test_a_retry_is_never_queued_before_it_is_due(
    tree: AreaTree, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry's task must not arrive before next_attempt_at, or it claims nothing and the delivery waits for the
    re-drive: grouping delays by tenths of a second once rounded 2.04 s down to 2.0 s."""
    staff = staff_for(tree)
    web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    transport, ids = broker.batches.pop(0)
    monkeypatch.setattr(dispatch_service.random, "uniform", lambda low, high: 2.04)
    queued: list[tuple[float, datetime]] = []
    monkeypatch.setattr(
        dispatch_service,
        "_enqueue",
        lambda priority, name, ids, countdown=0.0: queued.append((countdown, timezone.now())),
    )
    with override_settings(ALERT_TRANSPORTS={"websocket": "tests.alerts.test_lifecycle.Flaky"}):
        registry_clear()
        dispatch_service.deliveries_send(transport_name=transport, delivery_ids=ids)
    registry_clear()
    delivery = Delivery.objects.get(alert=alert)
    [(countdown, at)] = queued
    assert delivery.next_attempt_at is not None
    assert at + timedelta(seconds=countdown) >= delivery.next_attempt_at


def test_gives_up_after_the_last_attempt(tree: AreaTree, broker: Broker, rate_limited: None) -> None:
    staff = staff_for(tree)
    web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    Delivery.objects.filter(alert=alert).update(attempts=5)
    broker.run_batches()
    delivery = Delivery.objects.get(alert=alert)
    assert delivery.state == DeliveryState.FAILED
    assert delivery.failed_reason.startswith("gave up after 6 attempts: 429")


def test_redrive_recovers_stale_claims_lost_tasks_and_unfinished_dispatches(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    web_resident(1, 1)
    web_resident(1.5, 1.5)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    broker.batches.clear()  # the tasks are lost
    first, second = Delivery.objects.filter(alert=alert).order_by("pk")
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=first.pk).update(state=DeliveryState.CLAIMED, claimed_at=long_ago, claim_token="x")
    Delivery.objects.filter(pk=second.pk).update(enqueued_at=long_ago)
    unfinished = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    Alert.objects.filter(pk=unfinished.pk).update(issued_at=long_ago)
    report = dispatch_service.deliveries_redrive()
    assert report.reclaimed == 1
    assert report.requeued == 2
    assert unfinished.pk in broker.dispatches
    broker.run_batches()
    assert set(Delivery.objects.filter(alert=alert).values_list("state", flat=True)) == {DeliveryState.SENT}


def test_circles_and_picked_areas_target_residents_inside(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    near = web_resident(3.0, 3.0)  # inside district A1 (0..5)
    far = web_resident(7.0, 7.0)
    content = content_over(0.5, 0.5, 1, 1)
    content.infos[0].areas = [
        AreaContent(area_desc="Around the dam", circles=[Circle(lat=7.0, lon=7.0, radius_km=5)]),
        AreaContent(area_desc="Alpha One", admin_area_ids=[tree.district_a1.pk]),
    ]
    alert = issued_alert(staff, content)
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    assert set(Delivery.objects.filter(alert=alert).values_list("recipient_id", flat=True)) == {near.pk, far.pk}


def test_cap_rules_are_checked_on_drafts(tree: AreaTree) -> None:
    staff = staff_for(tree)
    content = content_over(1, 1, 2, 2)
    content.infos[0].areas[0].polygons = [[(1, 1), (1, 2), (2, 2), (2, 1)]]  # not closed
    with pytest.raises(ValidationFailed) as error:
        lifecycle.alert_draft_create(actor=staff.drafter, content=content)
    assert "polygon-closed" in str(error.value.fields)
    assert Alert.objects.count() == 0


def test_templates_make_drafts_for_their_organisation(tree: AreaTree) -> None:
    staff = staff_for(tree)
    template = lifecycle.alert_template_create(
        actor=staff.drafter,
        organisation=tree.organisation,
        area=tree.city_a,
        name="River flood",
        content=content_over(1, 1, 2, 2),
    )
    draft = lifecycle.alert_draft_from_template(actor=staff.drafter, template=template)
    assert draft.state == AlertState.DRAFT
    assert draft.infos.get().expires is None  # set again when issued
    outsider = UserFactory.create()
    other = OrganisationFactory.create(area=tree.city_b)
    grant(outsider, Role.ALERT_DRAFTER, tree.city_b, other)
    with pytest.raises(PermissionDenied):
        lifecycle.alert_template_create(
            actor=outsider, organisation=tree.organisation, area=tree.city_a, name="x", content=content_over(1, 1, 2, 2)
        )


def test_mutual_aid_agreement_lets_a_neighbour_draft(tree: AreaTree) -> None:
    neighbour_org = OrganisationFactory.create(name="Betatown CP", area=tree.city_b)
    neighbour = UserFactory.create()
    grant(neighbour, Role.ALERT_DRAFTER, tree.city_b, neighbour_org)
    with pytest.raises(PermissionDenied):
        lifecycle.alert_draft_create(actor=neighbour, content=content_over(1, 1, 2, 2))
    now = timezone.now()
    accounts_services.agreement_create(
        actor=None,
        grantor=tree.organisation,
        grantee=neighbour_org,
        data_kinds=["alerting"],
        areas=[tree.city_a],
        purpose="Mutual aid during the flood",
        legal_reference="Civil protection act, art. 12",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=2),
    )
    alert = lifecycle.alert_draft_create(actor=neighbour, content=content_over(1, 1, 2, 2))
    assert alert.drafted_by == neighbour
    assert tree.city_a.level == AreaLevel.CITY


def test_unknown_or_inactive_transport_identity_is_blocked(tree: AreaTree, broker: Broker) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    alert = issued_alert(staff, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    identity = resident.channel_identities.get()
    accounts_services.channel_identity_deactivate(identity=identity, reason="turned off")
    broker.run_batches()
    delivery: Any = Delivery.objects.get(alert=alert)
    assert delivery.state == DeliveryState.BLOCKED


def test_template_of_an_automatic_rule_is_changed_only_by_an_approver(tree: AreaTree) -> None:
    from alerts.models import Sensor, SensorRule

    staff = staff_for(tree)
    template = lifecycle.alert_template_create(
        actor=staff.drafter,
        organisation=tree.organisation,
        area=tree.city_a,
        name="Gauge",
        content=content_over(1, 1, 2, 2),
    )
    sensor = Sensor.objects.create(
        external_id="gauge-1", name="Gauge", kind="river_level", organisation=tree.organisation, area=tree.city_a
    )
    SensorRule.objects.create(
        sensor=sensor, name="High", operator="gte", threshold=3, template=template, automatic=True
    )
    with pytest.raises(PermissionDenied, match="automatic sensor rule"):
        lifecycle.alert_template_update(
            actor=staff.drafter, template=template, name="Gauge", content=content_over(1, 1, 9, 9)
        )
    grant(staff.drafter, Role.ALERT_APPROVER, tree.city_a, tree.organisation)
    lifecycle.alert_template_update(
        actor=staff.drafter, template=template, name="Gauge", content=content_over(1, 1, 9, 9)
    )
