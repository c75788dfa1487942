"""Fixtures of the security suite: a city with something of everything, and a member of staff holding every role
over it (for the schemathesis run and the CSRF checks, so that the ids their requests name exist)."""

from dataclasses import dataclass

import pytest
from django.contrib.gis.geos import Point

from accounts import services as accounts_services
from accounts.models import Role, User
from alerts.services import reports
from rooms import services as room_services
from rooms.models import RoomKind, RoomVisibility
from tests.alerts.factories import content_over, issued_alert, staff_for
from tests.factories import AreaTree, UserFactory, grant, resident_at
from tests.shelters.factories import AssetFactory, ShelterFactory, route_to

PASSWORD = "a-test-password-42"


@dataclass
class World:
    staff: User
    resident: User
    ids: dict[str, int]


@pytest.fixture
def world(tree: AreaTree) -> World:
    staff = UserFactory.create(username="staff-everything", password=PASSWORD)
    for role in Role:
        if role != Role.RESIDENT:
            grant(staff, role, tree.city_a, tree.organisation)
    alert = issued_alert(staff_for(tree), content_over(1, 1, 4, 4))
    resident = resident_at(2, 2, username="resident-one", password=PASSWORD)
    report = reports.report_create(reporter=resident, text="Water in the street", location=Point(2, 2, srid=4326))
    shelter = ShelterFactory.create(lon=2, lat=2, capacity=50, status="open")
    route = route_to(shelter, start=(1.0, 1.0))
    asset = AssetFactory.create(owner=tree.organisation, lon=2, lat=2)
    room = room_services.room_create(
        actor=staff,
        title="Flood town hall",
        kind=RoomKind.TOWN_HALL,
        visibility=RoomVisibility.PUBLIC,
        area=tree.city_a,
    )
    subscription = accounts_services.subscription_add(user=staff, area=tree.district_a1)
    ids = {
        "area_id": tree.city_a.pk,
        "alert_id": alert.pk,
        "report_id": report.pk,
        "shelter_id": shelter.pk,
        "route_id": route.pk,
        "asset_id": asset.pk,
        "room_id": room.pk,
        "profile_id": resident.resident_profile.pk,
        "membership_id": staff.memberships.first().pk,
        "subscription_id": subscription.pk,
    }
    return World(staff=staff, resident=resident, ids=ids)
