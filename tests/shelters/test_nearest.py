"""The nearest-shelter query: the API shows its rows as it shows shelters, and on PostGIS the hand-compiled SQL
finds what the ORM finds, for every shape of the query."""

import itertools
import json
import random
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from rest_framework.renderers import JSONRenderer

from shelters import nearest, selectors
from shelters.api.serializers import ShelterFeatureSerializer
from shelters.models import BedCategory, Shelter, ShelterBeds
from shelters.search import distance_expression
from tests.factories import UserFactory
from tests.shelters.factories import ShelterFactory


@pytest.mark.django_db
def test_the_nearest_api_shows_each_shelter_as_the_shelter_api_does(api, tree):
    ShelterFactory.create(
        name="Gym",
        names={"ja": "体育館", "en": "Gym"},
        address="1 Main Street",
        street="Main Street",
        postcode="A-100",
        lon=2.2,
        lat=2.1,
        capacity=40,
        capacity_outdoor=15,
        beds={"children": 4, "accessible": 2},
        hazards=["flood", "earthquake"],
        languages=["ja", "en"],
        step_free_access=True,
        water=True,
        operator=tree.organisation,
        phone="+81 3 0000 0000",
        email="gym@example.org",
        contacts=[{"name": "Staff only"}],
        notes="Staff only",
    )
    ShelterFactory.create(name="Hall", lon=2.05, lat=2, capacity=None)
    ShelterFactory.create(name="School", lon=2.1, lat=2, capacity=8)
    api.force_authenticate(UserFactory.create())

    response = api.get("/api/shelters/nearest/", {"lon": 2, "lat": 2})

    assert response.status_code == 200, response.content
    features = response.json()["features"]
    assert [feature["properties"]["name"] for feature in features] == ["School", "Gym"]
    shelters = (
        Shelter.objects.prefetch_related("beds")
        .annotate(distance=distance_expression(Point(2, 2, srid=4326)))
        .filter(name__in=["School", "Gym"])
        .order_by("distance")
    )
    expected = json.loads(JSONRenderer().render(ShelterFeatureSerializer(shelters, many=True).data))["features"]
    assert features == expected
    assert "contacts" not in features[1]["properties"]


@pytest.mark.django_db
def test_the_hand_compiled_query_finds_what_the_orm_finds(tree):
    if connection.vendor != "postgresql":
        pytest.skip("the query is compiled by hand for PostGIS only")
    rng = random.Random(4)
    for number in range(120):
        capacity = rng.choice([None, 5, 20, 100])
        shelter = ShelterFactory.create(
            name=f"Shelter {number}",
            lon=rng.uniform(0, 10),
            lat=rng.uniform(0, 10),
            capacity=capacity,
            status=rng.choice(["open", "open", "open", "closed"]),
            hazards=rng.sample(["flood", "earthquake", "storm"], rng.randint(0, 2)),
            languages=rng.sample(["en", "ja", "fr"], rng.randint(0, 2)),
            step_free_access=rng.random() < 0.5,
            pets_allowed=rng.random() < 0.5,
            water=rng.random() < 0.5,
            beds={rng.choice(BedCategory.values): rng.randint(1, 3)} if rng.random() < 0.5 else {},
        )
        if capacity:
            Shelter.objects.filter(pk=shelter.pk).update(occupancy=rng.randint(0, capacity))
    ShelterBeds.objects.filter(pk__in=list(ShelterBeds.objects.values_list("pk", flat=True))[::2]).update(occupied=3)
    excluded = rng.sample(list(Shelter.objects.values_list("pk", flat=True)), 10)
    shapes = itertools.product(
        [(), ("step_free_access",), ("pets_allowed", "water")],
        [None, "flood"],
        [None, "ja"],
        [None, "children", "accessible"],
        [(), excluded],
        [None, 400_000.0],
    )
    found = 0
    for needs, hazard, language, bed, exclude_ids, max_distance_m in shapes:
        query: dict[str, Any] = {
            "point": Point(rng.uniform(0, 10), rng.uniform(0, 10), srid=4326),
            "people": rng.choice([1, 4]),
            "need_fields": needs,
            "hazard": hazard,
            "language": language,
            "bed": bed,
            "limit": rng.choice([1, 5, 50]),
            "max_distance_m": max_distance_m,
            "exclude_ids": exclude_ids,
        }
        by_sql = nearest.nearest_by_sql(**query)
        assert by_sql == nearest.nearest_by_orm(**query), query
        found += len(by_sql)
    assert found > 100, "the shapes found shelters to compare"


@pytest.mark.django_db
def test_nearest_rows_carry_what_callers_read(tree):
    ShelterFactory.create(name="Hall", lon=2.5, lat=2.25, capacity=10, beds={"women": 2})

    (item,) = selectors.shelter_nearest(point=Point(2, 2, srid=4326), bed="women")

    assert (item.shelter.name, item.shelter.free_places, item.shelter.pk) == ("Hall", 10, item.shelter.id)
    assert (item.shelter.location.x, item.shelter.location.y, item.shelter.location.srid) == (2.5, 2.25, 4326)
    assert 61_500 < item.distance_m < 62_500  # about 0.56° of arc at 2°N
