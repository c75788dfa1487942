"""Importing designated shelters from open data, all or nothing: Nanao City (Japan) and New York City.

Every row is read and checked first. A row that cannot be placed (no id, no name, no coordinates, outside the
target area, a hazard flag that is neither set nor empty) is an error, and then nothing is written. A value
that is only missing or unparseable, such as a capacity written in words, is reported as a warning and left
unknown: never guessed. Shelters are matched by (source, the source's id), so importing again updates them
(their status and occupancy are left alone).
"""

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, MultiPolygon, Point, Polygon
from django.db import transaction

from accounts import services as accounts_services
from accounts.models import AdministrativeArea, AreaLevel, User
from commsplatform.core.errors import DomainError, ValidationFailed
from shelters.models import Hazard, Shelter
from shelters.placement import AreaLocator
from shelters.services import ShelterFields, shelter_create, shelter_update

FORMATS = ("nanao", "nyc")

# Japan Digital Agency schema for designated emergency shelters (指定緊急避難場所).
NANAO_HAZARD_COLUMNS = {
    "災害種別_洪水": Hazard.FLOOD,
    "災害種別_崖崩れ、土石流及び地滑り": Hazard.LANDSLIDE,
    "災害種別_高潮": Hazard.STORM_SURGE,
    "災害種別_地震": Hazard.EARTHQUAKE,
    "災害種別_津波": Hazard.TSUNAMI,
    "災害種別_大規模な火事": Hazard.FIRE,
    "災害種別_内水氾濫": Hazard.PLUVIAL_FLOOD,
    "災害種別_火山現象": Hazard.VOLCANIC,
}
NANAO_INDOOR = re.compile(r"屋内([\d,]+)人")
NANAO_OUTDOOR = re.compile(r"屋外([\d,]+)人")
FLAG_SET = {"1", "1.0"}
FLAG_UNSET = {"", "0", "0.0"}

# The demo area for Nanao when no other is given: rough boxes, as the shared data has no boundaries.
NANAO_AREA_CODE = "JP-17202"
NANAO_AREA_TREE = (
    ("Japan", "JP", AreaLevel.NATION, (122.9, 24.0, 154.0, 45.6)),
    ("Ishikawa Prefecture", "JP-17", AreaLevel.REGION, (136.2, 36.0, 137.4, 37.9)),
    ("Nanao City", NANAO_AREA_CODE, AreaLevel.CITY, (136.7, 36.9, 137.15, 37.25)),
)

NYC_SRID = 2263  # NAD83 / New York Long Island (ftUS)
NYC_BOROUGHS = {"1", "2", "3", "4", "5"}
NYC_HOUSE_NUMBER = re.compile(r"^\s*\d[\d-]*[A-Za-z]?\s+")


@dataclass(frozen=True)
class ImportIssue:
    """A problem with one row: `row` counts data rows from 1, `line` is the file's line (the header is line 1)."""

    row: int | None
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line} (row {self.row})" if self.line is not None else "file"
        return f"{where}, {self.field}: {self.reason}"


class ShelterImportFailed(ValidationFailed):
    """Nothing was imported; `errors` says why, row by row."""

    def __init__(self, *, path: Path, errors: list[ImportIssue]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path.name}: {len(errors)} error(s), nothing imported.", fields={"file": "invalid"})

    def describe(self, *, limit: int = 50) -> str:
        lines = [f"{self.path}: {len(self.errors)} error(s), nothing imported:"]
        lines += [f"  {error}" for error in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"  … and {len(self.errors) - limit} more")
        return "\n".join(lines)


@dataclass
class ShelterImportResult:
    source: str
    area: AdministrativeArea
    created: list[Shelter] = field(default_factory=list)
    updated: list[Shelter] = field(default_factory=list)
    unchanged: list[Shelter] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)
    capacities: list[int] = field(default_factory=list)  # the indoor capacities the file states

    @property
    def shelters(self) -> list[Shelter]:
        """Every shelter of the file, in file order of creation, update or no change."""
        return [*self.created, *self.updated, *self.unchanged]


@dataclass
class _Candidate:
    row: int
    line: int
    external_id: str
    fields: ShelterFields


def nanao_area_ensure() -> AdministrativeArea:
    """Japan > Ishikawa > Nanao City as rough boxes, created once (used when no other area is given)."""
    parent: AdministrativeArea | None = None
    for name, code, level, box in NANAO_AREA_TREE:
        existing = AdministrativeArea.objects.filter(level=level, code=code).first()
        if existing is None:
            existing = accounts_services.area_create(
                actor=None,
                name=name,
                code=code,
                level=level,
                geometry=_box(box),
                parent=parent,
                source="approximate box (import_shelters)",
            )
        parent = existing
    assert parent is not None
    return parent


def _box(box: tuple[float, float, float, float]) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox(box), srid=4326)


