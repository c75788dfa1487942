"""Importing administrative areas from GeoJSON / TopoJSON files (any format GDAL/OGR reads), all or nothing.

Every feature of the file is read and checked first; when anything is wrong, every error is reported with the
feature's 0-based index and nothing is written. Otherwise all areas are written in one transaction through
`area_create` / `area_update`, so they are validated, placed in the tree and audited like any other area.
"""

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.gdal import CoordTransform, DataSource, GDALException, OGRGeometry, SpatialReference
from django.contrib.gis.gdal.layer import Layer
from django.contrib.gis.geos import GeometryCollection, GEOSException, GEOSGeometry, MultiPolygon, Polygon
from django.db import transaction

from accounts import services
from accounts.models import AdministrativeArea, AreaLevel, User, area_level_fits
from commsplatform.core.errors import DomainError, ValidationFailed

NAME_MAX_LENGTH = AdministrativeArea._meta.get_field("name").max_length or 200
CODE_MAX_LENGTH = AdministrativeArea._meta.get_field("code").max_length or 64
SOURCE_MAX_LENGTH = AdministrativeArea._meta.get_field("source").max_length or 200
WGS84 = 4326


@dataclass(frozen=True)
class FeatureError:
    """One reason a file cannot be imported; `index` is the feature's 0-based position, None for the whole file."""

    index: int | None
    reason: str

    def __str__(self) -> str:
        return f"feature {self.index}: {self.reason}" if self.index is not None else f"file: {self.reason}"


