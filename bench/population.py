"""The benchmarks' city and people: areas as the demo imports them, then synthetic residents written in bulk.

The areas are New York City's boroughs and hurricane evacuation zones, imported from the shared data with
the demo's own importer and settings (or, without the data, a made-up town of squares). Residents are
written straight into the tables, set-based: on PostgreSQL one INSERT … SELECT over generate_series per
table (random points from ST_GeneratePoints inside an area), on SpatiaLite executemany in chunks (points
drawn in Python inside the same area). On PostgreSQL, secondary indexes are dropped while rows go in and
built again afterwards; then the tables are analysed.

Which residents are unusual is decided by their number n (1…count), the same on both databases:
`Mix` says one in how many is inactive, erased, has withdrawn consent, shared a recent or stale location,
or follows an area.
"""

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection, transaction

from accounts import services
from accounts.demo import NYC_BOROUGHS, NYC_ZONES, nyc_areas_load
from accounts.models import (
    AdministrativeArea,
    AreaLevel,
    ChannelIdentity,
    ChannelKind,
    Consent,
    ConsentPurpose,
    OrganisationKind,
    ResidentProfile,
    Role,
    User,
)
from accounts.models import Subscription as AreaSubscription
from bench.servers import say

# Most residents read English; the rest the other interface languages.
LANGUAGES = ["en", "en", "en", "es", "zh-hans", "fr", "ar", "ja"]
CONSENT_VERSION = "bench-1"
PRIME = 7919  # the recent location of resident n is the home of resident 1 + (n * PRIME) % count


@dataclass(frozen=True)
class Mix:
    """One in `x` residents is so (0: nobody). Recent and stale locations are disjoint (n % 5 == 1, n % 20 == 2)."""

    inactive: int = 0
    erased: int = 0
    withdrawn: int = 0
    recent_location: bool = False
    stale_location: bool = False
    district_subscriber: int = 0
    city_subscriber: int = 0


TARGETING_MIX = Mix(
    inactive=100,
    erased=200,
    withdrawn=20,
    recent_location=True,
    stale_location=True,
    district_subscriber=10,
    city_subscriber=50,
)
EVERYONE_REACHABLE = Mix()


@dataclass(frozen=True)
class City:
    city: AdministrativeArea
    districts: list[AdministrativeArea]
    zones: list[AdministrativeArea]
    note: str


def _box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((x0, y0, x1, y1)), srid=4326)


def _load_squares() -> AdministrativeArea:
    """Without the shared data: a made-up town of squares at 0°N 0°E, 5 districts side by side and 7 zones."""
    city = services.area_create(
        actor=None, name="Squaretown", code="SQ", level=AreaLevel.CITY, geometry=_box(0.0, 0.0, 0.1, 0.04)
    )
    for index in range(5):
        x0 = index * 0.02
        services.area_create(
            actor=None,
            name=f"District {index + 1}",
            code=f"SQ-{index + 1}",
            level=AreaLevel.DISTRICT,
            geometry=_box(x0, 0.0, x0 + 0.02, 0.04),
            parent=city,
        )
    for index in range(7):  # overlapping bands along the south edge, like coastal evacuation zones
        services.area_create(
            actor=None,
            name=f"Evacuation zone {index}",
            code=f"SQ-Z{index}",
            level=AreaLevel.ZONE,
            geometry=_box(0.0, 0.0, 0.1, 0.004 * (index + 1)),
            parent=city,
        )
    return city


