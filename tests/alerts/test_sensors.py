"""Sensor-triggered drafts: the signed webhook, edge-triggered rules, idempotent readings, the staff API.

A refused delivery must change nothing, so each refusal compares a snapshot of every table it could touch.
"""

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.urls import Resolver404, resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.api.sensor_views import MAX_BODY_BYTES, SensorReadingsWebhookApi
from alerts.content import AlertContent, AreaContent, InfoContent, Pair
from alerts.models import Alert, AlertOrigin, AlertState, AlertTemplate, Sensor, SensorReading, SensorRule
from alerts.services import lifecycle
from alerts.services import sensors as services
from alerts.services.sensors import MAX_READINGS_PER_DELIVERY, ReadingIn, sensor_signature_compute
from commsplatform.core.models import AuditEvent
from tests.alerts.factories import Staff, content_over, staff_for
from tests.factories import AreaTree, OrganisationFactory, UserFactory, grant

SECRET = "a-sensor-secret-for-tests"
WEBHOOK = "/api/alerts/sensors/readings/"


def _real_urls_route_here() -> bool:
    try:
        return getattr(resolve(WEBHOOK).func, "view_class", None) is SensorReadingsWebhookApi
    except Resolver404:
        return False


# Until alerts/api/urls.py includes the sensor routes, reach them through a test URLconf at the same paths.
pytestmark = [] if _real_urls_route_here() else [pytest.mark.urls("tests.alerts.sensor_test_urls")]


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.SENSOR_WEBHOOK_SECRET = SECRET
    settings.SENSOR_WEBHOOK_MAX_SKEW_SECONDS = 300


@pytest.fixture
def staff(tree: AreaTree) -> Staff:
    return staff_for(tree)


@pytest.fixture
def template(tree: AreaTree) -> AlertTemplate:
    return lifecycle.alert_template_create(
        actor=None,
        organisation=tree.organisation,
        area=tree.city_a,
        name="River flood",
        content=content_over(0.5, 0.5, 2, 2, hours=None),
    )


@pytest.fixture
def sensor(tree: AreaTree) -> Sensor:
    return services.sensor_create(
        actor=None,
        external_id="gauge-1",
        name="Riverside gauge",
        kind="river_gauge",
        unit="m",
        organisation=tree.organisation,
        area=tree.city_a,
    )


@pytest.fixture
def rule(sensor: Sensor, template: AlertTemplate) -> SensorRule:
    return services.sensor_rule_create(
        actor=None, sensor=sensor, name="Flood level", operator="gte", threshold=3.0, template=template
    )


def at(minutes_ago: float) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def delivery(*readings: tuple[str, Any, str], sensor: str = "gauge-1") -> dict[str, Any]:
    return {"sensor": sensor, "readings": [{"id": i, "value": v, "measured_at": m} for i, v, m in readings]}


def signed_headers(raw: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "HTTP_X_SENSOR_TIMESTAMP": stamp,
        "HTTP_X_SENSOR_SIGNATURE": sensor_signature_compute(secret=secret, timestamp=stamp, body=raw),
    }


def post_raw(raw: bytes, headers: dict[str, Any], client: APIClient | None = None) -> Any:
    return (client or APIClient()).post(WEBHOOK, data=raw, content_type="application/json", **headers)


def post(body: dict[str, Any], **kwargs: Any) -> Any:
    raw = json.dumps(body).encode()
    return post_raw(raw, signed_headers(raw, **kwargs))


def snapshot() -> tuple[Any, ...]:
    return (
        SensorReading.objects.count(),
        Alert.objects.count(),
        AuditEvent.objects.count(),
        sorted(SensorRule.objects.values_list("pk", "is_crossed", "last_alert_id")),
    )


# The webhook: drafting from a template.


