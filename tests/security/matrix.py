"""The permission matrix's machinery: the world it runs in, the routes it walks, and what "changed nothing" means.

The world: staff of every role held over city A (one person per role, all in one organisation), the same kinds
of objects in city A and in city B (built through the services, by helpers who work there), and an id that
does not exist. `routes()` walks the URL resolver so that a new endpoint appears in the matrix by itself.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.contrib.gis.geos import LineString, Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from PIL import Image

from accounts import services as accounts_services
from accounts.models import (
    AdministrativeArea,
    AreaLevel,
    ChannelKind,
    CommunicationGroup,
    ConsentPurpose,
    GroupKind,
    NeedKind,
    Organisation,
    Role,
    User,
)
from alerts.services import cap_feeds, cap_import, lifecycle, reports, sensors
from classifier import services as classifier_services
from rooms import services as rooms_services
from shelters import services as shelter_services
from tests.alerts.factories import content_over
from tests.factories import AreaTree, OrganisationFactory, UserFactory, grant, make_area_tree, resident_at, square
from tests.shelters.factories import AssetFactory, ShelterFactory

ANONYMOUS = "anonymous"
# Everyone the matrix tries: no one signed in, then each role that exists, held over city A.
ROLES: list[str] = [ANONYMOUS, *[role.value for role in Role]]
MISSING_ID = 987654

# Where each area's objects sit (lon, lat): inside district A1 of city A, and inside city B.
SPOT = {"A": (2.0, 2.0), "B": (25.0, 5.0)}
BOX = {"A": (1.0, 1.0, 4.0, 4.0), "B": (22.0, 2.0, 28.0, 8.0)}

# Rows these tables gain or lose are not "changes" for a refused request: the audit record may note the
# refusal, sessions come from signing in, and object permissions are recomputed lazily on first use.
NOT_STATE = {"core.auditevent", "sessions.session", "accounts.permissionstate", "accounts.areauserobjectpermission"}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Place:
    """The objects of one city, by kind (the matrix's URL kwargs point at these)."""

    area: AdministrativeArea
    objects: dict[str, models.Model] = field(default_factory=dict)


@dataclass
class World:
    tree: AreaTree
    organisation: Organisation
    utility: Organisation
    people: dict[str, User]  # role -> the person holding it over city A (resident: lives in A too)
    places: dict[str, Place]  # "A" / "B"
    own: dict[str, dict[str, models.Model]]  # role -> the person's own objects (subscription, channel, stay)
    newcomer: User
    photos: list[str]

    def area(self, where: str) -> AdministrativeArea:
        return self.places[where].area


def _alerts(drafter: User, approver: User, where: str) -> dict[str, models.Model]:
    box = BOX[where]
    made: dict[str, models.Model] = {}
    made["alert_draft"] = lifecycle.alert_draft_create(actor=drafter, content=content_over(*box))
    submitted = lifecycle.alert_draft_create(actor=drafter, content=content_over(*box))
    made["alert_submitted"] = lifecycle.alert_submit(actor=drafter, alert=submitted)
    approved = lifecycle.alert_submit(
        actor=drafter, alert=lifecycle.alert_draft_create(actor=drafter, content=content_over(*box))
    )
    made["alert_approved"] = lifecycle.alert_approve(actor=approver, alert=approved, issue=False)
    issued = lifecycle.alert_submit(
        actor=drafter, alert=lifecycle.alert_draft_create(actor=drafter, content=content_over(*box))
    )
    made["alert_issued"] = lifecycle.alert_approve(actor=approver, alert=issued, issue=True)
    return made


def _place(
    tree: AreaTree, organisation: Organisation, utility: Organisation, where: str, area: AdministrativeArea
) -> tuple[Place, list[str]]:
    """Objects of every kind in one city, made by helpers who hold the roles there."""
    lon, lat = SPOT[where]
    drafter = UserFactory.create(username=f"helper-drafter-{where}")
    approver = UserFactory.create(username=f"helper-approver-{where}")
    official = UserFactory.create(username=f"helper-official-{where}")
    manager = UserFactory.create(username=f"helper-manager-{where}")
    owner = UserFactory.create(username=f"helper-owner-{where}")
    for person, role in (
        (drafter, Role.ALERT_DRAFTER),
        (approver, Role.ALERT_APPROVER),
        (official, Role.OFFICIAL),
        (manager, Role.SHELTER_MANAGER),
    ):
        grant(person, role, area, organisation)
    grant(owner, Role.ASSET_OWNER, area, utility)
    reporter = resident_at(lon, lat, username=f"helper-resident-{where}")
    place = Place(area=area)
    objects = place.objects
    objects["area"] = area
    objects.update(_alerts(drafter, approver, where))
    template = lifecycle.alert_template_create(
        actor=drafter, organisation=organisation, area=area, name=f"Flood {where}", content=content_over(*BOX[where])
    )
    objects["template"] = template
    sensor = sensors.sensor_create(
        actor=drafter,
        external_id=f"gauge-{where}",
        name=f"Gauge {where}",
        kind="rain_gauge",
        organisation=organisation,
        area=area,
        location=Point(lon, lat, srid=4326),
    )
    objects["sensor"] = sensor
    rule_template = lifecycle.alert_template_create(
        actor=drafter, organisation=organisation, area=area, name=f"Gauge {where}", content=content_over(*BOX[where])
    )
    objects["rule_template"] = rule_template
    objects["sensor_rule"] = sensors.sensor_rule_create(
        actor=drafter, sensor=sensor, name="High", operator="gte", threshold=10, template=rule_template
    )
    objects["feed"] = cap_feeds.cap_feed_create(
        actor=approver,
        name=f"Feed {where}",
        url=f"https://example.org/{where}.atom",
        organisation=organisation,
        area=area,
    )
    objects["trusted"] = cap_import.trusted_sender_create(
        actor=approver, sender=f"met-{where}@example.org", organisation=organisation, area=area
    )
    photo = SimpleUploadedFile("p.png", png_bytes(), content_type="image/png")
    report = reports.report_create(
        reporter=reporter, text="Water over the road", location=Point(lon, lat, srid=4326), photo=photo
    )
    objects["report"] = report
    text = classifier_services.text_classify_enqueue(source=report, text=report.text, author=reporter)
    assert text is not None
    objects["text"] = text
    group = CommunicationGroup.objects.create(
        key=f"matrix-{where}", name=f"Group {where}", kind=GroupKind.CUSTOM, area=area
    )
    objects["group"] = group
    objects["other_group"] = CommunicationGroup.objects.create(
        key=f"matrix-other-{where}", name=f"Other group {where}", kind=GroupKind.CUSTOM, area=area
    )
    objects["assignment"] = classifier_services.assignment_add(actor=manager, user=reporter, group=group, reason="test")
    shelter = ShelterFactory.create(lon=lon, lat=lat, capacity=50, status="open", name=f"Hall {where}")
    objects["shelter"] = shelter
    # Someone stays in a second shelter (an occupied shelter cannot be closed; the first one changes status).
    occupied = ShelterFactory.create(lon=lon, lat=lat, capacity=50, status="open", name=f"Annex {where}")
    objects["occupied_shelter"] = occupied
    objects["stay"] = shelter_services.shelter_check_in(actor=manager, shelter=occupied, people=1, resident=reporter)
    line = LineString(((lon - 0.5, lat - 0.5), (lon, lat)), srid=4326)
    objects["route"] = shelter_services.route_create(
        actor=manager, fields={"name": f"Route {where}", "geometry": line, "status": "open", "shelter": shelter}
    )
    objects["asset"] = AssetFactory.create(
        owner=utility, lon=lon, lat=lat, external_id=f"PUMP-{where}", name=f"Pump {where}", actor=owner
    )
    objects["room"] = rooms_services.room_create(
        actor=official, title=f"Town hall {where}", kind="town_hall", visibility="area", area=area
    )
    member = UserFactory.create(username=f"helper-member-{where}")
    objects["membership"] = grant(member, Role.MODERATOR, area, organisation)
    other = OrganisationFactory.create(name=f"Neighbours {where}")
    objects["agreement"] = accounts_services.agreement_create(
        actor=None,
        grantor=organisation,
        grantee=other,
        data_kinds=["resident_counts"],
        areas=[area],
        purpose="Mutual aid",
        legal_reference="Act 1",
        valid_from=timezone.now() - timedelta(days=1),
        valid_until=timezone.now() + timedelta(days=30),
    )
    return place, [report.photo.name]


def build_world() -> World:
    tree = make_area_tree()
    organisation = tree.organisation
    utility = OrganisationFactory.create(name="Waterworks", kind="utility")
    people: dict[str, User] = {}
    for role in Role:
        if role == Role.RESIDENT:
            person = resident_at(*SPOT["A"], username="matrix-resident")
        else:
            person = UserFactory.create(username=f"matrix-{role.value}")
        grant(person, role, tree.city_a, utility if role == Role.ASSET_OWNER else organisation)
        people[role.value] = person
    places: dict[str, Place] = {}
    photos: list[str] = []
    for where, area in (("A", tree.city_a), ("B", tree.city_b)):
        places[where], names = _place(tree, organisation, utility, where, area)
        photos += names
    # Everyone's subscription is to a third city, so that it lets no one into city A's or B's rooms and alerts.
    elsewhere = accounts_services.area_create(
        actor=None,
        name="Gammaville",
        code="G",
        level=AreaLevel.CITY,
        geometry=square(32, 0, 38, 10),
        parent=tree.region,
    )
    own: dict[str, dict[str, models.Model]] = {}
    for name, person in people.items():
        wanted = (
            ConsentPurpose.TERMS,
            ConsentPurpose.LOCATION,
            ConsentPurpose.NEEDS_MOBILITY,
            ConsentPurpose.NEEDS_MEDICAL,
        )
        for purpose in wanted:
            accounts_services.consent_give(user=person, purpose=purpose, version="1")
        accounts_services.resident_need_set(user=person, kind=NeedKind.MOBILITY, note="")
        own[name] = {
            "subscription": accounts_services.subscription_add(user=person, area=elsewhere),
            "channel": accounts_services.channel_identity_link(
                user=person, kind=ChannelKind.WEB, external_id=f"user:{person.pk}"
            ),
        }
    newcomer = UserFactory.create(username="matrix-newcomer")
    own["newcomer"] = {
        "subscription": accounts_services.subscription_add(user=newcomer, area=elsewhere),
        "channel": accounts_services.channel_identity_link(
            user=newcomer, kind=ChannelKind.WEB, external_id=f"user:{newcomer.pk}"
        ),
    }
    return World(tree, organisation, utility, people, places, own, newcomer, photos)


# Routes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "alert-approve" or "web:console-alert"
    pattern: str
    methods: tuple[str, ...]


API_METHODS = ("get", "post", "put", "patch", "delete")


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            yield prefix + str(pattern.pattern), namespace, pattern


def routes() -> list[Route]:
    """Every API route with the methods its view implements, and every staff console route (GET and POST: the
    console's pages and forms). Other pages (the resident site, sign-in, the bot webhook) are not in the matrix."""
    found: list[Route] = []
    for pattern, namespace, url in _walk(get_resolver().url_patterns):
        name = f"{namespace}:{url.name}" if namespace else str(url.name)
        if pattern.startswith("api/") and pattern not in ("api/schema/", "api/docs/"):
            view_class = getattr(url.callback, "cls", None)
            assert view_class is not None, f"{pattern}: an API route without a class-based view"
            methods = tuple(m.upper() for m in API_METHODS if hasattr(view_class, m))
            found.append(Route(name, pattern, methods))
        elif pattern.startswith("console/"):
            found.append(Route(name, pattern, ("GET", "POST")))
    return found


# Changes -----------------------------------------------------------------------------------------------------


def _state_tables() -> list[str]:
    tables = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.label_lower in NOT_STATE or model._meta.proxy or not model._meta.managed:
            continue
        tables.append(model._meta.db_table)
    return sorted(set(tables))


_TABLES: list[str] = []


def row_counts() -> dict[str, int]:
    """Rows of every table that holds state, in one query."""
    if not _TABLES:
        _TABLES.extend(_state_tables())
    quote = connection.ops.quote_name
    # Table names from the models, not from input.
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {quote(t)}" for t in _TABLES)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def object_state(obj: models.Model | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    row = type(obj)._default_manager.filter(pk=obj.pk).values().first()
    if row is None:
        return None
    return {k: (v.wkt if hasattr(v, "wkt") else v) for k, v in row.items()}