def city_load(data_dir: Path | None) -> City:
    """The city's areas, from the shared data like the demo (or made-up squares without it); reused when present."""
    started = time.perf_counter()
    nyc = data_dir is not None and (data_dir / NYC_BOROUGHS).is_file() and (data_dir / NYC_ZONES).is_file()
    note = ""
    if not nyc:
        note = (
            f"{data_dir} lacks {NYC_BOROUGHS} or {NYC_ZONES}" if data_dir else "no shared data folder"
        ) + ": synthetic squares for a made-up town instead of New York City"
    city = AdministrativeArea.objects.filter(level=AreaLevel.CITY, code="NYC" if nyc else "SQ").first()
    if city is None:
        with transaction.atomic():
            city = nyc_areas_load(data_dir) if nyc and data_dir is not None else _load_squares()
    districts = list(city.children.filter(level=AreaLevel.DISTRICT).order_by("code"))
    zones = list(city.children.filter(level=AreaLevel.ZONE).order_by("code"))
    say(f"areas: {city.name}, {len(districts)} districts, {len(zones)} zones ({time.perf_counter() - started:.1f} s)")
    return City(city=city, districts=districts, zones=zones, note=note)


@dataclass(frozen=True)
class Staff:
    drafter: User
    approver: User


def staff_create(city: AdministrativeArea) -> Staff:
    """A drafter and an approver over the whole city, in one civil-protection organisation (reused when present)."""
    drafter = User.objects.filter(username="staff-drafter").first()
    approver = User.objects.filter(username="staff-approver").first()
    if drafter is not None and approver is not None:
        return Staff(drafter=drafter, approver=approver)
    with transaction.atomic():
        organisation = services.organisation_create(
            actor=None, name="Bench Civil Protection", kind=OrganisationKind.CIVIL_PROTECTION, area=city
        )
        people = {}
        for role in (Role.ALERT_DRAFTER, Role.ALERT_APPROVER):
            user = services.user_create(username=f"staff-{role.split('_')[1]}", password=None)
            services.membership_grant(actor=None, user=user, organisation=organisation, role=role, area=city)
            people[role] = user
    return Staff(drafter=people[Role.ALERT_DRAFTER], approver=people[Role.ALERT_APPROVER])


def residents_create(*, count: int, inside: AdministrativeArea, subscribe_to: City, mix: Mix, seed: int = 42) -> int:
    """Write `count` residents living inside `inside` (each with a web identity); return the first user id."""
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        first = _residents_postgres(count=count, inside=inside, city=subscribe_to, mix=mix, seed=seed)
    else:
        first = _residents_sqlite(count=count, inside=inside, city=subscribe_to, mix=mix, seed=seed)
    say(f"{count:,} residents written in {time.perf_counter() - started:.1f} s")
    return first


def _tables() -> list[str]:
    return [model._meta.db_table for model in (User, ResidentProfile, Consent, ChannelIdentity, AreaSubscription)]


