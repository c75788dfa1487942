"""Console: reports triage (status, category override, group assignments), the audit viewer with chain
verification, and the charts of deliveries and of shelter occupancy.

Client tests check permissions, refusals and what the services wrote; browser tests check what staff see.
"""

import itertools
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test import Client, override_settings
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import CommunicationGroup, Role, User
from alerts.models import Alert, CitizenReport, Delivery, DeliveryState
from alerts.selectors import delivery_timeline
from alerts.services import dispatch as dispatch_service
from alerts.services import reports
from alerts.transports import registry_clear
from alerts.transports.base import Outcome, Outgoing, Transport
from classifier import services as classifier_services
from classifier.models import ClassifiedText, GroupAssignment
from commsplatform.core.models import AuditEvent
from rooms import services as rooms_services
from rooms.models import RoomKind, RoomVisibility
from shelters import services as shelter_services
from shelters.models import Shelter
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident

# The classifier tests' fixtures: a tiny model trained in the run, tasks run inline.
from tests.classifier.conftest import classifier_on, tiny_encoder_dir, tiny_model_dir  # noqa: F401
from tests.factories import AreaTree, UserFactory, grant, make_area_tree, resident_at
from tests.shelters.factories import ShelterFactory, staff
from tests.web.conftest import screenshot

CATEGORY = "infrastructure_and_utility_damage"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


class People:
    def __init__(self, tree: AreaTree):
        self.resident = resident_at(1, 1, username="witness")
        # Shelter managers may see residents (VIEW_RESIDENTS): they triage, relabel and change groups.
        self.manager_a = staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation, username="manager-a")
        self.manager_b = staff(Role.SHELTER_MANAGER, tree.city_b, tree.organisation, username="manager-b")
        # Drafters triage reports of their area but do not read the classifier's view of residents.
        self.drafter_a = staff(Role.ALERT_DRAFTER, tree.city_a, tree.organisation, username="drafter-a")
        self.auditor = staff(Role.AUDITOR, tree.nation, tree.organisation, username="auditor")
        self.auditor_b = staff(Role.AUDITOR, tree.city_b, tree.organisation, username="auditor-b")


def make_report(people: People, text: str = "The bridge is cracked and water is coming up.") -> CitizenReport:
    report = reports.report_create(reporter=people.resident, text=text, location=Point(1.5, 1.5, srid=4326))
    # What the classifier writes back after classifying the report's text.
    reports.report_classification_set(
        report_id=report.pk, category=CATEGORY, score=0.87, urgency=0, model_name="crisis-minilm", model_version="3"
    )
    return CitizenReport.objects.get(pk=report.pk)


def text_of(report: CitizenReport) -> ClassifiedText:
    return ClassifiedText.objects.get(content_type=ContentType.objects.get_for_model(report), object_id=report.pk)


def group_in(area, key: str = "assisted-evacuation-a") -> CommunicationGroup:
    return accounts_services.communication_group_ensure(key=key, name="Assisted evacuation", area=area)


@pytest.fixture
def people(tree: AreaTree) -> People:
    return People(tree)


# --- Gate ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/console/reports/", "/console/audit/", "/console/charts/deliveries/1/", "/console/charts/occupancy/1/"]
)
def test_residents_get_403_and_strangers_are_sent_to_sign_in(people, path):
    assert signed_in(people.resident).get(path).status_code == 403
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- Reports triage ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_triage_shows_category_score_urgency_and_the_authors_groups(tree, people):
    report = make_report(people)
    group = group_in(tree.city_a)
    classifier_services.assignment_add(
        actor=people.manager_a, user=people.resident, group=group, reason="Uses a wheelchair"
    )
    response = signed_in(people.manager_a).get("/console/reports/")
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="report-{report.pk}"' in content
    assert CATEGORY in content
    assert "score 0.87" in content
    assert "crisis-minilm 3" in content
    assert "Not urgent" in content
    assert "Assisted evacuation" in content
    assert f"/api/alerts/reports/{report.pk}/photo/" not in content  # no photo, no link


@pytest.mark.django_db
def test_most_urgent_reports_come_first(tree, people):
    calm = make_report(people, "A bench is broken in the park.")
    urgent = make_report(people, "People are trapped in a car in the flood.")
    reports.report_classification_set(
        report_id=urgent.pk,
        category="requests_or_urgent_needs",
        score=0.9,
        urgency=2,
        model_name="m",
        model_version="1",
    )
    content = signed_in(people.manager_a).get("/console/reports/").content.decode()
    assert content.index(f'id="report-{urgent.pk}"') < content.index(f'id="report-{calm.pk}"')
    assert "Urgent" in content


