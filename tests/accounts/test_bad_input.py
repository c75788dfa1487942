"""Malformed requests, wrong types, unknown ids and huge payloads get a specific 4xx and change nothing."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AdministrativeArea, Membership
from commsplatform.core.models import AuditEvent
from tests.factories import UserFactory, grant


def _snapshot() -> tuple[int, int, int]:
    return AdministrativeArea.objects.count(), Membership.objects.count(), AuditEvent.objects.count()


@pytest.fixture
def admin_client(api, tree):
    admin = UserFactory.create()
    grant(admin, "administrator", tree.city_a, tree.organisation)
    api.force_authenticate(admin)
    return api


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "abc", "organisation": 1, "role": "moderator", "area": 1}, "user"),
        ({"user": 999999, "organisation": 1, "role": "moderator", "area": 1}, "user"),
        ({"user": 1, "organisation": 1, "role": "emperor", "area": 1}, "role"),
        ({"user": 1, "organisation": 1, "role": "moderator"}, "area"),
        ({"user": 1, "organisation": 1, "role": "moderator", "area": 1, "valid_from": "yesterday"}, "valid_from"),
    ],
)
def test_membership_field_errors_are_specific(admin_client, tree, body, field):
    before = _snapshot()
    response = admin_client.post("/api/accounts/memberships/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert _snapshot() == before


@pytest.mark.django_db
def test_membership_that_ends_before_it_starts_is_refused(admin_client, tree):
    newcomer = UserFactory.create()
    before = _snapshot()
    response = admin_client.post(
        "/api/accounts/memberships/",
        {
            "user": newcomer.pk,
            "organisation": tree.organisation.pk,
            "role": "moderator",
            "area": tree.city_a.pk,
            "valid_from": "2026-06-01T00:00:00Z",
            "valid_until": "2026-05-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["valid_until"]
    assert _snapshot() == before


@pytest.mark.django_db
def test_duplicate_membership_is_a_conflict(admin_client, tree):
    newcomer = UserFactory.create()
    body = {"user": newcomer.pk, "organisation": tree.organisation.pk, "role": "moderator", "area": tree.city_a.pk}
    assert admin_client.post("/api/accounts/memberships/", body, format="json").status_code == 201
    before = _snapshot()
    assert admin_client.post("/api/accounts/memberships/", body, format="json").status_code == 409
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},  # self-intersecting
        {"type": "Point", "coordinates": [1, 1]},
        {"type": "Polygon", "coordinates": "nonsense"},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},  # too few points
        {
            "type": "Polygon",
            "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
            "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
        },
        "POLYGON((0 0, 1 0, 1 1, 0 0))",
    ],
)
def test_bad_area_geometry_is_refused(admin_client, tree, geometry):
    before = _snapshot()
    response = admin_client.post(
        "/api/accounts/areas/",
        {"name": "Bad", "code": "BAD", "level": "district", "parent": tree.city_a.pk, "geometry": geometry},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert _snapshot() == before


@pytest.mark.django_db
def test_area_level_must_fit_the_tree(admin_client, tree):
    before = _snapshot()
    square = {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]}
    response = admin_client.post(
        "/api/accounts/areas/",
        {"name": "Wrong", "code": "W", "level": "region", "parent": tree.city_a.pk, "geometry": square},
        format="json",
    )
    assert response.status_code == 400
    assert "parent" in response.json()["fields"]
    assert _snapshot() == before
    created = admin_client.post(
        "/api/accounts/areas/",
        {"name": "Alpha Two", "code": "A2", "level": "district", "parent": tree.city_a.pk, "geometry": square},
        format="json",
    )
    assert created.status_code == 201
    assert AdministrativeArea.objects.get(code="A2").path == f"{tree.city_a.path}{created.json()['id']}/"


@pytest.mark.django_db
def test_unknown_ids_are_404(admin_client):
    for url in (
        "/api/accounts/areas/999999/",
        "/api/accounts/memberships/999999/",
        "/api/accounts/agreements/999999/",
        "/api/accounts/residents/999999/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_non_json_and_huge_bodies_are_refused(admin_client, settings):
    before = _snapshot()
    garbage = admin_client.generic("POST", "/api/accounts/memberships/", b"{not json", content_type="application/json")
    assert garbage.status_code == 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    huge = admin_client.generic(
        "POST", "/api/accounts/memberships/", json.dumps({"x": "y" * 5000}), content_type="application/json"
    )
    assert huge.status_code in (400, 413)
    assert _snapshot() == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["location", "type", "coordinates", "crs"]), json_values, max_size=3))
def test_any_location_body_gets_4xx_or_success_never_500(api, body):
    user = UserFactory.create()
    api.force_authenticate(user)
    response = api.put("/api/accounts/me/home-location/", body, format="json")
    assert response.status_code in (204, 400, 403), (body, response.status_code, response.content)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["user", "organisation", "role", "area", "valid_until"]), json_values))
def test_any_membership_body_never_500s_nor_writes(admin_client, body):
    before = Membership.objects.count()
    response = admin_client.post("/api/accounts/memberships/", body, format="json")
    assert response.status_code in (400, 403, 404, 409), (body, response.status_code, response.content)
    assert Membership.objects.count() == before