def shelter_import(
    *, actor: User | None, path: Path, file_format: str, area: AdministrativeArea
) -> ShelterImportResult:
    """Import the file's shelters into `area` (each goes to the deepest area inside it that holds it)."""
    path = Path(path)
    if file_format not in FORMATS:
        raise ValidationFailed(
            f"Unknown format {file_format!r} ({' or '.join(FORMATS)}).", fields={"format": "unknown"}
        )
    errors: list[ImportIssue] = []
    warnings: list[ImportIssue] = []
    locator = AreaLocator(roots=[area])
    reader = _nanao_row if file_format == "nanao" else _nyc_row
    candidates: list[_Candidate] = []
    seen: dict[str, int] = {}
    for row, line, record in _csv_records(path, errors):
        candidate = reader(row, line, record, errors, warnings)
        if candidate is None:
            continue
        if candidate.external_id in seen:
            errors.append(
                ImportIssue(row, line, "id", f"{candidate.external_id!r} is also on line {seen[candidate.external_id]}")
            )
            continue
        seen[candidate.external_id] = line
        located = locator.locate(candidate.fields["location"])
        if located is None:
            errors.append(ImportIssue(row, line, "location", f"outside {area.name}"))
            continue
        if file_format == "nyc":
            borough = _district_of(located, locator)
            expected = record.get("BOROCODE", "").strip()
            if borough is None or borough.code != expected:
                where = borough.name if borough is not None else located.name
                errors.append(ImportIssue(row, line, "BOROCODE", f"says {expected!r} but the point lies in {where}"))
                continue
        candidates.append(candidate)
    if not candidates and not errors:
        errors.append(ImportIssue(None, None, "file", "no rows"))
    if errors:
        raise ShelterImportFailed(path=path, errors=errors)

    result = ShelterImportResult(
        source=file_format,
        area=area,
        warnings=warnings,
        capacities=[capacity for c in candidates if (capacity := c.fields.get("capacity")) is not None],
    )
    existing = {s.external_id: s for s in Shelter.objects.filter(source=file_format, external_id__in=list(seen))}
    current: _Candidate | None = None
    try:
        with transaction.atomic():
            for current in candidates:
                shelter = existing.get(current.external_id)
                if shelter is None:
                    result.created.append(
                        shelter_create(
                            actor=actor, fields=current.fields, source=file_format, external_id=current.external_id
                        )
                    )
                    continue
                before = shelter.updated_at
                shelter = shelter_update(actor=actor, shelter=shelter, fields=current.fields)
                if shelter.updated_at != before:
                    result.updated.append(shelter)
                else:
                    result.unchanged.append(shelter)
    except DomainError as exc:
        # Rolled back: nothing of the file is kept.
        failed_row = current.row if current is not None else None
        failed_line = current.line if current is not None else None
        raise ShelterImportFailed(path=path, errors=[ImportIssue(failed_row, failed_line, "row", exc.message)]) from exc
    return result


def _district_of(area: AdministrativeArea, locator: AreaLocator) -> AdministrativeArea | None:
    """The district-level area holding `area` (itself when it is one)."""
    for ancestor_id in reversed(area.ancestor_ids):
        ancestor = locator.areas.get(ancestor_id)
        if ancestor is not None and ancestor.level == AreaLevel.DISTRICT:
            return ancestor
    return None