@pytest.mark.django_db
def test_staff_of_another_area_neither_see_nor_change_a_report(tree, people):
    report = make_report(people)
    group = group_in(tree.city_a)
    assignment = classifier_services.assignment_add(
        actor=people.manager_a, user=people.resident, group=group, reason="r"
    )
    other = signed_in(people.manager_b)
    assert f'id="report-{report.pk}"' not in other.get("/console/reports/").content.decode()
    base = f"/console/reports/{report.pk}"
    assert other.post(f"{base}/status/", {"status": "triaged"}).status_code == 404
    assert other.post(f"{base}/relabel/", {"label": "not_humanitarian"}).status_code == 404
    assert other.post(f"{base}/assign/", {"group": group.pk, "reason": "x"}).status_code == 404
    assert other.post(f"/console/reports/assignments/{assignment.pk}/end/", {"reason": "x"}).status_code == 404
    report.refresh_from_db()
    assert report.status == "new"
    assert report.category == CATEGORY
    assert text_of(report).staff_label == ""
    assert GroupAssignment.objects.get(pk=assignment.pk).ended_at is None


@pytest.mark.django_db
def test_staff_set_a_status_with_a_note_and_a_wrong_step_is_refused(tree, people):
    report = make_report(people)
    client = signed_in(people.drafter_a)
    refused = client.post(f"/console/reports/{report.pk}/status/", {"status": "verified"})
    assert refused.status_code == 409
    assert "A new report cannot become verified." in refused.content.decode()
    assert CitizenReport.objects.get(pk=report.pk).status == "new"
    assert client.post(f"/console/reports/{report.pk}/status/", {"status": "bogus"}).status_code == 400

    done = client.post(f"/console/reports/{report.pk}/status/", {"status": "triaged", "note": "Crew on the way"})
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.status == "triaged"
    assert report.staff_note == "Crew on the way"
    assert report.status_changed_by == people.drafter_a
    assert AuditEvent.objects.filter(action="alerts.report_status_changed", object_id=str(report.pk)).exists()
    page = client.get("/console/reports/").content.decode()
    assert "Crew on the way" in page
    assert f'id="report-{report.pk}"' in page
    # A drafter does not read the classifier's view of residents: no override or group forms.
    assert "Correct the category" not in page
    assert client.post(f"/console/reports/{report.pk}/relabel/", {"label": CATEGORY}).status_code == 404


@pytest.mark.django_db
def test_override_the_category_and_an_unknown_label_is_refused(tree, people):
    report = make_report(people)
    client = signed_in(people.manager_a)
    refused = client.post(f"/console/reports/{report.pk}/relabel/", {"label": "aliens"})
    assert refused.status_code == 400
    assert "Unknown label" in refused.content.decode()
    assert text_of(report).staff_label == ""
    assert CitizenReport.objects.get(pk=report.pk).category == CATEGORY

    done = client.post(f"/console/reports/{report.pk}/relabel/", {"label": "requests_or_urgent_needs"})
    assert done.status_code == 302
    assert text_of(report).staff_label == "requests_or_urgent_needs"
    report.refresh_from_db()
    assert (report.category, report.urgency, report.model_name) == ("requests_or_urgent_needs", 2, "staff")
    page = client.get("/console/reports/").content.decode()
    assert "set by staff" in page
    assert "Urgent" in page


@pytest.mark.django_db
def test_staff_add_and_end_a_group_assignment_with_a_reason(tree, people):
    report = make_report(people)
    group = group_in(tree.city_a)
    client = signed_in(people.manager_a)
    missing_reason = client.post(f"/console/reports/{report.pk}/assign/", {"group": group.pk, "reason": " "})
    assert missing_reason.status_code == 400
    assert not GroupAssignment.objects.exists()
    group_b = group_in(tree.city_b, key="group-b")
    elsewhere = client.post(f"/console/reports/{report.pk}/assign/", {"group": group_b.pk, "reason": "x"})
    assert elsewhere.status_code == 404
    assert client.post(f"/console/reports/{report.pk}/assign/", {"group": "x", "reason": "x"}).status_code == 400

    added = client.post(f"/console/reports/{report.pk}/assign/", {"group": group.pk, "reason": "Needs a lift"})
    assert added.status_code == 302
    assignment = GroupAssignment.objects.get(user=people.resident, group=group)
    assert (assignment.source, assignment.explanation, assignment.created_by) == (
        "staff",
        "Needs a lift",
        people.manager_a,
    )
    again = client.post(f"/console/reports/{report.pk}/assign/", {"group": group.pk, "reason": "Needs a lift"})
    assert again.status_code == 409

    end_url = f"/console/reports/assignments/{assignment.pk}/end/"
    assert client.post(end_url, {"reason": "", "report": report.pk}).status_code == 400
    assert client.post(end_url, {"reason": "Moved away", "report": "abc"}).status_code == 400
    assert GroupAssignment.objects.get(pk=assignment.pk).ended_at is None
    assert client.post(end_url, {"reason": "Moved away", "report": report.pk}).status_code == 302
    ended = GroupAssignment.objects.get(pk=assignment.pk)
    assert ended.ended_at is not None
    assert ended.reason == "Moved away"
    assert ended.overridden