@pytest.mark.django_db
def test_signed_reading_beyond_threshold_drafts_from_the_template(rule: SensorRule) -> None:
    response = post(delivery(("r1", 3.4, at(1))))

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["new"] == ["r1"]
    assert answer["duplicates"] == []
    [crossing] = answer["crossings"]
    alert = Alert.objects.get()
    assert crossing == {"rule": rule.pk, "reading": "r1", "alert": alert.pk, "state": "draft", "error": ""}
    assert alert.state == AlertState.DRAFT
    assert alert.origin == AlertOrigin.SENSOR
    assert alert.organisation_id == rule.sensor.organisation_id
    assert alert.drafted_by is None
    assert alert.infos.get().headline == "Flood warning (en-US)"
    for part in ("Riverside gauge", "gauge-1", "3.4 m", "at or above", "threshold 3 m", "Flood level"):
        assert part in alert.note
    rule.refresh_from_db()
    assert rule.is_crossed
    assert rule.last_alert_id == alert.pk
    assert list(SensorReading.objects.get(reading_id="r1").triggered.all()) == [rule]
    crossed = AuditEvent.objects.get(action="alerts.sensor_threshold_crossed")
    assert crossed.data["alert_id"] == alert.pk
    assert crossed.data["value"] == 3.4
    received = AuditEvent.objects.get(action="alerts.sensor_readings_received")
    assert received.data == {"new": 1, "duplicates": 0, "out_of_order": 0, "crossings": 1}


@pytest.mark.django_db
def test_reading_within_threshold_is_recorded_and_drafts_nothing(rule: SensorRule) -> None:
    response = post(delivery(("r1", 2.9, at(1))))

    assert response.status_code == 200
    assert response.json()["crossings"] == []
    assert SensorReading.objects.count() == 1
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_at_or_below_rule(sensor: Sensor, template: AlertTemplate) -> None:
    services.sensor_rule_create(
        actor=None, sensor=sensor, name="Reservoir low", operator="lte", threshold=1.0, template=template
    )

    post(delivery(("r1", 1.5, at(3)), ("r2", 1.0, at(2)), ("r3", 0.4, at(1))))

    assert Alert.objects.count() == 1
    assert "read 1 m" in Alert.objects.get().note


