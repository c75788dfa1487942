"""Shelters benchmark (issue 4): nearest open shelter with space among 50,000, and a 100,000-row asset upload.

    .venv/bin/python bench/shelters.py --db postgis        # starts and stops its own PostgreSQL on port 55452
    .venv/bin/python bench/shelters.py --db spatialite     # a SpatiaLite file in a temporary folder
    DATABASE_URL=postgis://… .venv/bin/python bench/shelters.py --db postgis   # an existing, throwaway database

Prints the median time of the nearest-open-shelter-with-space query through the selector (ORM, model instances
and distances, as the API uses it) and of the same query written by hand as bare SQL (same filter, order and
limit, rows fetched but not turned into objects), in the same run over the same random points, their ratio
(target: at most 1.5), and the time of a 100,000-row CSV asset upload through the upload service (target: at
most 60 s) and of the same file uploaded again (nothing to write).
"""

import argparse
import atexit
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 55452
# The benchmark's region: a 10 x 8 degree box (mid-latitudes, like much of Europe or Japan).
BOX = (0.0, 40.0, 10.0, 48.0)


def _as_pg(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run it as the postgres user, as scripts/test.sh does.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class ThrowawayPostgres:
    """A PostgreSQL 15 + PostGIS cluster in a temporary folder, on its own port, stopped by its data directory."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-shelters-pg."))
        self.data = self.tmp / "data"
        self.started = False

    def start(self) -> str:
        os.chmod(self.tmp, 0o755)  # noqa: S103 - the postgres user must reach its data folder inside
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")

        def run(command: list[str]) -> None:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        run(_as_pg([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]))
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.tmp} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB"
        )
        log = self.tmp / "server.log"
        pg_ctl = str(PG_BIN / "pg_ctl")
        run(_as_pg([pg_ctl, "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start", "-o", options]))
        self.started = True
        psql = _as_pg(
            ["psql", "-h", str(self.tmp), "-p", str(self.port), "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        )
        run([*psql, "-d", "postgres", "-c", "CREATE DATABASE bench"])
        run([*psql, "-d", "bench", "-c", "CREATE EXTENSION postgis"])
        return f"postgis://postgres@127.0.0.1:{self.port}/bench"

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            self.started = False
        shutil.rmtree(self.tmp, ignore_errors=True)


def _setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"  # no query log kept in memory
    os.environ["DJANGO_SETTINGS_MODULE"] = "commsplatform.settings.base"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _populate(count: int, rng: random.Random) -> Any:
    """An area over the box, and `count` shelters in it: about 70 % open, some of them full."""
    from django.contrib.gis.geos import MultiPolygon, Point, Polygon
    from django.db import connection

    from accounts import services as accounts_services
    from shelters.models import Shelter, search_text_of

    area = accounts_services.area_create(
        actor=None,
        name="Benchland",
        code="BENCH",
        level="city",
        geometry=MultiPolygon(Polygon.from_bbox(BOX), srid=4326),
    )
    hazards = ["flood", "earthquake", "tsunami", "landslide", "storm"]
    batch: list[Shelter] = []
    for number in range(count):
        capacity = rng.randint(20, 1500)
        status = rng.choices(["open", "closed", "planned"], weights=[70, 20, 10])[0]
        occupancy = capacity if rng.random() < 0.1 else rng.randint(0, capacity)
        name = f"Shelter {number}"
        batch.append(
            Shelter(
                name=name,
                names={"en": name},
                street=f"Street {number % 997}",
                postcode=f"B{number % 9999:04d}",
                location=Point(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3]), srid=4326),
                area=area,
                hazards=rng.sample(hazards, rng.randint(1, 3)),
                capacity=capacity,
                occupancy=occupancy if status == "open" else 0,
                status="full" if status == "open" and occupancy >= capacity else status,
                step_free_access=rng.random() < 0.4,
                pets_allowed=rng.random() < 0.2,
                languages=["en"],
                search_text=search_text_of([name, f"Street {number % 997}", f"B{number % 9999:04d}"]),
            )
        )
        if len(batch) == 5000:
            Shelter.objects.bulk_create(batch)
            batch = []
    Shelter.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return area


def _bare_sql() -> str:
    """The nearest-open-with-space query as one would write it by hand, for this database."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return (
            "SELECT *, (location::geography <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) AS distance "
            "FROM shelters_shelter WHERE status = 'open' AND capacity IS NOT NULL AND occupancy <= capacity - %s "
            "ORDER BY distance LIMIT %s"
        )
    return (
        "SELECT *, Distance(location, MakePoint(%s, %s, 4326), 0) AS distance "
        "FROM shelters_shelter WHERE status = 'open' AND capacity IS NOT NULL AND occupancy <= capacity - %s "
        "ORDER BY distance LIMIT %s"
    )


