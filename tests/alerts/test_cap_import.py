"""CAP import (drafts, trusted senders, supersedes, all or nothing), CAP export and the public Atom feed, and the
API for them, feeds and trusted senders."""

import math

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path
from lxml import etree

from accounts.models import Role
from alerts.cap_xml import CapRejected, cap_document_read, cap_schema, geometry_rings
from alerts.content import cap_reference
from alerts.models import Alert, AlertOrigin, AlertState, CapFeed, TrustedSender
from alerts.services import lifecycle
from alerts.services.cap_import import cap_import, trusted_sender_create
from commsplatform.core.errors import Conflict, PermissionDenied
from commsplatform.core.models import AuditEvent
from tests.alerts.factories import content_over, staff_for
from tests.alerts.test_cap_xml import HOSTILE, cap_document, signed
from tests.factories import OrganisationFactory, UserFactory, grant

# The CAP routes as the lead mounts them (/api/alerts/), plus the rest of the site.
urlpatterns = [
    path("api/alerts/", include("alerts.api.cap_urls")),
    path("", include("commsplatform.urls")),
]
pytestmark = pytest.mark.urls(__name__)

IN_CITY_A = "1,1 1,4 4,4 4,1 1,1"  # (lat, lon): inside district A1 and city A
IN_CITY_B = "1,21 1,24 4,24 4,21 1,21"


@pytest.fixture
def staff(tree):
    return staff_for(tree)


def test_a_drafter_imports_a_file_as_a_draft_of_theirs(tree, staff):
    [alert] = cap_import(actor=staff.drafter, data=cap_document("imp-1"), organisation=tree.organisation)
    assert alert.state == AlertState.DRAFT
    assert alert.origin == AlertOrigin.CAP_FILE
    assert alert.drafted_by == staff.drafter
    assert alert.geometry is not None
    assert alert.extra["cap"]["version"] == "1.2"
    assert alert.extra["signature"]["signed"] is False
    event = AuditEvent.objects.get(action="alerts.cap_imported")
    assert event.actor_id == staff.drafter.pk
    assert event.data["identifier"] == "imp-1"
    assert event.data["auto_issue"] is False


def test_an_import_outside_the_drafters_area_is_refused_and_writes_nothing(tree, staff):
    with pytest.raises(PermissionDenied):
        cap_import(actor=staff.drafter, data=cap_document("imp-2", polygon=IN_CITY_B))
    assert not Alert.objects.exists()


def test_an_alert_without_geometry_is_a_draft_to_be_given_an_area(tree, staff):
    document = cap_document("imp-3", polygon=None, geocode=("FIPS6", "030049"))
    [alert] = cap_import(actor=staff.drafter, data=document)
    assert alert.geometry is None
    assert alert.state == AlertState.DRAFT
    assert alert.drafted_by == staff.drafter
    resident = UserFactory.create()
    with pytest.raises(PermissionDenied):
        cap_import(actor=resident, data=cap_document("imp-4", polygon=None, geocode=("FIPS6", "1")))


def test_a_duplicate_identifier_is_a_conflict_and_nothing_of_the_document_is_written(tree, staff):
    cap_import(actor=None, data=cap_document("dup-1"))
    before = Alert.objects.count()
    with pytest.raises(Conflict) as conflict:
        cap_import(actor=None, data=cap_document("dup-1"))
    assert conflict.value.status == 409
    assert Alert.objects.count() == before


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_write_nothing(tree, staff, name):
    with pytest.raises(CapRejected) as refused:
        cap_import(actor=staff.drafter, data=HOSTILE[name][0])
    assert refused.value.kind == "hostile"
    assert not Alert.objects.exists()
    assert not AuditEvent.objects.filter(action="alerts.cap_imported").exists()


@pytest.mark.shared_data
def test_a_container_with_one_bad_alert_writes_none_of_them(db, shared_data_dir):
    data = (shared_data_dir / "cap/invalid/deliberate/google-cap-library__bushfire_invalid.edxlde").read_bytes()
    with pytest.raises(CapRejected) as refused:
        cap_import(actor=None, data=data)
    assert "alert 2 of 7" in refused.value.message
    assert not Alert.objects.exists()