@pytest.mark.django_db
def test_automatic_rule_issues_at_once(
    rule: SensorRule, staff: Staff, broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    services.sensor_rule_update(actor=staff.approver, rule=rule, automatic=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(delivery(("r1", 3.5, at(1))))

    assert response.status_code == 200
    alert = Alert.objects.get()
    assert response.json()["crossings"][0]["state"] == "issued"
    assert alert.state == AlertState.ISSUED
    assert alert.approved_by is None
    assert alert.issued_by is None
    issued = AuditEvent.objects.get(action="alerts.issued", object_id=str(alert.pk))
    assert f"sensor rule {rule.pk}" in issued.data["reason"]
    assert broker.dispatches == [alert.pk]


# Idempotency: a replay or a duplicate does nothing twice.


@pytest.mark.django_db
def test_replayed_delivery_does_nothing_twice(rule: SensorRule) -> None:
    raw = json.dumps(delivery(("r1", 3.4, at(1)))).encode()
    headers = signed_headers(raw)
    assert post_raw(raw, headers).status_code == 200
    before = snapshot()

    replay = post_raw(raw, headers)

    assert replay.status_code == 200
    assert replay.json()["new"] == []
    assert replay.json()["duplicates"] == ["r1"]
    assert replay.json()["crossings"] == []
    assert snapshot() == before, "a replay writes nothing, not even an audit event"


@pytest.mark.django_db
def test_duplicate_reading_in_a_new_delivery_does_nothing(rule: SensorRule) -> None:
    assert post(delivery(("r1", 3.4, at(2)))).status_code == 200
    post(delivery(("r2", 1.0, at(1))))  # back below: the rule is armed again
    before = snapshot()

    # r1 again, even with another value, is the same reading: it must not re-cross the threshold.
    again = post(delivery(("r1", 9.9, at(0.5)), ("r1", 9.9, at(0.5))))

    assert again.status_code == 200
    assert again.json()["duplicates"] == ["r1", "r1"]
    assert snapshot() == before
    assert SensorReading.objects.get(reading_id="r1").value == 3.4


@pytest.mark.django_db
def test_duplicates_and_new_readings_in_one_delivery(rule: SensorRule) -> None:
    post(delivery(("r1", 1.0, at(3))))

    answer = post(delivery(("r1", 1.0, at(3)), ("r2", 3.2, at(2)), ("r2", 3.2, at(2)))).json()

    assert answer["new"] == ["r2"]
    assert answer["duplicates"] == ["r1", "r2"]
    assert len(answer["crossings"]) == 1


# Edge triggering.


@pytest.mark.django_db
def test_crossing_fires_once_until_the_reading_drops_back(rule: SensorRule) -> None:
    post(delivery(("r1", 3.4, at(10))))
    post(delivery(("r2", 3.9, at(9)), ("r3", 4.5, at(8))))
    assert Alert.objects.count() == 1, "staying above the threshold drafts no second alert"

    post(delivery(("r4", 2.0, at(7))))
    rule.refresh_from_db()
    assert not rule.is_crossed
    assert Alert.objects.count() == 1

    post(delivery(("r5", 3.1, at(6))))
    assert Alert.objects.count() == 2, "crossing again after dropping back drafts again"
    rule.refresh_from_db()
    assert rule.last_alert_id == Alert.objects.order_by("-pk").first().pk


@pytest.mark.django_db
def test_a_delivery_is_evaluated_in_measurement_order(rule: SensorRule) -> None:
    # Sent newest first: rose to 3.5, fell to 2.0, rose to 3.3 — two crossings.
    answer = post(delivery(("c", 3.3, at(1)), ("b", 2.0, at(2)), ("a", 3.5, at(3)))).json()

    assert [c["reading"] for c in answer["crossings"]] == ["a", "c"]
    assert Alert.objects.count() == 2


@pytest.mark.django_db
def test_out_of_order_reading_is_stored_but_changes_no_rule(rule: SensorRule) -> None:
    post(delivery(("late", 2.0, at(1))))

    answer = post(delivery(("early", 5.0, at(10)))).json()

    assert answer["new"] == ["early"]
    assert answer["out_of_order"] == ["early"]
    assert not Alert.objects.exists()
    rule.refresh_from_db()
    assert not rule.is_crossed


@pytest.mark.django_db
def test_inactive_rule_is_not_evaluated_and_starts_fresh_when_switched_back_on(rule: SensorRule) -> None:
    post(delivery(("r1", 3.4, at(5))))
    services.sensor_rule_update(actor=None, rule=rule, is_active=False)
    post(delivery(("r2", 1.0, at(4)), ("r3", 3.6, at(3))))
    assert Alert.objects.count() == 1

    services.sensor_rule_update(actor=None, rule=rule, is_active=True)
    post(delivery(("r4", 3.7, at(2))))

    assert Alert.objects.count() == 2


@pytest.mark.django_db
def test_broken_template_loses_no_reading_and_the_next_reading_tries_again(
    rule: SensorRule, template: AlertTemplate
) -> None:
    good_content = template.content
    AlertTemplate.objects.filter(pk=template.pk).update(content={**good_content, "infos": []})

    answer = post(delivery(("r1", 3.4, at(2)), ("r2", 3.5, at(1.5)))).json()

    assert answer["new"] == ["r1", "r2"]
    [crossing] = answer["crossings"]  # one attempt per delivery
    assert crossing["alert"] is None
    assert crossing["error"].startswith("cap_rule")
    assert not Alert.objects.exists()
    assert AuditEvent.objects.filter(action="alerts.sensor_rule_failed", data__stage="draft").count() == 1
    rule.refresh_from_db()
    assert not rule.is_crossed

    AlertTemplate.objects.filter(pk=template.pk).update(content=good_content)
    post(delivery(("r3", 3.6, at(1))))
    assert Alert.objects.count() == 1


@pytest.mark.django_db
def test_automatic_rule_whose_alert_cannot_be_issued_leaves_a_draft(tree: AreaTree, sensor: Sensor) -> None:
    # Only a foreign geocode: a draft is allowed, but it has no geometry to issue to.
    content = AlertContent(
        infos=[
            InfoContent(
                event="Flood",
                urgency="Expected",
                severity="Severe",
                certainty="Likely",
                categories=["Met"],
                areas=[AreaContent(area_desc="Somewhere", geocodes=[Pair("EMMA_ID", "XX000")])],
            )
        ]
    )
    template = lifecycle.alert_template_create(
        actor=None, organisation=tree.organisation, area=tree.city_a, name="Geocoded", content=content
    )
    services.sensor_rule_create(
        actor=None, sensor=sensor, name="Auto", operator="gte", threshold=1.0, template=template, automatic=True
    )

    answer = post(delivery(("r1", 2.0, at(1)))).json()

    assert answer["crossings"][0]["state"] == "draft"
    assert answer["crossings"][0]["error"].startswith("no_geometry")
    assert Alert.objects.get().state == AlertState.DRAFT
    assert AuditEvent.objects.filter(action="alerts.sensor_rule_failed", data__stage="issue").count() == 1


# Refusals: a specific status and message, and nothing written.


REFUSALS: dict[str, tuple[Any, str]] = {
    # name: (how to make (raw body, headers) from a good body and the time now, expected code)
    "unsigned": (lambda good, now: (good, {}), "signature_missing"),
    "wrong secret": (lambda good, now: (good, signed_headers(good, secret="not-the-secret")), "bad_signature"),
    "malformed signature": (
        lambda good, now: (good, {**signed_headers(good), "HTTP_X_SENSOR_SIGNATURE": "md5=abc"}),
        "bad_signature",
    ),
    "body changed after signing": (
        lambda good, now: (good.replace(b"3.4", b"9.4"), signed_headers(good)),
        "bad_signature",
    ),
    "expired timestamp": (lambda good, now: (good, signed_headers(good, timestamp=now - 301)), "stale_timestamp"),
    "timestamp from the future": (
        lambda good, now: (good, signed_headers(good, timestamp=now + 301)),
        "stale_timestamp",
    ),
    "timestamp not a number": (
        lambda good, now: (good, {**signed_headers(good), "HTTP_X_SENSOR_TIMESTAMP": "soon"}),
        "bad_timestamp",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(REFUSALS))
def test_bad_signatures_are_refused(rule: SensorRule, name: str) -> None:
    make, code = REFUSALS[name]
    raw, headers = make(json.dumps(delivery(("r1", 3.4, at(1)))).encode(), int(time.time()))
    before = snapshot()

    response = post_raw(raw, headers)

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert "X-Sensor-Signature" in response.headers["WWW-Authenticate"]
    assert snapshot() == before


@pytest.mark.django_db
def test_no_secret_configured_refuses_every_delivery(rule: SensorRule, settings: Any) -> None:
    raw = json.dumps(delivery(("r1", 3.4, at(1)))).encode()
    headers = signed_headers(raw, secret="")
    settings.SENSOR_WEBHOOK_SECRET = ""
    before = snapshot()

    response = post_raw(raw, headers)

    assert response.status_code == 503
    assert "SENSOR_WEBHOOK_SECRET" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        (delivery(("r1", 3.4, "2026-05-01T06:30:00+02:00"), sensor="no-such-gauge"), 404, "no-such-gauge"),
        ({"readings": [{"id": "r1", "value": 1, "measured_at": "2026-05-01T06:30:00Z"}]}, 400, "sensor"),
        ({"sensor": "gauge-1", "readings": []}, 400, "readings"),
        ({"sensor": "gauge-1", "readings": "3.4"}, 400, "readings"),
        (delivery(("r1", "high", "2026-05-01T06:30:00Z")), 400, "value"),
        (delivery(("r1", True, "2026-05-01T06:30:00Z")), 400, "value"),
        (delivery(("r1", 3.4, "yesterday")), 400, "measured_at"),
        (delivery(("r1", 3.4, "2026-05-01T06:30:00")), 400, "offset"),
        (delivery(("", 3.4, "2026-05-01T06:30:00Z")), 400, "id"),
        (delivery(("x" * 129, 3.4, "2026-05-01T06:30:00Z")), 400, "id"),
    ],
)
def test_malformed_or_unknown_deliveries_are_refused(rule: SensorRule, body: Any, status: int, where: str) -> None:
    before = snapshot()

    response = post(body)

    assert response.status_code == status, response.json()
    assert where in json.dumps(response.json())
    assert snapshot() == before


@pytest.mark.django_db
def test_malformed_json_is_refused(rule: SensorRule) -> None:
    before = snapshot()
    for raw in (b'{"sensor": "gauge-1", "readings": [', b'{"sensor": "gauge-1", "readings": [{"value": NaN}]}'):
        response = post_raw(raw, signed_headers(raw))
        assert response.status_code == 400
        assert "JSON" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.django_db
def test_reading_from_the_future_refuses_the_whole_delivery(rule: SensorRule) -> None:
    before = snapshot()
    future = (timezone.now() + timedelta(seconds=400)).isoformat()

    response = post(delivery(("ok", 3.4, at(1)), ("future", 3.4, future)))

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "readings[1].measured_at": "measured_at is in the future (beyond the allowed skew)."
    }
    assert snapshot() == before


