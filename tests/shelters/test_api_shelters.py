"""The shelters API: public search as GeoJSON, staff details by area, writes by managers of the area."""

import pytest
from django.contrib.gis.geos import Point

from accounts import services as accounts_services
from commsplatform.core.models import AuditEvent
from shelters.models import Shelter, ShelterStay
from tests.factories import UserFactory
from tests.shelters.factories import ShelterFactory, route_to, staff

POINT = {"type": "Point", "coordinates": [2.0, 2.0]}


@pytest.fixture
def manager(tree):
    return staff("shelter_manager", tree.city_a, tree.organisation)


def _names(response) -> list[str]:
    return [feature["properties"]["name"] for feature in response.json()["features"]]


@pytest.mark.django_db
def test_anyone_searches_shelters_as_geojson(api, tree):
    ShelterFactory.create(name="Alpha School", lon=2, lat=2, street="Main Street", postcode="AB1 2CD")
    ShelterFactory.create(name="Beta Hall", lon=25, lat=5, names={"ja": "ベータ会館", "ja-Latn": "beta kaikan"})

    everything = api.get("/api/shelters/")
    assert everything.status_code == 200
    body = everything.json()
    assert body["type"] == "FeatureCollection"
    assert body["count"] == 2
    feature = body["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [2.0, 2.0]}
    assert feature["properties"]["free_places"] == 100
    assert "contacts" not in feature["properties"]

    assert _names(api.get("/api/shelters/", {"q": "ベータ"})) == ["Beta Hall"]
    assert _names(api.get("/api/shelters/", {"q": "KAIKAN"})) == ["Beta Hall"]
    assert _names(api.get("/api/shelters/", {"street": "main st"})) == ["Alpha School"]
    assert _names(api.get("/api/shelters/", {"postcode": "ab1"})) == ["Alpha School"]
    assert _names(api.get("/api/shelters/", {"bbox": "20,0,30,10"})) == ["Beta Hall"]
    near = api.get("/api/shelters/", {"lon": 24, "lat": 5, "within_m": 200_000})
    assert _names(near) == ["Beta Hall"]
    assert 110_000 < near.json()["features"][0]["properties"]["distance_m"] < 112_000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "3,0,1,1"}, "bbox"),
        ({"lon": "200", "lat": "1"}, "lon"),
        ({"lon": "1"}, "lat"),
        ({"within_m": "100"}, "within_m"),
        ({"lon": "1", "lat": "1", "within_m": "nan"}, "within_m"),
        ({"status": "sleeping"}, "status"),
        ({"hazard": "zombies"}, "hazard"),
        ({"area": "abc"}, "area"),
        ({"q": "x" * 500}, "q"),
    ],
)
def test_bad_search_parameters_are_named(api, tree, query, field):
    response = api.get("/api/shelters/", query)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


@pytest.mark.django_db
def test_details_are_public_and_staff_see_more(api, tree, manager):
    shelter = ShelterFactory.create(contacts=[{"name": "Duty officer", "phone": "+1 555 0100"}], notes="Key at desk")
    resident = UserFactory.create()

    anonymous = api.get(f"/api/shelters/{shelter.pk}/").json()["properties"]
    assert api.patch(f"/api/shelters/{shelter.pk}/", {"capacity": 1}, format="json").status_code == 401
    api.force_authenticate(resident)
    public = api.get(f"/api/shelters/{shelter.pk}/").json()["properties"]
    api.force_authenticate(manager)
    detailed = api.get(f"/api/shelters/{shelter.pk}/").json()["properties"]

    assert anonymous == public
    assert anonymous["name"] == shelter.name
    assert "contacts" not in public
    assert "notes" not in public
    assert detailed["contacts"] == [{"name": "Duty officer", "phone": "+1 555 0100"}]
    assert detailed["notes"] == "Key at desk"
    assert api.get("/api/shelters/999999/").status_code == 404


@pytest.mark.django_db
def test_managers_create_and_change_shelters_only_in_their_area(api, tree, manager):
    api.force_authenticate(manager)
    body = {
        "name": "New Hall",
        "names": {"fr": "Nouvelle salle"},
        "location": POINT,
        "capacity": 50,
        "beds": {"women": 10},
        "hazards": ["flood"],
        "languages": ["en", "FR"],
        "status": "open",
    }
    created = api.post("/api/shelters/", body, format="json")
    assert created.status_code == 201, created.content
    properties = created.json()["properties"]
    assert properties["area"] == tree.district_a1.pk
    assert properties["languages"] == ["en", "fr"]
    assert properties["beds"] == [{"category": "women", "capacity": 10, "occupied": 0, "free": 10}]
    shelter_id = created.json()["id"]

    outside = api.post("/api/shelters/", {**body, "location": {"type": "Point", "coordinates": [25, 5]}}, format="json")
    assert outside.status_code == 403
    patched = api.patch(f"/api/shelters/{shelter_id}/", {"capacity": 60, "step_free_access": True}, format="json")
    assert patched.status_code == 200
    assert patched.json()["properties"]["capacity"] == 60
    moved_out = api.patch(
        f"/api/shelters/{shelter_id}/", {"location": {"type": "Point", "coordinates": [25, 5]}}, format="json"
    )
    assert moved_out.status_code == 403
    assert Shelter.objects.get(pk=shelter_id).area_id == tree.district_a1.pk

    resident = UserFactory.create()
    api.force_authenticate(resident)
    assert api.post("/api/shelters/", body, format="json").status_code == 403
    assert api.patch(f"/api/shelters/{shelter_id}/", {"capacity": 1}, format="json").status_code == 403
    assert Shelter.objects.get(pk=shelter_id).capacity == 60