# PostgreSQL ------------------------------------------------------------------------------------------


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that no constraint owns (those can be dropped and rebuilt)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (
                SELECT 1 FROM pg_constraint c
                WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
              )
            """,
            [table],
        )
        return [(name, definition) for name, definition in cursor.fetchall()]


def _residents_postgres(*, count: int, inside: AdministrativeArea, city: City, mix: Mix, seed: int) -> int:
    user, profile, consent, identity, subscription = _tables()
    area_table = AdministrativeArea._meta.db_table
    indexes = [index for table in _tables() for index in _secondary_indexes(table)]

    def every(x: int, remainder: int = 0, column: str = "n") -> str:
        """SQL: one resident in x (`%%` because the statements take parameters)."""
        return f"({column} %% {x} = {remainder})" if x else "false"

    recent = every(5 if mix.recent_location else 0, 1, "p.n")
    stale = every(20 if mix.stale_location else 0, 2, "p.n")

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {user}")  # noqa: S608 - table name from the model
        base = int(cursor.fetchone()[0])
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        step = time.perf_counter()
        cursor.execute("DROP TABLE IF EXISTS bench_points")
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_points AS
            SELECT (row_number() OVER ())::bigint AS n, d.geom AS home
            FROM (SELECT (ST_Dump(ST_GeneratePoints(geometry, %s, %s))).geom AS geom FROM {area_table} WHERE id = %s) d
            """,  # noqa: S608 - table name from the model, values are parameters
            # ST_GeneratePoints may return a few points fewer than asked: ask for 1 % more, keep `count`.
            [count + count // 100 + 10, seed, inside.pk],
        )
        cursor.execute("DELETE FROM bench_points WHERE n > %s", [count])
        cursor.execute("CREATE UNIQUE INDEX ON bench_points (n)")
        say(f"  {count:,} random points inside {inside.name} ({time.perf_counter() - step:.1f} s)")
        languages = "ARRAY[" + ", ".join(f"'{code}'" for code in LANGUAGES) + "]"
        statements = {
            user: f"""
                INSERT INTO {user} (id, password, last_login, is_superuser, username, first_name, last_name, email,
                                    is_staff, is_active, date_joined, preferred_language, erased_at)
                SELECT %(base)s + n, '!', NULL, false, 'bench-' || n, '', '', '', false, NOT {every(mix.inactive)},
                       now(), ({languages})[1 + n %% {len(LANGUAGES)}],
                       CASE WHEN {every(mix.erased, 1)} THEN now() END
                FROM generate_series(1, %(count)s) n
            """,  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
            profile: f"""
                INSERT INTO {profile} (user_id, home_location, last_location, last_location_at, created_at, updated_at)
                SELECT %(base)s + p.n, p.home,
                       CASE WHEN {recent} OR {stale} THEN q.home END,
                       CASE WHEN {recent} THEN now() - random() * interval '48 hours'
                            WHEN {stale} THEN now() - interval '100 hours' - random() * interval '100 hours' END,
                       now(), now()
                FROM bench_points p JOIN bench_points q ON q.n = 1 + (p.n * {PRIME}) %% %(count)s
            """,  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
            consent: f"""
                INSERT INTO {consent} (user_id, purpose, version, given_at, withdrawn_at)
                SELECT %(base)s + n, '{ConsentPurpose.TERMS}', '{CONSENT_VERSION}', now(),
                       CASE WHEN {every(mix.withdrawn, 3)} THEN now() END
                FROM generate_series(1, %(count)s) n
            """,  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
            identity: f"""
                INSERT INTO {identity} (user_id, kind, external_id, receives_alerts, is_active, deactivated_reason,
                                        created_at, updated_at)
                SELECT %(base)s + n, '{ChannelKind.WEB}', 'bench:' || (%(base)s + n), true, true, '', now(), now()
                FROM generate_series(1, %(count)s) n
            """,  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
        }
        district_ids = [district.pk for district in city.districts]
        if mix.district_subscriber and district_ids:
            statements[subscription] = f"""
                INSERT INTO {subscription} (user_id, area_id, created_at, updated_at)
                SELECT %(base)s + n,
                       (%(districts)s::bigint[])[1 + (n / {mix.district_subscriber}) %% {len(district_ids)}],
                       now(), now()
                FROM generate_series(1, %(count)s) n WHERE {every(mix.district_subscriber)}
            """  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
        if mix.city_subscriber:
            statements[f"{subscription} (city)"] = f"""
                INSERT INTO {subscription} (user_id, area_id, created_at, updated_at)
                SELECT %(base)s + n, %(city)s, now(), now()
                FROM generate_series(1, %(count)s) n WHERE {every(mix.city_subscriber, 7)}
            """  # noqa: S608 - table names from the models, numbers from Mix; values are parameters
        params: dict[str, Any] = {"base": base, "count": count, "districts": district_ids, "city": city.city.pk}
        for label, sql in statements.items():
            step = time.perf_counter()
            cursor.execute(sql, params)
            say(f"  {cursor.rowcount:,} rows into {label} ({time.perf_counter() - step:.1f} s)")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{user}', 'id'), (SELECT MAX(id) FROM {user}))")  # noqa: S608
        cursor.execute("DROP TABLE bench_points")
        step = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        say(f"  {len(indexes)} secondary indexes rebuilt ({time.perf_counter() - step:.1f} s)")
        step = time.perf_counter()
        for table in _tables():
            cursor.execute(f"VACUUM ANALYZE {table}")
        say(f"  VACUUM ANALYZE ({time.perf_counter() - step:.1f} s)")
    return base + 1


