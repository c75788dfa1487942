"""Bulk upload of an owner's assets from CSV or GeoJSON: the whole file is checked first, then written at once.

- All or nothing: any bad row and nothing of the file is written; every bad row is reported with its line
  (CSV) or feature number (GeoJSON), the field and the reason.
- Idempotent by the owner's own id (`external_id`): a row whose id exists updates that asset when something
  changed and is left alone otherwise, so the same file uploaded twice creates its assets once.
- One audit event per upload, with counts; uploads of one owner are serialised by a lock on the owner's row.

CSV columns: external_id, type, name, longitude, latitude (required); quantity, unit, state, street, postcode,
address, notes (optional); `attr.<key>` columns go to the asset's attributes. GeoJSON: a FeatureCollection of
Point features in WGS84 (no `crs` member) whose properties use the same names (no longitude/latitude).
"""

import csv
import hashlib
import io
import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.gis.geos import Point
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import AdministrativeArea, Organisation, User
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, ValidationFailed
from shelters.models import Asset, AssetState, AssetType, postcode_normalise, search_text_of, street_normalise
from shelters.placement import AreaLocator
from shelters.services import checks
from shelters.services.assets import MAX_QUANTITY, asset_area_allowed, asset_owner_scope, asset_search_text

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS_REPORTED = 1000
FORMATS = ("csv", "geojson")
ATTRIBUTE_PREFIX = "attr."
REQUIRED = ("external_id", "type", "name")
OPTIONAL = ("quantity", "unit", "state", "street", "postcode", "address", "notes")
COORDINATES = ("longitude", "latitude")
LIMITS = {
    "external_id": 100,
    "name": 200,
    "unit": 32,
    "street": 200,
    "postcode": 20,
    "address": 300,
    "notes": 2000,
}
ASSET_TYPES = frozenset(AssetType.values)
ASSET_STATES = frozenset(AssetState.values)
# Compared to decide whether an existing asset changed.
COMPARED = ("asset_type", "name", "quantity", "unit", "state", "street", "postcode", "address", "notes", "attributes")


@dataclass(frozen=True)
class RowError:
    """One reason a file cannot be taken. `row` counts data rows (or features) from 1; `line` is the CSV line."""

    row: int | None
    line: int | None
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "line": self.line, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"row {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.reason}"


class AssetUploadFailed(ValidationFailed):
    """Nothing of the file was written; `errors` lists each bad row (the first MAX_ERRORS_REPORTED of them)."""

    code = "upload_invalid"

    def __init__(self, *, errors: list[RowError], total: int) -> None:
        self.errors = errors[:MAX_ERRORS_REPORTED]
        self.total = total
        first = errors[0] if errors else None
        super().__init__(
            f"{total} error(s), nothing was written" + (f"; first: {first}." if first else "."),
            fields={"file": "invalid"},
        )


@dataclass
class AssetUploadReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    file_format: str = ""
    sha256: str = ""


@dataclass
class _Row:
    row: int
    line: int | None
    values: dict[str, Any]


@dataclass
class _Parsed:
    rows: list[_Row]
    errors: list[RowError]


def _file_format(filename: str, file_format: str | None, content: bytes) -> str:
    if file_format:
        if file_format not in FORMATS:
            raise ValidationFailed(f"Unknown format {file_format!r} (csv or geojson).", fields={"format": "unknown"})
        return file_format
    lower = filename.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".geojson", ".json")):
        return "geojson"
    return "geojson" if content.lstrip()[:1] == b"{" else "csv"


