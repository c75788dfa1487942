"""The alerts API end to end: drafting, two-person approval, scope checks, reach, stats, replies, bad input."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.models import Alert, AlertState, Delivery, Reply
from alerts.services import dispatch as dispatch_service
from tests.alerts.factories import alert_api_body, staff_for, web_resident
from tests.factories import AreaTree, UserFactory, grant

pytestmark = pytest.mark.django_db


body = alert_api_body


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_two_person_rule_and_issue(tree: AreaTree, django_capture_on_commit_callbacks: Any) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    drafter, approver = client_for(staff.drafter), client_for(staff.approver)
    created = drafter.post("/api/alerts/", body(), format="json")
    assert created.status_code == 201, created.json()
    alert_id = created.json()["id"]
    assert created.json()["state"] == "draft"
    assert drafter.post(f"/api/alerts/{alert_id}/submit/").status_code == 200
    reach = drafter.get(f"/api/alerts/{alert_id}/reach/").json()
    assert reach["recipients"] == 1
    assert reach["by_transport"]["websocket"] == 1
    assert {a["name"] for a in reach["areas"]} == {"Alphaville", "Alpha One"}
    # The drafter cannot approve their own alert, even with the approver role.
    grant(staff.drafter, Role.ALERT_APPROVER, tree.city_a, tree.organisation)
    own = drafter.post(f"/api/alerts/{alert_id}/approve/", {"issue": True}, format="json")
    assert own.status_code == 403
    assert "Two-person rule" in own.json()["detail"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approved = approver.post(f"/api/alerts/{alert_id}/approve/", {"issue": True}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["state"] == "issued"
    assert approved.json()["sent"] is not None
    assert len(callbacks) >= 1  # the dispatch is enqueued after commit
    dispatch_service.alert_dispatch(alert_id=alert_id)
    assert Delivery.objects.filter(alert_id=alert_id, recipient=resident).count() == 1
    stats = approver.get(f"/api/alerts/{alert_id}/stats/").json()
    assert stats["targeted"] == 1
    assert stats["by_state"]["queued"] == 1


def test_drafter_outside_their_area_is_refused(tree: AreaTree) -> None:
    staff = staff_for(tree)
    # Alphaville spans x 0..10; this rectangle reaches into Betatown (x 20..30).
    response = client_for(staff.drafter).post("/api/alerts/", body(5, 1, 25, 2), format="json")
    assert response.status_code == 403
    assert Alert.objects.count() == 0
    # A district drafter cannot approve a city-wide alert.
    district_approver = UserFactory.create()
    grant(district_approver, Role.ALERT_APPROVER, tree.district_a1, tree.organisation)
    alert_id = client_for(staff.drafter).post("/api/alerts/", body(1, 1, 9, 9), format="json").json()["id"]
    client_for(staff.drafter).post(f"/api/alerts/{alert_id}/submit/")
    refused = client_for(district_approver).post(f"/api/alerts/{alert_id}/approve/", {}, format="json")
    assert refused.status_code in (403, 404)
    assert Alert.objects.get(pk=alert_id).state == AlertState.SUBMITTED


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["infos"][0].update(urgency="Soon"), "urgency"),
        (lambda b: b["infos"][0]["areas"][0].update(polygons=[[[0.5, 0.5], [0.5, 2], [2, 2]]]), "polygon"),
        (lambda b: b["infos"][0].update(language="klingon-xx"), "language"),
        (lambda b: b["infos"][0].update(categories=[]), "categories"),
        (lambda b: b.update(infos="nope"), "infos"),
        (lambda b: b["infos"][0]["areas"][0].update(admin_area_ids=[999999]), "admin_area_ids"),
        (lambda b: b["infos"][0]["areas"][0].update(circles=[{"lat": 95, "lon": 0, "radius_km": 1}]), "lat"),
    ],
)
def test_bad_content_is_refused_with_a_reason(tree: AreaTree, mutate: Any, field: str) -> None:
    staff = staff_for(tree)
    payload = body()
    mutate(payload)
    response = client_for(staff.drafter).post("/api/alerts/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in str(response.json())
    assert Alert.objects.count() == 0


def test_unknown_alert_and_resident_access(tree: AreaTree) -> None:
    staff = staff_for(tree)
    resident = web_resident(1, 1)
    assert client_for(staff.drafter).get("/api/alerts/999999/").status_code == 404
    alert_id = client_for(staff.drafter).post("/api/alerts/", body(), format="json").json()["id"]
    # A resident cannot see drafts, nor statistics.
    assert client_for(resident).get(f"/api/alerts/{alert_id}/").status_code == 404
    assert client_for(resident).get(f"/api/alerts/{alert_id}/stats/").status_code == 404


def test_replies_counted_per_area(tree: AreaTree) -> None:
    staff = staff_for(tree)
    safe = web_resident(1, 1)
    helpless = web_resident(1.5, 1.5)
    outsider = web_resident(8, 8)
    drafter, approver = client_for(staff.drafter), client_for(staff.approver)
    alert_id = drafter.post("/api/alerts/", body(), format="json").json()["id"]
    drafter.post(f"/api/alerts/{alert_id}/submit/")
    approver.post(f"/api/alerts/{alert_id}/approve/", {"issue": True}, format="json")
    dispatch_service.alert_dispatch(alert_id=alert_id)
    assert client_for(safe).post(f"/api/alerts/{alert_id}/reply/", {"kind": "safe"}, format="json").status_code == 201
    answer = client_for(helpless).post(
        f"/api/alerts/{alert_id}/reply/",
        {"kind": "need_help", "message": "stuck upstairs", "location": {"type": "Point", "coordinates": [1.5, 1.5]}},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    # Someone the alert was not sent to cannot answer it.
    assert client_for(outsider).post(f"/api/alerts/{alert_id}/reply/", {"kind": "safe"}, format="json").status_code in (
        403,
        404,
    )
    bad = client_for(safe).post(f"/api/alerts/{alert_id}/reply/", {"kind": "maybe"}, format="json")
    assert bad.status_code == 400
    counts = approver.get(f"/api/alerts/{alert_id}/replies/").json()
    assert counts == [
        {"area_id": tree.district_a1.pk, "name": "Alpha One", "level": "district", "safe": 1, "need_help": 1}
    ]
    # Changing one's answer replaces it.
    client_for(helpless).post(f"/api/alerts/{alert_id}/reply/", {"kind": "safe"}, format="json")
    assert Reply.objects.filter(alert_id=alert_id, is_latest=True, kind="safe").count() == 2
    # Individual need-help replies are only for those who may see residents there: approvers may not.
    assert approver.get(f"/api/alerts/{alert_id}/replies/need-help/").json()["results"] == []


def test_someone_the_alert_concerns_only_since_it_was_sent_may_answer_while_it_is_in_force(tree: AreaTree) -> None:
    staff = staff_for(tree)
    drafter, approver = client_for(staff.drafter), client_for(staff.approver)
    alert_id = drafter.post("/api/alerts/", body(), format="json").json()["id"]
    drafter.post(f"/api/alerts/{alert_id}/submit/")
    approver.post(f"/api/alerts/{alert_id}/approve/", {"issue": True}, format="json")
    dispatch_service.alert_dispatch(alert_id=alert_id)
    newcomer = web_resident(1.2, 1.2)  # arrived after the alert went out: no delivery
    answer = client_for(newcomer).post(f"/api/alerts/{alert_id}/reply/", {"kind": "need_help"}, format="json")
    assert answer.status_code == 201, answer.json()
    reply = Reply.objects.get(user=newcomer)
    assert (reply.kind, reply.delivery_id) == ("need_help", None)
    # Once the alert is no longer in force, only those it was sent to may still answer it.
    Alert.objects.filter(pk=alert_id).update(state=AlertState.EXPIRED)
    later = web_resident(1.3, 1.3)
    refused = client_for(later).post(f"/api/alerts/{alert_id}/reply/", {"kind": "safe"}, format="json")
    assert refused.status_code in (403, 404)
    assert not Reply.objects.filter(user=later).exists()
