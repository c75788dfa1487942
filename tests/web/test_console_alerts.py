"""The console's alert pages through Django's test client: who may open them, the composer's validation (bad input
is a 400 with a message and writes nothing), the two-person rule and the area a drafter covers."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from alerts.models import Alert, AlertState
from alerts.services import lifecycle
from commsplatform.core.models import AuditEvent
from tests.alerts.factories import content_over, staff_for
from tests.factories import UserFactory, grant, make_area_tree, resident_at

pytestmark = pytest.mark.django_db


def polygon(x0: float, y0: float, x1: float, y1: float) -> str:
    """A drawn rectangle as the composer's hidden input holds it: GeoJSON, longitude first."""
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def composer_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "info_language": ["en", "fr"],
        "info_headline": ["Flood warning", ""],
        "info_event": ["Flood", ""],
        "info_description": ["The river is rising.", ""],
        "info_instruction": ["Move to higher ground.", ""],
        "category": "Met",
        "severity": "Severe",
        "urgency": "Expected",
        "certainty": "Likely",
        "area_desc": "Riverside",
        "polygons": polygon(1, 1, 3, 3),
        "circles": "",
        "note": "",
        "action": "save",
    }
    data.update(overrides)
    return data


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


@pytest.fixture
def tree():
    return make_area_tree()


@pytest.fixture
def staff(tree):
    return staff_for(tree)


