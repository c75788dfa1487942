"""Every resident page, as a resident on a cheap phone would load it: no serious or critical accessibility
violation (axe-core), at most 200 KB transferred on first load, readable in English and in Arabic (right to left).
Screenshots of each page are saved under var/screenshots/ for review."""

import json
from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import Role
from alerts.models import Alert
from rooms.models import Room, RoomKind, RoomVisibility
from rooms.services import room_create
from shelters.models import Shelter
from tests.alerts.factories import content_over, issued_alert, staff_for, web_resident
from tests.factories import UserFactory, grant, make_area_tree
from tests.shelters.factories import ShelterFactory
from tests.web.conftest import SCREENSHOTS, axe_violations, screenshot, transferred_bytes

PAGE_BUDGET_BYTES = 200 * 1024
# A phone: narrow screen, as the budget is meant for.
PHONE = (390, 844)


@dataclass
class World:
    resident: Any
    alert: Alert
    shelter: Shelter
    room: Room


@pytest.fixture
def world(transactional_db: None) -> World:
    tree = make_area_tree()
    resident = web_resident(2, 2, username="amira")
    alert = issued_alert(staff_for(tree), content_over(1, 1, 4, 4, languages=("en-US", "ar"), severity="Extreme"))
    shelter = ShelterFactory.create(name="North School", lon=2.1, lat=2.1, capacity=120)
    host = UserFactory.create(username="mayor")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    room = room_create(
        actor=host,
        title="Flood town hall",
        kind=RoomKind.TOWN_HALL,
        visibility=RoomVisibility.PUBLIC,
        area=tree.city_a,
        chat_open=True,
        questions_premoderated=True,
    )
    return World(resident=resident, alert=alert, shelter=shelter, room=room)


def _pages(world: World) -> list[tuple[str, str, bool]]:
    """(name, path, signed in) of every resident page."""
    return [
        ("home-anonymous", "/", False),
        ("signup", "/signup/", False),
        ("login", "/login/", False),
        ("home", "/", True),
        ("alert-detail", f"/alerts/{world.alert.pk}/", True),
        ("shelters", "/shelters/?lat=2&lon=2", True),
        ("shelter-detail", f"/shelters/{world.shelter.pk}/", True),
        ("rooms", "/rooms/", True),
        ("room", f"/rooms/{world.room.pk}/", True),
        ("report", "/report/", True),
        ("profile", "/me/", True),
        ("welcome", "/welcome/", True),
    ]


@pytest.mark.parametrize("language", ["en", "ar"])
def test_resident_pages_are_accessible_light_and_right_to_left_in_arabic(visit, world, language):
    problems: list[str] = []
    weights: dict[str, int] = {}
    for name, path, signed_in in _pages(world):
        page = visit(path, user=world.resident if signed_in else None, language=language, viewport=PHONE)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == language, name
        assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr"), name
        assert page.locator("h1").count() == 1, f"{name}: one h1"
        for violation in axe_violations(page):
            problems.append(f"{name} ({language}): {violation}")
        sizes = transferred_bytes(page)
        weights[name] = sum(sizes.values())
        if weights[name] > PAGE_BUDGET_BYTES:
            heaviest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
            problems.append(f"{name} ({language}): {weights[name]} bytes transferred, over the budget: {heaviest}")
        screenshot(page, f"resident-{name}-{language}")
        page.context.close()
    # The figures, for the record (the budget): var/screenshots/page-weight-<language>.json.
    (SCREENSHOTS / f"page-weight-{language}.json").write_text(json.dumps(weights, indent=1))
    assert not problems, "\n".join(problems)


def test_alerts_and_shelters_are_readable_without_javascript(visit, world):
    home = visit("/", user=world.resident, javascript=False, viewport=PHONE)
    assert "Flood warning (en-US)" in home.locator("main").inner_text()
    shelters = visit("/shelters/?lat=2&lon=2", user=world.resident, javascript=False, viewport=PHONE)
    assert "North School" in shelters.locator("main").inner_text()
    shelter = visit(f"/shelters/{world.shelter.pk}/", javascript=False, viewport=PHONE)
    assert shelter.locator("[data-free-places]").inner_text().strip() == "120"
