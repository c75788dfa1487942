"""Assets: owners manage their own over their area; others see them through a role or an agreement; bulk upload
is validated as a whole, all or nothing, idempotent by the owner's ids, and audited once."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import services as accounts_services
from commsplatform.core.errors import PermissionDenied
from commsplatform.core.models import AuditEvent
from shelters import services
from shelters.models import Asset
from tests.factories import OrganisationFactory, UserFactory
from tests.shelters.factories import AssetFactory, staff

HEADER = "external_id,type,name,quantity,unit,state,longitude,latitude,street,postcode,attr.kva"
POINT = {"type": "Point", "coordinates": [2.0, 2.0]}


def asset_csv(rows: int, *, bad: dict[int, str] | None = None, state: str = "available") -> bytes:
    """`rows` generators spread over city A; `bad` replaces the quantity of some rows (1-based)."""
    lines = [HEADER]
    for number in range(1, rows + 1):
        quantity = (bad or {}).get(number, str(number % 7 + 1))
        lon, lat = 0.5 + (number % 90) / 10, 0.5 + (number // 90 % 90) / 10
        place = f"{lon},{lat},Dock Road,AB{number % 9} 1XY"
        lines.append(f"G-{number:05d},generator,Generator {number},{quantity},units,{state},{place},50")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def power(tree):
    return OrganisationFactory.create(name="Power Co", kind="utility", area=tree.city_a)


@pytest.fixture
def owner(tree, power):
    return staff("asset_owner", tree.city_a, power)


def upload(api, organisation, content: bytes, name: str = "assets.csv"):
    return api.post(
        "/api/shelters/assets/upload/",
        {"owner": organisation.pk, "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


@pytest.mark.django_db
def test_owner_creates_reads_changes_and_deletes_own_assets(api, tree, power, owner):
    api.force_authenticate(owner)
    body = {
        "owner": power.pk,
        "external_id": "GEN-1",
        "asset_type": "generator",
        "name": "Generator",
        "quantity": 2,
        "location": POINT,
        "street": "Dock Road",
        "postcode": "ab1 2cd",
    }
    created = api.post("/api/shelters/assets/", body, format="json")
    assert created.status_code == 201, created.content
    asset_id = created.json()["id"]
    assert created.json()["properties"]["postcode"] == "AB12CD"
    assert created.json()["properties"]["area"] == tree.district_a1.pk
    assert api.post("/api/shelters/assets/", body, format="json").status_code == 409

    changed = api.patch(f"/api/shelters/assets/{asset_id}/", {"state": "deployed"}, format="json")
    assert changed.json()["properties"]["state"] == "deployed"
    listed = api.get("/api/shelters/assets/", {"type": "generator", "street": "dock"})
    assert [f["id"] for f in listed.json()["features"]] == [asset_id]
    assert api.delete(f"/api/shelters/assets/{asset_id}/").status_code == 204
    assert not Asset.objects.exists()
    actions = list(AuditEvent.objects.filter(object_type="shelters.asset").values_list("action", flat=True))
    assert actions == ["shelters.asset_created", "shelters.asset_updated", "shelters.asset_deleted"]


@pytest.mark.django_db
def test_who_sees_and_who_changes_an_asset(api, tree, power, owner):
    asset = AssetFactory.create(owner=power, lon=2, lat=2)
    water = OrganisationFactory.create(name="Water Co", kind="utility", area=tree.city_a)
    other_owner = staff("asset_owner", tree.city_a, water)
    manager = staff("shelter_manager", tree.city_a, tree.organisation)
    manager_elsewhere = staff("shelter_manager", tree.city_b, tree.organisation)
    resident = UserFactory.create()

    def seen(user) -> tuple[int, list[int]]:
        api.force_authenticate(user)
        detail = api.get(f"/api/shelters/assets/{asset.pk}/").status_code
        return detail, [f["id"] for f in api.get("/api/shelters/assets/").json()["features"]]

    assert seen(owner) == (200, [asset.pk])
    assert seen(manager) == (200, [asset.pk]), "a role over the area sees every owner's assets there"
    assert seen(other_owner) == (404, [])
    assert seen(manager_elsewhere) == (404, [])
    assert seen(resident) == (404, [])

    api.force_authenticate(manager)
    assert api.patch(f"/api/shelters/assets/{asset.pk}/", {"state": "damaged"}, format="json").status_code == 403
    api.force_authenticate(other_owner)
    assert api.patch(f"/api/shelters/assets/{asset.pk}/", {"state": "damaged"}, format="json").status_code == 404
    assert Asset.objects.get(pk=asset.pk).state == "available"


@pytest.mark.django_db
def test_an_agreement_lets_another_organisation_read_assets_for_its_time(api, tree, power):
    asset = AssetFactory.create(owner=power, lon=2, lat=2)
    ngo = OrganisationFactory.create(name="Relief NGO", kind="ngo", area=tree.city_b)
    ngo_staff = staff("asset_owner", tree.city_b, ngo)
    api.force_authenticate(ngo_staff)
    assert api.get(f"/api/shelters/assets/{asset.pk}/").status_code == 404

    now = timezone.now()
    agreement = accounts_services.agreement_create(
        actor=None,
        grantor=tree.organisation,
        grantee=ngo,
        data_kinds=["assets"],
        areas=[tree.city_a],
        purpose="Pumping out flooded basements",
        legal_reference="Mutual aid agreement 7",
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=1),
    )
    assert api.get(f"/api/shelters/assets/{asset.pk}/").status_code == 200
    assert api.patch(f"/api/shelters/assets/{asset.pk}/", {"quantity": 9}, format="json").status_code == 403
    accounts_services.agreement_revoke(actor=None, agreement=agreement)
    assert api.get(f"/api/shelters/assets/{asset.pk}/").status_code == 404


@pytest.mark.django_db
def test_owners_manage_only_over_their_membership_area(tree, power):
    district_owner = staff("asset_owner", tree.district_a1, power)
    outsider = UserFactory.create()

    AssetFactory.create(owner=power, actor=district_owner, lon=2, lat=2)
    with pytest.raises(PermissionDenied):
        AssetFactory.create(owner=power, actor=district_owner, lon=7, lat=7)
    with pytest.raises(PermissionDenied):
        AssetFactory.create(owner=power, actor=outsider, lon=2, lat=2)
    assert Asset.objects.count() == 1


# Bulk upload -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_bad_row_among_10000_writes_nothing_and_is_named(api, tree, power, owner):
    api.force_authenticate(owner)
    audit_before = AuditEvent.objects.count()

    refused = upload(api, power, asset_csv(10_000, bad={5000: "lots"}))

    assert refused.status_code == 400
    body = refused.json()
    assert body["error_count"] == 1
    assert body["errors"] == [
        {"row": 5000, "line": 5001, "field": "quantity", "reason": "expected a whole number from 0 to 1000000000"}
    ]
    assert Asset.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.django_db
def test_the_fixed_file_uploaded_twice_creates_10000_assets_once(api, tree, power, owner):
    api.force_authenticate(owner)
    content = asset_csv(10_000)

    first = upload(api, power, content)
    second = upload(api, power, content)

    assert first.status_code == 200, first.content
    assert (first.json()["created"], first.json()["updated"], first.json()["unchanged"]) == (10_000, 0, 0)
    assert (second.json()["created"], second.json()["updated"], second.json()["unchanged"]) == (0, 0, 10_000)
    assert Asset.objects.filter(owner=power).count() == 10_000
    uploads = AuditEvent.objects.filter(action="shelters.assets_uploaded")
    assert uploads.count() == 2, "one audit event per upload, not per row"
    assert uploads.first().data["created"] == 10_000
    assert not AuditEvent.objects.filter(action="shelters.asset_created").exists()
    sample = Asset.objects.get(owner=power, external_id="G-00042")
    assert (sample.quantity, sample.attributes, sample.street, sample.postcode) == (
        1,
        {"kva": "50"},
        "Dock Road",
        "AB61XY",
    )


@pytest.mark.django_db
def test_a_changed_file_updates_only_what_changed(tree, power, owner):
    services.asset_upload(actor=owner, owner=power, content=asset_csv(20), filename="a.csv")
    changed = asset_csv(20).replace(
        b"G-00003,generator,Generator 3,4,units,available", b"G-00003,generator,Generator 3,4,units,damaged"
    )

    report = services.asset_upload(actor=owner, owner=power, content=changed, filename="a.csv")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 19)
    assert Asset.objects.get(external_id="G-00003").state == "damaged"


@pytest.mark.django_db
def test_geojson_upload(api, tree, power, owner):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2 + i / 10, 2]},
            "properties": {"external_id": f"B-{i}", "type": "boat", "name": f"Boat {i}", "quantity": 1},
        }
        for i in range(3)
    ]
    content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    api.force_authenticate(owner)

    response = upload(api, power, content, name="boats.geojson")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3
    assert sorted(Asset.objects.values_list("external_id", flat=True)) == ["B-0", "B-1", "B-2"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (b"external_id,type,name,longitude\nA,pump,P,1\n", "a.csv", {"row": None, "line": 1, "field": "header"}),
        (HEADER.encode() + b",colour\n", "a.csv", {"row": None, "line": 1, "field": "header"}),
        (b"\xff\xfe not utf-8", "a.csv", {"row": None, "line": None, "field": "file"}),
        (b"\n", "a.csv", {"row": None, "line": 1, "field": "header"}),
        (b"{not json", "a.geojson", {"row": None, "line": None, "field": "file"}),
        (b'{"type": "FeatureCollection", "crs": {}, "features": []}', "a.geojson", {"field": "crs"}),
        (
            (HEADER + "\nX,pump,P,1,u,available,2,2,,,\nX,pump,P,1,u,available,2,2,,,\n").encode(),
            "a.csv",
            {"row": 2, "line": 3, "field": "external_id"},
        ),
        (
            (HEADER + "\nX,pump,P,1,u,available,25,5,,,\n").encode(),
            "a.csv",
            {"row": 1, "line": 2, "field": "location"},
        ),
        ((HEADER + "\nX,rocket,P,1,u,available,2,2,,,\n").encode(), "a.csv", {"row": 1, "field": "type"}),
        ((HEADER + "\nX,pump,P,1,u,lost,2,2,,,\n").encode(), "a.csv", {"row": 1, "field": "state"}),
        ((HEADER + "\nX,pump,P,1,u,available,east,2,,,\n").encode(), "a.csv", {"row": 1, "field": "location"}),
        ((HEADER + "\nX,pump,,1,u,available,2,2,,,\n").encode(), "a.csv", {"row": 1, "field": "name"}),
        ((HEADER + "\nX,pump,P,1,u,available,2,2\n").encode(), "a.csv", {"row": 1, "field": "row"}),
    ],
)
def test_bad_files_are_refused_with_the_reason(api, tree, power, owner, content, name, expected):
    api.force_authenticate(owner)
    response = upload(api, power, content, name=name)
    assert response.status_code == 400, response.content
    first = response.json()["errors"][0]
    assert {key: first[key] for key in expected} == expected
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_an_empty_or_missing_file_is_refused(api, tree, power, owner):
    api.force_authenticate(owner)
    assert "file" in upload(api, power, b"").json()
    missing = api.post("/api/shelters/assets/upload/", {"owner": power.pk}, format="multipart")
    assert missing.status_code == 400
    assert "file" in missing.json()


@pytest.mark.django_db
def test_only_owners_of_the_organisation_upload(api, tree, power):
    manager = staff("shelter_manager", tree.city_a, tree.organisation)
    api.force_authenticate(manager)
    assert upload(api, power, asset_csv(3)).status_code == 403
    api.force_authenticate(None)
    assert upload(api, power, asset_csv(3)).status_code == 401
    assert not Asset.objects.exists()


def test_the_postgres_bulk_path_writes_every_column_and_geos_compatible_points():
    from django.contrib.gis.geos import Point

    from shelters.services import bulk_upload as module

    columns = {field.column for field in Asset._meta.concrete_fields if not field.primary_key}
    assert set(module.COPY_COLUMNS) == columns
    assert module._point_ewkb_hex(139.6917, 35.6895) == Point(139.6917, 35.6895, srid=4326).hexewkb.decode().lower()
