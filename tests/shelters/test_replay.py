"""Replaying occupancy history: Nanao's 118 real snapshots of 2024, and made-up files for each rule."""

from datetime import datetime
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from commsplatform.core.audit import audit_chain_verify
from shelters.importers import nanao_area_ensure
from shelters.models import OccupancySnapshot, Shelter
from shelters.replay import ReplayFailed, as_of_parse, occupancy_replay
from tests.shelters.factories import ShelterFactory

TOKYO = ZoneInfo("Asia/Tokyo")
NANAO = Path("shelters") / "japan_nanao"


def _replay(*args: str) -> str:
    out = StringIO()
    call_command("replay_occupancy", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和6年1月9日午後6時", datetime(2024, 1, 9, 18, 0, tzinfo=TOKYO)),
        ("令和6年2月16日午前6時", datetime(2024, 2, 16, 6, 0, tzinfo=TOKYO)),
        ("令和6年3月1日正午", datetime(2024, 3, 1, 12, 0, tzinfo=TOKYO)),
        ("令和6年7月10日午後6時30分", datetime(2024, 7, 10, 18, 30, tzinfo=TOKYO)),
        ("令和6年1月9日午後6時時点", datetime(2024, 1, 9, 18, 0, tzinfo=TOKYO)),
        ("令和元年5月1日午前0時", datetime(2019, 5, 1, 0, 0, tzinfo=TOKYO)),
        ("令和6年2月30日正午", None),
        ("2024-01-09", None),
        ("", None),
    ],
)
def test_japanese_era_times(text, expected):
    assert as_of_parse(text) == expected


@pytest.mark.shared_data
@pytest.mark.django_db
def test_the_118_nanao_snapshots_replay_as_a_timeline(shared_data_dir):
    call_command(
        "import_shelters",
        "--format",
        "nanao",
        str(shared_data_dir / NANAO / "nanao_reference_shelters.csv"),
        stdout=StringIO(),
    )

    out = _replay(str(shared_data_dir / NANAO / "history"))

    assert "replayed 118 snapshots" in out
    assert "1 shelters open with 40 people" in out
    replayed = OccupancySnapshot.objects.filter(reason="replay")
    times = sorted(set(replayed.values_list("at", flat=True)))
    assert len(times) == 118
    assert times[0] == datetime(2024, 1, 9, 18, 0, tzinfo=TOKYO)
    assert times[-1] == datetime(2024, 9, 2, 18, 0, tzinfo=TOKYO)
    first = replayed.filter(at=times[0])
    assert (first.count(), sum(first.values_list("occupancy", flat=True))) == (29, 1886)
    still_open = Shelter.objects.filter(source="nanao", status__in=["open", "full"])
    assert [(s.external_id, s.occupancy) for s in still_open] == [("CC0000000537", 40)]
    over = Shelter.objects.get(external_id="CC0000000561")  # 120 evacuees in a school planned for 100
    assert over.snapshots.filter(reason="replay", occupancy=120, status="full").exists()
    assert audit_chain_verify().ok

    again = _replay(str(shared_data_dir / NANAO / "history"))
    assert "replayed 0 snapshots (118 already replayed)" in again
    assert OccupancySnapshot.objects.filter(reason="replay").count() == replayed.count()


def _history(folder: Path, name: str, header: str, rows: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def two_shelters(db):
    nanao_area_ensure()
    return (
        ShelterFactory.create(
            name="One", lon=136.96, lat=37.04, capacity=50, status="planned", source="nanao", external_id="S1"
        ),
        ShelterFactory.create(
            name="Two", lon=136.97, lat=37.05, capacity=50, status="planned", source="nanao", external_id="S2"
        ),
    )


@pytest.mark.django_db
def test_shelters_open_with_their_count_and_close_when_they_leave_the_list(tmp_path, two_shelters):
    one, two = two_shelters
    history = tmp_path / "history"
    _history(history, "a.csv", "ID,地区,名称,人数_令和6年1月9日午後6時時点", ["S1,x,One,30", "S2,x,Two,5"])
    _history(history, "b.csv", "ID,地区,名称,人数,時点", ["S1,x,One,20,令和6年1月10日正午"])

    result = occupancy_replay(actor=None, path=history)

    assert result.steps == 2
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.occupancy) == ("open", 20)
    assert (two.status, two.occupancy) == ("closed", 0)
    assert one.occupancy_updated_at == datetime(2024, 1, 10, 12, 0, tzinfo=TOKYO)
    timeline = list(
        two.snapshots.filter(at__year=2024).order_by("at", "pk").values_list("reason", "status", "occupancy")
    )
    assert timeline == [("status", "open", 0), ("replay", "open", 5), ("replay", "open", 0), ("status", "closed", 0)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "row", "reason"),
    [
        ("ID,名称,人数,時点", "S9,x,3,令和6年1月10日正午", "no such shelter"),
        ("ID,名称,人数,時点", "S1,x,three,令和6年1月10日正午", "not a number"),
        ("ID,名称,人数,時点", "S1,x,3,yesterday", "not a date"),
        ("ID,名称,人数", "S1,x,3", "no as-of time"),
        ("ID,名称,数,時点", "S1,x,3,令和6年1月10日正午", "expected an ID column"),
    ],
)
def test_an_unreadable_snapshot_is_reported_and_nothing_is_replayed(tmp_path, two_shelters, header, row, reason):
    history = tmp_path / "history"
    _history(history, "a.csv", "ID,名称,人数,時点", ["S1,x,3,令和6年1月9日正午"])
    _history(history, "b.csv", header, [row])

    with pytest.raises(ReplayFailed) as failed:
        occupancy_replay(actor=None, path=history)

    assert reason in failed.value.describe()
    assert not OccupancySnapshot.objects.filter(reason="replay").exists()
    assert Shelter.objects.get(external_id="S1").status == "planned"


@pytest.mark.django_db
def test_the_command_refuses_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="neither a file nor a folder"):
        _replay(str(tmp_path / "nowhere"))