@pytest.mark.shared_data
def test_a_valid_container_imports_every_alert(db, shared_data_dir):
    data = (shared_data_dir / "cap/containers/google-cap-library__bushfire_valid.edxlde").read_bytes()
    alerts = cap_import(actor=None, data=data)
    assert len(alerts) == 7
    assert {alert.state for alert in alerts} == {AlertState.DRAFT}


def test_a_trusted_sender_inside_its_area_is_issued_at_once(tree, staff, broker, django_capture_on_commit_callbacks):
    trusted_sender_create(
        actor=staff.approver,
        sender="met@example.org",
        organisation=tree.organisation,
        area=tree.city_a,
        auto_issue=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        [inside] = cap_import(
            actor=None, data=cap_document("t-1", sender="met@example.org"), organisation=tree.organisation
        )
    assert inside.state == AlertState.ISSUED
    assert inside.issued_by is None
    assert broker.dispatches == [inside.pk]
    [outside] = cap_import(
        actor=None,
        data=cap_document("t-2", sender="met@example.org", polygon=IN_CITY_B),
        organisation=tree.organisation,
    )
    assert outside.state == AlertState.DRAFT
    [other] = cap_import(
        actor=None, data=cap_document("t-3", sender="other@example.org"), organisation=tree.organisation
    )
    assert other.state == AlertState.DRAFT
    reasons = dict(AuditEvent.objects.filter(action="alerts.cap_imported").values_list("object_id", "data"))
    assert reasons[str(outside.pk)]["auto_issue_reason"] == "the alert's area reaches outside the trusted sender's area"


def test_a_trusted_sender_that_requires_a_signature_needs_a_verified_one(tree, staff):
    trusted_sender_create(
        actor=None,
        sender="met@example.org",
        organisation=tree.organisation,
        area=tree.city_a,
        auto_issue=True,
        require_signature=True,
    )
    [unsigned] = cap_import(
        actor=None, data=cap_document("s-1", sender="met@example.org"), organisation=tree.organisation
    )
    assert unsigned.state == AlertState.DRAFT
    [good] = cap_import(
        actor=None, data=signed(cap_document("s-2", sender="met@example.org")), organisation=tree.organisation
    )
    assert good.state == AlertState.ISSUED
    assert good.extra["signature"]["verified"] is True
    assert good.extra["signature"]["signatures"][0]["subject"] == "CN=cap-signer.example.org"


def test_an_update_that_references_an_alert_here_supersedes_it(tree, staff):
    trusted_sender_create(
        actor=None, sender="met@example.org", organisation=tree.organisation, area=tree.city_a, auto_issue=True
    )
    [first] = cap_import(actor=None, data=cap_document("u-1", sender="met@example.org"), organisation=tree.organisation)
    assert first.sent is not None
    reference = cap_reference(sender=first.sender, identifier=first.identifier, sent=first.sent)
    update = cap_document("u-2", sender="met@example.org", msg_type="Update", references=reference)
    [second] = cap_import(actor=None, data=update, organisation=tree.organisation)
    assert second.supersedes == first
    assert second.state == AlertState.ISSUED
    first.refresh_from_db()
    assert first.state == AlertState.UPDATED


# API ---------------------------------------------------------------------------------------------------


def _upload(api, user, document: bytes, **extra):
    api.force_authenticate(user)
    upload = SimpleUploadedFile("alert.xml", document, content_type="application/xml")
    return api.post("/api/alerts/cap/import/", {"file": upload, **extra}, format="multipart")


def test_api_import_answers_201_with_the_alerts(api, tree, staff):
    response = _upload(api, staff.drafter, cap_document("api-1"), organisation=tree.organisation.pk)
    assert response.status_code == 201, response.content
    assert response.json()[0]["identifier"] == "api-1"
    assert response.json()[0]["state"] == "draft"
    assert response.json()[0]["signature"] == {"signed": False, "verified": False}


def test_api_import_answers_400_naming_the_rule_and_element(api, tree, staff):
    response = _upload(api, staff.drafter, cap_document("api-2").replace(b"en-US", b"xx-YY"))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "cap_rule"
    assert "language-code at info[0]/language" in body["detail"]
    assert not Alert.objects.exists()


def test_api_import_refuses_a_file_over_the_limit(api, tree, staff, settings):
    settings.CAP_MAX_DOCUMENT_BYTES = 500
    response = _upload(api, staff.drafter, cap_document("api-3"))
    assert response.status_code == 400
    assert response.json()["code"] == "cap_too_large"


def test_api_import_answers_409_for_a_duplicate(api, tree, staff):
    assert _upload(api, staff.drafter, cap_document("api-4")).status_code == 201
    response = _upload(api, staff.drafter, cap_document("api-4"))
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_alert"


def test_api_import_needs_a_signed_in_user(api, tree):
    upload = SimpleUploadedFile("alert.xml", cap_document(), content_type="application/xml")
    assert api.post("/api/alerts/cap/import/", {"file": upload}, format="multipart").status_code == 401


def _valid_cap(content: bytes) -> bool:
    schema = cap_schema("1.2")
    assert schema is not None
    return schema.validate(etree.fromstring(content))


def test_cap_xml_export_is_public_for_issued_public_alerts_only(api, tree, staff):
    trusted_sender_create(
        actor=None, sender="met@example.org", organisation=tree.organisation, area=tree.city_a, auto_issue=True
    )
    [issued] = cap_import(
        actor=None, data=cap_document("x-1", sender="met@example.org"), organisation=tree.organisation
    )
    [draft] = cap_import(actor=staff.drafter, data=cap_document("x-2"))
    response = api.get(f"/api/alerts/{issued.pk}/cap.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/cap+xml"
    assert _valid_cap(response.content)
    again = cap_document_read(response.content).alerts[0].content
    assert again.identifier == "x-1"
    assert again.infos[0].areas[0].polygons == [[(1.0, 1.0), (1.0, 4.0), (4.0, 4.0), (4.0, 1.0), (1.0, 1.0)]]
    anonymous = api.get(f"/api/alerts/{draft.pk}/cap.xml")
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous.headers
    api.force_authenticate(staff.approver)
    assert _valid_cap(api.get(f"/api/alerts/{draft.pk}/cap.xml").content)
    api.force_authenticate(UserFactory.create())
    assert api.get(f"/api/alerts/{draft.pk}/cap.xml").status_code == 404


def test_picked_administrative_areas_are_exported_as_polygons_and_a_geocode(api, tree, staff):
    content = content_over(1, 1, 2, 2)
    content.infos[0].areas[0].polygons = []
    content.infos[0].areas[0].admin_area_ids = [tree.district_a1.pk]
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content)
    api.force_authenticate(staff.drafter)
    response = api.get(f"/api/alerts/{alert.pk}/cap.xml")
    assert _valid_cap(response.content)
    area = cap_document_read(response.content).alerts[0].content.infos[0].areas[0]
    assert area.polygons == [[(0.0, 0.0), (0.0, 5.0), (5.0, 5.0), (5.0, 0.0), (0.0, 0.0)]]
    assert [(p.value_name, p.value) for p in area.geocodes] == [("commsplatform:district", "A1")]


def test_huge_administrative_areas_are_simplified_for_export(api, tree, staff):
    ring = [(10 + 5 * math.cos(2 * math.pi * i / 5000), 10 + 5 * math.sin(2 * math.pi * i / 5000)) for i in range(5000)]
    ring.append(ring[0])
    geometry = MultiPolygon(Polygon(ring), srid=4326)
    [exported] = geometry_rings(geometry)
    assert len(exported) <= 1000
    assert exported[0] == exported[-1]


def test_the_atom_feed_lists_active_public_alerts_and_filters_by_area(api, tree, staff):
    trusted_sender_create(
        actor=None, sender="met@example.org", organisation=tree.organisation, area=tree.region, auto_issue=True
    )
    [in_a] = cap_import(actor=None, data=cap_document("f-1", sender="met@example.org"), organisation=tree.organisation)
    [in_b] = cap_import(
        actor=None,
        data=cap_document("f-2", sender="met@example.org", polygon=IN_CITY_B),
        organisation=tree.organisation,
    )
    cap_import(actor=None, data=cap_document("f-3"))  # a draft: never in the feed
    response = api.get("/api/alerts/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    atom = "{http://www.w3.org/2005/Atom}"
    links = [e.get("href", "") for e in feed.iter(f"{atom}link") if e.get("type") == "application/cap+xml"]
    assert sorted(links) == sorted(f"http://testserver/api/alerts/{a.pk}/cap.xml" for a in (in_a, in_b))
    only_b = etree.fromstring(api.get(f"/api/alerts/feed.atom?area={tree.city_b.pk}").content)
    assert [e.get("href") for e in only_b.iter(f"{atom}link") if e.get("type") == "application/cap+xml"] == [
        f"http://testserver/api/alerts/{in_b.pk}/cap.xml"
    ]
    assert api.get("/api/alerts/feed.atom?area=abc").status_code == 400
    assert api.get("/api/alerts/feed.atom?area=999999").status_code == 404


def test_feeds_and_trusted_senders_are_managed_by_approvers_of_the_area(api, tree, staff):
    api.force_authenticate(staff.drafter)
    body = {"name": "Met", "url": "https://example.org/cap.atom", "organisation": tree.organisation.pk}
    assert api.post("/api/alerts/cap/feeds/", {**body, "area": tree.city_a.pk}, format="json").status_code == 403
    api.force_authenticate(staff.approver)
    assert api.post("/api/alerts/cap/feeds/", {**body, "area": tree.city_b.pk}, format="json").status_code == 403
    created = api.post("/api/alerts/cap/feeds/", {**body, "area": tree.city_a.pk}, format="json")
    assert created.status_code == 201, created.content
    feed_id = created.json()["id"]
    bad = api.post(
        "/api/alerts/cap/feeds/", {**body, "url": "file:///etc/passwd", "area": tree.city_a.pk}, format="json"
    )
    assert bad.status_code == 400
    assert [f["id"] for f in api.get("/api/alerts/cap/feeds/").json()["results"]] == [feed_id]
    patched = api.patch(f"/api/alerts/cap/feeds/{feed_id}/", {"poll_interval_seconds": 600}, format="json")
    assert patched.json()["poll_interval_seconds"] == 600
    api.force_authenticate(staff.drafter)
    assert api.get(f"/api/alerts/cap/feeds/{feed_id}/").status_code == 404
    api.force_authenticate(staff.approver)
    assert api.delete(f"/api/alerts/cap/feeds/{feed_id}/").status_code == 204
    assert not CapFeed.objects.exists()

    trusted = {"sender": "met@example.org", "organisation": tree.organisation.pk, "area": tree.city_a.pk}
    created = api.post("/api/alerts/cap/trusted-senders/", {**trusted, "auto_issue": True}, format="json")
    assert created.status_code == 201, created.content
    assert api.post("/api/alerts/cap/trusted-senders/", trusted, format="json").status_code == 409
    trusted_id = created.json()["id"]
    patched = api.patch(f"/api/alerts/cap/trusted-senders/{trusted_id}/", {"require_signature": True}, format="json")
    assert patched.json()["require_signature"] is True
    api.force_authenticate(staff.drafter)
    assert api.delete(f"/api/alerts/cap/trusted-senders/{trusted_id}/").status_code == 404
    assert TrustedSender.objects.count() == 1


def test_an_approver_of_another_organisation_cannot_trust_senders_for_this_one(tree, staff):
    other = OrganisationFactory.create(name="Other", kind="ngo")
    outsider = UserFactory.create()
    grant(outsider, Role.ALERT_APPROVER, tree.city_a, other)
    with pytest.raises(PermissionDenied):
        trusted_sender_create(actor=outsider, sender="x@example.org", organisation=tree.organisation, area=tree.city_a)
