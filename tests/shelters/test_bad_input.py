"""Malformed requests, wrong types, unknown ids and huge payloads get a specific 4xx and change nothing."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commsplatform.core.models import AuditEvent
from shelters.models import Asset, Shelter, ShelterStay
from tests.factories import OrganisationFactory
from tests.shelters.factories import ShelterFactory, staff

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
SHELTER_KEYS = ["name", "names", "location", "capacity", "beds", "hazards", "languages", "contacts", "status", "street"]
QUERY_KEYS = ["q", "street", "postcode", "bbox", "lon", "lat", "within_m", "status", "hazard", "area", "with_space"]
NEAREST_KEYS = ["lon", "lat", "people", "needs", "hazard", "language", "bed", "limit", "max_distance_m"]


def _counts() -> tuple[int, int, int, int]:
    return Shelter.objects.count(), ShelterStay.objects.count(), Asset.objects.count(), AuditEvent.objects.count()


@pytest.fixture
def manager_client(api, tree):
    api.force_authenticate(staff("shelter_manager", tree.city_a, tree.organisation))
    return api


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(SHELTER_KEYS), json_values, max_size=6))
def test_any_shelter_body_gets_201_or_a_4xx(manager_client, body):
    before = _counts()
    response = manager_client.post("/api/shelters/", body, format="json")
    assert response.status_code in (201, 400, 403), (body, response.status_code, response.content)
    if response.status_code != 201:
        assert _counts() == before


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["people", "beds", "resident"]), json_values, max_size=3))
def test_any_check_in_body_gets_201_or_a_4xx(manager_client, tree, body):
    shelter = Shelter.objects.first() or ShelterFactory.create(capacity=5, beds={"women": 2})
    before = _counts()
    response = manager_client.post(f"/api/shelters/{shelter.pk}/check-in/", body, format="json")
    assert response.status_code in (201, 400, 403, 409), (body, response.status_code, response.content)
    if response.status_code != 201:
        assert _counts() == before


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=30), max_size=5),
    nearest=st.dictionaries(st.sampled_from(NEAREST_KEYS), st.text(max_size=30), max_size=5),
)
def test_any_search_parameters_get_200_or_400(manager_client, tree, query, nearest):
    listing = manager_client.get("/api/shelters/", query)
    assert listing.status_code in (200, 400), (query, listing.status_code, listing.content)
    found = manager_client.get("/api/shelters/nearest/", nearest)
    assert found.status_code in (200, 400), (nearest, found.status_code, found.content)


@pytest.mark.django_db
def test_unknown_ids_are_404(manager_client):
    for method, url in (
        ("get", "/api/shelters/999999/"),
        ("patch", "/api/shelters/999999/"),
        ("post", "/api/shelters/999999/check-in/"),
        ("post", "/api/shelters/999999/check-out/"),
        ("put", "/api/shelters/999999/occupancy/"),
        ("post", "/api/shelters/999999/status/"),
        ("get", "/api/shelters/999999/history/"),
        ("get", "/api/shelters/999999/stays/"),
        ("get", "/api/shelters/routes/999999/"),
        ("get", "/api/shelters/assets/999999/"),
        ("delete", "/api/shelters/assets/999999/"),
    ):
        response = getattr(manager_client, method)(url, {}, format="json")
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"people": 0}, "people"),
        ({"people": "two"}, "people"),
        ({"people": 1, "beds": {"dragons": 1}}, "beds"),
        ({"people": 1, "beds": {"women": -1}}, "beds"),
        ({"people": 1, "resident": 999999}, "resident"),
    ],
)
def test_check_in_field_errors_are_specific(manager_client, tree, body, field):
    shelter = ShelterFactory.create(capacity=5)
    before = _counts()
    response = manager_client.post(f"/api/shelters/{shelter.pk}/check-in/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert _counts() == before


@pytest.mark.django_db
def test_beds_above_the_household_are_refused(manager_client, tree):
    shelter = ShelterFactory.create(capacity=5, beds={"women": 5})
    response = manager_client.post(
        f"/api/shelters/{shelter.pk}/check-in/", {"people": 1, "beds": {"women": 2}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"beds": "invalid"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "location": {"type": "Point", "coordinates": [500, 2]}}, "location"),
        ({"name": "X", "location": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}}, "location"),
        ({"name": "X", "location": {"type": "Point", "coordinates": [60, 60]}}, "location"),  # in no area
        ({"name": "X", "location": {"type": "Point", "coordinates": [2, 2]}, "names": {"not a tag": "X"}}, "names"),
        ({"name": "X", "location": {"type": "Point", "coordinates": [2, 2]}, "languages": ["english!"]}, "languages"),
        ({"name": "X", "location": {"type": "Point", "coordinates": [2, 2]}, "status": "full"}, "status"),
        ({"name": "X", "location": {"type": "Point", "coordinates": [2, 2]}, "capacity": -1}, "capacity"),
        ({"name": "", "location": {"type": "Point", "coordinates": [2, 2]}}, "name"),
    ],
)
def test_shelter_field_errors_are_specific(manager_client, body, field):
    before = _counts()
    response = manager_client.post("/api/shelters/", body, format="json")
    assert response.status_code == 400, response.content
    content = response.json()
    assert field in content or field in content.get("fields", {}), content
    assert _counts() == before


@pytest.mark.django_db
def test_non_json_and_huge_bodies_are_refused(manager_client, settings):
    before = _counts()
    garbage = manager_client.generic("POST", "/api/shelters/", b"{not json", content_type="application/json")
    assert garbage.status_code == 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    huge = manager_client.generic(
        "POST", "/api/shelters/", json.dumps({"name": "y" * 5000}), content_type="application/json"
    )
    assert huge.status_code in (400, 413)
    assert _counts() == before


@pytest.mark.django_db
def test_an_upload_larger_than_the_limit_is_refused_before_reading(api, tree, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shelters.api import views

    organisation = OrganisationFactory.create(kind="utility", area=tree.city_a)
    api.force_authenticate(staff("asset_owner", tree.city_a, organisation))
    monkeypatch.setattr(views, "MAX_UPLOAD_BYTES", 10)
    response = api.post(
        "/api/shelters/assets/upload/",
        {"owner": organisation.pk, "file": SimpleUploadedFile("a.csv", b"x" * 100)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"file": "too large"}


upload_lines = st.lists(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12), min_size=1, max_size=12).map(
        ",".join
    ),
    max_size=6,
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=upload_lines, header=st.booleans(), raw=st.binary(max_size=200))
def test_any_uploaded_file_gets_a_report_never_a_500(api, tree, lines, header, raw):
    from django.core.files.uploadedfile import SimpleUploadedFile

    organisation = OrganisationFactory.create(kind="utility", area=tree.city_a)
    api.force_authenticate(staff("asset_owner", tree.city_a, organisation))
    head = ["external_id,type,name,longitude,latitude"] if header else []
    for content, name in (("\n".join([*head, *lines]).encode(), "a.csv"), (raw, "a.geojson")):
        before = Asset.objects.count()
        response = api.post(
            "/api/shelters/assets/upload/",
            {"owner": organisation.pk, "file": SimpleUploadedFile(name, content)},
            format="multipart",
        )
        assert response.status_code in (200, 400), (content, response.status_code, response.content)
        if response.status_code == 400:
            assert Asset.objects.count() == before


@pytest.mark.django_db
def test_unknown_fields_are_named_not_ignored(manager_client, tree):
    shelter = ShelterFactory.create(capacity=5)
    response = manager_client.patch(f"/api/shelters/{shelter.pk}/", {"status": "closed", "capacty": 9}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"status", "capacty"}
    assert Shelter.objects.get(pk=shelter.pk).status == "open"