@pytest.mark.django_db
def test_inactive_sensor_is_a_conflict(rule: SensorRule, sensor: Sensor) -> None:
    services.sensor_update(actor=None, sensor=sensor, is_active=False)
    before = snapshot()

    response = post(delivery(("r1", 3.4, at(1))))

    assert response.status_code == 409
    assert response.json()["code"] == "sensor_inactive"
    assert snapshot() == before


@pytest.mark.django_db
def test_huge_batches_are_refused(rule: SensorRule) -> None:
    before = snapshot()
    readings = [(f"r{n}", 1.0, at(1)) for n in range(MAX_READINGS_PER_DELIVERY + 1)]

    too_many = post(delivery(*readings))
    raw = json.dumps(delivery(("r1", 1.0, at(1)))).encode() + b" " * MAX_BODY_BYTES
    too_large = post_raw(raw, signed_headers(raw))

    assert too_many.status_code == 400
    assert f"no more than {MAX_READINGS_PER_DELIVERY}" in json.dumps(too_many.json()["readings"])
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "too_large"
    assert snapshot() == before
    # The largest batch allowed goes through.
    assert post(delivery(*readings[:MAX_READINGS_PER_DELIVERY])).status_code == 200
    assert SensorReading.objects.count() == MAX_READINGS_PER_DELIVERY