@pytest.mark.django_db
def test_check_in_refusal_and_check_out_by_reference(api, tree, manager):
    shelter = ShelterFactory.create(name="Small", capacity=2)
    other = ShelterFactory.create(name="Spare", lon=3, lat=2, capacity=10)
    api.force_authenticate(manager)

    stay = api.post(f"/api/shelters/{shelter.pk}/check-in/", {"people": 2}, format="json")
    assert stay.status_code == 201
    refused = api.post(f"/api/shelters/{shelter.pk}/check-in/", {"people": 1}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "shelter_full"
    assert refused.json()["alternative"]["id"] == other.pk
    assert "Spare" in refused.json()["detail"]

    out = api.post(f"/api/shelters/{shelter.pk}/check-out/", {"reference": stay.json()["reference"]}, format="json")
    assert out.status_code == 200
    assert out.json()["checked_out_at"] is not None
    again = api.post(f"/api/shelters/{shelter.pk}/check-out/", {"stay": stay.json()["id"]}, format="json")
    assert again.status_code == 409
    assert api.post(f"/api/shelters/{shelter.pk}/check-out/", {"reference": "NOPE"}, format="json").status_code == 404


@pytest.mark.django_db
def test_a_resident_checks_in_through_the_api_and_sees_their_stay(api, tree):
    resident = UserFactory.create()
    shelter = ShelterFactory.create(capacity=10)
    api.force_authenticate(resident)

    assert api.get("/api/shelters/me/stay/").json() == {"stay": None}
    stay = api.post(f"/api/shelters/{shelter.pk}/check-in/", {"people": 3}, format="json")
    assert stay.status_code == 201
    assert api.get("/api/shelters/me/stay/").json()["stay"]["reference"] == stay.json()["reference"]
    assert api.get(f"/api/shelters/{shelter.pk}/stays/").status_code == 403
    assert api.get(f"/api/shelters/{shelter.pk}/history/").status_code == 403
    assert api.put(f"/api/shelters/{shelter.pk}/occupancy/", {"occupancy": 0}, format="json").status_code == 403
    assert (
        api.post(f"/api/shelters/{shelter.pk}/check-out/", {"stay": stay.json()["id"]}, format="json").status_code
        == 200
    )


@pytest.mark.django_db
def test_staff_read_history_and_stays_and_the_stay_read_is_audited(api, tree, manager):
    shelter = ShelterFactory.create(capacity=10)
    api.force_authenticate(manager)
    api.post(f"/api/shelters/{shelter.pk}/check-in/", {"people": 2}, format="json")
    api.put(f"/api/shelters/{shelter.pk}/occupancy/", {"occupancy": 5}, format="json")
    api.post(f"/api/shelters/{shelter.pk}/status/", {"status": "open"}, format="json")

    history = api.get(f"/api/shelters/{shelter.pk}/history/").json()["results"]
    stays = api.get(f"/api/shelters/{shelter.pk}/stays/").json()["results"]

    assert [(h["reason"], h["occupancy"]) for h in history] == [("status", 0), ("check_in", 2), ("census", 5)]
    assert len(stays) == 1
    assert AuditEvent.objects.filter(action="shelters.stays_read", actor_id=manager.pk).count() == 1
    official = staff("official", tree.city_a, tree.organisation)
    api.force_authenticate(official)
    assert api.get(f"/api/shelters/{shelter.pk}/history/").status_code == 200, "officials see shelters"
    assert api.get(f"/api/shelters/{shelter.pk}/stays/").status_code == 403, "but not who is inside"


@pytest.mark.django_db
def test_status_changes_and_refusals(api, tree, manager):
    shelter = ShelterFactory.create(capacity=10, status="planned")
    api.force_authenticate(manager)

    assert api.post(f"/api/shelters/{shelter.pk}/status/", {"status": "full"}, format="json").status_code == 400
    opened = api.post(f"/api/shelters/{shelter.pk}/status/", {"status": "open"}, format="json")
    assert opened.json()["properties"]["status"] == "open"
    api.put(f"/api/shelters/{shelter.pk}/occupancy/", {"occupancy": 10}, format="json")
    assert Shelter.objects.get(pk=shelter.pk).status == "full"
    closing = api.post(f"/api/shelters/{shelter.pk}/status/", {"status": "closed"}, format="json")
    assert closing.status_code == 409
    assert closing.json()["code"] == "shelter_occupied"


@pytest.mark.django_db
def test_nearest_open_shelters_with_space_by_need_and_hazard(api, tree):
    resident = UserFactory.create()
    ShelterFactory.create(name="Closest but full", lon=2.01, lat=2, capacity=1)
    Shelter.objects.filter(name="Closest but full").update(occupancy=1, status="full")
    ShelterFactory.create(name="Near", lon=2.1, lat=2, capacity=10, hazards=["earthquake"], languages=["ja"])
    ShelterFactory.create(name="Accessible", lon=2.3, lat=2, capacity=10, step_free_access=True, hazards=["flood"])
    ShelterFactory.create(name="Pets", lon=2.5, lat=2, capacity=3, pets_allowed=True, beds={"children": 2})
    ShelterFactory.create(name="Closed", lon=2.05, lat=2, capacity=10, status="closed")
    api.force_authenticate(resident)

    def nearest(**query):
        response = api.get("/api/shelters/nearest/", {"lon": 2, "lat": 2, **query})
        assert response.status_code == 200, response.content
        return response.json()

    everything = nearest()
    assert [f["properties"]["name"] for f in everything["features"]] == ["Near", "Accessible", "Pets"]
    distances = [f["properties"]["distance_m"] for f in everything["features"]]
    assert distances == sorted(distances)
    assert 11_000 < distances[0] < 11_200  # 0.1° of longitude at 2°N
    assert [f["properties"]["name"] for f in nearest(needs="accessible")["features"]] == ["Accessible"]
    assert [f["properties"]["name"] for f in nearest(needs="pets", bed="children")["features"]] == ["Pets"]
    assert [f["properties"]["name"] for f in nearest(hazard="flood")["features"]] == ["Accessible"]
    assert [f["properties"]["name"] for f in nearest(language="JA")["features"]] == ["Near"]
    assert [f["properties"]["name"] for f in nearest(people=5)["features"]] == ["Near", "Accessible"]
    assert [f["properties"]["name"] for f in nearest(limit=1)["features"]] == ["Near"]
    assert nearest(max_distance_m=5000)["features"] == []
    assert api.get("/api/shelters/nearest/", {"lon": 2, "lat": 2, "needs": "jacuzzi"}).status_code == 400


@pytest.mark.django_db
def test_nearest_comes_with_routes_and_zones_and_defaults_to_the_shared_location(api, tree):
    zone = accounts_services.area_create(
        actor=None,
        name="Evacuation zone 1",
        code="Z1",
        level="zone",
        geometry=tree.district_a1.geometry,
        parent=tree.city_a,
    )
    shelter = ShelterFactory.create(name="Hall", lon=2.1, lat=2.1, capacity=10)
    route_to(shelter, start=(2.0, 2.0), status="blocked")
    resident = UserFactory.create()
    api.force_authenticate(resident)

    assert api.get("/api/shelters/nearest/").status_code == 400, "no point and no shared location"
    accounts_services.consent_give(user=resident, purpose="location", version="1")
    accounts_services.resident_share_location(user=resident, location=Point(2, 2, srid=4326))
    body = api.get("/api/shelters/nearest/").json()

    assert [f["properties"]["name"] for f in body["features"]] == ["Hall"]
    assert [(r["properties"]["shelter"], r["properties"]["status"]) for r in body["routes"]["features"]] == [
        (shelter.pk, "blocked")
    ]
    assert [z["properties"]["code"] for z in body["zones"]["features"]] == [zone.code]


@pytest.mark.django_db
def test_routes_are_public_and_managed_by_shelter_staff(api, tree, manager):
    shelter = ShelterFactory.create(lon=2, lat=2)
    line = {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}

    assert api.post("/api/shelters/routes/", {"name": "R", "geometry": line}, format="json").status_code == 401
    api.force_authenticate(manager)
    created = api.post("/api/shelters/routes/", {"name": "R", "geometry": line, "shelter": shelter.pk}, format="json")
    assert created.status_code == 201, created.content
    route_id = created.json()["id"]
    blocked = api.patch(
        f"/api/shelters/routes/{route_id}/", {"status": "blocked", "status_note": "Flooded underpass"}, format="json"
    )
    assert blocked.json()["properties"]["status"] == "blocked"
    crossing = {"type": "LineString", "coordinates": [[2, 2], [25, 5]]}
    assert api.patch(f"/api/shelters/routes/{route_id}/", {"geometry": crossing}, format="json").status_code == 403
    api.force_authenticate(None)
    listing = api.get("/api/shelters/routes/", {"status": "blocked"})
    assert [f["properties"]["status_note"] for f in listing.json()["features"]] == ["Flooded underpass"]


@pytest.mark.django_db
def test_check_in_of_someone_else_by_a_resident_is_refused(api, tree):
    resident = UserFactory.create()
    neighbour = UserFactory.create()
    shelter = ShelterFactory.create(capacity=10)
    api.force_authenticate(resident)

    response = api.post(f"/api/shelters/{shelter.pk}/check-in/", {"people": 1, "resident": neighbour.pk}, format="json")

    assert response.status_code == 403
    assert not ShelterStay.objects.exists()