def test_a_resident_is_refused_every_console_alert_page(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    client = client_for(resident_at(2, 2))
    for name, args in (
        ("web:console-alerts", []),
        ("web:console-alert-new", []),
        ("web:console-alert", [alert.pk]),
        ("web:console-alert-edit", [alert.pk]),
        ("web:console-alert-reach", [alert.pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == 403, name
    response = client.post(reverse("web:console-alert-new"), composer_post())
    assert response.status_code == 403
    assert Alert.objects.count() == 1


def test_the_list_shows_drafts_and_the_approval_queue(tree, staff):
    draft = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    submitted = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 2, 2))
    lifecycle.alert_submit(actor=staff.drafter, alert=submitted)
    page = client_for(staff.approver).get(reverse("web:console-alerts")).content.decode()
    queue = page.split('id="queue"')[1].split("</section>")[0]
    drafts = page.split('id="drafts"')[1].split("</section>")[0]
    assert reverse("web:console-alert", args=[submitted.pk]) in queue
    assert reverse("web:console-alert", args=[draft.pk]) in drafts


def test_a_drawn_polygon_is_saved_as_a_cap_ring_and_the_reach_counted(tree, staff):
    resident_at(2, 2)
    client = client_for(staff.drafter)
    response = client.post(reverse("web:console-alert-new"), composer_post(action="reach"))
    assert response.status_code == 200
    assert 'data-people="1"' in response.content.decode()
    alert = Alert.objects.get()
    area = alert.infos.get().areas.get()
    assert area.polygons == [[[1, 1], [1, 3], [3, 3], [3, 1], [1, 1]]]
    assert alert.state == AlertState.DRAFT
    assert list(alert.infos.values_list("language", flat=True)) == ["en"]


def test_check_reach_by_fetch_answers_json_with_the_draft_to_edit(tree, staff):
    resident_at(2, 2)
    response = client_for(staff.drafter).post(
        reverse("web:console-alert-new"), composer_post(action="reach"), headers={"X-Requested-With": "fetch"}
    )
    data = response.json()
    assert data["people"] == 1
    assert data["edit_url"] == reverse("web:console-alert-edit", args=[Alert.objects.get().pk])


def test_submit_from_the_composer_asks_for_approval(tree, staff):
    response = client_for(staff.drafter).post(reverse("web:console-alert-new"), composer_post(action="submit"))
    alert = Alert.objects.get()
    assert response.status_code == 302
    assert alert.state == AlertState.SUBMITTED


def test_picked_areas_and_circles_are_joined(tree, staff):
    circles = json.dumps([{"lat": 2, "lon": 6, "radius_km": 10}])
    client = client_for(staff.drafter)
    client.post(
        reverse("web:console-alert-new"),
        composer_post(polygons="", circles=circles, area_ids=[str(tree.district_a1.pk)]),
    )
    area = Alert.objects.get().infos.get().areas.get()
    assert area.circles == [{"lat": 2.0, "lon": 6.0, "radius_km": 10.0}]
    assert list(area.admin_areas.all()) == [tree.district_a1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"polygons": "{not json"}, "not valid GeoJSON"),
        ({"polygons": json.dumps({"type": "Point", "coordinates": [1, 1]})}, "polygon of at least 3 points"),
        ({"polygons": polygon(1, 1, 300, 3)}, "outside the range"),
        ({"info_headline": ["", ""]}, "the headline is required"),
        (
            {
                "info_headline": ["", ""],
                "info_event": ["", ""],
                "info_description": ["", ""],
                "info_instruction": ["", ""],
            },
            "at least one language",
        ),
        ({"area_ids": ["999999"]}, "Unknown administrative area"),
        ({"area_ids": ["abc"]}, "not a known area"),
        ({"polygons": "x" * 300_000}, "too large"),
        ({"info_description": ["y" * 30_000, ""]}, "too long"),
        ({"circles": json.dumps([{"lat": 2, "lon": 2, "radius_km": -4}])}, "radius_km"),
        ({"severity": "Apocalyptic"}, "severity"),
    ],
)
def test_bad_input_is_a_400_with_a_message_and_nothing_is_written(tree, staff, overrides, message):
    audit_before = AuditEvent.objects.count()
    response = client_for(staff.drafter).post(reverse("web:console-alert-new"), composer_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Alert.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before


def test_a_bad_edit_leaves_the_draft_as_it_was(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    response = client_for(staff.drafter).post(
        reverse("web:console-alert-edit", args=[alert.pk]), composer_post(info_headline=["", ""])
    )
    assert response.status_code == 400
    assert alert.infos.get().headline == "Flood warning (en-US)"


def test_editing_a_draft_keeps_what_the_composer_does_not_show(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    expires = alert.infos.get().expires
    client = client_for(staff.drafter)
    response = client.post(
        reverse("web:console-alert-edit", args=[alert.pk]),
        composer_post(info_language=["en-US"], info_headline=["Flood warning, river at 5 m"], info_event=["Flood"],
                      info_description=["Rising."], info_instruction=["Leave."]),
    )  # fmt: skip
    assert response.status_code == 302
    info = alert.infos.get()
    assert info.headline == "Flood warning, river at 5 m"
    assert info.expires == expires


def test_the_drafter_cannot_approve_their_own_alert(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    grant(staff.drafter, Role.ALERT_APPROVER, tree.city_a, tree.organisation)
    client = client_for(staff.drafter)
    page = client.get(reverse("web:console-alert", args=[alert.pk])).content.decode()
    assert "Approve and issue" not in page
    response = client.post(reverse("web:console-alert-action", args=[alert.pk, "approve"]), {"issue": "1"})
    assert response.status_code == 403
    assert "Two-person rule" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == AlertState.SUBMITTED


def test_another_approver_approves_and_issues(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    resident_at(2, 2)
    client = client_for(staff.approver)
    page = client.get(reverse("web:console-alert", args=[alert.pk])).content.decode()
    assert "Approve and issue" in page
    assert 'data-people="1"' in page
    response = client.post(reverse("web:console-alert-action", args=[alert.pk, "approve"]), {"issue": "1"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.ISSUED
    page = client.get(reverse("web:console-alert", args=[alert.pk])).content.decode()
    assert 'data-stat="need_help"' in page


def test_a_rejection_needs_a_reason_and_sends_the_alert_back(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    client = client_for(staff.approver)
    url = reverse("web:console-alert-action", args=[alert.pk, "reject"])
    assert client.post(url, {"reason": " "}).status_code == 400
    alert.refresh_from_db()
    assert alert.state == AlertState.SUBMITTED
    client.post(url, {"reason": "Wrong river."})
    alert.refresh_from_db()
    assert (alert.state, alert.rejection_reason) == (AlertState.DRAFT, "Wrong river.")


def test_a_drafter_outside_the_area_is_refused(tree, staff):
    outsider = UserFactory.create(username="drafter-b")
    grant(outsider, Role.ALERT_DRAFTER, tree.city_b, tree.organisation)
    response = client_for(outsider).post(reverse("web:console-alert-new"), composer_post())
    assert response.status_code == 403
    assert "does not cover" in response.content.decode()
    assert Alert.objects.count() == 0


def test_update_and_cancel_make_follow_up_drafts(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)
    client = client_for(staff.drafter)
    response = client.post(reverse("web:console-alert-action", args=[alert.pk, "cancel"]), {"note": "Water down."})
    cancel = Alert.objects.get(supersedes=alert)
    assert response.status_code == 302
    assert (cancel.msg_type, cancel.state) == ("Cancel", AlertState.DRAFT)
    response = client.post(reverse("web:console-alert-action", args=[alert.pk, "update"]))
    update = Alert.objects.filter(supersedes=alert, msg_type="Update").get()
    assert response["Location"] == reverse("web:console-alert-edit", args=[update.pk])
    edit = client.post(
        reverse("web:console-alert-edit", args=[update.pk]),
        composer_post(info_language=["en-US"], info_headline=["Flood: still rising"], info_event=["Flood"]),
    )
    assert edit.status_code == 302
    update.refresh_from_db()
    assert update.references
    assert update.msg_type == "Update"


def test_the_replies_geojson_counts_need_help_per_area(tree, staff):
    from alerts.services import replies
    from tests.alerts.factories import web_resident

    person = web_resident(2, 2)
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    alert = lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)
    replies.reply_record(user=person, alert=alert, kind="need_help")
    data = client_for(staff.drafter).get(reverse("web:console-alert-replies", args=[alert.pk])).json()
    areas = [f["properties"] for f in data["features"] if f["properties"]["kind"] == "area"]
    assert areas == [{"kind": "area", "name": "Alpha One", "level": "district", "safe": 0, "need_help": 1}]
    assert not [f for f in data["features"] if f["properties"]["kind"] == "person"]


def test_need_help_points_show_only_to_those_who_may_see_residents(tree, staff):
    from django.contrib.gis.geos import Point

    from alerts.services import replies
    from tests.alerts.factories import web_resident

    person = web_resident(2, 2)
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    alert = lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)
    replies.reply_record(user=person, alert=alert, kind="need_help", location=Point(2.5, 2.5, srid=4326))
    url = reverse("web:console-alert-replies", args=[alert.pk])
    kinds = [f["properties"]["kind"] for f in client_for(staff.approver).get(url).json()["features"]]
    assert kinds == ["area"]
    grant(staff.approver, Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    features = client_for(staff.approver).get(url).json()["features"]
    assert [f["properties"]["kind"] for f in features] == ["person", "area"]
    assert features[0]["geometry"]["coordinates"] == [2.5, 2.5]
    page = client_for(staff.approver).get(reverse("web:console-alert", args=[alert.pk])).content.decode()
    assert "People who need help" in page


def test_a_resident_cannot_read_the_replies_map(tree, staff):
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    response = client_for(resident_at(2, 2)).get(reverse("web:console-alert-replies", args=[alert.pk]))
    assert response.status_code == 403


def test_a_template_makes_a_draft_to_edit(tree, staff):
    template = lifecycle.alert_template_create(
        actor=staff.drafter,
        organisation=tree.organisation,
        area=tree.city_a,
        name="River flood",
        content=content_over(1, 1, 3, 3, hours=None),
    )
    client = client_for(staff.drafter)
    assert "River flood" in client.get(reverse("web:console-alert-new")).content.decode()
    response = client.post(reverse("web:console-alert-from-template"), {"template": str(template.pk)})
    alert = Alert.objects.get()
    assert response["Location"] == reverse("web:console-alert-edit", args=[alert.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Flood warning (en-US)" in page
    assert client.post(reverse("web:console-alert-from-template"), {"template": "x"}).status_code == 400


def test_the_reach_page_counts_people_for_staff(tree, staff):
    resident_at(2, 2)
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(1, 1, 3, 3))
    response = client_for(staff.approver).get(reverse("web:console-alert-reach", args=[alert.pk]))
    assert 'data-people="1"' in response.content.decode()
