"""The content of an alert as plain data, and CAP 1.2's own rules on it.

Everything that makes or changes an alert speaks this shape: the API, templates, sensor rules and the CAP
XML reader (`alerts/cap_xml.py`). `content_check` applies the rules of the CAP 1.2 specification that its
XML schema cannot express; each violation names the rule and the element, in CAP's own names.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from alerts.models import CapStatus as Status
from alerts.models import Category, Certainty, MsgType, ResponseType, Scope, Severity, Urgency

# BCP 47 / RFC 3066 shape: a primary subtag of 2-3 letters (or i-/x-), then subtags of 1-8 letters or digits.
LANGUAGE_RE = re.compile(r"^(?:[A-Za-z]{2,3}|[iIxX])(?:-[A-Za-z0-9]{1,8})*$")
# ISO 639-1 codes plus common 3-letter ones: an unknown primary subtag is refused ("xx", "english").
KNOWN_LANGUAGES = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee
    el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it
    iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my
    na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn
    so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    fil haw yue cmn hak nan ceb ilo hil war pam bik tet dzo div mya khm lao sin tgl nep ben urd fas pus tam tel
    kan mal mar guj pan ori asm bod uig zho jpn kor vie tha ind msa ara heb tur rus ukr pol deu fra spa por ita nld
    eng swe nor dan fin isl est lav lit ces slk slv hrv srp bos mkd bul ron hun ell sqi hye kat aze kaz uzb kir tuk
    tgk mon amh tir orm som swa hau yor ibo zul xho afr mlg kin run lin kon sna nya sot tsn""".split()
)
MAX_INFOS = 20
MAX_AREAS = 100
# Real national warnings carry country outlines of 40,000 points (Burkina Faso's, in WMO's test data); the
# document size limit (settings.CAP_MAX_DOCUMENT_BYTES) bounds what an import can bring.
MAX_POLYGON_POINTS = 100_000
MAX_CIRCLE_RADIUS_KM = 5_000.0


@dataclass
class Pair:
    """A CAP valueName/value pair (eventCode, parameter, geocode)."""

    value_name: str
    value: str


@dataclass
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass
class Resource:
    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str = ""
    deref_uri: str = ""
    digest: str = ""


@dataclass
class AreaContent:
    area_desc: str
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)  # rings of (lat, lon), CAP order
    circles: list[Circle] = field(default_factory=list)
    geocodes: list[Pair] = field(default_factory=list)
    admin_area_ids: list[int] = field(default_factory=list)  # picked here; not part of CAP
    altitude: float | None = None
    ceiling: float | None = None


@dataclass
class InfoContent:
    event: str
    urgency: str
    severity: str
    certainty: str
    categories: list[str]
    language: str = "en-US"
    response_types: list[str] = field(default_factory=list)
    audience: str = ""
    event_codes: list[Pair] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    contact: str = ""
    parameters: list[Pair] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    areas: list[AreaContent] = field(default_factory=list)


@dataclass
class AlertContent:
    """An alert's content. `identifier`, `sender` and `sent` are assigned on issue when left empty."""

    status: str = Status.ACTUAL
    msg_type: str = MsgType.ALERT
    scope: str = Scope.PUBLIC
    identifier: str = ""
    sender: str = ""
    sent: datetime | None = None
    source: str = ""
    restriction: str = ""
    addresses: str = ""
    codes: list[str] = field(default_factory=list)
    note: str = ""
    references: list[str] = field(default_factory=list)
    incidents: str = ""
    infos: list[InfoContent] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleViolation:
    """One broken CAP rule: which rule, at which element (a path such as "info[1]/area[0]/polygon[2]")."""

    rule: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.element}: {self.message} [{self.rule}]"


def language_is_known(code: str) -> bool:
    if not LANGUAGE_RE.match(code):
        return False
    primary = code.split("-", 1)[0].lower()
    return primary in KNOWN_LANGUAGES or primary in ("i", "x")