@pytest.mark.django_db
def test_an_unknown_status_filter_is_refused(people):
    assert signed_in(people.manager_a).get("/console/reports/?status=lost").status_code == 400


# --- Audit viewer ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_viewer_is_for_auditors_only(tree, people):
    make_report(people)
    assert signed_in(people.drafter_a).get("/console/audit/").status_code == 403
    assert signed_in(people.manager_a).get("/console/audit/").status_code == 403
    response = signed_in(people.auditor).get("/console/audit/")
    assert response.status_code == 200
    assert "alerts.report_created" in response.content.decode()


@pytest.mark.django_db
def test_auditors_see_only_their_areas_events(tree, people):
    report = make_report(people)
    own = signed_in(people.auditor_b).get("/console/audit/?action=alerts.report_created").content.decode()
    assert f"alerts.citizenreport {report.pk}" not in own
    wide = signed_in(people.auditor).get("/console/audit/?action=alerts.report_created").content.decode()
    assert f"alerts.citizenreport {report.pk}" in wide


@pytest.mark.django_db
def test_the_audit_viewer_filters_by_action_and_day(tree, people):
    make_report(people)
    client = signed_in(people.auditor)
    content = client.get("/console/audit/?action=alerts.report_created").content.decode()
    assert "<td>alerts.report_created</td>" in content
    assert "<td>accounts.membership_granted</td>" not in content
    today = timezone.now().date()
    assert "alerts.report_created</td>" in client.get(f"/console/audit/?since={today}&until={today}").content.decode()
    tomorrow = today + timedelta(days=1)
    assert "No events match." in client.get(f"/console/audit/?since={tomorrow}").content.decode()
    bad = client.get("/console/audit/?since=yesterday")
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.content.decode()


@pytest.mark.django_db
def test_verify_the_chain_says_ok_and_names_where_it_breaks(tree, people):
    make_report(people)
    client = signed_in(people.auditor)
    ok = client.get("/console/audit/?verify=1").content.decode()
    assert "The chain is intact." in ok
    victim = AuditEvent.objects.order_by("seq")[2]
    with connection.cursor() as cursor:  # tamper behind the application's back, as an attacker would
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        cursor.execute(f"UPDATE {table} SET action = %s WHERE id = %s", ["forged", victim.pk])  # noqa: S608
    broken = client.get("/console/audit/?verify=1").content.decode()
    assert f"The chain is broken at event #{victim.seq}." in broken
    assert "was altered" in broken


@pytest.mark.django_db
def test_verify_a_rooms_record(tree, people):
    host = UserFactory.create()
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    room = rooms_services.room_create(
        actor=host, title="Flood town hall", kind=RoomKind.TOWN_HALL, visibility=RoomVisibility.PUBLIC, area=tree.city_a
    )
    content = signed_in(people.auditor).get(f"/console/audit/?room={room.pk}").content.decode()
    assert f"The record of room #{room.pk} is intact" in content
    assert signed_in(people.auditor_b).get(f"/console/audit/?room={room.pk}").status_code == 403
    assert signed_in(people.auditor).get("/console/audit/?room=999999").status_code == 404


# --- Charts --------------------------------------------------------------------------------------------------------


class HalfFails(Transport):
    """Sends to odd delivery ids, fails the even ones."""

    name = "websocket"
    channel_kind = "web"

    def send(self, messages: Sequence[Outgoing]) -> Iterator[list[Outcome]]:
        for m in messages:
            yield [Outcome(m.delivery_id, "sent" if m.delivery_id % 2 else "failed", reason="bounced")]


@pytest.fixture
def half_fails() -> Iterator[None]:
    with override_settings(ALERT_TRANSPORTS={"websocket": "tests.web.test_console_misc.HalfFails"}):
        registry_clear()
        yield
    registry_clear()


