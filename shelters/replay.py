"""Replaying a history of occupancy snapshots (Nanao's open-shelter lists of 2024) as a timeline.

Each snapshot file lists the shelters open at one moment and how many evacuees each held. Every file is read
and checked first; a file or row that cannot be read (no as-of time, a count that is not a number, a shelter
that was never imported) is reported and then nothing is replayed. Each snapshot is then applied in time
order, in its own transaction: the shelters it lists are opened and their head count recorded at the
snapshot's time; shelters open before but absent now are emptied and closed. Live clients see each step.
A snapshot already replayed (its time is in the history) is skipped, so running the replay again is harmless.
"""

import csv
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import User
from commsplatform.core.errors import ValidationFailed
from shelters.importers import ImportIssue
from shelters.models import OccupancySnapshot, Shelter, ShelterStatus, SnapshotReason
from shelters.services import shelter_occupancy_set, shelter_set_status

JAPAN = ZoneInfo("Asia/Tokyo")
REIWA_OFFSET = 2018  # Reiwa 1 is 2019
AS_OF = re.compile(
    r"^令和(?P<year>\d+|元)年(?P<month>\d{1,2})月(?P<day>\d{1,2})日"
    r"(?:(?P<noon>正午)|(?P<half>午前|午後)(?P<hour>\d{1,2})時(?:(?P<minute>\d{1,2})分)?)(?:時点)?$"
)
COUNT_PREFIX = "人数"