# SpatiaLite ------------------------------------------------------------------------------------------


class PointSampler:
    """Uniform random points inside a (multi)polygon: a grid of cells, and a containment test only near the edge."""

    def __init__(self, geometry: MultiPolygon, rng: random.Random, cells: int = 200) -> None:
        self.rng = rng
        self.prepared = geometry.prepared
        xmin, ymin, xmax, ymax = geometry.extent
        self.dx = (xmax - xmin) / cells
        self.dy = (ymax - ymin) / cells
        self.cells: list[tuple[float, float, bool]] = []
        for i in range(cells):
            for j in range(cells):
                x0, y0 = xmin + i * self.dx, ymin + j * self.dy
                box = Polygon.from_bbox((x0, y0, x0 + self.dx, y0 + self.dy))
                box.srid = geometry.srid
                if self.prepared.contains(box):
                    self.cells.append((x0, y0, True))
                elif self.prepared.intersects(box):
                    self.cells.append((x0, y0, False))

    def point(self) -> tuple[float, float]:
        while True:
            x0, y0, inside = self.cells[self.rng.randrange(len(self.cells))]
            x, y = x0 + self.rng.random() * self.dx, y0 + self.rng.random() * self.dy
            if inside or self.prepared.contains(Point(x, y, srid=4326)):
                return x, y