class AreaImportFailed(ValidationFailed):
    """The file was not imported (nothing was written); `errors` says why, feature by feature."""

    def __init__(self, *, path: Path, errors: list[FeatureError]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path.name}: {len(errors)} error(s), nothing imported.", fields={"file": "invalid"})

    def describe(self, *, limit: int = 50) -> str:
        """The errors as lines, the first `limit` of them, with the count of the rest."""
        lines = [f"{self.path}: {len(self.errors)} error(s), nothing imported (features are counted from 0):"]
        lines += [f"  {error}" for error in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"  … and {len(self.errors) - limit} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class AreaImportResult:
    level: str
    source: str
    created: list[AdministrativeArea] = field(default_factory=list)
    updated: list[AdministrativeArea] = field(default_factory=list)
    repaired: int = 0

    @property
    def count(self) -> int:
        return len(self.created) + len(self.updated)


@dataclass
class _Candidate:
    index: int
    name: str
    code: str
    geometry: MultiPolygon
    properties: dict[str, Any]
    existing: AdministrativeArea | None = None


def area_parent_resolve(*, reference: str) -> AdministrativeArea:
    """Find an area by `CODE` (when unique across levels) or `LEVEL:CODE`."""
    level, sep, code = reference.partition(":")
    if sep and level in AreaLevel.values:
        matches = list(AdministrativeArea.objects.filter(level=level, code=code))
    else:
        matches = list(AdministrativeArea.objects.filter(code=reference))
    if not matches:
        raise ValidationFailed(f"No area has the code {reference!r}.", fields={"parent": "unknown"})
    if len(matches) > 1:
        levels = ", ".join(sorted(f"{area.level}:{area.code}" for area in matches))
        raise ValidationFailed(
            f"The code {reference!r} is used at several levels ({levels}); write LEVEL:CODE.",
            fields={"parent": "ambiguous"},
        )
    return matches[0]


def area_file_union(*, path: Path, layer: str | None = None) -> MultiPolygon:
    """The union of every polygon of a file's layer, in WGS84, repaired if needed (e.g. a city from its boroughs)."""
    errors: list[FeatureError] = []
    geometries: list[MultiPolygon] = []
    for index, feature in enumerate(_read_layer(path=path, layer=layer, errors=errors)):
        geometry, _ = _feature_geometry(feature.geom, index, errors, make_valid=True)
        if geometry is not None:
            geometries.append(geometry)
    if errors or not geometries:
        raise AreaImportFailed(path=path, errors=errors or [FeatureError(None, "the layer has no polygons")])
    union: GEOSGeometry = geometries[0]
    for geometry in geometries[1:]:
        union = union.union(geometry)
    result = _polygonal(union)
    if result is None:
        raise AreaImportFailed(path=path, errors=[FeatureError(None, "the union of the polygons is empty")])
    return result


def area_import(
    *,
    actor: User | None,
    path: Path,
    level: str,
    name_field: str,
    code_field: str,
    parent: str | None = None,
    source: str | None = None,
    layer: str | None = None,
    update: bool = False,
    make_valid: bool = False,
    name_format: str = "{}",
    code_map: Mapping[str, str] | None = None,
) -> AreaImportResult:
    """Create one area of `level` per feature of the file's layer (the first one unless named), all or nothing.

    `parent` is `CODE` or `LEVEL:CODE` of the area every feature goes under. An area whose code already
    exists at `level` is an error, unless `update` is set: then its name, geometry and properties are
    replaced (it must have the same parent). `make_valid` repairs invalid geometries instead of refusing
    them. Each area's properties are the feature's other attributes (JSON values; nulls left out).
    `name_format` builds the name from the name field's value (`{}` stands for it); `code_map`, when
    given, turns the code field's values into codes (a value missing from it is an error).
    """
    path = Path(path)
    errors: list[FeatureError] = []
    if level not in AreaLevel.values:
        errors.append(FeatureError(None, f"unknown level {level!r} (one of {', '.join(AreaLevel.values)})"))
    source = path.name if source is None else source
    if len(source) > SOURCE_MAX_LENGTH:
        errors.append(FeatureError(None, f"the source is longer than {SOURCE_MAX_LENGTH} characters"))
    parent_area: AdministrativeArea | None = None
    if parent:
        try:
            parent_area = area_parent_resolve(reference=parent)
        except ValidationFailed as exc:
            errors.append(FeatureError(None, f"parent: {exc.message}"))
    if parent_area is not None and level in AreaLevel.values:
        if not area_level_fits(parent_level=parent_area.level, level=level):
            errors.append(FeatureError(None, f"a {level} cannot be inside a {parent_area.level} ({parent_area.code})"))

    candidates, repaired = _read_candidates(
        path=path,
        layer=layer,
        name_field=name_field,
        code_field=code_field,
        name_format=name_format,
        code_map=code_map,
        make_valid=make_valid,
        errors=errors,
    )
    if level in AreaLevel.values:
        _check_existing(candidates=candidates, level=level, parent=parent_area, update=update, errors=errors)
    if errors:
        raise AreaImportFailed(path=path, errors=sorted(errors, key=lambda e: -1 if e.index is None else e.index))

    result = AreaImportResult(level=level, source=source, repaired=repaired)
    current: _Candidate | None = None
    try:
        with transaction.atomic():
            for current in candidates:
                if current.existing is not None:
                    area = services.area_update(
                        actor=actor,
                        area=current.existing,
                        name=current.name,
                        geometry=current.geometry,
                        properties=current.properties,
                    )
                    result.updated.append(area)
                else:
                    area = services.area_create(
                        actor=actor,
                        name=current.name,
                        code=current.code,
                        level=level,
                        geometry=current.geometry,
                        parent=parent_area,
                        properties=current.properties,
                        source=source,
                    )
                    result.created.append(area)
    except DomainError as exc:
        # The transaction was rolled back: nothing of the file is kept.
        index = current.index if current is not None else None
        raise AreaImportFailed(
            path=path, errors=[FeatureError(index, f"{exc.message} {_fields(exc)}".strip())]
        ) from exc
    return result


# Reading ---------------------------------------------------------------------------------------------


@dataclass
class _FeatureData:
    fields: list[str]
    values: dict[str, Any]
    geom: OGRGeometry | None


def _read_layer(*, path: Path, layer: str | None, errors: list[FeatureError]) -> list[_FeatureData]:
    """The layer's features in file order, reprojected to WGS84, or [] with an error."""
    if not path.is_file():
        errors.append(FeatureError(None, f"cannot read {path}: no such file"))
        return []
    try:
        source = DataSource(str(path))
    except GDALException as exc:
        errors.append(FeatureError(None, f"cannot read {path.name}: {exc}"))
        return []
    names = [source[i].name for i in range(source.layer_count)]
    if not names:
        errors.append(FeatureError(None, f"{path.name} has no layers"))
        return []
    if layer is not None and layer not in names:
        errors.append(FeatureError(None, f"no layer {layer!r} in {path.name} (layers: {', '.join(names)})"))
        return []
    ogr_layer: Layer = source[layer] if layer is not None else source[0]
    fields = list(ogr_layer.fields)
    transform = _to_wgs84(ogr_layer.srs)
    return [
        _FeatureData(
            fields=fields,
            values={name: feature.get(name) for name in fields},
            geom=_transformed(feature, transform),
        )
        for feature in ogr_layer
    ]


def _to_wgs84(srs: SpatialReference | None) -> CoordTransform | None:
    # No spatial reference: GeoJSON without "crs", TopoJSON (GDAL ignores its crs member) → WGS84 by definition.
    if srs is None or srs.srid == WGS84:
        return None
    # Django builds both references with the traditional GIS axis order (x = longitude) on GDAL 3.
    return CoordTransform(srs, SpatialReference(WGS84))


def _transformed(feature: Any, transform: CoordTransform | None) -> OGRGeometry | None:
    try:
        geometry: OGRGeometry = feature.geom
    except GDALException:
        return None
    if geometry is None:
        return None
    if transform is not None:
        geometry.transform(transform)
    return geometry


def _read_candidates(
    *,
    path: Path,
    layer: str | None,
    name_field: str,
    code_field: str,
    name_format: str,
    code_map: Mapping[str, str] | None,
    make_valid: bool,
    errors: list[FeatureError],
) -> tuple[list[_Candidate], int]:
    features = _read_layer(path=path, layer=layer, errors=errors)
    if not features:
        if not errors:
            errors.append(FeatureError(None, f"{path.name} has no features"))
        return [], 0
    fields = features[0].fields
    for label, name in (("name", name_field), ("code", code_field)):
        if name not in fields:
            errors.append(FeatureError(None, f"no {label} field {name!r} (fields: {', '.join(fields) or 'none'})"))
    if errors:
        return [], 0

    candidates: list[_Candidate] = []
    seen_codes: dict[str, int] = {}
    repaired = 0
    for index, feature in enumerate(features):
        before = len(errors)
        name = _text(feature.values.get(name_field))
        code = _text(feature.values.get(code_field))
        if not name:
            errors.append(FeatureError(index, f"the name field {name_field!r} is empty"))
        else:
            name = name_format.replace("{}", name)
            if len(name) > NAME_MAX_LENGTH:
                errors.append(FeatureError(index, f"the name is longer than {NAME_MAX_LENGTH} characters"))
        if not code:
            errors.append(FeatureError(index, f"the code field {code_field!r} is empty"))
        else:
            if code_map is not None:
                if code not in code_map:
                    errors.append(FeatureError(index, f"the value {code!r} of {code_field!r} has no code"))
                code = code_map.get(code, code)
            if len(code) > CODE_MAX_LENGTH:
                errors.append(FeatureError(index, f"the code is longer than {CODE_MAX_LENGTH} characters"))
            elif code in seen_codes:
                errors.append(FeatureError(index, f"the code {code!r} is also used by feature {seen_codes[code]}"))
            else:
                seen_codes[code] = index
        geometry, was_repaired = _feature_geometry(feature.geom, index, errors, make_valid=make_valid)
        repaired += was_repaired
        if len(errors) == before and geometry is not None:
            properties = {
                key: _json_safe(value)
                for key, value in feature.values.items()
                if key not in (name_field, code_field) and _json_safe(value) is not None
            }
            candidates.append(_Candidate(index=index, name=name, code=code, geometry=geometry, properties=properties))
    return candidates, repaired


def _feature_geometry(
    geom: OGRGeometry | None, index: int, errors: list[FeatureError], *, make_valid: bool
) -> tuple[MultiPolygon | None, bool]:
    """The feature's geometry as a valid WGS84 MultiPolygon, or None with an error; and whether it was repaired."""
    if geom is None:
        errors.append(FeatureError(index, "the feature has no geometry"))
        return None, False
    if geom.is_3d:
        geom.set_3d(False)
    if geom.is_measured:
        geom.set_measured(False)
    if geom.geom_type.name not in ("Polygon", "MultiPolygon"):
        errors.append(FeatureError(index, f"the geometry is a {geom.geom_type.name}, not a Polygon or MultiPolygon"))
        return None, False
    try:
        geometry: GEOSGeometry = geom.geos
    except (GEOSException, GDALException) as exc:
        errors.append(FeatureError(index, f"the geometry cannot be read: {exc}"))
        return None, False
    geometry.srid = WGS84
    if geometry.empty:
        errors.append(FeatureError(index, "the geometry is empty"))
        return None, False
    repaired = False
    if not geometry.valid:
        if not make_valid:
            errors.append(FeatureError(index, f"invalid geometry: {geometry.valid_reason}"))
            return None, False
        geometry = geometry.make_valid()  # type: ignore[attr-defined]  # django-stubs lacks it (Django >= 4.1)
        repaired = True
    multipolygon = _polygonal(geometry)
    if multipolygon is None or not multipolygon.valid:
        reason = multipolygon.valid_reason if multipolygon is not None else "nothing polygonal left after repair"
        errors.append(FeatureError(index, f"invalid geometry: {reason}"))
        return None, repaired
    return multipolygon, repaired


def _polygonal(geometry: GEOSGeometry) -> MultiPolygon | None:
    """The polygons of a geometry (dropping lines and points a repair may leave) as one MultiPolygon."""
    polygons = _polygons(geometry)
    return MultiPolygon(*polygons, srid=WGS84) if polygons else None


def _polygons(geometry: GEOSGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry.clone()] if not geometry.empty else []
    if isinstance(geometry, GeometryCollection):  # MultiPolygon too
        return [polygon for part in geometry for polygon in _polygons(part)]
    return []


def _check_existing(
    *,
    candidates: list[_Candidate],
    level: str,
    parent: AdministrativeArea | None,
    update: bool,
    errors: list[FeatureError],
) -> None:
    existing = {
        area.code: area
        for area in AdministrativeArea.objects.filter(
            level=level, code__in=[c.code for c in candidates]
        ).select_related("parent")
    }
    for candidate in candidates:
        area = existing.get(candidate.code)
        if area is None:
            continue
        if not update:
            errors.append(
                FeatureError(candidate.index, f"a {level} with code {candidate.code!r} already exists (use --update)")
            )
        elif area.parent_id != (parent.pk if parent else None):
            where = f"{area.parent.level}:{area.parent.code}" if area.parent else "the top level"
            errors.append(
                FeatureError(candidate.index, f"the {level} {candidate.code!r} exists under {where}, not this parent")
            )
        else:
            candidate.existing = area


def _text(value: Any) -> str:
    """A field value as text for a name or code: numbers without a spurious ".0", None as ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)


def _fields(exc: DomainError) -> str:
    return "(" + "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) + ")" if exc.fields else ""