class ReplayFailed(ValidationFailed):
    def __init__(self, *, path: Path, errors: list[tuple[Path | None, ImportIssue]]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s), nothing replayed.", fields={"path": "invalid"})

    def describe(self, *, limit: int = 50) -> str:
        lines = [f"{self.path}: {len(self.errors)} error(s), nothing replayed:"]
        lines += [f"  {file.name if file else '-'}: {issue}" for file, issue in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"  … and {len(self.errors) - limit} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class HistorySnapshot:
    at: datetime
    path: Path
    counts: dict[str, int]


@dataclass
class ReplayResult:
    steps: int = 0
    skipped: int = 0
    people_last: int = 0
    open_last: int = 0
    warnings: list[tuple[Path, str]] = field(default_factory=list)


def as_of_parse(text: str) -> datetime | None:
    """ "令和6年1月9日午後6時" → 2024-01-09 18:00 Japan time; None when the text is not such a time."""
    match = AS_OF.match(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    year = REIWA_OFFSET + (1 if match["year"] == "元" else int(match["year"]))
    if match["noon"]:
        hour, minute = 12, 0
    else:
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        if match["half"] == "午後" and hour < 12:
            hour += 12
    try:
        return datetime(year, int(match["month"]), int(match["day"]), hour, minute, tzinfo=JAPAN)
    except ValueError:
        return None


def history_read(*, path: Path) -> tuple[list[HistorySnapshot], list[tuple[Path | None, ImportIssue]]]:
    """Every snapshot file of a folder (or one file), checked; with the errors found."""
    path = Path(path)
    errors: list[tuple[Path | None, ImportIssue]] = []
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
    elif path.is_file():
        files = [path]
    else:
        return [], [(None, ImportIssue(None, None, "path", f"{path} is neither a file nor a folder"))]
    if not files:
        return [], [(None, ImportIssue(None, None, "path", f"no CSV files in {path}"))]
    snapshots = []
    for file in files:
        snapshot = _file_read(file, errors)
        if snapshot is not None:
            snapshots.append(snapshot)
    return sorted(snapshots, key=lambda snapshot: snapshot.at), errors


def _file_read(file: Path, errors: list[tuple[Path | None, ImportIssue]]) -> HistorySnapshot | None:
    def fail(row: int | None, line: int | None, name: str, reason: str) -> None:
        errors.append((file, ImportIssue(row, line, name, reason)))

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        fail(None, None, "file", f"unreadable: {exc}")
        return None
    count_columns = [name for name in header if name.startswith(COUNT_PREFIX)]
    if "ID" not in header or len(count_columns) != 1:
        fail(None, 1, "header", f"expected an ID column and one {COUNT_PREFIX} column")
        return None
    count_column = count_columns[0]
    # Older files name the time in the count column ("人数_令和6年1月9日午後6時時点"), newer ones in 時点.
    column_time = as_of_parse(count_column[len(COUNT_PREFIX) :].lstrip("_")) if count_column != COUNT_PREFIX else None
    times: set[datetime] = set()
    counts: dict[str, int] = {}
    before = len(errors)
    for row, record in enumerate(records, start=1):
        line = row + 1
        external_id = (record.get("ID") or "").strip()
        raw = (record.get(count_column) or "").strip()
        if not external_id:
            fail(row, line, "ID", "empty")
            continue
        if not (raw.isascii() and raw.isdigit()):
            fail(row, line, count_column, f"not a number of people: {raw!r}")
            continue
        if external_id in counts:
            fail(row, line, "ID", f"{external_id!r} appears twice")
            continue
        counts[external_id] = int(raw)
        if "時点" in record:
            at = as_of_parse(record["時点"] or "")
            if at is None:
                fail(row, line, "時点", f"not a date and time: {record['時点']!r}")
                continue
            times.add(at)
    if column_time is not None:
        times.add(column_time)
    if len(errors) > before:
        return None
    if len(times) != 1:
        fail(None, None, "時点", "no as-of time" if not times else "several as-of times in one file")
        return None
    return HistorySnapshot(at=times.pop(), path=file, counts=counts)


def occupancy_replay(
    *,
    actor: User | None,
    path: Path,
    source: str = "nanao",
    delay: float = 0.0,
    on_step: Callable[[HistorySnapshot, int], None] | None = None,
) -> ReplayResult:
    """Replay the history at `path` onto the shelters imported from `source`, pausing `delay` s between steps."""
    path = Path(path)
    snapshots, errors = history_read(path=path)
    ids = sorted({external_id for snapshot in snapshots for external_id in snapshot.counts})
    shelters = {s.external_id: s for s in Shelter.objects.filter(source=source, external_id__in=ids)}
    for snapshot in snapshots:
        for external_id in sorted(set(snapshot.counts) - set(shelters)):
            errors.append(
                (snapshot.path, ImportIssue(None, None, "ID", f"{external_id!r}: no such shelter from {source!r}"))
            )
    if errors:
        raise ReplayFailed(path=path, errors=errors)

    result = ReplayResult()
    replayed = set(
        OccupancySnapshot.objects.filter(shelter__source=source, reason=SnapshotReason.REPLAY)
        .values_list("at", flat=True)
        .distinct()
    )
    open_now = {
        s.external_id
        for s in Shelter.objects.filter(source=source, status__in=[ShelterStatus.OPEN, ShelterStatus.FULL])
    }
    for snapshot in snapshots:
        if snapshot.at in replayed:
            result.skipped += 1
            open_now = set(snapshot.counts)
            continue
        with transaction.atomic():
            for external_id, count in sorted(snapshot.counts.items()):
                shelter = Shelter.objects.get(pk=shelters[external_id].pk)
                if shelter.status not in (ShelterStatus.OPEN, ShelterStatus.FULL):
                    shelter = shelter_set_status(
                        actor=actor, shelter=shelter, status=ShelterStatus.OPEN, at=snapshot.at
                    )
                shelter_occupancy_set(
                    actor=actor, shelter=shelter, occupancy=count, at=snapshot.at, reason=SnapshotReason.REPLAY
                )
                if shelter.capacity is not None and count > shelter.capacity:
                    result.warnings.append(
                        (snapshot.path, f"{external_id}: {count} people, above the capacity of {shelter.capacity}")
                    )
            for external_id in sorted(open_now - set(snapshot.counts)):
                shelter = Shelter.objects.get(source=source, external_id=external_id)
                if shelter.occupancy:
                    shelter = shelter_occupancy_set(
                        actor=actor, shelter=shelter, occupancy=0, at=snapshot.at, reason=SnapshotReason.REPLAY
                    )
                shelter_set_status(actor=actor, shelter=shelter, status=ShelterStatus.CLOSED, at=snapshot.at)
        open_now = set(snapshot.counts)
        result.steps += 1
        if on_step is not None:
            on_step(snapshot, result.steps)
        if delay > 0:
            time.sleep(delay)
    if snapshots:
        result.people_last = sum(snapshots[-1].counts.values())
        result.open_last = len(snapshots[-1].counts)
    return result
