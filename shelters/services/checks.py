"""Checks the shelter services share: the actor's right over an area, and validation of typed input values."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from accounts import permissions
from accounts.models import AdministrativeArea, User
from commsplatform.core.errors import PermissionDenied, ValidationFailed
from shelters.models import LANGUAGE_TAG, BedCategory, Hazard
from shelters.placement import area_for_point

MAX_NAMES = 20
MAX_LANGUAGES = 30
MAX_CONTACTS = 20
MAX_PROPERTIES_CHARS = 20_000
CONTACT_KEYS = frozenset({"name", "role", "phone", "email"})


def actor_id_of(actor: User | None) -> int | None:
    """Who the audit record names: the acting person when known, else whoever the context says (a command, a task).

    Passed explicitly because API callers authenticated by DRF are not yet known when the request context is set.
    """
    return actor.pk if actor is not None else None


def require_area_perm(actor: User | None, perm: str, area: AdministrativeArea, what: str) -> None:
    """`actor=None` is the system (a command run by an operator, a task); anyone else needs `perm` over the area."""
    if actor is None:
        return
    if not permissions.user_has_area_perm(actor, perm, area):
        raise PermissionDenied(f"You may not {what} in {area.name}.")


def full_clean(instance: Any, exclude: Sequence[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        fields = {name: " ".join(errs) for name, errs in exc.message_dict.items()}
        raise ValidationFailed("Invalid input.", fields=fields) from exc


def check_point(value: Any, field: str = "location") -> Point:
    """A WGS84 longitude/latitude point, or a ValidationFailed naming the field."""
    if not isinstance(value, Point) or value.empty:
        raise ValidationFailed("A location is a GeoJSON Point [longitude, latitude].", fields={field: "not a point"})
    point = value.clone()
    if point.srid not in (None, 4326):
        raise ValidationFailed("Send WGS84 longitude/latitude.", fields={field: "not WGS84"})
    point.srid = 4326
    if point.hasz:
        point = Point(point.x, point.y, srid=4326)
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        raise ValidationFailed("Longitude must be within ±180 and latitude within ±90.", fields={field: "out of range"})
    return point


def check_geometry_type(value: Any, kinds: tuple[type[GEOSGeometry], ...], field: str, expected: str) -> GEOSGeometry:
    if not isinstance(value, kinds) or value.empty:
        raise ValidationFailed(f"Expected a GeoJSON {expected}.", fields={field: f"not a {expected}"})
    if value.srid not in (None, 4326):
        raise ValidationFailed("Send WGS84 longitude/latitude.", fields={field: "not WGS84"})
    value.srid = 4326
    if not value.valid:
        raise ValidationFailed(f"Invalid geometry: {value.valid_reason}", fields={field: "invalid"})
    return value


def area_at(point: Point) -> AdministrativeArea:
    area = area_for_point(point=point)
    if area is None:
        raise ValidationFailed("No administrative area holds this location.", fields={"location": "outside every area"})
    return area


def check_choices(values: Any, allowed: Iterable[str], field: str, *, limit: int = 50) -> list[str]:
    """A list of distinct values from `allowed`, sorted."""
    allowed_set = set(allowed)
    if not isinstance(values, list | tuple) or len(values) > limit or not all(isinstance(v, str) for v in values):
        raise ValidationFailed(f"{field} is a list of strings.", fields={field: "not a list of strings"})
    unknown = sorted(set(values) - allowed_set)
    if unknown:
        raise ValidationFailed(
            f"Unknown {field}: {', '.join(unknown)} (known: {', '.join(sorted(allowed_set))}).",
            fields={field: "unknown value"},
        )
    return sorted(set(values))


def check_hazards(values: Any) -> list[str]:
    return check_choices(values, Hazard.values, "hazards")


def check_languages(values: Any) -> list[str]:
    if not isinstance(values, list | tuple) or len(values) > MAX_LANGUAGES:
        raise ValidationFailed("languages is a list of language tags.", fields={"languages": "not a list"})
    bad = [v for v in values if not isinstance(v, str) or not LANGUAGE_TAG.match(v)]
    if bad:
        raise ValidationFailed(
            f"Not language tags: {', '.join(map(str, bad[:5]))} (write e.g. 'en', 'ja', 'zh-Hans').",
            fields={"languages": "invalid tag"},
        )
    return sorted({value.lower() for value in values})


def check_names(values: Any, field: str = "names") -> dict[str, str]:
    """Names by language tag: {"ja": "七尾中学校", "ja-Latn": "nanaochugakko"}."""
    if not isinstance(values, Mapping) or len(values) > MAX_NAMES:
        raise ValidationFailed(f"{field} maps language tags to names.", fields={field: "not an object"})
    names: dict[str, str] = {}
    for tag, name in values.items():
        if not isinstance(tag, str) or not LANGUAGE_TAG.match(tag):
            raise ValidationFailed(f"{tag!r} is not a language tag.", fields={field: "invalid language tag"})
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationFailed(f"The {tag} name must be 1 to 200 characters.", fields={field: "invalid name"})
        names[tag] = name.strip()
    return names


def check_beds(values: Any, *, field: str = "beds", upper: int | None = None) -> dict[str, int]:
    """Counts by bed category: {"women": 1, "children": 2}; zero counts are dropped."""
    if not isinstance(values, Mapping):
        raise ValidationFailed(f"{field} maps bed categories to counts.", fields={field: "not an object"})
    beds: dict[str, int] = {}
    for category, count in values.items():
        if category not in BedCategory.values:
            raise ValidationFailed(
                f"Unknown bed category {category!r} (known: {', '.join(BedCategory.values)}).",
                fields={field: "unknown category"},
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0 or (upper is not None and count > upper):
            limit = f"0 to {upper}" if upper is not None else "0 or more"
            raise ValidationFailed(f"The {category} count must be a whole number {limit}.", fields={field: "invalid"})
        if count:
            beds[category] = count
    return beds


def check_contacts(values: Any) -> list[dict[str, str]]:
    if not isinstance(values, list | tuple) or len(values) > MAX_CONTACTS:
        raise ValidationFailed(f"contacts is a list of at most {MAX_CONTACTS} objects.", fields={"contacts": "invalid"})
    contacts: list[dict[str, str]] = []
    for contact in values:
        if not isinstance(contact, Mapping) or not contact or set(contact) - CONTACT_KEYS:
            raise ValidationFailed(
                f"A contact has only these keys: {', '.join(sorted(CONTACT_KEYS))}.", fields={"contacts": "invalid"}
            )
        if not all(isinstance(v, str) and len(v) <= 200 for v in contact.values()):
            raise ValidationFailed(
                "Contact values are texts of at most 200 characters.", fields={"contacts": "invalid"}
            )
        if contact.get("email"):
            try:
                EmailValidator()(contact["email"])
            except ValidationError as exc:
                raise ValidationFailed(
                    "A contact's e-mail is not valid.", fields={"contacts": "invalid email"}
                ) from exc
        contacts.append({k: v.strip() for k, v in contact.items()})
    return contacts


def check_json_object(values: Any, field: str) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise ValidationFailed(f"{field} is a JSON object.", fields={field: "not an object"})
    if len(str(values)) > MAX_PROPERTIES_CHARS:
        raise ValidationFailed(f"{field} is too large.", fields={field: "too large"})
    return dict(values)


def check_count(value: Any, field: str, *, minimum: int = 0, maximum: int = 10_000_000, nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationFailed(
            f"{field} must be a whole number from {minimum} to {maximum}.", fields={field: "out of range"}
        )
    return value
