"""Console shelters and assets pages through Django's test client: who may open them, check-in and check-out with
their refusals (nothing changes on a refusal), and the bulk upload's row-level report."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shelters.models import Asset, Shelter, ShelterStay
from tests.factories import OrganisationFactory, UserFactory
from tests.shelters.factories import AssetFactory, ShelterFactory, staff
from web.views import console_shelters

pytestmark = pytest.mark.django_db

HEADER = "external_id,type,name,quantity,longitude,latitude"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def occupancy(shelter: Shelter) -> int:
    return Shelter.objects.get(pk=shelter.pk).occupancy


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def manager(tree):
    return staff("shelter_manager", tree.city_a, tree.organisation)


@pytest.fixture
def shelter(tree):
    return ShelterFactory.create(name="North School", lon=2.0, lat=2.0, capacity=10, status="open")


@pytest.fixture
def power(tree):
    return OrganisationFactory.create(name="Power Co", kind="utility", area=tree.city_a)


@pytest.fixture
def owner(tree, power):
    return staff("asset_owner", tree.city_a, power)


def check_in(client: Client, shelter: Shelter, **data):
    return client.post(f"/console/shelters/{shelter.pk}/check-in/", data)


# Who may open the pages ----------------------------------------------------------------------------------------


def test_a_resident_is_refused_every_console_page_and_changes_nothing(tree, shelter):
    resident = client_for(UserFactory.create())

    for path in (
        "/console/shelters/",
        f"/console/shelters/{shelter.pk}/",
        "/console/assets/",
        "/console/assets/upload/",
    ):
        assert resident.get(path).status_code == 403, path
    assert check_in(resident, shelter, people="2").status_code == 403
    assert occupancy(shelter) == 0


def test_signed_out_people_are_sent_to_sign_in(shelter):
    response = Client().get("/console/shelters/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_manager_of_another_area_neither_sees_nor_changes_the_shelter(tree, shelter):
    other = client_for(staff("shelter_manager", tree.city_b, tree.organisation))

    board = other.get("/console/shelters/")
    assert board.status_code == 200
    assert "North School" not in text(board)
    assert other.get(f"/console/shelters/{shelter.pk}/").status_code == 403
    for action, data in (
        ("check-in", {"people": "2"}),
        ("status", {"status": "closed"}),
        ("capacity", {"capacity": "99"}),
        ("head-count", {"occupancy": "5"}),
    ):
        assert other.post(f"/console/shelters/{shelter.pk}/{action}/", data).status_code == 403, action
    after = Shelter.objects.get(pk=shelter.pk)
    assert (after.occupancy, after.status, after.capacity) == (0, "open", 10)


def test_a_manager_of_another_area_cannot_check_out_a_stay_here(tree, shelter, manager):
    check_in(client_for(manager), shelter, people="3")
    stay = ShelterStay.objects.get(shelter=shelter)
    other = client_for(staff("shelter_manager", tree.city_b, tree.organisation))

    response = other.post(f"/console/shelters/{shelter.pk}/check-out/", {"reference": stay.reference})

    assert response.status_code == 403
    assert occupancy(shelter) == 3


def test_an_official_sees_the_board_and_the_shelter_but_no_forms_nor_stays(tree, shelter, manager):
    check_in(client_for(manager), shelter, people="2")
    official = client_for(staff("official", tree.city_a, tree.organisation))

    assert "North School" in text(official.get("/console/shelters/"))
    page = official.get(f"/console/shelters/{shelter.pk}/")
    assert page.status_code == 200
    assert "do not manage it" in text(page)
    assert ShelterStay.objects.get().reference not in text(page)
    assert check_in(official, shelter, people="1").status_code == 403
    assert occupancy(shelter) == 2


# The board --------------------------------------------------------------------------------------------------------


def test_the_board_shows_occupancy_capacity_and_free_places_and_filters_by_status(tree, shelter, manager):
    ShelterFactory.create(name="Closed Hall", lon=3.0, lat=3.0, capacity=50, status="closed")
    ShelterFactory.create(name="Far Away Gym", lon=25.0, lat=5.0, capacity=50, status="open")  # city B
    client = client_for(manager)
    check_in(client, shelter, people="4")

    board = text(client.get("/console/shelters/"))
    assert "North School" in board
    assert "Closed Hall" in board
    assert "Far Away Gym" not in board
    assert '<td data-field="occupancy">4</td>' in board
    assert '<td data-field="free">6</td>' in board
    assert f'data-live-areas="{tree.city_a.pk}"' in board

    only_open = text(client.get("/console/shelters/?status=open"))
    assert "North School" in only_open
    assert "Closed Hall" not in only_open
    assert client.get("/console/shelters/?area=abc").status_code == 400


# Check-in and check-out -----------------------------------------------------------------------------------------


def test_a_manager_checks_people_in_and_out_by_reference_and_by_stay(shelter, manager):
    client = client_for(manager)

    response = check_in(client, shelter, people="3")
    assert response.status_code == 302
    assert occupancy(shelter) == 3
    stay = ShelterStay.objects.get(shelter=shelter)
    page = text(client.get(response["Location"]))
    assert f"Reference for check-out: {stay.reference}" in page
    assert f"Check out {stay.reference}" in page  # the open stays list

    assert (
        client.post(f"/console/shelters/{shelter.pk}/check-out/", {"reference": stay.reference.lower()}).status_code
        == 302
    )
    assert occupancy(shelter) == 0
    check_in(client, shelter, people="2")
    second = ShelterStay.objects.get(shelter=shelter, checked_out_at__isnull=True)
    assert client.post(f"/console/shelters/{shelter.pk}/check-out/", {"stay": str(second.pk)}).status_code == 302
    assert occupancy(shelter) == 0

    again = client.post(f"/console/shelters/{shelter.pk}/check-out/", {"stay": str(second.pk)})
    assert again.status_code == 409
    assert "already checked out" in text(again)


@pytest.mark.parametrize(
    ("people", "status", "message"),
    [
        ("11", 409, "has no room for 11 (free places: 10)"),
        ("-2", 400, "people must be a whole number from 1 to 500"),
        ("0", 400, "people must be a whole number from 1 to 500"),
        ("three", 400, "people must be a whole number"),
        ("", 400, "people must be a whole number"),
        ("1e3", 400, "people must be a whole number"),
    ],
)
def test_a_refused_check_in_says_why_and_changes_nothing(shelter, manager, people, status, message):
    response = check_in(client_for(manager), shelter, people=people)

    assert response.status_code == status
    assert message in text(response)
    assert occupancy(shelter) == 0
    assert not ShelterStay.objects.exists()


def test_a_check_in_into_a_closed_shelter_is_refused(tree, manager):
    closed = ShelterFactory.create(name="Closed Hall", lon=3.0, lat=3.0, capacity=50, status="closed")

    response = check_in(client_for(manager), closed, people="1")

    assert response.status_code == 409
    assert "Closed Hall is not open" in text(response)
    assert occupancy(closed) == 0


def test_a_wrong_reference_is_not_found(shelter, manager):
    response = client_for(manager).post(f"/console/shelters/{shelter.pk}/check-out/", {"reference": "NOPE1234"})

    assert response.status_code == 404


def test_status_and_capacity_forms_call_the_services_and_report_their_refusals(shelter, manager):
    client = client_for(manager)
    check_in(client, shelter, people="2")

    closing = client.post(f"/console/shelters/{shelter.pk}/status/", {"status": "closed"})
    assert closing.status_code == 409
    assert "2 people are still in North School" in text(closing)
    assert client.post(f"/console/shelters/{shelter.pk}/status/", {"status": "full"}).status_code == 400
    assert client.post(f"/console/shelters/{shelter.pk}/capacity/", {"capacity": "-3"}).status_code == 400
    assert client.post(f"/console/shelters/{shelter.pk}/capacity/", {"capacity": "x"}).status_code == 400
    assert Shelter.objects.get(pk=shelter.pk).capacity == 10

    assert client.post(f"/console/shelters/{shelter.pk}/capacity/", {"capacity": "2"}).status_code == 302
    assert Shelter.objects.get(pk=shelter.pk).status == "full"
    assert client.post(f"/console/shelters/{shelter.pk}/head-count/", {"occupancy": "0"}).status_code == 302
    assert client.post(f"/console/shelters/{shelter.pk}/status/", {"status": "closed"}).status_code == 302
    assert Shelter.objects.get(pk=shelter.pk).status == "closed"


def test_actions_are_post_only_and_unknown_actions_are_refused(shelter, manager):
    client = client_for(manager)

    assert client.get(f"/console/shelters/{shelter.pk}/check-in/").status_code == 405
    assert client.post(f"/console/shelters/{shelter.pk}/explode/").status_code == 400
    assert client.get("/console/shelters/999999/").status_code == 404


# Assets and bulk upload ---------------------------------------------------------------------------------------


def upload(client: Client, organisation, content: bytes, name: str = "assets.csv", **extra):
    return client.post(
        "/console/assets/upload/", {"owner": str(organisation.pk), "file": SimpleUploadedFile(name, content), **extra}
    )


def test_the_assets_table_and_map_show_what_the_person_may_see_with_filters(tree, power, owner):
    AssetFactory.create(owner=power, external_id="P-1", name="Dock pump", asset_type="pump", lon=2, lat=2)
    AssetFactory.create(owner=power, external_id="G-1", name="Big generator", asset_type="generator", lon=3, lat=3)
    client = client_for(owner)

    page = text(client.get("/console/assets/"))
    assert "Dock pump" in page
    assert "Big generator" in page
    assert 'id="asset-markers"' in page
    pumps = text(client.get("/console/assets/?type=pump"))
    assert "Dock pump" in pumps
    assert "Big generator" not in pumps
    assert "Big generator" in text(client.get("/console/assets/?q=generator"))
    asset = Asset.objects.get(external_id="P-1")
    assert "Dock pump" in text(client.get(f"/console/assets/{asset.pk}/"))

    stranger = client_for(staff("shelter_manager", tree.city_b, tree.organisation))
    assert "Dock pump" not in text(stranger.get("/console/assets/"))
    assert stranger.get(f"/console/assets/{asset.pk}/").status_code == 404
    assert stranger.get("/console/assets/upload/").status_code == 403


def test_a_file_with_bad_rows_is_refused_whole_and_the_report_lists_each_bad_row(power, owner):
    content = "\n".join(
        [
            HEADER,
            "P-1,pump,Dock pump,2,2.0,2.0",
            "P-2,spaceship,Rocket,1,2.0,2.0",
            "P-3,pump,Harbour pump,1,2.0,2.0",
            "P-4,pump,Lost pump,1,2.0,95.0",
            "P-5,pump,Outside pump,1,25.0,5.0",
        ]
    ).encode()

    response = upload(client_for(owner), power, content)

    assert response.status_code == 400
    page = text(response)
    assert "nothing was written" in page
    assert "unknown type &#x27;spaceship&#x27;" in page
    assert "latitude within ±90" in page
    assert "outside every area where you manage" in page
    assert '<dd data-report="rejected">3</dd>' in page
    for row in ("2", "4", "5"):
        assert f'<tr data-row="{row}">' in page
    assert '<tr data-row="1">' not in page
    assert not Asset.objects.exists()  # the service is all or nothing


def test_a_good_file_is_created_then_the_same_file_changes_nothing(power, owner):
    content = "\n".join([HEADER, "P-1,pump,Dock pump,2,2.0,2.0", "P-2,generator,Generator,1,3.0,3.0"]).encode()
    client = client_for(owner)

    first = upload(client, power, content)
    assert first.status_code == 200
    assert '<dd data-report="created">2</dd>' in text(first)
    assert Asset.objects.filter(owner=power).count() == 2

    second = upload(client, power, content)
    assert '<dd data-report="unchanged">2</dd>' in text(second)
    assert '<dd data-report="created">0</dd>' in text(second)


def test_a_geojson_file_is_taken(power, owner):
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [2.0, 2.0]},
                "properties": {"external_id": "B-1", "type": "boat", "name": "Rescue boat"},
            }
        ],
    }

    response = upload(client_for(owner), power, json.dumps(document).encode(), name="boats.geojson")

    assert response.status_code == 200
    assert Asset.objects.get().name == "Rescue boat"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\xff\xfe\x00\x00garbage\x00\x01", "assets.csv", "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "assets.geojson", "not JSON"),
        (b'{"type": "Topology"}', "assets.geojson", "expected a GeoJSON FeatureCollection"),
        (b"", "assets.csv", "missing columns: external_id"),
        (b'{"type": "FeatureCollection", "features": []}', "assets.geojson", "no rows"),
        (b"a,b\n1,2\n", "assets.csv", "missing columns"),
        (b'external_id,type,name,longitude,latitude\n"P-1,pump', "assets.csv", "unreadable CSV"),
    ],
)
def test_a_hostile_file_gets_a_clear_refusal(power, owner, content, name, message):
    response = upload(client_for(owner), power, content, name=name)

    assert response.status_code == 400
    assert message in text(response)
    assert not Asset.objects.exists()


def test_a_file_over_the_console_limit_is_refused_before_it_is_read(power, owner, monkeypatch):
    monkeypatch.setattr(console_shelters, "MAX_CONSOLE_UPLOAD_BYTES", 1024 * 1024)
    content = (HEADER + "\n" + "P-1,pump,Dock pump,2,2.0,2.0\n" * 40_000).encode()

    response = upload(client_for(owner), power, content)

    assert response.status_code == 400
    assert "larger than 1 MB" in text(response)
    assert not Asset.objects.exists()


def test_uploading_for_someone_elses_organisation_or_without_a_file_is_refused(tree, power, owner):
    other = OrganisationFactory.create(name="Water Co", kind="utility", area=tree.city_a)
    client = client_for(owner)

    assert upload(client, other, (HEADER + "\nP-1,pump,Pump,1,2,2\n").encode()).status_code == 403
    assert client.post("/console/assets/upload/", {"owner": str(power.pk)}).status_code == 400
    assert client.post("/console/assets/upload/", {"owner": "x"}).status_code == 400
    assert not Asset.objects.exists()


def test_the_upload_keeps_its_csrf_check(power, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = upload(client, power, (HEADER + "\nP-1,pump,Pump,1,2,2\n").encode())

    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_bed_counts_are_taken_at_check_in_within_the_people_checked_in(tree, manager):
    shelter = ShelterFactory.create(name="Clinic", lon=2.0, lat=2.0, capacity=10, beds={"accessible": 2})
    client = client_for(manager)

    assert 'name="bed_accessible"' in text(client.get(f"/console/shelters/{shelter.pk}/"))
    too_many = check_in(client, shelter, people="1", bed_accessible="3")
    assert too_many.status_code == 400
    assert "accessible count must be a whole number 0 to 1" in text(too_many)
    assert occupancy(shelter) == 0

    assert check_in(client, shelter, people="2", bed_accessible="2").status_code == 302
    full = check_in(client, shelter, people="1", bed_accessible="1")
    assert full.status_code == 409
    assert "no free accessible bed" in text(full)
    assert occupancy(shelter) == 2


def test_the_board_filters_by_area(tree, manager):
    ShelterFactory.create(name="District Hall", lon=2.0, lat=2.0)
    ShelterFactory.create(name="City Hall", lon=7.0, lat=7.0)
    client = client_for(manager)

    district = text(client.get(f"/console/shelters/?area={tree.district_a1.pk}"))

    assert "District Hall" in district
    assert "City Hall" not in district
