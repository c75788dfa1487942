"""Importing designated shelters: the shared Nanao and New York files (acceptance), and small made-up files
that show each kind of problem is reported and nothing is half-imported."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts import services as accounts_services
from accounts.area_import import area_file_union, area_import
from accounts.demo import NYC_BOROUGH_CODES, NYC_BOROUGHS
from accounts.models import AdministrativeArea, AreaLevel
from shelters.importers import ShelterImportFailed, nanao_area_ensure, shelter_import
from shelters.models import Shelter
from tests.factories import square

NANAO = Path("shelters") / "japan_nanao" / "nanao_reference_shelters.csv"
NYC_CENTRES = Path("shelters") / "nyc" / "nyc_hurricane_evacuation_centers_center.csv"
NANAO_HEADER = (
    "ID,名称,名称_カナ,名称_英字,緯度,経度,標高,電話番号,所在地_連結表記,所在地_町字,"
    "災害種別_洪水,災害種別_崖崩れ、土石流及び地滑り,災害種別_高潮,災害種別_地震,災害種別_津波,"
    "災害種別_大規模な火事,災害種別_内水氾濫,災害種別_火山現象,想定収容人数,対象となる町会・自治会"
)


def _command(*args: str) -> str:
    out = StringIO()
    call_command("import_shelters", *args, stdout=out)
    return out.getvalue()


NANAO_CAPACITY = "屋内100人／屋外50人"  # noqa: RUF001 - the source writes a full-width slash


def nanao_row(
    ident: str, *, lat: str = "37.04", lon: str = "136.96", capacity: str = NANAO_CAPACITY, flood: str = "1.0"
) -> str:
    names = f"避難所{ident},ヒナンジョ,hinanjo {ident}"
    flags = f"{flood},,,1.0,1.0,,,"
    return f"{ident},{names},{lat},{lon},3.0,,石川県七尾市,一本杉町,{flags},{capacity},御祓地区"


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def nyc_areas(shared_data_dir, db):
    """United States > New York State > New York City > the five boroughs (codes 1 to 5), as the demo has them."""
    nation = accounts_services.area_create(
        actor=None, name="United States", code="US", level=AreaLevel.NATION, geometry=square(-125, 24.4, -66.9, 49.4)
    )
    region = accounts_services.area_create(
        actor=None,
        name="New York State",
        code="US-NY",
        level=AreaLevel.REGION,
        geometry=square(-79.8, 40.4, -71.8, 45.1),
        parent=nation,
    )
    city = accounts_services.area_create(
        actor=None,
        name="New York City",
        code="NYC",
        level=AreaLevel.CITY,
        geometry=area_file_union(path=shared_data_dir / NYC_BOROUGHS),
        parent=region,
    )
    area_import(
        actor=None,
        path=shared_data_dir / NYC_BOROUGHS,
        level=AreaLevel.DISTRICT,
        name_field="boro_name",
        code_field="boro_name",
        code_map=NYC_BOROUGH_CODES,
        parent="city:NYC",
        make_valid=True,
    )
    return city


# Acceptance on the shared data ---------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.django_db
def test_nanao_loads_112_shelters_109_with_capacity_totalling_106021(shared_data_dir):
    out = _command("--format", "nanao", str(shared_data_dir / NANAO))

    shelters = Shelter.objects.filter(source="nanao")
    assert shelters.count() == 112
    with_capacity = shelters.filter(capacity__isnull=False)
    assert with_capacity.count() == 109
    assert sum(capacity or 0 for capacity in with_capacity.values_list("capacity", flat=True)) == 106_021
    assert "112 shelters" in out
    assert "indoor capacity parsed for 109, totalling 106,021" in out
    assert out.count("capacity left unknown") == 3, "the three rows without capacity are reported"
    school = shelters.get(external_id="CC0000000505")
    assert (school.name, school.capacity, school.capacity_outdoor) == ("七尾中学校", 1371, 5470)
    assert school.names["ja-Latn"] == "nanaochugakko"
    assert school.hazards == ["earthquake", "fire", "flood", "landslide", "pluvial_flood", "storm_surge", "tsunami"]
    assert school.area.code == "JP-17202"
    assert school.status == "planned"

    again = _command("--format", "nanao", str(shared_data_dir / NANAO))
    assert "created 0, updated 0, unchanged 112" in again
    assert Shelter.objects.filter(source="nanao").count() == 112


@pytest.mark.shared_data
@pytest.mark.django_db
def test_new_york_loads_60_centres_each_inside_its_borough(shared_data_dir, nyc_areas):
    out = _command("--format", "nyc", str(shared_data_dir / NYC_CENTRES))

    with (shared_data_dir / NYC_CENTRES).open(encoding="utf-8", newline="") as handle:
        borough_of = {row["BLDG_ID"]: row["BOROCODE"] for row in csv.DictReader(handle)}
    shelters = Shelter.objects.filter(source="nyc").select_related("area")
    assert shelters.count() == 60
    assert "60 shelters" in out
    boroughs = {area.code: area for area in AdministrativeArea.objects.filter(level="district", parent=nyc_areas)}
    for shelter in shelters:
        assert shelter.area.code == borough_of[shelter.external_id], shelter.external_id
        assert boroughs[shelter.area.code].geometry.contains(shelter.location)
    ps24 = shelters.get(external_id="K024")
    assert (ps24.name, ps24.postcode, ps24.street, ps24.step_free_access) == ("PS 24", "11232", "38 Street", True)
    assert -74.1 < ps24.location.x < -73.9
    assert 40.6 < ps24.location.y < 40.7


# Made-up files: each problem is reported -----------------------------------------------------------------


@pytest.mark.django_db
def test_capacity_in_words_is_reported_and_left_unknown(tmp_path):
    nanao_area_ensure()
    path = write(tmp_path, "n.csv", [NANAO_HEADER, nanao_row("A1"), nanao_row("A2", capacity="体育館の半分")])

    result = shelter_import(actor=None, path=path, file_format="nanao", area=nanao_area_ensure())

    assert sorted((s.external_id, s.capacity) for s in result.shelters) == [("A1", 100), ("A2", None)]
    assert [(w.line, w.field) for w in result.warnings] == [(3, "想定収容人数")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "field"),
    [
        (nanao_row("B1", lat="north"), "緯度/経度"),
        (nanao_row("B1", lat="12.0"), "location"),  # far outside Nanao
        (nanao_row("B1", flood="yes"), "災害種別_洪水"),
        (nanao_row(""), "ID"),
        (nanao_row("A1"), "id"),  # the same id twice
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(tmp_path, row, field):
    area = nanao_area_ensure()
    path = write(tmp_path, "n.csv", [NANAO_HEADER, nanao_row("A1"), row])

    with pytest.raises(ShelterImportFailed) as failed:
        shelter_import(actor=None, path=path, file_format="nanao", area=area)

    assert [(e.line, e.field) for e in failed.value.errors] == [(3, field)]
    assert not Shelter.objects.exists()


@pytest.mark.django_db
def test_the_command_reports_errors_and_unreadable_files(tmp_path):
    path = write(tmp_path, "n.csv", [NANAO_HEADER, nanao_row("A1", lon="east")])
    with pytest.raises(CommandError, match="line 2"):
        _command("--format", "nanao", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        _command("--format", "nanao", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="Load the areas first"):
        _command("--format", "nyc", str(path))
    assert not Shelter.objects.exists()


@pytest.mark.shared_data
@pytest.mark.django_db
def test_a_centre_placed_in_another_borough_is_refused(tmp_path, shared_data_dir, nyc_areas):
    with (shared_data_dir / NYC_CENTRES).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    manhattan = next(row for row in rows if row["BOROCODE"] == "1")
    manhattan["BOROCODE"] = "3"
    out = StringIO()
    writer = csv.DictWriter(out, fieldnames=list(manhattan))
    writer.writeheader()
    writer.writerow(manhattan)
    path = tmp_path / "one.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    with pytest.raises(ShelterImportFailed) as failed:
        shelter_import(actor=None, path=path, file_format="nyc", area=nyc_areas)

    assert failed.value.errors[0].field == "BOROCODE"
    assert "Manhattan" in failed.value.errors[0].reason
    assert not Shelter.objects.exists()
