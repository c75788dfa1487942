"""`manage.py import_areas`: GeoJSON and TopoJSON, reprojection, parents, all-or-nothing errors, --update."""

import csv
import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.core.management import CommandError, call_command

from accounts import services
from accounts.area_import import area_import
from accounts.models import AdministrativeArea, AreaLevel
from commsplatform.core.errors import Conflict
from commsplatform.core.models import AuditEvent

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
NYC = SHARED_DATA / "shelters" / "nyc"


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)), srid=4326)


@pytest.fixture
def city(db):
    nation = services.area_create(actor=None, name="Testland", code="TL", level="nation", geometry=box(9, 49, 11, 51))
    region = services.area_create(
        actor=None, name="Test Region", code="TL-R", level="region", geometry=box(9.5, 49.5, 10.5, 50.5), parent=nation
    )
    return services.area_create(
        actor=None, name="Testville", code="TV", level="city", geometry=box(9.9, 49.9, 10.4, 50.2), parent=region
    )


def run_import(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_areas", str(path), *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int]:
    return AdministrativeArea.objects.count(), AuditEvent.objects.count()


# Success ---------------------------------------------------------------------------------------------


def test_geojson_import_creates_districts_under_parent(city):
    out = run_import(
        FIXTURES / "districts.geojson",
        "--level=district",
        "--name-field=district_name",
        "--code-field=district_code",
        "--parent=TV",
    )

    assert out.strip() == f"imported 2 areas (level district) from {FIXTURES / 'districts.geojson'}"
    west = AdministrativeArea.objects.get(level="district", code="W")
    east = AdministrativeArea.objects.get(level="district", code="E")
    assert west.name == "West Bank"
    assert west.parent == city
    assert west.path == f"{city.path}{west.pk}/"
    assert west.geometry.geom_type == "MultiPolygon"  # the Polygon became a MultiPolygon
    assert len(east.geometry) == 2
    assert west.properties == {"population": 1200, "flood_prone": True}  # null "note" dropped, name/code not copied
    assert east.properties == {"population": 800, "flood_prone": False, "note": "ferry"}
    assert west.source == "districts.geojson"
    assert west.geometry.contains(Point(10.05, 50.05, srid=4326))
    assert AuditEvent.objects.filter(action="accounts.area_created", object_id=str(west.pk)).exists()


def test_projected_geojson_is_reprojected_to_wgs84(city):
    run_import(
        FIXTURES / "districts_epsg3857.geojson",
        "--level=district",
        "--name-field=name",
        "--code-field=code",
        "--parent=city:TV",
        "--source=Test survey 2026",
    )

    area = AdministrativeArea.objects.get(level="district", code="75")  # a numeric code becomes text
    assert area.geometry.srid == 4326
    lon, lat = area.geometry[0].exterior_ring[0]
    assert lon == pytest.approx(2.30, abs=1e-6)  # longitude first: no GDAL 3 axis swap
    assert lat == pytest.approx(48.84, abs=1e-6)
    assert area.geometry.contains(Point(2.35, 48.86, srid=4326))
    assert area.source == "Test survey 2026"


def test_topojson_named_layer_import(city):
    run_import(
        FIXTURES / "zones.topojson",
        "--layer=evacuation-zones",
        "--level=zone",
        "--name-field=zone",
        "--name-format=Evacuation zone {}",
        "--code-field=zone",
        "--parent=TV",
    )

    zones = {a.code: a for a in AdministrativeArea.objects.filter(level=AreaLevel.ZONE)}
    assert set(zones) == {"1", "2"}
    assert zones["1"].name == "Evacuation zone 1"
    assert zones["1"].properties == {"label": "Zone A", "risk": "high"}
    assert zones["2"].parent == city
    # The shared arc is the border: zone 1 is west of longitude 10.1, zone 2 east of it.
    assert zones["1"].geometry.contains(Point(10.05, 50.05, srid=4326))
    assert zones["2"].geometry.contains(Point(10.15, 50.05, srid=4326))
    assert zones["1"].geometry.area == pytest.approx(0.01)


def test_topojson_default_layer_is_the_first_one(city):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "zones.topojson", "--level=zone", "--name-field=label", "--code-field=label")
    # The first object holds a point: refused, and so nothing is written.
    assert "feature 0: the geometry is a Point, not a Polygon or MultiPolygon" in str(exc.value)
    assert counts() == before


