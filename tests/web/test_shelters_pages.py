"""Shelter pages for residents: the nearest open shelters with free places (list and map), search and filters,
one shelter's public page; in the browser, the list without JavaScript and free places dropping live."""

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from shelters import services
from tests.factories import AreaTree, UserFactory, resident_at
from tests.shelters.factories import ShelterFactory, staff
from tests.web.conftest import axe_violations, screenshot, transferred_bytes

pytestmark = pytest.mark.django_db


def _names(html: str, *names: str) -> list[int]:
    return [html.index(name) for name in names]


@pytest.fixture
def shelters(tree: AreaTree) -> dict[str, Any]:
    full = ShelterFactory.create(name="Full gym", lon=1.0, lat=1.01, capacity=1)
    services.shelter_check_in(actor=staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation), shelter=full, people=1)
    return {
        "full": full,
        "near": ShelterFactory.create(name="Near school", lon=1.01, lat=1.0, capacity=100, street="River Road"),
        "far": ShelterFactory.create(
            name="Far hall",
            lon=3.0,
            lat=3.0,
            capacity=50,
            pets_allowed=True,
            postcode="12345",
            names={"fr": "Salle"},
            hazards=["tsunami"],
        ),
        "closed": ShelterFactory.create(name="Closed church", lon=1.0, lat=1.0, status="closed"),
    }


def test_without_a_location_everyone_sees_open_shelters_with_free_places(shelters: dict[str, Any]) -> None:
    response = Client().get("/shelters/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Near school" in html
    assert "Far hall" in html
    assert "Full gym" not in html
    assert "Closed church" not in html
    assert 'id="shelters-data"' in html  # the map's data
    assert 'id="use-my-location"' in html


def test_from_a_point_the_nearest_come_first_with_their_distance(shelters: dict[str, Any]) -> None:
    html = Client().get("/shelters/", {"lat": "1", "lon": "1"}).content.decode()
    near, far = _names(html, "Near school", "Far hall")
    assert near < far
    assert "Full gym" not in html
    assert " m<" in html or " km<" in html


def test_a_signed_in_resident_is_searched_from_their_shared_place(shelters: dict[str, Any]) -> None:
    client = Client()
    client.force_login(resident_at(3, 3))
    html = client.get("/shelters/").content.decode()
    assert "Nearest to the place you shared with us." in html
    far, near = _names(html, "Far hall", "Near school")
    assert far < near


def test_filters_and_search_by_street_and_postcode(shelters: dict[str, Any]) -> None:
    html = Client().get("/shelters/", {"lat": "1", "lon": "1", "needs": "pets"}).content.decode()
    assert "Far hall" in html
    assert "Near school" not in html
    html = Client().get("/shelters/", {"street": "river"}).content.decode()
    assert "Near school" in html
    assert "Far hall" not in html
    html = Client().get("/shelters/", {"postcode": "123"}).content.decode()
    assert "Far hall" in html
    assert "Near school" not in html
    html = Client().get("/shelters/", {"lat": "1", "lon": "1", "hazard": "tsunami"}).content.decode()
    assert "Far hall" in html
    assert "Near school" not in html
    html = Client().get("/shelters/", {"hazard": "tsunami"}).content.decode()
    assert "Far hall" in html
    assert "Near school" not in html
    html = Client().get("/shelters/", {"all": "1"}).content.decode()
    assert "Full gym" in html
    assert "Closed church" in html


def test_names_follow_the_readers_language(shelters: dict[str, Any]) -> None:
    client = Client()
    client.cookies["django_language"] = "fr"
    assert "Salle" in client.get("/shelters/").content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"lat": "north", "lon": "1"},
        {"lat": "91", "lon": "1"},
        {"lat": "1"},
        {"lat": "1", "lon": "1", "needs": "jacuzzi"},
        {"lat": "1", "lon": "1", "people": "many"},
        {"all": "perhaps"},
        {"hazard": "meteor"},
        {"street": "x" * 201},
    ],
)
def test_bad_input_is_a_400_with_the_form(shelters: dict[str, Any], query: dict[str, str]) -> None:
    response = Client().get("/shelters/", query)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_a_shelters_page_shows_its_free_places(shelters: dict[str, Any], tree: AreaTree) -> None:
    shelter = shelters["near"]
    manager = staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    services.shelter_check_in(actor=manager, shelter=shelter, people=3)
    html = Client().get(f"/shelters/{shelter.pk}/").content.decode()
    assert "<h1>Near school</h1>" in html
    assert "data-free-places>97<" in html
    assert "data-occupancy>3<" in html
    assert f'data-poll-url="/shelters/{shelter.pk}/"' in html  # no live stream without an account
    signed_in = Client()
    signed_in.force_login(UserFactory.create())
    assert f'data-live-url="/ws/shelters/{shelter.pk}/"' in signed_in.get(f"/shelters/{shelter.pk}/").content.decode()