def alert_sent_over_minutes(tree: AreaTree, monkeypatch: pytest.MonkeyPatch, residents: int = 6) -> tuple[Alert, User]:
    """An issued alert whose deliveries go out one a minute (sent for odd ids, failed for even ones)."""
    from alerts import tasks
    from rooms import tasks as rooms_tasks

    batches: list[list[int]] = []
    monkeypatch.setattr(tasks.dispatch, "delay", lambda alert_id: None)
    monkeypatch.setattr(rooms_tasks.alert_announce, "delay", lambda alert_id: None)
    monkeypatch.setattr(dispatch_service, "_enqueue", lambda p, t, ids, countdown=0.0: batches.append(list(ids)))
    staff_people = staff_for(tree)
    for index in range(residents):
        web_resident(1 + index * 0.1, 1)
    alert = issued_alert(staff_people, content_over(0.5, 0.5, 2, 2))
    dispatch_service.alert_dispatch(alert_id=alert.pk)
    ids = sorted(i for batch in batches for i in batch)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    for minute, delivery_id in enumerate(ids):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=5), tick=False):
            dispatch_service.deliveries_send(transport_name="websocket", delivery_ids=[delivery_id])
    return alert, staff_people.drafter


@pytest.mark.django_db
def test_delivery_timeline_counts_sent_and_failed_per_bucket(tree, monkeypatch, half_fails):
    alert, _drafter = alert_sent_over_minutes(tree, monkeypatch)
    states = list(Delivery.objects.filter(alert=alert).order_by("pk").values_list("state", flat=True))
    assert states.count(DeliveryState.SENT) == 3
    assert states.count(DeliveryState.FAILED) == 3
    per_minute = delivery_timeline(alert=alert, bucket_seconds=60)
    assert len(per_minute) == 6
    assert [row["sent"] + row["failed"] for row in per_minute] == [1] * 6
    assert (per_minute[-1]["sent_total"], per_minute[-1]["failed_total"]) == (3, 3)
    assert all(b["at"] - a["at"] == timedelta(minutes=1) for a, b in itertools.pairwise(per_minute))
    by_three = delivery_timeline(alert=alert, bucket_seconds=180)
    assert sum(row["sent"] for row in by_three) == 3
    assert by_three[-1]["failed_total"] == 3
    assert len(by_three) in (2, 3)
    automatic = delivery_timeline(alert=alert)
    assert automatic[0]["bucket_seconds"] == 5  # 5 minutes of span: the smallest step under 120 buckets
    assert automatic[-1]["sent_total"] == 3


@pytest.mark.django_db
def test_delivery_timeline_of_an_alert_without_deliveries_is_empty(tree):
    alert = issued_alert(staff_for(tree), content_over(0.5, 0.5, 2, 2))
    assert delivery_timeline(alert=alert) == []


@pytest.mark.django_db
def test_the_deliveries_chart_is_for_staff_of_the_alerts_area(tree, monkeypatch, half_fails):
    alert, drafter = alert_sent_over_minutes(tree, monkeypatch)
    response = signed_in(drafter).get(f"/console/charts/deliveries/{alert.pk}/?bucket=60")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.count("<tr><td><time") == 6
    assert 'id="deliveries-data"' in content
    outsider = UserFactory.create()
    grant(outsider, Role.ALERT_DRAFTER, tree.city_b, tree.organisation)
    # Staff of another area read the issued public alert like anyone, but not its delivery figures.
    assert signed_in(outsider).get(f"/console/charts/deliveries/{alert.pk}/").status_code == 403
    assert signed_in(drafter).get("/console/charts/deliveries/999999/").status_code == 404
    assert signed_in(drafter).get(f"/console/charts/deliveries/{alert.pk}/?bucket=0").status_code == 400


def shelter_with_history(manager: User) -> Shelter:
    """Opened three hours ago; people checked in every half hour, one household left after two hours."""
    start = timezone.now() - timedelta(hours=3)
    with time_machine.travel(start, tick=False):
        shelter = ShelterFactory.create(lon=2, lat=2, capacity=40, name="North school")
    stays = []
    for step, people in enumerate((5, 3, 8), start=1):
        with time_machine.travel(start + timedelta(minutes=30 * step), tick=False):
            stays.append(shelter_services.shelter_check_in(actor=manager, shelter=shelter, people=people))
    with time_machine.travel(start + timedelta(minutes=120), tick=False):
        shelter_services.shelter_check_out(actor=manager, stay=stays[0])
    return Shelter.objects.get(pk=shelter.pk)