def _csv_records(path: Path, errors: list[ImportIssue]) -> Iterator[tuple[int, int, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        errors.append(ImportIssue(None, None, "file", f"cannot read {path}: {exc.strerror}"))
        return
    with handle:
        try:
            reader = csv.DictReader(handle)
            row = 0
            for record in reader:
                row += 1
                if None in record or any(value is None for value in record.values()):
                    errors.append(
                        ImportIssue(row, reader.line_num, "row", "the number of values differs from the header")
                    )
                    continue
                yield row, reader.line_num, {key.strip(): (value or "").strip() for key, value in record.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.append(ImportIssue(None, None, "file", f"unreadable CSV: {exc}"))


def _require(record: dict[str, str], names: tuple[str, ...], row: int, line: int, errors: list[ImportIssue]) -> bool:
    missing = [name for name in names if name not in record]
    if missing:
        errors.append(ImportIssue(row, line, "header", f"missing columns: {', '.join(missing)}"))
        return False
    return True


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _count(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1).replace(",", "")) if match else None


def _nanao_row(
    row: int, line: int, record: dict[str, str], errors: list[ImportIssue], warnings: list[ImportIssue]
) -> _Candidate | None:
    columns = ("ID", "名称", "緯度", "経度", "想定収容人数", *NANAO_HAZARD_COLUMNS)
    if not _require(record, columns, row, line, errors):
        return None
    before = len(errors)
    external_id, name = record["ID"], record["名称"]
    if not external_id:
        errors.append(ImportIssue(row, line, "ID", "empty"))
    if not name:
        errors.append(ImportIssue(row, line, "名称", "empty"))
    lat, lon = _float(record["緯度"]), _float(record["経度"])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        errors.append(
            ImportIssue(row, line, "緯度/経度", f"not a latitude/longitude: {record['緯度']!r}, {record['経度']!r}")
        )
    hazards = []
    for column, hazard in NANAO_HAZARD_COLUMNS.items():
        flag = record[column]
        if flag in FLAG_SET:
            hazards.append(hazard.value)
        elif flag not in FLAG_UNSET:
            errors.append(ImportIssue(row, line, column, f"neither set nor empty: {flag!r}"))
    if len(errors) > before or lat is None or lon is None:
        return None
    text = record["想定収容人数"]
    capacity = _count(NANAO_INDOOR, text)
    if capacity is None:
        reason = "empty" if not text else f"no indoor capacity in {text!r}"
        warnings.append(ImportIssue(row, line, "想定収容人数", f"{reason}: capacity left unknown"))
    names = {"ja": name}
    if record.get("名称_英字"):
        names["ja-Latn"] = record["名称_英字"]
    if record.get("名称_カナ"):
        names["ja-Kana"] = record["名称_カナ"]
    properties: dict[str, Any] = {"capacity_text": text} if text else {}
    if record.get("対象となる町会・自治会"):
        properties["districts_served"] = record["対象となる町会・自治会"]
    elevation = _float(record.get("標高", ""))
    if elevation is not None:
        properties["elevation_m"] = elevation
    if record.get("所在地_全国地方公共団体コード"):
        properties["local_government_code"] = record["所在地_全国地方公共団体コード"]
    fields: ShelterFields = {
        "name": name,
        "names": names,
        "address": record.get("所在地_連結表記", ""),
        "street": record.get("所在地_町字", ""),
        "location": Point(lon, lat, srid=4326),
        "hazards": hazards,
        "capacity": capacity,
        "capacity_outdoor": _count(NANAO_OUTDOOR, text),
        "phone": record.get("電話番号", "")[:40],
        "properties": properties,
        "languages": ["ja"],
    }
    return _Candidate(row=row, line=line, external_id=external_id, fields=fields)


def _nyc_row(
    row: int, line: int, record: dict[str, str], errors: list[ImportIssue], warnings: list[ImportIssue]
) -> _Candidate | None:
    columns = ("BLDG_ID", "X", "Y", "OEM_LABEL", "BLDG_ADD", "BOROCODE", "CITY", "ZIP_CODE", "ACCESSIBLE")
    if not _require(record, columns, row, line, errors):
        return None
    before = len(errors)
    external_id, name = record["BLDG_ID"], record["OEM_LABEL"]
    if not external_id:
        errors.append(ImportIssue(row, line, "BLDG_ID", "empty"))
    if not name:
        errors.append(ImportIssue(row, line, "OEM_LABEL", "empty"))
    if record["BOROCODE"] not in NYC_BOROUGHS:
        errors.append(ImportIssue(row, line, "BOROCODE", f"not a borough code (1 to 5): {record['BOROCODE']!r}"))
    accessible = record["ACCESSIBLE"].upper()
    if accessible not in ("Y", "N"):
        errors.append(ImportIssue(row, line, "ACCESSIBLE", f"neither Y nor N: {record['ACCESSIBLE']!r}"))
    x, y = _float(record["X"]), _float(record["Y"])
    location: Point | None = None
    if x is None or y is None:
        errors.append(ImportIssue(row, line, "X/Y", f"not coordinates: {record['X']!r}, {record['Y']!r}"))
    else:
        location = _reproject(x, y, NYC_SRID)
        if location is None:
            errors.append(ImportIssue(row, line, "X/Y", f"cannot be reprojected from EPSG:{NYC_SRID}"))
    if len(errors) > before or location is None:
        return None
    address = record["BLDG_ADD"]
    properties: dict[str, Any] = {"borough_code": record["BOROCODE"]}
    cross = [record.get(name, "") for name in ("CROSS1", "CROSS2") if record.get(name, "")]
    if cross:
        properties["cross_streets"] = cross
    if record.get("ACC_FEAT"):
        properties["accessibility_notes"] = record["ACC_FEAT"]
    fields: ShelterFields = {
        "name": name,
        "names": {"en": name},
        "address": ", ".join(part for part in (address, record["CITY"], f"NY {record['ZIP_CODE']}".strip()) if part),
        "street": NYC_HOUSE_NUMBER.sub("", address),
        "postcode": record["ZIP_CODE"],
        "location": location,
        # Hurricane evacuation centres: for people leaving storm-surge zones ahead of a storm.
        "hazards": [Hazard.STORM.value, Hazard.STORM_SURGE.value],
        "step_free_access": accessible == "Y",
        "properties": properties,
        "languages": ["en"],
    }
    return _Candidate(row=row, line=line, external_id=external_id, fields=fields)


def _reproject(x: float, y: float, srid: int) -> Point | None:
    try:
        point = Point(x, y, srid=srid)
        point.transform(4326)
    except (GDALException, GEOSException):
        return None
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        return None
    return Point(point.x, point.y, srid=4326)