def _chunks(rows: Iterator[tuple[Any, ...]], size: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_time(value: datetime) -> str:
    """How Django stores an aware datetime in SQLite: naive UTC text."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _residents_sqlite(*, count: int, inside: AdministrativeArea, city: City, mix: Mix, seed: int) -> int:
    user, profile, consent, identity, subscription = _tables()
    rng = random.Random(seed)
    step = time.perf_counter()
    sampler = PointSampler(inside.geometry, rng)
    homes = [sampler.point() for _ in range(count)]
    say(f"  {count:,} random points inside {inside.name} ({time.perf_counter() - step:.1f} s)")
    now = datetime.now(UTC)
    stamp = _sqlite_time(now)
    district_ids = [district.pk for district in city.districts]

    def every(n: int, x: int, remainder: int = 0) -> bool:
        return bool(x) and n % x == remainder

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {user}")  # noqa: S608 - table name from the model
        base = int(cursor.fetchone()[0])

    def users() -> Iterator[tuple[Any, ...]]:
        for n in range(1, count + 1):
            erased = stamp if every(n, mix.erased, 1) else None
            active = not every(n, mix.inactive)
            yield base + n, f"bench-{n}", active, stamp, LANGUAGES[n % len(LANGUAGES)], erased

    def profiles() -> Iterator[tuple[Any, ...]]:
        for n in range(1, count + 1):
            x, y = homes[n - 1]
            last: tuple[float, float] | tuple[None, None] = (None, None)
            last_at = None
            if mix.recent_location and n % 5 == 1:
                last = homes[(n * PRIME) % count]
                last_at = _sqlite_time(now - timedelta(hours=rng.random() * 48))
            elif mix.stale_location and n % 20 == 2:
                last = homes[(n * PRIME) % count]
                last_at = _sqlite_time(now - timedelta(hours=100 + rng.random() * 100))
            yield base + n, x, y, last[0], last[1], last_at, stamp, stamp

    def consents() -> Iterator[tuple[Any, ...]]:
        for n in range(1, count + 1):
            yield base + n, stamp, stamp if every(n, mix.withdrawn, 3) else None

    def identities() -> Iterator[tuple[Any, ...]]:
        for n in range(1, count + 1):
            yield base + n, f"bench:{base + n}", stamp, stamp

    def subscriptions() -> Iterator[tuple[Any, ...]]:
        for n in range(1, count + 1):
            if mix.district_subscriber and district_ids and every(n, mix.district_subscriber):
                yield base + n, district_ids[(n // mix.district_subscriber) % len(district_ids)], stamp, stamp
            if every(n, mix.city_subscriber, 7):
                yield base + n, city.city.pk, stamp, stamp

    writes: Sequence[tuple[str, str, Iterator[tuple[Any, ...]]]] = (
        (
            user,
            f"""INSERT INTO {user} (id, password, last_login, is_superuser, username, first_name, last_name, email,
                is_staff, is_active, date_joined, preferred_language, erased_at)
                VALUES (%s, '!', NULL, 0, %s, '', '', '', 0, %s, %s, %s, %s)""",  # noqa: S608
            users(),
        ),
        (
            profile,
            f"""INSERT INTO {profile} (user_id, home_location, last_location, last_location_at, created_at,
                updated_at) VALUES (%s, MakePoint(%s, %s, 4326), MakePoint(%s, %s, 4326), %s, %s, %s)""",  # noqa: S608
            profiles(),
        ),
        (
            consent,
            f"""INSERT INTO {consent} (user_id, purpose, version, given_at, withdrawn_at)
                VALUES (%s, '{ConsentPurpose.TERMS}', '{CONSENT_VERSION}', %s, %s)""",  # noqa: S608
            consents(),
        ),
        (
            identity,
            f"""INSERT INTO {identity} (user_id, kind, external_id, receives_alerts, is_active, deactivated_reason,
                created_at, updated_at) VALUES (%s, '{ChannelKind.WEB}', %s, 1, 1, '', %s, %s)""",  # noqa: S608
            identities(),
        ),
        (
            subscription,
            f"INSERT INTO {subscription} (user_id, area_id, created_at, updated_at) VALUES (%s, %s, %s, %s)",  # noqa: S608
            subscriptions(),
        ),
    )
    for table, sql, rows in writes:
        step = time.perf_counter()
        written = 0
        with transaction.atomic(), connection.cursor() as cursor:
            for chunk in _chunks(rows):
                cursor.executemany(sql, chunk)
                written += len(chunk)
        say(f"  {written:,} rows into {table} ({time.perf_counter() - step:.1f} s)")
    step = time.perf_counter()
    with connection.cursor() as cursor:
        for table in _tables():
            cursor.execute(f"ANALYZE {table}")
    say(f"  ANALYZE ({time.perf_counter() - step:.1f} s)")
    return base + 1


def hurricane_alert_draft(staff: Any, area: Any, *, imminent: bool) -> Any:
    """A draft Severe hurricane alert over one area, by the staff's drafter. `imminent`: landfall now (Immediate,
    Observed), else tonight (Expected, Likely)."""
    from alerts.content import AlertContent, AreaContent, InfoContent
    from alerts.services import lifecycle

    if imminent:
        urgency, certainty, headline = "Immediate", "Observed", f"Evacuate {area.name} now"
        description = "A hurricane is making landfall. Storm surge is expected within hours."
        instruction = "Leave now for the nearest evacuation centre; take medicines and documents."
    else:
        urgency, certainty, headline = "Expected", "Likely", f"Evacuate {area.name}"
        description = "A hurricane is expected to make landfall tonight."
        instruction = "Leave now for the nearest evacuation centre."
    info = InfoContent(
        event="Hurricane",
        urgency=urgency,
        severity="Severe",
        certainty=certainty,
        categories=["Met"],
        headline=headline,
        description=description,
        instruction=instruction,
        expires=datetime.now(UTC) + timedelta(hours=12),
        areas=[AreaContent(area_desc=area.name, admin_area_ids=[area.pk])],
    )
    return lifecycle.alert_draft_create(actor=staff.drafter, content=AlertContent(infos=[info]))