def test_parent_resolution_level_code_and_ambiguity(city):
    services.area_create(actor=None, name="Other TV", code="TV", level="zone", geometry=box(10, 50, 10.1, 50.1))
    before = counts()

    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")
    assert "The code 'TV' is used at several levels (city:TV, zone:TV); write LEVEL:CODE." in str(exc.value)
    assert counts() == before

    run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=city:TV")
    assert AdministrativeArea.objects.get(level="district", code="W").parent == city


def test_zone_may_sit_under_a_nation(city):
    run_import(
        FIXTURES / "zones.topojson",
        "--layer=evacuation-zones",
        "--level=zone",
        "--name-field=label",
        "--code-field=zone",
        "--parent=TL",
    )
    assert AdministrativeArea.objects.get(level="zone", code="1").parent.code == "TL"


DISTRICT_ARGS = ("--level=district", "--name-field=district_name", "--code-field=district_code")


# Bad input: every error with its feature index, nothing written ---------------------------------------


def test_bad_features_are_all_reported_and_nothing_is_written(city):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(
            FIXTURES / "bad_features.geojson",
            "--level=district",
            "--name-field=name",
            "--code-field=code",
            "--parent=TV",
        )
    message = str(exc.value)

    lines = [line.strip() for line in message.splitlines()[1:]]
    assert lines == [
        "feature 1: invalid geometry: Self-intersection[10.05 50.05]",
        "feature 2: the name field 'name' is empty",
        "feature 3: the code field 'code' is empty",
        "feature 4: the geometry is a Point, not a Polygon or MultiPolygon",
        "feature 5: the code 'OK' is also used by feature 0",
        "feature 6: the feature has no geometry",
    ]
    assert "6 error(s), nothing imported (features are counted from 0)" in message.splitlines()[0]
    assert counts() == before
    assert not AdministrativeArea.objects.filter(code="OK").exists()


def test_make_valid_repairs_invalid_geometry(city, tmp_path):
    bowtie = tmp_path / "bowtie.geojson"
    bowtie.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"n": "Bow", "c": "B"},'
        ' "geometry": {"type": "Polygon", "coordinates": [[[10.0, 50.0], [10.1, 50.1], [10.1, 50.0], [10.0, 50.1],'
        " [10.0, 50.0]]]}}]}"
    )
    out = run_import(bowtie, "--level=district", "--name-field=n", "--code-field=c", "--make-valid")
    assert "(1 geometries repaired)" in out
    area = AdministrativeArea.objects.get(level="district", code="B")
    assert area.geometry.valid
    assert len(area.geometry) == 2  # the bow tie became its two triangles
    assert area.geometry.area == pytest.approx(0.005)


def test_missing_field_is_reported(city):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", "--level=district", "--name-field=nom", "--code-field=district_code")
    assert "file: no name field 'nom' (fields: district_name, district_code, population, flood_prone, note)" in str(
        exc.value
    )
    assert counts() == before


def test_unknown_parent_is_reported(city):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=XX")
    assert "file: parent: No area has the code 'XX'." in str(exc.value)
    assert counts() == before


def test_parent_of_lower_rank_is_refused(city):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(
            FIXTURES / "districts.geojson",
            "--level=region",
            "--name-field=district_name",
            "--code-field=district_code",
            "--parent=city:TV",
        )
    assert "file: a region cannot be inside a city (TV)" in str(exc.value)
    assert counts() == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [("not_json.geojson", "cannot read not_json.geojson"), ("missing.geojson", "no such file")],
)
def test_unreadable_file_is_reported(city, name, reason):
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / name, *DISTRICT_ARGS)
    assert reason in str(exc.value)
    assert counts() == before


def test_duplicate_of_existing_area_is_refused_without_update(city):
    run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")
    AdministrativeArea.objects.filter(code="W").delete()  # only "E" is left: a partial clash
    before = counts()

    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")

    assert "feature 1: a district with code 'E' already exists (use --update)" in str(exc.value)
    assert counts() == before
    assert not AdministrativeArea.objects.filter(code="W").exists()


def test_errors_listing_is_capped(city, tmp_path):
    features = [{"type": "Feature", "properties": {"n": None, "c": str(i)}, "geometry": None} for i in range(60)]
    path = tmp_path / "many.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(CommandError) as exc:
        run_import(path, "--level=district", "--name-field=n", "--code-field=c")
    lines = str(exc.value).splitlines()
    assert "120 error(s)" in lines[0]
    assert len(lines) == 1 + 50 + 1
    assert lines[-1].strip() == "… and 70 more"


