"""Every role by {its area, a sub-area, outside} by {read, write} on the accounts API, and agreements in time.

The expected matrix is written out here, by hand, as the specification; it is not derived from the
code's role table, so a change to what a role may do must change this file too.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts import services
from accounts.models import Role
from tests.factories import AreaTree, OrganisationFactory, UserFactory, grant, resident_at

ALL_ROLES = [r.value for r in Role]

# Who may do what over the area of their role (and so over its sub-areas); outside it, nobody may.
MAY_READ_RESIDENTS = {"shelter_manager"}
MAY_READ_COUNTS = {"official", "alert_drafter", "alert_approver", "shelter_manager", "auditor", "administrator"}
MAY_READ_AUDIT = {"auditor"}
MAY_WRITE_MEMBERSHIPS = {"administrator"}
MAY_WRITE_AREAS = {"administrator"}

PLACES = ["inside", "sub_area", "outside"]


def _target(tree: AreaTree, place: str):
    return {"inside": tree.city_a, "sub_area": tree.district_a1, "outside": tree.city_b}[place]


def _cells(api, tree: AreaTree, role: str, actor, newcomer) -> dict[tuple[str, str], int]:
    """Status code of each (action, place) for the actor."""
    api.force_authenticate(actor)
    seen: dict[tuple[str, str], int] = {}
    for place in PLACES:
        area = _target(tree, place)
        seen[("read_residents", place)] = api.get(f"/api/accounts/areas/{area.pk}/residents/").status_code
        seen[("read_counts", place)] = api.get(f"/api/accounts/areas/{area.pk}/counts/").status_code
        seen[("write_membership", place)] = api.post(
            "/api/accounts/memberships/",
            {"user": newcomer.pk, "organisation": tree.organisation.pk, "role": "moderator", "area": area.pk},
            format="json",
        ).status_code
        seen[("write_area", place)] = api.patch(
            f"/api/accounts/areas/{area.pk}/", {"name": f"{area.name} renamed by {role}"}, format="json"
        ).status_code
    return seen


def _expected(role: str) -> dict[tuple[str, str], int]:
    expected: dict[tuple[str, str], int] = {}
    for place in PLACES:
        covered = place != "outside"
        expected[("read_residents", place)] = 200 if covered and role in MAY_READ_RESIDENTS else 403
        expected[("read_counts", place)] = 200 if covered and role in MAY_READ_COUNTS else 403
        expected[("write_membership", place)] = 201 if covered and role in MAY_WRITE_MEMBERSHIPS else 403
        expected[("write_area", place)] = 200 if covered and role in MAY_WRITE_AREAS else 403
    return expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_matrix_over_area_sub_area_and_outside(api, tree, role):
    actor = UserFactory.create()
    grant(actor, role, tree.city_a, tree.organisation)
    newcomer = UserFactory.create()
    resident_at(2, 2)  # lives in district A1, so in city A
    resident_at(25, 5)  # lives in city B

    seen = _cells(api, tree, role, actor, newcomer)

    mismatches = {cell: (seen[cell], want) for cell, want in _expected(role).items() if seen[cell] != want}
    assert not mismatches, f"{role}: (action, place) -> (got, expected): {mismatches}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ALL_ROLES)
def test_reads_return_only_what_lies_inside_the_area(api, tree, role):
    actor = UserFactory.create()
    grant(actor, role, tree.city_a, tree.organisation)
    inside = resident_at(2, 2)
    resident_at(25, 5)
    api.force_authenticate(actor)

    listing = api.get("/api/accounts/residents/")
    audit = api.get("/api/accounts/audit/events/")

    if role in MAY_READ_RESIDENTS:
        assert listing.status_code == 200
        assert [r["user"] for r in listing.json()["results"]] == [inside.pk]
    else:
        assert listing.status_code == 200
        assert listing.json()["results"] == []
    if role in MAY_READ_AUDIT:
        assert audit.status_code == 200
        area_ids = {e["area_id"] for e in audit.json()["results"]}
        assert tree.district_a1.pk in area_ids
        assert tree.city_a.pk in area_ids
        assert tree.city_b.pk not in area_ids
    else:
        assert audit.status_code == 403


@pytest.mark.django_db
def test_counts_are_aggregates_of_the_area(api, tree):
    actor = UserFactory.create()
    grant(actor, "official", tree.city_a, tree.organisation)
    needing = resident_at(2, 2)
    services.consent_give(user=needing, purpose="needs_mobility", version="1")
    services.resident_need_set(user=needing, kind="mobility")
    resident_at(7, 7)
    outside = resident_at(25, 5)
    services.consent_give(user=outside, purpose="needs_mobility", version="1")
    services.resident_need_set(user=outside, kind="mobility")
    api.force_authenticate(actor)

    city = api.get(f"/api/accounts/areas/{tree.city_a.pk}/counts/").json()
    district = api.get(f"/api/accounts/areas/{tree.district_a1.pk}/counts/").json()

    assert city["living_here"] == 2
    assert district["living_here"] == 1
    assert city["need_mobility"] == 1, "the resident in city B is not counted"


@pytest.mark.django_db
def test_anonymous_is_refused_everything_but_public_geography(api, tree):
    assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/").status_code == 200
    assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/residents/").status_code == 401
    assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/counts/").status_code == 401
    assert api.patch(f"/api/accounts/areas/{tree.city_a.pk}/", {"name": "x"}, format="json").status_code == 401


@pytest.mark.django_db
def test_expired_or_future_membership_grants_nothing(api, tree):
    actor = UserFactory.create()
    now = timezone.now()
    grant(
        actor,
        "shelter_manager",
        tree.city_a,
        tree.organisation,
        valid_from=now + timedelta(hours=1),
        valid_until=now + timedelta(hours=2),
    )
    url = f"/api/accounts/areas/{tree.city_a.pk}/residents/"
    api.force_authenticate(actor)

    assert api.get(url).status_code == 403
    with time_machine.travel(now + timedelta(hours=1, minutes=1), tick=False):
        assert api.get(url).status_code == 200
    with time_machine.travel(now + timedelta(hours=2, minutes=1), tick=False):
        assert api.get(url).status_code == 403


class TestAgreements:
    """A health NGO's staff read residents of city A under an agreement with civil protection."""

    @pytest.fixture
    def setup(self, api, tree):
        grantor_admin = UserFactory.create()
        grant(grantor_admin, "administrator", tree.region, tree.organisation)
        ngo = OrganisationFactory.create(name="Health NGO", kind="ngo", area=tree.city_b)
        ngo_staff = UserFactory.create()
        grant(ngo_staff, "asset_owner", tree.city_b, ngo)
        resident = resident_at(2, 2)
        return grantor_admin, ngo, ngo_staff, resident

    def _make_agreement(self, api, tree, grantor_admin, ngo, start, end):
        api.force_authenticate(grantor_admin)
        response = api.post(
            "/api/accounts/agreements/",
            {
                "grantor": tree.organisation.pk,
                "grantee": ngo.pk,
                "data_kinds": ["residents"],
                "areas": [tree.city_a.pk],
                "purpose": "Home visits to residents who need medical help during the flood.",
                "legal_reference": "Civil Protection Act s.12; agreement CP-2026-7",
                "valid_from": start.isoformat(),
                "valid_until": end.isoformat(),
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    @pytest.mark.django_db
    def test_before_during_and_after_validity(self, api, tree, setup):
        grantor_admin, ngo, ngo_staff, resident = setup
        now = timezone.now()
        self._make_agreement(api, tree, grantor_admin, ngo, now + timedelta(days=1), now + timedelta(days=2))
        api.force_authenticate(ngo_staff)
        inside = f"/api/accounts/areas/{tree.city_a.pk}/residents/"
        sub_area = f"/api/accounts/areas/{tree.district_a1.pk}/residents/"
        outside = f"/api/accounts/areas/{tree.city_b.pk}/residents/"

        assert api.get(inside).status_code == 403, "before validity"
        with time_machine.travel(now + timedelta(days=1, hours=1), tick=False):
            during = api.get(inside)
            assert during.status_code == 200
            assert [r["user"] for r in during.json()["results"]] == [resident.pk]
            assert api.get(sub_area).status_code == 200
            assert api.get(outside).status_code == 403
            assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/counts/").status_code == 403, "only residents"
            write = api.post(
                "/api/accounts/memberships/",
                {"user": ngo_staff.pk, "organisation": ngo.pk, "role": "moderator", "area": tree.city_a.pk},
                format="json",
            )
            assert write.status_code == 403, "agreements never grant writes"
        with time_machine.travel(now + timedelta(days=2, seconds=1), tick=False):
            assert api.get(inside).status_code == 403, "after validity"

    @pytest.mark.django_db
    def test_revoked_agreement_ends_access_at_once(self, api, tree, setup):
        grantor_admin, ngo, ngo_staff, _ = setup
        now = timezone.now()
        agreement_id = self._make_agreement(
            api, tree, grantor_admin, ngo, now - timedelta(hours=1), now + timedelta(days=1)
        )
        api.force_authenticate(ngo_staff)
        assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/residents/").status_code == 200

        api.force_authenticate(grantor_admin)
        assert api.delete(f"/api/accounts/agreements/{agreement_id}/").status_code == 204
        api.force_authenticate(ngo_staff)
        assert api.get(f"/api/accounts/areas/{tree.city_a.pk}/residents/").status_code == 403

    @pytest.mark.django_db
    def test_only_an_administrator_of_the_grantor_over_the_areas_may_grant(self, api, tree, setup):
        _, ngo, ngo_staff, _ = setup
        now = timezone.now()
        outsider_admin = UserFactory.create()
        grant(outsider_admin, "administrator", tree.city_b, tree.organisation)
        body = {
            "grantor": tree.organisation.pk,
            "grantee": ngo.pk,
            "data_kinds": ["residents"],
            "areas": [tree.city_a.pk],
            "purpose": "p",
            "legal_reference": "r",
            "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
        }
        api.force_authenticate(outsider_admin)
        assert api.post("/api/accounts/agreements/", body, format="json").status_code == 403
        api.force_authenticate(ngo_staff)
        assert api.post("/api/accounts/agreements/", body, format="json").status_code == 403