def test_unknown_shelters_are_not_found() -> None:
    assert Client().get("/shelters/999999/").status_code == 404


# In the browser ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_list_still_shows(visit, tree: AreaTree) -> None:
    ShelterFactory.create(name="Near school", lon=1.01, lat=1.0, capacity=100)
    page = visit("/shelters/?lat=1&lon=1", javascript=False)
    assert page.locator(".shelter-card h3").first.inner_text() == "Near school"
    assert page.locator("#use-my-location").is_hidden()


@pytest.mark.django_db(transaction=True)
def test_use_my_location_lists_the_nearest_on_the_map(visit, tree: AreaTree) -> None:
    ShelterFactory.create(name="Near school", lon=1.01, lat=1.0, capacity=100)
    ShelterFactory.create(name="Far hall", lon=3.0, lat=3.0, capacity=50)
    page = visit("/shelters/", geolocation=(1.0, 1.0))
    page.wait_for_load_state("networkidle")
    assert sum(transferred_bytes(page).values()) <= 200_000
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url("**/shelters/?*lat=1.000000*")
    assert page.locator(".shelter-card h3").first.inner_text() == "Near school"
    screenshot(page, "shelters-list")
    violations = axe_violations(page)
    assert not violations, violations


@pytest.mark.django_db(transaction=True)
def test_free_places_drop_live_when_people_check_in(visit, tree: AreaTree) -> None:
    # The check-in below reaches the browser through the web stack's Redis channel layer (see conftest).
    manager = staff(Role.SHELTER_MANAGER, tree.city_a, tree.organisation)
    shelter = ShelterFactory.create(name="Near school", lon=1.01, lat=1.0, capacity=100)
    resident = resident_at(1, 1)
    page = visit(f"/shelters/{shelter.pk}/", user=resident)
    page.wait_for_selector("#shelter-live-status[data-state='live']")
    assert sum(transferred_bytes(page).values()) <= 200_000
    page.evaluate("window.__same_page = true")
    free = page.locator("[data-free-places]")
    assert free.inner_text() == "100"
    services.shelter_check_in(actor=manager, shelter=shelter, people=4)
    page.wait_for_function("() => document.querySelector('[data-free-places]').textContent === '96'")
    assert page.locator("[data-occupancy]").inner_text() == "4"
    assert page.evaluate("window.__same_page") is True
    screenshot(page, "shelter-detail")
    violations = axe_violations(page)
    assert not violations, violations


@pytest.mark.django_db(transaction=True)
def test_anonymous_visitors_read_a_shelters_page(visit, tree: AreaTree) -> None:
    shelter = ShelterFactory.create(name="Near school", lon=1.01, lat=1.0, capacity=100, step_free_access=True)
    page = visit(f"/shelters/{shelter.pk}/")
    assert page.locator("[data-free-places]").inner_text() == "100"
    assert page.get_by_text("Step-free access").count() == 1
    assert page.get_by_role("link", name="Sign in").count() >= 1
    violations = axe_violations(page)
    assert not violations, violations
    no_js = visit(f"/shelters/{shelter.pk}/", javascript=False)
    assert no_js.locator("[data-free-places]").inner_text() == "100"