@pytest.mark.django_db
def test_the_occupancy_chart_is_for_staff_of_the_shelters_area(tree, people):
    shelter = shelter_with_history(people.manager_a)
    response = signed_in(people.manager_a).get(f"/console/charts/occupancy/{shelter.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "North school" in content
    assert content.count("<tr><td><time") == 5  # opened, three check-ins, one check-out
    assert signed_in(people.manager_b).get(f"/console/charts/occupancy/{shelter.pk}/").status_code == 403
    assert signed_in(people.manager_a).get(f"/console/charts/occupancy/{shelter.pk}/?days=900").status_code == 400
    assert signed_in(people.manager_a).get("/console/charts/occupancy/999999/").status_code == 404


# --- In the browser ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_staff_triage_a_report_in_the_browser(visit):
    tree = make_area_tree()
    people = People(tree)
    report = make_report(people)
    group = group_in(tree.city_a)
    classifier_services.assignment_add(actor=people.manager_a, user=people.resident, group=group, reason="Wheelchair")
    page = visit("/console/reports/", user=people.manager_a)
    card = page.locator(f"#report-{report.pk}")
    assert CATEGORY in card.locator(".category").inner_text()
    assert "Assisted evacuation" in card.inner_text()
    page.locator("#triage-map .leaflet-overlay-pane canvas").wait_for()
    screenshot(page, "console-reports-triage")

    card.get_by_label("Correct the category").select_option("requests_or_urgent_needs")
    card.get_by_role("button", name="Override").click()
    page.get_by_text(f"The category of report #{report.pk} was corrected.").wait_for()
    card = page.locator(f"#report-{report.pk}")
    assert "requests_or_urgent_needs" in card.locator(".category").inner_text()
    assert "Urgent" in card.inner_text()

    card.get_by_label("New status").select_option("triaged")
    card.get_by_label("Note").fill("Crew sent")
    card.get_by_role("button", name="Set status").click()
    page.get_by_text(f"Report #{report.pk} updated.").wait_for()
    report.refresh_from_db()
    assert (report.status, report.staff_note, report.category) == ("triaged", "Crew sent", "requests_or_urgent_needs")


@pytest.mark.django_db(transaction=True)
def test_the_audit_viewer_shows_events_and_verifies_the_chain(visit):
    tree = make_area_tree()
    people = People(tree)
    make_report(people)
    page = visit("/console/audit/", user=people.auditor)
    assert page.get_by_role("heading", level=1).inner_text() == "Audit record"
    assert page.locator("#audit-events tbody tr").count() >= 3
    assert "alerts.report_created" in page.locator("#audit-events").inner_text()
    page.get_by_role("button", name="Verify the chain").click()
    result = page.locator("#chain-result")
    assert "The chain is intact." in result.inner_text()
    screenshot(page, "console-audit")


@pytest.mark.django_db(transaction=True)
def test_the_occupancy_chart_draws_the_history(visit):
    tree = make_area_tree()
    manager = staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    shelter = shelter_with_history(manager)
    page = visit(f"/console/charts/occupancy/{shelter.pk}/", user=manager)
    page.locator("#occupancy-chart canvas").wait_for()
    assert page.locator("#occupancy-chart .u-legend").inner_text().count("People") == 1
    assert page.locator("#occupancy-table tbody tr").count() == 5
    screenshot(page, "console-chart-occupancy")


@pytest.mark.django_db(transaction=True)
def test_the_deliveries_chart_draws_sent_and_failed(visit, monkeypatch, half_fails):
    tree = make_area_tree()
    alert, drafter = alert_sent_over_minutes(tree, monkeypatch)
    page = visit(f"/console/charts/deliveries/{alert.pk}/?bucket=60", user=drafter)
    page.locator("#deliveries-chart canvas").wait_for()
    legend = page.locator("#deliveries-chart .u-legend").inner_text()
    assert "Sent" in legend
    assert "Failed" in legend
    assert page.locator("#deliveries-table tbody tr").count() == 6
    screenshot(page, "console-chart-deliveries")


# --- With the classifier switched on (the tiny test model of tests/classifier) ----------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("classifier_on")
def test_triage_shows_what_the_classifier_stored(tree, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = reports.report_create(
            reporter=people.resident, text="Please help, my father is trapped upstairs.", location=Point(1.5, 1.5)
        )
    report.refresh_from_db()
    text = text_of(report)
    assert text.status == "classified"
    assert report.category == text.label
    assert report.model_name == text.model_name
    content = signed_in(people.manager_a).get("/console/reports/").content.decode()
    assert f"{report.category} <span" in content
    assert f"score {floatformat(report.category_score, 2)}" in content
    assert f"{text.model_name} {text.model_version}" in content
