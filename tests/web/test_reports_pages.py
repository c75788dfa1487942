"""The resident's "Report what you see" page: sending a report (text, place, photo), refusals, the list of my reports.

The client tests check what the server writes and refuses; the browser test files a report with a photo the way a
person would and then finds it on the staff triage page.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import Role
from alerts.models import CitizenReport
from commsplatform.core.models import AuditEvent
from tests.factories import UserFactory, grant, resident_at
from tests.web.conftest import axe_violations, screenshot, wait_until


def png_bytes(size: tuple[int, int] = (16, 12)) -> bytes:
    data = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(data, format="PNG")
    return data.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_report_page_asks_to_sign_in_first(client):
    response = client.get("/report/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_a_resident_sends_a_report_with_place_and_photo_and_sees_it_listed(tree, media):
    user = resident_at(1, 1)
    client = signed_in(user)
    photo = SimpleUploadedFile("street.png", png_bytes(), content_type="image/png")
    response = client.post("/report/", {"text": "Water on the main road.", "lat": "1.5", "lon": "1.5", "photo": photo})
    assert response.status_code == 302
    report = CitizenReport.objects.get(reporter=user)
    assert report.text == "Water on the main road."
    assert (report.location.x, report.location.y) == (1.5, 1.5)
    assert report.area == tree.district_a1
    assert report.photo_content_type == "image/png"
    assert AuditEvent.objects.filter(action="alerts.report_created", object_id=str(report.pk)).exists()

    page = client.get("/report/")
    content = page.content.decode()
    assert "Thank you. Your report was sent" in content
    assert "Water on the main road." in content
    assert "New" in content
    assert f"/api/alerts/reports/{report.pk}/photo/" in content
    # The photo link serves the picture to its reporter.
    assert client.get(f"/api/alerts/reports/{report.pk}/photo/")["Content-Type"] == "image/png"


@pytest.mark.django_db
def test_a_report_without_place_or_photo_is_accepted(tree):
    user = resident_at(1, 1)
    response = signed_in(user).post("/report/", {"text": "Smoke behind the school.", "lat": "", "lon": ""})
    assert response.status_code == 302
    report = CitizenReport.objects.get(reporter=user)
    assert report.location is None
    assert not report.photo
    assert report.area == tree.district_a1  # scoped by the reporter's home


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "   "}, "Say what you see."),
        ({"text": "x" * 2001}, "The text is too long"),
        ({"text": "ok", "lat": "north", "lon": "1"}, "The latitude must be a number."),
        ({"text": "ok", "lat": "91", "lon": "1"}, "The latitude must be between -90 and 90."),
        ({"text": "ok", "lat": "1", "lon": "200"}, "The longitude must be between -180 and 180."),
        ({"text": "ok", "lat": "1", "lon": ""}, "The longitude must be a number."),
        ({"text": "ok", "lat": "nan", "lon": "1"}, "The latitude must be between -90 and 90."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(tree, media, data, message):
    user = resident_at(1, 1)
    response = signed_in(user).post("/report/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Your report was not sent." in response.content.decode()
    assert not CitizenReport.objects.exists()
    assert not AuditEvent.objects.filter(action="alerts.report_created").exists()


@pytest.mark.django_db
def test_a_file_that_is_not_an_image_is_refused(tree, media):
    user = resident_at(1, 1)
    fake = SimpleUploadedFile("photo.png", b"<html>not a picture</html>", content_type="image/png")
    response = signed_in(user).post("/report/", {"text": "Look at this.", "photo": fake})
    assert response.status_code == 400
    assert "The photo is not a JPEG, PNG or WebP image." in response.content.decode()
    assert not CitizenReport.objects.exists()
    assert not list(media.rglob("*.png"))


@pytest.mark.django_db
def test_a_photo_over_the_size_cap_is_refused(tree, media, settings):
    settings.REPORT_PHOTO_MAX_BYTES = 1024 * 1024
    user = resident_at(1, 1)
    big = SimpleUploadedFile("big.png", png_bytes() + b"\0" * (1024 * 1024 + 1), content_type="image/png")
    response = signed_in(user).post("/report/", {"text": "A big one.", "photo": big})
    assert response.status_code == 400
    assert "The photo is too large (1 MB at most)." in response.content.decode()
    assert not CitizenReport.objects.exists()


@pytest.mark.django_db
def test_my_reports_lists_only_mine(tree):
    me, other = resident_at(1, 1), resident_at(2, 2)
    signed_in(other).post("/report/", {"text": "Someone else's report."})
    signed_in(me).post("/report/", {"text": "My own report."})
    content = signed_in(me).get("/report/").content.decode()
    assert "My own report." in content
    assert "Someone else&#x27;s report." not in content
    assert "Someone else's report." not in content


# --- In the browser ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_resident_files_a_report_with_a_photo_and_staff_see_it_in_triage(visit, tmp_path):
    from tests.factories import make_area_tree

    tree = make_area_tree()
    resident = resident_at(1, 1, username="reporter")
    drafter = UserFactory.create(username="triage-drafter")
    grant(drafter, Role.ALERT_DRAFTER, tree.city_a, tree.organisation)
    photo = tmp_path / "flood.png"
    photo.write_bytes(png_bytes((64, 48)))

    page = visit("/report/", user=resident, geolocation=(1.25, 1.75))
    assert page.get_by_role("heading", level=1).inner_text() == "Report what you see"
    assert axe_violations(page) == []
    page.get_by_label("What do you see?").fill("The bridge on Mill Street is under water.")
    page.get_by_role("button", name="Use my location").click()
    page.get_by_text("Location filled in.").wait_for()
    assert page.get_by_label("Latitude").input_value() == "1.250000"
    assert page.get_by_label("Longitude").input_value() == "1.750000"
    page.get_by_label("Photo (optional)").set_input_files(str(photo))
    screenshot(page, "report-form")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_text("Thank you. Your report was sent").wait_for()
    mine = page.locator("#my-reports li").first
    assert "The bridge on Mill Street is under water." in mine.inner_text()
    assert "New" in mine.inner_text()
    assert mine.get_by_role("link", name="photo").count() == 1

    report = wait_until(lambda: CitizenReport.objects.filter(reporter=resident).first())
    assert report.photo_content_type == "image/png"
    assert report.area == tree.district_a1

    staff_page = visit("/console/reports/", user=drafter)
    card = staff_page.locator(f"#report-{report.pk}")
    assert "The bridge on Mill Street is under water." in card.inner_text()
    photo_link = card.get_by_role("link", name="Photo")
    response = staff_page.request.get(photo_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    # The report's place is drawn on the triage map (Leaflet draws markers on a canvas).
    staff_page.locator("#triage-map .leaflet-overlay-pane canvas").wait_for()
    features = staff_page.evaluate("JSON.parse(document.getElementById('triage-features').textContent).features")
    assert [f["properties"]["id"] for f in features] == [report.pk]
    assert features[0]["geometry"]["coordinates"] == [1.75, 1.25]


@pytest.mark.django_db(transaction=True)
def test_a_report_is_sent_without_javascript_and_a_refusal_is_shown(visit):
    from tests.factories import make_area_tree

    make_area_tree()
    resident = resident_at(1, 1, username="no-script")
    page = visit("/report/", user=resident, javascript=False)
    assert not page.get_by_role("button", name="Use my location").is_visible()  # needs the browser's geolocation
    page.get_by_label("What do you see?").fill("A power line is down.")
    page.get_by_label("Latitude").fill("north")
    page.get_by_label("Longitude").fill("1.5")
    page.get_by_role("button", name="Send the report").click()
    page.locator("#report-errors").wait_for()  # the page answers 400 (see the client tests)
    assert "The latitude must be a number." in page.locator("#report-errors").inner_text()
    assert page.get_by_label("What do you see?").input_value() == "A power line is down."  # kept for a second try
    assert not CitizenReport.objects.filter(reporter=resident).exists()

    page.get_by_label("Latitude").fill("1.5")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_text("Thank you. Your report was sent").wait_for()
    report = CitizenReport.objects.get(reporter=resident)
    assert (report.location.x, report.location.y) == (1.5, 1.5)