def test_failed_write_rolls_back_the_whole_file(city, monkeypatch):
    real_create = services.area_create
    calls = []

    def failing_create(**kwargs):
        calls.append(kwargs["code"])
        if len(calls) == 2:
            raise Conflict("A district with code 'E' already exists.")
        return real_create(**kwargs)

    monkeypatch.setattr(services, "area_create", failing_create)
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")
    assert "feature 1: A district with code 'E' already exists." in str(exc.value)
    assert calls == ["W", "E"]  # the first area was written, then undone
    assert counts() == before


# --update --------------------------------------------------------------------------------------------


def test_update_replaces_name_geometry_and_properties(city, tmp_path):
    run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")
    west = AdministrativeArea.objects.get(level="district", code="W")
    changed = tmp_path / "districts_v2.geojson"
    changed.write_text(
        (FIXTURES / "districts.geojson")
        .read_text()
        .replace('"West Bank"', '"West Shore"')
        .replace('"population": 1200', '"population": 1300')
        .replace(
            "[10.0, 50.0], [10.1, 50.0], [10.1, 50.1], [10.0, 50.1], [10.0, 50.0]",
            "[10.0, 50.0], [10.1, 50.0], [10.1, 50.15], [10.0, 50.15], [10.0, 50.0]",
        )
    )
    before_areas, before_events = counts()

    out = run_import(changed, *DISTRICT_ARGS, "--parent=TV", "--update")

    assert "imported 0 areas (level district)" in out
    assert "updated 2" in out
    west.refresh_from_db()
    assert west.name == "West Shore"
    assert west.properties["population"] == 1300
    assert west.geometry.contains(Point(10.05, 50.12, srid=4326))
    assert AdministrativeArea.objects.count() == before_areas
    assert AuditEvent.objects.count() == before_events + 2
    assert AuditEvent.objects.filter(action="accounts.area_updated", object_id=str(west.pk)).exists()


def test_update_creates_new_codes_and_refuses_another_parent(city):
    run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=TV")
    other_city = services.area_create(
        actor=None, name="Otherville", code="OV", level="city", geometry=box(9.5, 49.5, 9.6, 49.6)
    )
    before = counts()
    with pytest.raises(CommandError) as exc:
        run_import(FIXTURES / "districts.geojson", *DISTRICT_ARGS, "--parent=OV", "--update")
    assert "feature 0: the district 'W' exists under city:TV, not this parent" in str(exc.value)
    assert counts() == before
    assert other_city.children.count() == 0


def test_service_returns_created_areas(city):
    result = area_import(
        actor=None,
        path=FIXTURES / "districts.geojson",
        level="district",
        name_field="district_name",
        code_field="district_code",
        parent="TV",
    )
    assert [a.code for a in result.created] == ["W", "E"]
    assert result.updated == []


# Acceptance on real data -------------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.skipif(not NYC.is_dir(), reason=f"shared data not found at {NYC} (set SHARED_DATA_DIR)")
def test_nyc_boroughs_and_zones_contain_the_evacuation_centres(db):
    call_command("load_demo", f"--data-dir={SHARED_DATA}", stdout=StringIO())

    boroughs = {a.code: a for a in AdministrativeArea.objects.filter(level="district", parent__code="NYC")}
    zones = AdministrativeArea.objects.filter(level="zone", parent__code="NYC")
    assert sorted(boroughs) == ["1", "2", "3", "4", "5"]
    assert {b.code: b.name for b in boroughs.values()} == {
        "1": "Manhattan",
        "2": "Bronx",
        "3": "Brooklyn",
        "4": "Queens",
        "5": "Staten Island",
    }
    assert sorted(zones.values_list("code", flat=True)) == ["0", "1", "2", "3", "4", "5", "6"]

    with (NYC / "nyc_hurricane_evacuation_centers_center.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60
    outside = []
    for row in rows:
        point = Point(float(row["X"]), float(row["Y"]), srid=2263)
        point.transform(4326)
        if not boroughs[row["BOROCODE"]].geometry.contains(point):
            outside.append((row["BLDG_ID"], row["BOROCODE"], point.coords))
    assert outside == []