def _check_pairs(pairs: Sequence[Pair], element: str, *, value_required: bool = True) -> Iterator[RuleViolation]:
    for index, pair in enumerate(pairs):
        if not pair.value_name.strip():
            yield RuleViolation("valueName-required", f"{element}[{index}]", "valueName must not be empty.")
        if value_required and not pair.value.strip():
            yield RuleViolation("value-required", f"{element}[{index}]", "value must not be empty.")


def _check_area(area: AreaContent, element: str) -> Iterator[RuleViolation]:
    if not area.area_desc.strip():
        yield RuleViolation("areaDesc-required", f"{element}/areaDesc", "areaDesc must not be empty.")
    for index, ring in enumerate(area.polygons):
        where = f"{element}/polygon[{index}]"
        if len(ring) < 4:
            yield RuleViolation("polygon-min-points", where, f"A polygon needs at least 4 points; it has {len(ring)}.")
        elif tuple(ring[0]) != tuple(ring[-1]):
            yield RuleViolation("polygon-closed", where, "A polygon's first and last points must be the same.")
        if len(ring) > MAX_POLYGON_POINTS:
            yield RuleViolation("polygon-size", where, f"A polygon may have at most {MAX_POLYGON_POINTS} points.")
        for lat, lon in ring:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                yield RuleViolation("wgs84-range", where, f"Point ({lat}, {lon}) is outside WGS 84 ranges.")
                break
    for index, circle in enumerate(area.circles):
        where = f"{element}/circle[{index}]"
        if not (-90 <= circle.lat <= 90 and -180 <= circle.lon <= 180):
            yield RuleViolation("wgs84-range", where, f"Centre ({circle.lat}, {circle.lon}) is outside WGS 84 ranges.")
        if not 0 <= circle.radius_km <= MAX_CIRCLE_RADIUS_KM:
            yield RuleViolation("circle-radius", where, f"The radius must be 0 to {MAX_CIRCLE_RADIUS_KM:g} km.")
    yield from _check_pairs(area.geocodes, f"{element}/geocode")
    if area.ceiling is not None and area.altitude is None:
        yield RuleViolation("ceiling-needs-altitude", f"{element}/ceiling", "ceiling may be used only with altitude.")
    if area.ceiling is not None and area.altitude is not None and area.ceiling < area.altitude:
        yield RuleViolation("ceiling-above-altitude", f"{element}/ceiling", "ceiling must not be below altitude.")


def _check_info(info: InfoContent, element: str, sent: datetime | None) -> Iterator[RuleViolation]:
    if not info.categories:
        yield RuleViolation("category-required", f"{element}/category", "At least one category is required.")
    for value in info.categories:
        if value not in Category.values:
            yield RuleViolation("category-enum", f"{element}/category", f"Unknown category {value!r}.")
    for value in info.response_types:
        if value not in ResponseType.values:
            yield RuleViolation("responseType-enum", f"{element}/responseType", f"Unknown responseType {value!r}.")
    for name, value, allowed in (
        ("urgency", info.urgency, Urgency.values),
        ("severity", info.severity, Severity.values),
        ("certainty", info.certainty, Certainty.values),
    ):
        if value not in allowed:
            yield RuleViolation(f"{name}-enum", f"{element}/{name}", f"{name} must be one of {', '.join(allowed)}.")
    if not info.event.strip():
        yield RuleViolation("event-required", f"{element}/event", "event must not be empty.")
    if not language_is_known(info.language):
        yield RuleViolation("language-code", f"{element}/language", f"Unknown language code {info.language!r}.")
    # CAP does not require an eventCode's or parameter's value: issued NWS and Environment Canada messages
    # carry empty ones (a SAME code not yet known, a WMO header). A geocode without a value locates nothing.
    yield from _check_pairs(info.event_codes, f"{element}/eventCode", value_required=False)
    yield from _check_pairs(info.parameters, f"{element}/parameter", value_required=False)
    for when_name in ("effective", "onset", "expires"):
        when = getattr(info, when_name)
        if when is not None and when.tzinfo is None:
            yield RuleViolation("datetime-offset", f"{element}/{when_name}", "Times must carry a time-zone offset.")
    if info.expires is not None and info.expires.tzinfo is not None:
        if sent is not None and sent.tzinfo is not None and info.expires <= sent:
            yield RuleViolation("expires-after-sent", f"{element}/expires", "expires must be later than sent.")
        if info.effective is not None and info.effective.tzinfo is not None and info.expires <= info.effective:
            yield RuleViolation("expires-after-effective", f"{element}/expires", "expires must be after effective.")
    for index, resource in enumerate(info.resources):
        where = f"{element}/resource[{index}]"
        if not resource.resource_desc.strip():
            yield RuleViolation("resourceDesc-required", where, "resourceDesc must not be empty.")
        if not resource.mime_type.strip():
            yield RuleViolation("mimeType-required", where, "mimeType must not be empty.")
    if len(info.areas) > MAX_AREAS:
        yield RuleViolation("area-count", f"{element}/area", f"At most {MAX_AREAS} areas per info.")
    for index, area in enumerate(info.areas):
        yield from _check_area(area, f"{element}/area[{index}]")


