"""Citizen reports: residents send them (safe photo handling), staff of the area triage them by urgency."""

import io

import pytest
from django.contrib.contenttypes.models import ContentType
from PIL import Image

from accounts.models import Role
from alerts.models import CitizenReport
from alerts.services import reports
from classifier.models import ClassifiedText
from commsplatform.core.models import AuditEvent
from tests.factories import UserFactory, grant, resident_at

pytestmark = pytest.mark.django_db


def _png(size=(8, 8)) -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(data, format="PNG")
    data.seek(0)
    data.name = "photo.png"
    return data


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def drafter_a(tree):
    user = UserFactory.create()
    grant(user, Role.ALERT_DRAFTER, tree.city_a, tree.organisation)
    return user


@pytest.fixture
def drafter_b(tree):
    user = UserFactory.create()
    grant(user, Role.ALERT_DRAFTER, tree.city_b, tree.organisation)
    return user


def test_a_resident_sends_a_report_with_a_photo(tree, api, media):
    user = resident_at(1, 1)
    api.force_authenticate(user)
    response = api.post(
        "/api/alerts/reports/",
        {"text": "A tree fell on the road.", "latitude": 1.5, "longitude": 1.5, "photo": _png()},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    report = CitizenReport.objects.get(pk=response.json()["id"])
    assert report.area == tree.district_a1
    assert report.photo_content_type == "image/png"
    assert report.photo.name.endswith(".png")
    assert "photo" not in report.photo.name.split("/")[-1]  # stored under a random name
    assert report.status == "new"
    # Queued for the classifier (classification itself is switched off in these tests).
    assert ClassifiedText.objects.filter(
        content_type=ContentType.objects.get_for_model(report), object_id=report.pk
    ).exists()
    assert AuditEvent.objects.filter(action="alerts.report_created", actor_id=user.pk).exists()
    assert [r["id"] for r in api.get("/api/alerts/reports/").json()["results"]] == [report.pk]
    photo = api.get(f"/api/alerts/reports/{report.pk}/photo/")
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "ok", "latitude": 1.0}, "location"),
        ({"text": "ok", "latitude": 91, "longitude": 1}, "latitude"),
        ({"text": "ok", "latitude": "north", "longitude": 1}, "latitude"),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_stored(tree, api, media, payload, field):
    api.force_authenticate(resident_at(1, 1))
    response = api.post("/api/alerts/reports/", payload, format="multipart")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not CitizenReport.objects.exists()


def test_photos_are_checked_by_their_bytes_and_size(tree, api, media, settings):
    api.force_authenticate(resident_at(1, 1))
    fake = io.BytesIO(b"<script>alert(1)</script>")
    fake.name = "innocent.png"
    response = api.post("/api/alerts/reports/", {"text": "look", "photo": fake}, format="multipart")
    assert response.status_code == 400
    assert response.json()["fields"]["photo"] == "invalid"

    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    gif.seek(0)
    gif.name = "a.gif"
    response = api.post("/api/alerts/reports/", {"text": "look", "photo": gif}, format="multipart")
    assert response.status_code == 400

    settings.REPORT_PHOTO_MAX_BYTES = 100
    response = api.post("/api/alerts/reports/", {"text": "look", "photo": _png((64, 64))}, format="multipart")
    assert response.status_code == 400
    assert not CitizenReport.objects.exists()
    assert not list(media.rglob("*.*"))


def test_triage_queue_is_area_scoped_and_most_urgent_first(tree, api, drafter_a, drafter_b):
    user = resident_at(1, 1)
    calm = reports.report_create(reporter=user, text="All quiet here.")
    urgent = reports.report_create(reporter=user, text="People trapped on a roof.")
    reports.report_classification_set(
        report_id=urgent.pk,
        category="requests_or_urgent_needs",
        score=0.9,
        urgency=2,
        model_name="m",
        model_version="1",
    )
    elsewhere = reports.report_create(reporter=resident_at(25, 5), text="Road closed.")

    api.force_authenticate(drafter_a)
    ids = [r["id"] for r in api.get("/api/alerts/reports/triage/").json()["results"]]
    assert ids == [urgent.pk, calm.pk]
    assert api.get(f"/api/alerts/reports/{elsewhere.pk}/").status_code == 404
    detail = api.get(f"/api/alerts/reports/{urgent.pk}/").json()
    assert detail["category"] == "requests_or_urgent_needs"
    assert api.get("/api/alerts/reports/triage/?status=bogus").status_code == 400

    api.force_authenticate(drafter_b)
    assert [r["id"] for r in api.get("/api/alerts/reports/triage/").json()["results"]] == [elsewhere.pk]
    assert api.post(f"/api/alerts/reports/{urgent.pk}/status/", {"status": "triaged"}).status_code == 404

    api.force_authenticate(user)
    assert api.get("/api/alerts/reports/triage/").json()["results"] == []
    assert api.post(f"/api/alerts/reports/{urgent.pk}/status/", {"status": "triaged"}).status_code == 403
    assert "category" not in api.get(f"/api/alerts/reports/{urgent.pk}/").json()
    assert api.get("/api/alerts/reports/999999/").status_code == 404


def test_fact_checking_moves_new_to_triaged_to_verified(tree, api, drafter_a):
    report = reports.report_create(reporter=resident_at(1, 1), text="Bridge cracked.")
    api.force_authenticate(drafter_a)
    url = f"/api/alerts/reports/{report.pk}/status/"
    assert api.post(url, {"status": "verified"}).status_code == 409
    assert api.post(url, {"status": "nonsense"}).status_code == 400
    response = api.post(url, {"status": "triaged", "note": "Sent a patrol."})
    assert response.status_code == 200
    assert response.json()["status_changed_by"] == drafter_a.pk
    assert api.post(url, {"status": "verified"}).json()["status"] == "verified"
    assert api.post(url, {"status": "dismissed"}).status_code == 409
    actions = list(AuditEvent.objects.filter(action="alerts.report_status_changed").values_list("data", flat=True))
    assert actions == [{"from": "new", "to": "triaged"}, {"from": "triaged", "to": "verified"}]
    # Verified reports leave the open queue.
    assert api.get("/api/alerts/reports/triage/").json()["results"] == []
    assert len(api.get("/api/alerts/reports/triage/?status=verified").json()["results"]) == 1


def test_reports_need_a_signed_in_person(tree, api):
    assert api.post("/api/alerts/reports/", {"text": "hi"}).status_code in (401, 403)
    assert not CitizenReport.objects.exists()


def test_erasure_deletes_reports_and_their_photos_after_commit(tree, media, django_capture_on_commit_callbacks):
    from accounts import services as accounts_services

    user = resident_at(1, 1)
    report = reports.report_create(reporter=user, text="Flooded cellar.", photo=_png())
    stored = media / report.photo.name
    assert stored.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.user_erase(actor=user, user=user)
    assert not CitizenReport.objects.filter(reporter=user).exists()
    assert not stored.exists()
