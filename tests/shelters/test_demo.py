"""The demo includes shelters, routes and assets that the demo logins can use."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.demo import demo_username
from accounts.models import Role, User
from shelters import selectors, services
from shelters.models import Asset, EvacuationRoute, Shelter


def load_demo(*args: str) -> None:
    call_command("load_demo", *args, stdout=StringIO())


def user(role: str) -> User:
    return User.objects.get(username=demo_username(role))


@pytest.mark.django_db
def test_demoville_has_shelters_routes_and_assets_the_demo_staff_can_use(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    load_demo()

    assert Shelter.objects.count() == 4
    assert sorted(EvacuationRoute.objects.values_list("status", flat=True)) == ["blocked", "open"]
    resident_home = user(Role.RESIDENT).resident_profile.home_location
    assert resident_home is not None
    nearest = selectors.shelter_nearest(point=resident_home)
    assert nearest, "the demo resident finds an open shelter with room"
    assert all(item.shelter.free_places for item in nearest)
    manager = user(Role.SHELTER_MANAGER)
    in_district = Shelter.objects.get(area=manager.memberships.get().area, status="open")
    assert services.shelter_check_in(actor=manager, shelter=in_district, people=2).people == 2
    owner = user(Role.ASSET_OWNER)
    assert selectors.asset_list_for_user(user=owner).count() == Asset.objects.count() == 4

    before = (Shelter.objects.count(), Asset.objects.count(), EvacuationRoute.objects.count())
    load_demo()
    assert (Shelter.objects.count(), Asset.objects.count(), EvacuationRoute.objects.count()) == before


@pytest.mark.shared_data
@pytest.mark.django_db
def test_the_new_york_demo_has_the_city_evacuation_centres(shared_data_dir: Path, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    load_demo(f"--data-dir={shared_data_dir}")

    assert Shelter.objects.filter(source="nyc").count() == 60
    opened = Shelter.objects.filter(status="open")
    assert sorted(opened.values_list("area__code", flat=True)) == ["1", "2", "3", "4", "5"]
    assert EvacuationRoute.objects.count() == 2
    assert Asset.objects.count() == 4