REFERENCE_RE = re.compile(r"^[^,\s]+,[^,\s]+,[^,\s]+$")
FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")


def content_check(content: AlertContent) -> list[RuleViolation]:
    """CAP 1.2's rules beyond its schema (section 3 of the specification); empty when the content follows them."""
    problems: list[RuleViolation] = []
    add = problems.append
    if content.status not in Status.values:
        add(RuleViolation("status-enum", "status", f"Unknown status {content.status!r}."))
    if content.msg_type not in MsgType.values:
        add(RuleViolation("msgType-enum", "msgType", f"Unknown msgType {content.msg_type!r}."))
    if content.scope not in Scope.values:
        add(RuleViolation("scope-enum", "scope", f"Unknown scope {content.scope!r}."))
    for name in ("identifier", "sender"):
        value = getattr(content, name)
        if value and FORBIDDEN_ID_CHARS.search(value):
            add(RuleViolation(f"{name}-characters", name, f"{name} must not contain spaces, commas, < or &."))
    if content.sent is not None and content.sent.tzinfo is None:
        add(RuleViolation("datetime-offset", "sent", "sent must carry a time-zone offset."))
    if content.scope == Scope.RESTRICTED and not content.restriction.strip():
        add(RuleViolation("restriction-required", "restriction", "A Restricted alert needs a restriction."))
    if content.scope != Scope.RESTRICTED and content.restriction.strip():
        add(RuleViolation("restriction-only-restricted", "restriction", "restriction is only for Restricted scope."))
    if content.scope == Scope.PRIVATE and not content.addresses.strip():
        add(RuleViolation("addresses-required", "addresses", "A Private alert needs addresses."))
    if "references" in content.extra.get("empty_elements", ()):
        add(RuleViolation("references-not-empty", "references", "references is present but empty."))
    for name in content.extra.get("empty_elements", ()):
        if name in ("restriction", "addresses", "note", "incidents", "source"):
            add(RuleViolation(f"{name}-not-empty", name, f"{name} is present but empty."))
    for index, reference in enumerate(content.references):
        if not REFERENCE_RE.match(reference):
            add(
                RuleViolation(
                    "references-format", f"references[{index}]", 'Each reference must be "sender,identifier,sent".'
                )
            )
    if content.msg_type in (MsgType.UPDATE, MsgType.CANCEL, MsgType.ACK, MsgType.ERROR) and not content.references:
        add(RuleViolation("references-required", "references", f"A {content.msg_type} must reference a message."))
    # CAP itself allows an alert without <info> (alerts/cap_xml.py marks imported messages with extra["cap"]);
    # one drafted here needs at least one to say anything.
    if content.msg_type in (MsgType.ALERT, MsgType.UPDATE, MsgType.CANCEL) and not content.infos:
        if content.msg_type != MsgType.CANCEL and "cap" not in content.extra:
            add(RuleViolation("info-required", "info", f"An {content.msg_type} message needs at least one info."))
    if len(content.infos) > MAX_INFOS:
        add(RuleViolation("info-count", "info", f"At most {MAX_INFOS} info blocks."))
    for index, info in enumerate(content.infos):
        problems.extend(_check_info(info, f"info[{index}]", content.sent))
    problems.extend(_check_lengths(content))
    return problems