def _csv_rows(text: str, errors: list[RowError]) -> Iterator[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        errors.append(RowError(None, 1, "file", f"not CSV: {exc}"))
        return
    columns = [name.strip() for name in header]
    reader.fieldnames = columns
    missing = [name for name in (*REQUIRED, *COORDINATES) if name not in columns]
    unknown = [name for name in columns if name not in (*REQUIRED, *OPTIONAL, *COORDINATES) and not _is_attribute(name)]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if missing:
        errors.append(RowError(None, 1, "header", f"missing columns: {', '.join(missing)}"))
    if unknown:
        errors.append(RowError(None, 1, "header", f"unknown columns: {', '.join(unknown)}"))
    if duplicated:
        errors.append(RowError(None, 1, "header", f"repeated columns: {', '.join(duplicated)}"))
    if errors:
        return
    number = 0
    try:
        for record in reader:
            number += 1
            if None in record:
                errors.append(RowError(number, reader.line_num, "row", "more values than columns"))
                continue
            if any(value is None for value in record.values()):
                errors.append(RowError(number, reader.line_num, "row", "fewer values than columns"))
                continue
            values: dict[str, Any] = {key: value.strip() for key, value in record.items()}
            yield _Row(number, reader.line_num, values)
            if number > MAX_ROWS:
                return
    except csv.Error as exc:
        errors.append(RowError(number + 1, reader.line_num, "row", f"unreadable CSV: {exc}"))


def _geojson_rows(content: bytes, errors: list[RowError]) -> Iterator[_Row]:
    try:
        document = json.loads(content)
    except (ValueError, RecursionError) as exc:
        errors.append(RowError(None, None, "file", f"not JSON: {exc}"))
        return
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        errors.append(RowError(None, None, "file", "expected a GeoJSON FeatureCollection"))
        return
    if "crs" in document:
        errors.append(RowError(None, None, "crs", "a 'crs' member is not accepted: use WGS84 longitude/latitude"))
        return
    features = document.get("features")
    if not isinstance(features, list):
        errors.append(RowError(None, None, "features", "expected a list of features"))
        return
    for index, feature in enumerate(features[: MAX_ROWS + 1], start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.append(RowError(index, None, "feature", "not a GeoJSON Feature"))
            continue
        geometry = feature.get("geometry")
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            errors.append(RowError(index, None, "properties", "expected an object"))
            continue
        if not isinstance(geometry, dict) or geometry.get("type") != "Point" or "crs" in geometry:
            errors.append(RowError(index, None, "geometry", "expected a Point geometry in WGS84"))
            continue
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
            errors.append(RowError(index, None, "geometry", "a Point has [longitude, latitude]"))
            continue
        unknown = [key for key in properties if key not in (*REQUIRED, *OPTIONAL) and not _is_attribute(key)]
        if unknown:
            errors.append(RowError(index, None, unknown[0], f"unknown properties: {', '.join(map(str, unknown))}"))
            continue
        values = dict(properties)
        values["longitude"], values["latitude"] = coordinates[0], coordinates[1]
        yield _Row(index, None, values)


def _is_attribute(name: str) -> bool:
    return name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX) and len(name) <= 64


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a text")
    text = str(value).strip()
    if len(text) > LIMITS.get(name, 200):
        raise ValueError(f"longer than {LIMITS.get(name, 200)} characters")
    return text


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        number = float(value.strip())
    else:
        raise ValueError("expected a number")
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _quantity(value: Any) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 10:
        value = int(value.strip())
    if not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
        raise ValueError(f"expected a whole number from 0 to {MAX_QUANTITY}")
    return value


class _RowChecker:
    """Turns a raw row into an Asset's values or errors; remembers ids seen in the file."""

    def __init__(self, *, locator: AreaLocator, allowed: Any) -> None:
        self.locator = locator
        self.allowed = allowed
        self.seen: dict[str, int] = {}

    def check(self, row: _Row, errors: list[RowError]) -> dict[str, Any] | None:
        values = row.values
        problems: list[tuple[str, str]] = []
        out: dict[str, Any] = {}
        for name in (*REQUIRED, *OPTIONAL):
            if name in ("quantity",):
                continue
            try:
                out[name] = _text(values, name)
            except ValueError as exc:
                problems.append((name, str(exc)))
        for name in REQUIRED:
            if name in out and not out[name]:
                problems.append((name, "required"))
        asset_type = out.pop("type", "")
        if asset_type:
            out["asset_type"] = asset_type.lower().replace(" ", "_")
            if out["asset_type"] not in ASSET_TYPES:
                problems.append(("type", f"unknown type {asset_type!r} (one of {', '.join(AssetType.values)})"))
        state = out.get("state") or AssetState.AVAILABLE
        out["state"] = state.lower()
        if out["state"] not in ASSET_STATES:
            problems.append(("state", f"unknown state {state!r} (one of {', '.join(AssetState.values)})"))
        try:
            out["quantity"] = _quantity(values.get("quantity"))
        except ValueError as exc:
            problems.append(("quantity", str(exc)))
        out["postcode"] = postcode_normalise(out.get("postcode", ""))
        out["street"] = street_normalise(out.get("street", ""))
        attributes: dict[str, str] = {}
        for key, value in values.items():
            if _is_attribute(key) and value not in (None, ""):
                if not isinstance(value, str | int | float) or isinstance(value, bool) or len(str(value)) > 200:
                    problems.append((key, "expected a text of at most 200 characters"))
                else:
                    attributes[key[len(ATTRIBUTE_PREFIX) :]] = str(value).strip()
        out["attributes"] = attributes
        point: Point | None = None
        try:
            longitude, latitude = _number(values.get("longitude")), _number(values.get("latitude"))
            if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
                problems.append(("location", "longitude must be within ±180 and latitude within ±90"))
            else:
                point = Point(longitude, latitude, srid=4326)
        except ValueError as exc:
            problems.append(("location", f"longitude and latitude: {exc}"))
        if point is not None:
            area = self.locator.locate(point)
            if area is None:
                problems.append(("location", "outside every area where you manage this organisation's assets"))
            elif not self.allowed(area):
                problems.append(("location", f"you may not manage this organisation's assets in {area.name}"))
            else:
                out["location"] = point
                out["area"] = area
                out["lonlat"] = (longitude, latitude)
        external_id = out.get("external_id", "")
        if external_id:
            if external_id in self.seen:
                problems.append(("external_id", f"{external_id!r} is also used by row {self.seen[external_id]}"))
            else:
                self.seen[external_id] = row.row
        for name, reason in problems:
            errors.append(RowError(row.row, row.line, name, reason))
        return None if problems else out


def _parse(content: bytes, file_format: str) -> _Parsed:
    errors: list[RowError] = []
    if file_format == "csv":
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return _Parsed([], [RowError(None, None, "file", f"not UTF-8 text: {exc.reason} at byte {exc.start}")])
        rows = list(_csv_rows(text, errors))
    else:
        rows = list(_geojson_rows(content, errors))
    if len(rows) > MAX_ROWS:
        return _Parsed([], [RowError(None, None, "file", f"more than {MAX_ROWS} rows: split the file")])
    if not rows and not errors:
        errors.append(RowError(None, None, "file", "no rows"))
    return _Parsed(rows, errors)


def asset_upload(
    *,
    actor: User | None,
    owner: Organisation,
    content: bytes,
    filename: str = "",
    file_format: str | None = None,
) -> AssetUploadReport:
    """Create or update `owner`'s assets from a CSV or GeoJSON file, all or nothing (see the module docstring)."""
    scope = asset_owner_scope(actor=actor, owner=owner)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: split it.", fields={"file": "too large"}
        )
    fmt = _file_format(filename, file_format, content)
    parsed = _parse(content, fmt)
    if parsed.errors:
        raise AssetUploadFailed(errors=parsed.errors, total=len(parsed.errors))

    roots = scope if scope is not None else list(AdministrativeArea.objects.filter(parent__isnull=True))
    allowed_cache: dict[int, bool] = {}

    def allowed(area: AdministrativeArea) -> bool:
        if area.pk not in allowed_cache:
            allowed_cache[area.pk] = asset_area_allowed(actor=actor, owner=owner, area=area, scope=scope)
        return allowed_cache[area.pk]

    checker = _RowChecker(locator=AreaLocator(roots=roots), allowed=allowed)
    errors: list[RowError] = []
    checked = [(row, checker.check(row, errors)) for row in parsed.rows]
    if errors:
        raise AssetUploadFailed(errors=errors, total=len(errors))

    report = AssetUploadReport(rows=len(checked), file_format=fmt, sha256=hashlib.sha256(content).hexdigest())
    now = timezone.now()
    try:
        with transaction.atomic():
            # One upload per owner at a time: the second waits, then sees the first one's assets.
            Organisation.objects.select_for_update().filter(pk=owner.pk).first()
            existing = _existing(owner, [values["external_id"] for _row, values in checked if values is not None])
            to_create: list[dict[str, Any]] = []
            to_update: list[Asset] = []
            changed_fields: set[str] = set()
            for _row, values in checked:
                assert values is not None
                current = existing.get(values["external_id"])
                if current is None:
                    to_create.append(values)
                    continue
                changed = [name for name in COMPARED if getattr(current, name) != values[name]]
                if not current.location.equals_exact(values["location"]):
                    changed.append("location")
                if current.area_id != values["area"].pk:
                    changed.append("area")
                if not changed:
                    report.unchanged += 1
                    continue
                for name in changed:
                    setattr(current, name, values[name])
                current.search_text = asset_search_text(current)
                current.updated_at = now
                changed_fields.update(changed)
                to_update.append(current)
            _insert(owner, to_create, now)
            if to_update:
                Asset.objects.bulk_update(
                    to_update, [*sorted(changed_fields), "search_text", "updated_at"], batch_size=500
                )
            report.created = len(to_create)
            report.updated = len(to_update)
            audit_record(
                actor_id=checks.actor_id_of(actor),
                action="shelters.assets_uploaded",
                target=owner,
                area_id=scope[0].pk if scope is not None and len(scope) == 1 else None,
                data={
                    "owner_id": owner.pk,
                    "format": fmt,
                    "rows": report.rows,
                    "created": report.created,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "sha256": report.sha256,
                },
            )
    except IntegrityError as exc:
        raise Conflict("Another change to these assets ran at the same time: upload the file again.") from exc
    return report