def _nearest(queries: int, rng: random.Random) -> tuple[float, float, list[str]]:
    from django.contrib.gis.geos import Point
    from django.db import connection

    from shelters.selectors import shelter_nearest

    sql = _bare_sql()
    points = [(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])) for _ in range(queries)]
    orm_times: list[float] = []
    sql_times: list[float] = []
    mismatches = 0

    def by_orm(x: float, y: float) -> list[int]:
        return [item.shelter.pk for item in shelter_nearest(point=Point(x, y, srid=4326), limit=5)]

    def by_sql(x: float, y: float) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [x, y, 1, 5])
            return [row[0] for row in cursor.fetchall()]

    for x, y in points[:20]:  # warm the caches and the connection
        by_orm(x, y)
        by_sql(x, y)
    for index, (x, y) in enumerate(points):
        # Alternate which goes first, so neither always meets the warmer cache.
        order = (by_orm, by_sql) if index % 2 == 0 else (by_sql, by_orm)
        results = {}
        for function in order:
            start = time.perf_counter()
            results[function] = function(x, y)
            elapsed = time.perf_counter() - start
            (orm_times if function is by_orm else sql_times).append(elapsed)
        if results[by_orm] != results[by_sql]:
            mismatches += 1
    plan: list[str] = []
    if connection.vendor == "postgresql":
        from django.db.models import F

        from shelters.models import Shelter
        from shelters.search import distance_expression

        query = (
            Shelter.objects.filter(status="open", capacity__isnull=False, occupancy__lte=F("capacity") - 1)
            .annotate(distance=distance_expression(Point(5, 44, srid=4326)))
            .order_by("distance")[:5]
        )
        plan = [line for line in query.explain().splitlines() if "Scan" in line]
    if mismatches:
        print(f"WARNING: {mismatches} of {queries} queries returned different shelters by ORM and by SQL")
    return statistics.median(orm_times), statistics.median(sql_times), plan


def _upload(rows: int, rng: random.Random, area: Any) -> tuple[float, float, Any]:
    from accounts import services as accounts_services
    from accounts.models import User
    from shelters.services import asset_upload

    owner = accounts_services.organisation_create(actor=None, name="Bench Utility", kind="utility", area=area)
    user = accounts_services.user_create(username="bench-owner", password=None)
    accounts_services.membership_grant(actor=None, user=user, organisation=owner, role="asset_owner", area=area)
    user = User.objects.get(pk=user.pk)
    types = ["generator", "pump", "vehicle", "boat", "sandbags", "medical_equipment", "hospital_beds"]
    lines = ["external_id,type,name,quantity,unit,state,longitude,latitude,street,postcode,attr.model"]
    for number in range(rows):
        asset_type = rng.choice(types)
        lines.append(
            f"E{number:07d},{asset_type},{asset_type} {number},{rng.randint(1, 500)},units,"
            f"{rng.choice(['available', 'deployed', 'maintenance', 'damaged'])},"
            f"{rng.uniform(BOX[0], BOX[2]):.6f},{rng.uniform(BOX[1], BOX[3]):.6f},"
            f"Depot Road {number % 300},D{number % 9999:04d},M-{number % 17}"
        )
    content = ("\n".join(lines) + "\n").encode()
    start = time.perf_counter()
    report = asset_upload(actor=user, owner=owner, content=content, filename="bench.csv")
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = asset_upload(actor=user, owner=owner, content=content, filename="bench.csv")
    second = time.perf_counter() - start
    assert report.created == rows, report
    assert again.unchanged == rows, again
    return first, second, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgis", "spatialite"], required=True)
    parser.add_argument("--shelters", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=None, help="Nearest queries (default 500, 50 on SpatiaLite).")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    queries = args.queries or (500 if args.db == "postgis" else 50)
    rng = random.Random(args.seed)

    database_url = os.environ.get("DATABASE_URL", "")
    cleanup: list[Any] = []
    if database_url:
        if not database_url.startswith(args.db):
            parser.error(f"DATABASE_URL is not a {args.db} URL")
        where = "the database in DATABASE_URL (it must be a throwaway one)"
    elif args.db == "postgis":
        server = ThrowawayPostgres(PG_PORT)
        cleanup.append(server.stop)
        database_url = server.start()
        where = f"a throwaway PostgreSQL 15 + PostGIS on 127.0.0.1:{PG_PORT}"
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-shelters-sqlite."))
        cleanup.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        database_url = f"spatialite:///{folder / 'bench.sqlite3'}"
        where = f"a SpatiaLite file in {folder}"
    atexit.register(lambda: [stop() for stop in reversed(cleanup)])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"shelters benchmark on {where}")
    _setup_django(database_url)
    start = time.perf_counter()
    area = _populate(args.shelters, rng)
    print(f"  {args.shelters:,} shelters inserted in {time.perf_counter() - start:.1f} s")

    orm, sql, plan = _nearest(queries, rng)
    for line in plan:
        print(f"  plan: {line.strip()}")
    print(f"  nearest open shelter with space, median of {queries} random points:")
    print(f"    selector (ORM): {orm * 1000:.3f} ms")
    print(f"    bare SQL:       {sql * 1000:.3f} ms")
    print(f"    ratio:          {orm / sql:.2f} (target <= 1.5)")

    first, second, report = _upload(args.assets, rng, area)
    print(f"  asset upload of {args.assets:,} CSV rows: {first:.1f} s (target <= 60 s); created {report.created:,}")
    print(f"  the same file again (all unchanged): {second:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
