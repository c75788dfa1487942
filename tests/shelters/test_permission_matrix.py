"""Every role by {its area, a sub-area, outside} on the shelters API: read staff details, write, see stays, see
assets. Written out by hand as the specification, like the accounts matrix."""

import pytest

from accounts.models import Role
from tests.factories import AreaTree, OrganisationFactory, UserFactory, grant
from tests.shelters.factories import AssetFactory, ShelterFactory

ALL_ROLES = [r.value for r in Role]
MAY_SEE_DETAILS = {"official", "alert_drafter", "alert_approver", "shelter_manager"}
MAY_MANAGE = {"shelter_manager"}
MAY_SEE_OTHERS_ASSETS = {"shelter_manager"}
PLACES = {"inside": (7.0, 7.0), "sub_area": (2.0, 2.0), "outside": (25.0, 5.0)}


def _cells(api, tree: AreaTree, actor) -> dict[tuple[str, str], int]:
    utility = OrganisationFactory.create(name="Grid Co", kind="utility", area=tree.region)
    seen: dict[tuple[str, str], int] = {}
    for place, (lon, lat) in PLACES.items():
        shelter = ShelterFactory.create(lon=lon, lat=lat, capacity=10)
        asset = AssetFactory.create(owner=utility, lon=lon, lat=lat)
        api.force_authenticate(actor)
        seen[("history", place)] = api.get(f"/api/shelters/{shelter.pk}/history/").status_code
        seen[("census", place)] = api.put(
            f"/api/shelters/{shelter.pk}/occupancy/", {"occupancy": 1}, format="json"
        ).status_code
        seen[("stays", place)] = api.get(f"/api/shelters/{shelter.pk}/stays/").status_code
        seen[("asset", place)] = api.get(f"/api/shelters/assets/{asset.pk}/").status_code
        seen[("create", place)] = api.post(
            "/api/shelters/",
            {"name": f"New {place}", "location": {"type": "Point", "coordinates": [lon + 0.1, lat]}},
            format="json",
        ).status_code
    return seen


def _expected(role: str) -> dict[tuple[str, str], int]:
    expected: dict[tuple[str, str], int] = {}
    for place in PLACES:
        covered = place != "outside"
        expected[("history", place)] = 200 if covered and role in MAY_SEE_DETAILS else 403
        expected[("census", place)] = 200 if covered and role in MAY_MANAGE else 403
        expected[("stays", place)] = 200 if covered and role in MAY_MANAGE else 403
        expected[("asset", place)] = 200 if covered and role in MAY_SEE_OTHERS_ASSETS else 404
        expected[("create", place)] = 201 if covered and role in MAY_MANAGE else 403
    return expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_matrix_over_area_sub_area_and_outside(api, tree, role):
    actor = UserFactory.create()
    grant(actor, role, tree.city_a, tree.organisation)

    seen = _cells(api, tree, actor)

    mismatches = {cell: (seen[cell], want) for cell, want in _expected(role).items() if seen[cell] != want}
    assert not mismatches, f"{role}: (action, place) -> (got, expected): {mismatches}"