# Concurrency: the same reading delivered at once from several connections drafts exactly one alert.


def _post_concurrently(bodies: list[bytes]) -> list[Any]:
    responses: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(bodies))

    def worker(raw: bytes) -> None:
        try:
            headers = signed_headers(raw)
            barrier.wait(timeout=10)
            responses.append(post_raw(raw, headers))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(raw,)) for raw in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    return responses


@pytest.mark.django_db(transaction=True)
def test_same_reading_delivered_concurrently_drafts_one_alert(tree: AreaTree, rule: SensorRule) -> None:
    raw = json.dumps(delivery(("r1", 3.4, at(1)))).encode()

    responses = _post_concurrently([raw] * 6)

    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(len(r.json()["new"]) for r in responses) == [0, 0, 0, 0, 0, 1]
    assert SensorReading.objects.count() == 1
    assert Alert.objects.count() == 1
    assert AuditEvent.objects.filter(action="alerts.sensor_threshold_crossed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_different_readings_crossing_concurrently_draft_one_alert(tree: AreaTree, rule: SensorRule) -> None:
    bodies = [json.dumps(delivery((f"r{n}", 3.4 + n / 10, at(1)))).encode() for n in range(6)]

    responses = _post_concurrently(bodies)

    assert [r.status_code for r in responses] == [200] * 6
    assert SensorReading.objects.count() == 6
    assert Alert.objects.count() == 1, "the rule's row lock lets one delivery cross; the others find it crossed"


# The service on its own.


@pytest.mark.django_db
def test_service_refuses_a_naive_time_and_an_infinite_value(sensor: Sensor) -> None:
    naive = datetime(2026, 5, 1, 6, 30)  # the point of the test: no offset
    with pytest.raises(services.ValidationFailed) as refused:
        services.sensor_readings_record(
            sensor=sensor,
            readings=[ReadingIn("a", 1.0, naive), ReadingIn("b", float("inf"), timezone.now())],
        )
    assert set(refused.value.fields) == {"readings[0].measured_at", "readings[1].value"}
    assert not SensorReading.objects.exists()


# The staff API.


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def sensor_body(tree: AreaTree, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": "rain-7",
        "name": "Hill rain gauge",
        "kind": "rain_gauge",
        "unit": "mm/h",
        "location": {"type": "Point", "coordinates": [1.5, 1.5]},
        "organisation": tree.organisation.pk,
        "area": tree.district_a1.pk,
        **extra,
    }


@pytest.mark.django_db
def test_drafter_manages_sensors_and_rules_of_their_area(tree: AreaTree, staff: Staff, template: AlertTemplate):
    drafter = client_for(staff.drafter)

    created = drafter.post("/api/alerts/sensors/", sensor_body(tree), format="json")
    assert created.status_code == 201, created.json()
    sensor_id = created.json()["id"]
    assert created.json()["location"]["coordinates"] == [1.5, 1.5]
    assert [s["id"] for s in drafter.get("/api/alerts/sensors/").json()["results"]] == [sensor_id]

    renamed = drafter.patch(f"/api/alerts/sensors/{sensor_id}/", {"name": "Hill gauge", "location": None}, "json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Hill gauge"
    assert renamed.json()["location"] is None

    rule_body = {"name": "Cloudburst", "operator": "gte", "threshold": 50, "template": template.pk}
    rule = drafter.post(f"/api/alerts/sensors/{sensor_id}/rules/", rule_body, format="json")
    assert rule.status_code == 201, rule.json()
    assert rule.json()["automatic"] is False
    rule_id = rule.json()["id"]
    assert [r["id"] for r in drafter.get(f"/api/alerts/sensors/{sensor_id}/rules/").json()["results"]] == [rule_id]
    changed = drafter.patch(f"/api/alerts/sensor-rules/{rule_id}/", {"threshold": 40}, format="json")
    assert changed.status_code == 200
    assert changed.json()["threshold"] == 40

    assert drafter.delete(f"/api/alerts/sensor-rules/{rule_id}/").status_code == 204
    assert drafter.delete(f"/api/alerts/sensors/{sensor_id}/").status_code == 204
    assert not Sensor.objects.exists()
    actions = set(AuditEvent.objects.filter(actor_id=staff.drafter.pk).values_list("action", flat=True))
    assert {
        "alerts.sensor_created",
        "alerts.sensor_updated",
        "alerts.sensor_rule_created",
        "alerts.sensor_rule_updated",
        "alerts.sensor_rule_deleted",
        "alerts.sensor_deleted",
    } <= actions


@pytest.mark.django_db
def test_staff_elsewhere_cannot_see_that_a_sensor_exists(tree: AreaTree, rule: SensorRule, sensor: Sensor):
    other_area = UserFactory.create()
    grant(other_area, Role.ALERT_DRAFTER, tree.city_b, tree.organisation)
    other_organisation = UserFactory.create()
    grant(other_organisation, Role.ALERT_DRAFTER, tree.city_a, OrganisationFactory.create(name="Water board"))
    resident = UserFactory.create()
    grant(resident, Role.RESIDENT, tree.city_a, tree.organisation)

    for user in (other_area, other_organisation, resident):
        client = client_for(user)
        assert client.get("/api/alerts/sensors/").json()["results"] == []
        for url in (
            f"/api/alerts/sensors/{sensor.pk}/",
            f"/api/alerts/sensors/{sensor.pk}/rules/",
            f"/api/alerts/sensors/{sensor.pk}/readings/",
            f"/api/alerts/sensor-rules/{rule.pk}/",
        ):
            assert client.get(url).status_code == 404, url
        assert client.patch(f"/api/alerts/sensors/{sensor.pk}/", {"name": "x"}, format="json").status_code == 404
        assert client.delete(f"/api/alerts/sensor-rules/{rule.pk}/").status_code == 404
    assert Sensor.objects.get().name == "Riverside gauge"


@pytest.mark.django_db
def test_sensor_outside_ones_area_or_organisation_cannot_be_created(tree: AreaTree, staff: Staff):
    drafter = client_for(staff.drafter)
    water_board = OrganisationFactory.create(name="Water board")
    before = snapshot()

    elsewhere = drafter.post("/api/alerts/sensors/", sensor_body(tree, area=tree.city_b.pk), format="json")
    other_org = drafter.post("/api/alerts/sensors/", sensor_body(tree, organisation=water_board.pk), format="json")
    approver_only = client_for(staff.approver).post("/api/alerts/sensors/", sensor_body(tree), format="json")

    assert elsewhere.status_code == 403
    assert "Betatown" in elsewhere.json()["detail"]
    assert other_org.status_code == 403
    assert approver_only.status_code == 403
    assert snapshot() == before


@pytest.mark.django_db
def test_only_an_approver_makes_a_rule_automatic(tree: AreaTree, staff: Staff, rule: SensorRule, template):
    drafter, approver = client_for(staff.drafter), client_for(staff.approver)
    url = f"/api/alerts/sensor-rules/{rule.pk}/"
    rules_url = f"/api/alerts/sensors/{rule.sensor_id}/rules/"
    body = {"name": "Auto", "operator": "gte", "threshold": 4, "template": template.pk, "automatic": True}

    assert drafter.patch(url, {"automatic": True}, format="json").status_code == 403
    assert drafter.post(rules_url, body, format="json").status_code == 403
    assert approver.patch(url, {"threshold": 3.5}, format="json").status_code == 403, "approvers do not draft"

    made = approver.patch(url, {"automatic": True}, format="json")
    assert made.status_code == 200, made.json()
    assert made.json()["automatic"] is True
    consent = AuditEvent.objects.filter(action="alerts.sensor_rule_updated").latest("seq")
    assert consent.actor_id == staff.approver.pk
    assert consent.data["automatic"] is True
    assert consent.data["fields"] == ["automatic"]

    # What an automatic rule issues is what the approver agreed to: a drafter cannot change it...
    assert drafter.patch(url, {"threshold": 2}, format="json").status_code == 403
    assert drafter.patch(url, {"is_active": True, "threshold": 2}, format="json").status_code == 403
    # ...but may rename it, or take the automatic issuing away (that only adds a person).
    assert drafter.patch(url, {"name": "Flood level (auto)"}, format="json").status_code == 200
    assert drafter.patch(url, {"automatic": False}, format="json").status_code == 200
    rule.refresh_from_db()
    assert (rule.threshold, rule.automatic) == (3.0, False)

    # Someone holding both roles may create an automatic rule in one step.
    grant(staff.approver, Role.ALERT_DRAFTER, tree.city_a, tree.organisation)
    assert approver.post(rules_url, body, format="json").status_code == 201


@pytest.mark.django_db
def test_rule_template_must_be_of_the_sensors_organisation(tree: AreaTree, staff: Staff, sensor: Sensor):
    water_board = OrganisationFactory.create(name="Water board")
    foreign = lifecycle.alert_template_create(
        actor=None, organisation=water_board, area=tree.city_a, name="Theirs", content=content_over(1, 1, 2, 2)
    )
    before = snapshot()

    response = client_for(staff.drafter).post(
        f"/api/alerts/sensors/{sensor.pk}/rules/",
        {"name": "x", "operator": "gte", "threshold": 1, "template": foreign.pk},
        format="json",
    )

    assert response.status_code == 400
    assert "template" in response.json()
    assert snapshot() == before
    with pytest.raises(services.ValidationFailed):
        services.sensor_rule_create(actor=None, sensor=sensor, name="x", operator="gte", threshold=1, template=foreign)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "has space"}, "external_id"),
        ({"location": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}, "location"),
        ({"area": 999999}, "area"),
        ({"name": ""}, "name"),
    ],
)
def test_sensor_field_errors_are_specific(tree: AreaTree, staff: Staff, body: dict[str, Any], field: str):
    before = snapshot()
    response = client_for(staff.drafter).post("/api/alerts/sensors/", sensor_body(tree, **body), format="json")
    assert response.status_code == 400
    assert field in json.dumps(response.json())
    assert snapshot() == before


