"""`manage.py load_demo`: Demoville or New York City, organisations, one working login per role, idempotent."""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts import services
from accounts.demo import DEMO_PASSWORD_DEFAULT, DEMO_SUPERUSER, demo_username
from accounts.models import (
    AdministrativeArea,
    ConsentPurpose,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    Subscription,
    User,
)
from accounts.permissions import user_has_area_perm
from commsplatform.core.models import AuditEvent

SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
NYC = SHARED_DATA / "shelters" / "nyc"


def load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "areas": AdministrativeArea.objects.count(),
        "organisations": Organisation.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def user(role: str) -> User:
    return User.objects.get(username=demo_username(role))


@pytest.fixture
def no_demo_password(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)


@pytest.mark.django_db
def test_demoville_tree_organisations_and_one_login_per_role(no_demo_password):
    out = load_demo()

    city = AdministrativeArea.objects.get(level="city", code="DV")
    assert city.parent.code == "DL-DC"
    assert city.parent.parent.code == "DL"
    districts = AdministrativeArea.objects.filter(level="district", parent=city)
    assert districts.count() == 3
    for district in districts:
        assert city.geometry.contains(district.geometry), district.name
    neighbourhoods = AdministrativeArea.objects.filter(level="neighbourhood")
    assert neighbourhoods.count() == 2
    for neighbourhood in neighbourhoods:
        assert neighbourhood.parent.geometry.contains(neighbourhood.geometry)
        assert neighbourhood.path.startswith(city.path)
    assert AdministrativeArea.objects.filter(level="zone", parent=city).count() == 2

    assert set(Organisation.objects.values_list("kind", flat=True)) == set(OrganisationKind.values)
    for role in Role.values:
        member = user(role)
        assert member.memberships.get().role == role
        assert authenticate(username=member.username, password=DEMO_PASSWORD_DEFAULT) == member
        assert f"{member.username} " in out
    admin = User.objects.get(username=DEMO_SUPERUSER)
    assert admin.is_superuser
    assert admin.is_staff
    assert f"Password for every demo login: {DEMO_PASSWORD_DEFAULT}." in out

    assert user_has_area_perm(user(Role.ALERT_DRAFTER), "draft_alerts", city)
    assert not user_has_area_perm(user(Role.ALERT_DRAFTER), "approve_alerts", city)
    assert user_has_area_perm(user(Role.ALERT_APPROVER), "approve_alerts", city)
    assert user_has_area_perm(user(Role.ADMINISTRATOR), "manage_memberships", city)
    assert not user_has_area_perm(user(Role.RESIDENT), "draft_alerts", city)
    resident_district = user(Role.RESIDENT).memberships.get().area
    assert resident_district.level == "district"
    assert user_has_area_perm(user(Role.RESIDENT), "participate_in_area", resident_district)


@pytest.mark.django_db
def test_demo_resident_has_consent_home_and_subscription(no_demo_password):
    load_demo()
    resident = user(Role.RESIDENT)
    city = AdministrativeArea.objects.get(level="city", code="DV")

    assert services.has_consent(user=resident, purpose=ConsentPurpose.TERMS)
    assert services.has_consent(user=resident, purpose=ConsentPurpose.LOCATION)
    district = resident.memberships.get().area
    home = resident.resident_profile.home_location
    assert home is not None
    assert district.geometry.contains(home)
    assert list(resident.subscriptions.values_list("area", flat=True)) == [city.pk]


@pytest.mark.django_db
def test_load_demo_twice_changes_nothing(no_demo_password):
    load_demo()
    before = snapshot()

    out = load_demo()

    assert snapshot() == before
    assert "already loaded; nothing was changed" in out
    assert "demo-alert-drafter" in out  # the logins are printed again


@pytest.mark.django_db
def test_demo_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-local-secret")
    load_demo()
    assert authenticate(username="demo-official", password="another-local-secret") is not None
    assert authenticate(username="demo-official", password=DEMO_PASSWORD_DEFAULT) is None


@pytest.mark.django_db
def test_data_dir_without_nyc_files_loads_demoville(no_demo_password, tmp_path):
    out = load_demo(f"--data-dir={tmp_path}")
    assert "loaded Demoville instead of New York City" in out
    assert AdministrativeArea.objects.filter(level="city", code="DV").exists()
    assert not AdministrativeArea.objects.filter(code="NYC").exists()


@pytest.mark.shared_data
@pytest.mark.django_db
@pytest.mark.skipif(not NYC.is_dir(), reason=f"shared data not found at {NYC} (set SHARED_DATA_DIR)")
def test_demo_with_shared_data_loads_new_york_city(no_demo_password):
    load_demo(f"--data-dir={SHARED_DATA}")

    city = AdministrativeArea.objects.get(level="city", code="NYC")
    assert [a.code for a in city.parent.parent.children.all()] == ["US-NY"]
    assert city.parent.parent.code == "US"
    boroughs = AdministrativeArea.objects.filter(level="district", parent=city)
    assert dict(boroughs.values_list("code", "name")) == {
        "1": "Manhattan",
        "2": "Bronx",
        "3": "Brooklyn",
        "4": "Queens",
        "5": "Staten Island",
    }
    zones = AdministrativeArea.objects.filter(level="zone", parent=city)
    assert sorted(zones.values_list("code", flat=True)) == [str(z) for z in range(7)]
    assert zones.get(code="3").name == "Hurricane evacuation zone 3"
    for borough in boroughs:
        assert borough.geometry.valid
        assert city.geometry.contains(borough.geometry.point_on_surface)
    # The borough polygons' area adds up to the city's (the union of disjoint boroughs).
    assert sum(b.geometry.area for b in boroughs) == pytest.approx(city.geometry.area, rel=1e-6)
    resident = user(Role.RESIDENT)
    assert resident.memberships.get().area.name == "Manhattan"
    assert user_has_area_perm(user(Role.ALERT_DRAFTER), "draft_alerts", zones.get(code="1"))
    before = snapshot()
    load_demo(f"--data-dir={SHARED_DATA}")
    assert snapshot() == before


@pytest.mark.django_db
def test_demo_has_alert_templates_and_browser_alerts_for_the_resident(no_demo_password):
    from alerts.models import AlertTemplate

    load_demo()
    assert AlertTemplate.objects.count() >= 1
    resident = User.objects.get(username="demo-resident")
    assert resident.channel_identities.filter(kind="web", is_active=True).exists()