def _existing(owner: Organisation, external_ids: list[str], chunk: int = 500) -> dict[str, Asset]:
    """The owner's assets with these ids (in chunks: SQLite limits the parameters of one query)."""
    found: dict[str, Asset] = {}
    for start in range(0, len(external_ids), chunk):
        for asset in Asset.objects.filter(owner=owner, external_id__in=external_ids[start : start + chunk]):
            found[asset.external_id] = asset
    return found


# Columns written by COPY, in order; a test checks they are every column of the table but the id.
COPY_COLUMNS = (
    "created_at",
    "updated_at",
    "owner_id",
    "external_id",
    "asset_type",
    "name",
    "quantity",
    "unit",
    "state",
    "location",
    "area_id",
    "address",
    "street",
    "postcode",
    "attributes",
    "notes",
    "search_text",
)


def _insert(owner: Organisation, rows: list[dict[str, Any]], now: datetime) -> None:
    """Write new assets: COPY on PostgreSQL (a 100,000-row INSERT spends most of its time building and parsing
    the statement), bulk_create elsewhere. Runs inside the caller's transaction either way."""
    if connection.vendor != "postgresql":
        assets = [Asset(owner=owner, **{k: v for k, v in values.items() if k != "lonlat"}) for values in rows]
        for asset in assets:
            asset.search_text = asset_search_text(asset)
        Asset.objects.bulk_create(assets, batch_size=2000)
        return
    statement = f"COPY {Asset._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for values in rows:
            copy.write_row(
                (
                    now,
                    now,
                    owner.pk,
                    values["external_id"],
                    values["asset_type"],
                    values["name"],
                    values["quantity"],
                    values["unit"],
                    values["state"],
                    _point_ewkb_hex(*values["lonlat"]),
                    values["area"].pk,
                    values["address"],
                    values["street"],
                    values["postcode"],
                    json.dumps(values["attributes"]),
                    values["notes"],
                    search_text_of(
                        [values["name"], values["external_id"], values["address"], values["street"], values["postcode"]]
                    ),
                )
            )


def _point_ewkb_hex(longitude: float, latitude: float) -> str:
    """A WGS84 point as PostGIS reads it (hex EWKB: little-endian, point type with the SRID flag, SRID, x, y)."""
    return struct.pack("<BIIdd", 1, 0x20000001, 4326, longitude, latitude).hex()