@pytest.mark.django_db
def test_duplicate_external_id_is_a_conflict(tree: AreaTree, staff: Staff, sensor: Sensor):
    response = client_for(staff.drafter).post(
        "/api/alerts/sensors/", sensor_body(tree, external_id="gauge-1"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["fields"] == {"external_id": "duplicate"}


@pytest.mark.django_db
def test_what_is_on_record_stays(staff: Staff, rule: SensorRule, sensor: Sensor):
    post(delivery(("r1", 3.4, at(1))))
    drafter = client_for(staff.drafter)

    assert drafter.delete(f"/api/alerts/sensor-rules/{rule.pk}/").status_code == 409
    assert drafter.delete(f"/api/alerts/sensors/{sensor.pk}/").status_code == 409
    assert drafter.patch(f"/api/alerts/sensors/{sensor.pk}/", {"is_active": False}, format="json").status_code == 200
    assert SensorRule.objects.filter(pk=rule.pk).exists()


@pytest.mark.django_db
def test_readings_are_listed_newest_first_and_paginated(staff: Staff, rule: SensorRule, sensor: Sensor):
    post(delivery(*[(f"r{n}", 2.0 + n / 2, at(10 - n)) for n in range(5)]))

    page = client_for(staff.approver).get(f"/api/alerts/sensors/{sensor.pk}/readings/?limit=2").json()

    assert page["count"] == 5
    assert [r["reading_id"] for r in page["results"]] == ["r4", "r3"]
    assert page["next"]
    crossing = client_for(staff.approver).get(f"/api/alerts/sensors/{sensor.pk}/readings/?offset=2&limit=1")
    assert crossing.json()["results"][0]["triggered"] == [rule.pk]


@pytest.mark.django_db
def test_anonymous_callers_get_nothing(sensor: Sensor, rule: SensorRule):
    api = APIClient()
    for url in ("/api/alerts/sensors/", f"/api/alerts/sensors/{sensor.pk}/", f"/api/alerts/sensor-rules/{rule.pk}/"):
        assert api.get(url).status_code == 401


def test_sensor_endpoints_are_in_a_valid_openapi_schema() -> None:
    from django.urls import include, path

    schema = SchemaGenerator(patterns=[path("api/alerts/", include("alerts.api.sensor_urls"))]).get_schema(
        request=None, public=True
    )
    validate_schema(schema)
    webhook = schema["paths"]["/api/alerts/sensors/readings/"]["post"]
    assert webhook["security"] == [{"sensorSignature": []}]
    assert set(webhook["responses"]) >= {"200", "400", "401", "404", "409", "413", "503"}
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/alerts/sensor-rules/{rule_id}/"])