# What the database stores of each element at most (longer text would be cut or refused by the database).
ALERT_LENGTHS = {"identifier": 255, "sender": 255, "source": 255}
INFO_LENGTHS = {"language": 35, "event": 255, "sender_name": 255, "headline": 500, "web": 1000, "contact": 500}
CAP_NAMES = {"msg_type": "msgType", "sender_name": "senderName"}


def _check_lengths(content: AlertContent) -> Iterator[RuleViolation]:
    for name, limit in ALERT_LENGTHS.items():
        if len(getattr(content, name)) > limit:
            yield RuleViolation("length", name, f"{name} may be at most {limit} characters.")
    for index, info in enumerate(content.infos):
        for name, limit in INFO_LENGTHS.items():
            if len(getattr(info, name)) > limit:
                cap_name = CAP_NAMES.get(name, name)
                yield RuleViolation(
                    "length", f"info[{index}]/{cap_name}", f"{cap_name} may be at most {limit} characters."
                )


def content_as_json(content: AlertContent) -> dict[str, Any]:
    """A JSON-ready dict (for templates and the audit record); datetimes as ISO 8601."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    result: dict[str, Any] = convert(asdict(content))
    return result


def content_from_json(data: Mapping[str, Any]) -> AlertContent:
    """The inverse of content_as_json, for stored templates (trusted, already validated data)."""
    from django.utils.dateparse import parse_datetime

    def when(value: Any) -> datetime | None:
        return parse_datetime(value) if value else None

    infos = []
    for raw in data.get("infos", []):
        areas = [
            AreaContent(
                area_desc=area["area_desc"],
                polygons=[[(float(lat), float(lon)) for lat, lon in ring] for ring in area.get("polygons", [])],
                circles=[Circle(**circle) for circle in area.get("circles", [])],
                geocodes=[Pair(**pair) for pair in area.get("geocodes", [])],
                admin_area_ids=list(area.get("admin_area_ids", [])),
                altitude=area.get("altitude"),
                ceiling=area.get("ceiling"),
            )
            for area in raw.get("areas", [])
        ]
        plain = {key: value for key, value in raw.items() if key not in ("areas", "effective", "onset", "expires")}
        plain["event_codes"] = [Pair(**pair) for pair in raw.get("event_codes", [])]
        plain["parameters"] = [Pair(**pair) for pair in raw.get("parameters", [])]
        plain["resources"] = [Resource(**resource) for resource in raw.get("resources", [])]
        infos.append(
            InfoContent(
                **plain,
                effective=when(raw.get("effective")),
                onset=when(raw.get("onset")),
                expires=when(raw.get("expires")),
                areas=areas,
            )
        )
    plain_alert = {key: value for key, value in data.items() if key not in ("infos", "sent")}
    return AlertContent(**plain_alert, sent=when(data.get("sent")), infos=infos)


def cap_datetime(value: datetime) -> str:
    """A time as CAP writes it: seconds precision and an explicit offset ("+00:00", never "Z")."""
    return value.replace(microsecond=0).isoformat()


def cap_reference(*, sender: str, identifier: str, sent: datetime) -> str:
    return f"{sender},{identifier},{cap_datetime(sent)}"
