"""Recipient selection at city scale: alerts.targeting.recipient_ids() against the same query as bare SQL.

    .venv/bin/python bench/targeting.py --subscribers 1000000 --db postgis
    .venv/bin/python bench/targeting.py --subscribers 1000000 --db spatialite

Starts its own database (a PostgreSQL 15 + PostGIS cluster on its own port, or a SpatiaLite temp file; or
uses --database-url), migrates it, imports New York City's boroughs and hurricane evacuation zones from the
shared data as the demo does (or, without the data, a made-up town of squares), writes N synthetic residents set-based,
and drafts one alert per evacuation zone and one for a borough. Then, in a fresh child process per run (so
that generating the data does not count in its peak memory), for each alert it measures:

  app   alerts.targeting.recipient_ids(alert), consumed to the end (the ids are counted);
  bare  the SQL the ORM generates for it (query.sql_with_params()), on a raw DB-API cursor, streamed the
        same way (a server-side cursor on PostgreSQL, fetchmany in chunks of the same size).

It prints per area the recipients and the median of each path, their ratio, the overall median ratio and
the child's peak RSS, then the medians over the runs and PASS/FAIL against the issue's targets (ratio <= 1.5
and peak RSS <= 300 MB, set for PostGIS). The database it started is stopped at the end, whatever happens.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.servers import (  # noqa: E402 - the repository root must be importable first
    PostgresServer,
    django_env,
    django_setup,
    peak_rss_mb,
    say,
    shared_data_dir,
)

TARGET_RATIO = 1.5
TARGET_RSS_MB = 300.0
DEFAULT_PG_PORT = 55492
CHUNK_SIZE = 5000  # recipient_ids()' own default


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1_000_000, help="synthetic residents (default 1000000)")
    parser.add_argument("--db", choices=["postgis", "spatialite"], default="postgis")
    parser.add_argument(
        "--database-url",
        help="use this existing database instead of starting one (residents named bench-N already there are reused)",
    )
    parser.add_argument("--data", help="shared data folder (default: SHARED_DATA_DIR or ../shared/data)")
    parser.add_argument(
        "--runs", type=int, help="measuring runs, each in a fresh process (default: 3 on PostGIS, 1 on SpatiaLite)"
    )
    parser.add_argument(
        "--repeat", type=int, help="timed repetitions per area and path (default: 3 on PostGIS, 1 on SpatiaLite)"
    )
    parser.add_argument(
        "--warmup", type=int, help="untimed runs of each path per area first (default: 1 on PostGIS, 0 on SpatiaLite)"
    )
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT, help="port of the cluster it starts")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child mode: comma-separated alert ids
    return parser.parse_args()


# Measuring (child process) ---------------------------------------------------------------------------


def _app(alert: Any) -> int:
    from alerts.targeting import recipient_ids

    return sum(1 for _ in recipient_ids(alert, chunk_size=CHUNK_SIZE))


def _bare(sql: str, params: tuple[Any, ...]) -> int:
    """The same SQL on the driver's own cursor, streamed in chunks of the same size."""
    import re

    from django.db import connection

    connection.ensure_connection()
    raw: Any = connection.connection
    count = 0
    if connection.vendor == "postgresql":
        with raw.transaction(), raw.cursor(name="bench_bare") as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(CHUNK_SIZE):
                count += len(rows)
    else:
        # sqlite3 takes qmark placeholders (what Django's SQLite cursor wrapper converts %s to).
        cursor = raw.cursor()
        try:
            cursor.execute(re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%"), params)
            while rows := cursor.fetchmany(CHUNK_SIZE):
                count += len(rows)
        finally:
            cursor.close()
    return count


def _timed(function: Any, *args: Any) -> tuple[float, int]:
    started = time.perf_counter()
    count = function(*args)
    return time.perf_counter() - started, count


def measure(alert_ids: list[int], repeat: int, warmup: int) -> None:
    django_setup(dict(os.environ))
    from alerts.models import Alert
    from alerts.targeting import recipients

    areas = []
    for alert_id in alert_ids:
        alert = Alert.objects.get(pk=alert_id)
        sql, params = recipients(alert).values_list("pk", flat=True).distinct().query.sql_with_params()
        # Warm-ups of each path (plans, caches), then the two alternate so that noise hits both alike.
        for _ in range(warmup):
            _app(alert)
            _bare(sql, params)
        counts: dict[str, set[int]] = {"app": set(), "bare": set()}
        times: dict[str, list[float]] = {"app": [], "bare": []}
        for index in range(repeat):
            order = [("app", _app, (alert,)), ("bare", _bare, (sql, params))]
            for name, function, args in order if index % 2 == 0 else order[::-1]:
                seconds, count = _timed(function, *args)
                counts[name].add(count)
                times[name].append(seconds)
        if len(counts["app"] | counts["bare"]) != 1:
            raise AssertionError(f"alert {alert_id}: recipient_ids gave {counts['app']} ids, bare SQL {counts['bare']}")
        app_count = counts["app"].pop()
        app_times, bare_times = times["app"], times["bare"]
        name = alert.infos.first().areas.first().area_desc
        areas.append({"area": name, "recipients": app_count, "app": app_times, "bare": bare_times})
    print(json.dumps({"areas": areas, "peak_rss_mb": peak_rss_mb()}))


# Preparing (parent process) --------------------------------------------------------------------------


def _alerts_draft(city: Any) -> list[int]:
    """One draft per evacuation zone and one for the first borough (district), each over that area alone."""
    from datetime import timedelta

    from django.utils import timezone

    from alerts.content import AlertContent, AreaContent, InfoContent
    from alerts.services.lifecycle import alert_draft_create

    targets = [*city.zones, *city.districts[:1]]
    alert_ids = []
    for area in targets:
        content = AlertContent(
            infos=[
                InfoContent(
                    event="Hurricane",
                    urgency="Expected",
                    severity="Severe",
                    certainty="Likely",
                    categories=["Met"],
                    headline=f"Evacuate {area.name}",
                    expires=timezone.now() + timedelta(hours=12),
                    areas=[AreaContent(area_desc=area.name, admin_area_ids=[area.pk])],
                )
            ]
        )
        alert_ids.append(alert_draft_create(actor=None, content=content).pk)
    return alert_ids


def _prepare(database_url: str, *, count: int, data: str | None) -> tuple[list[int], str, str]:
    """Migrate, load areas and residents, draft the alerts; return (alert ids, note, server description)."""
    django_setup(django_env(database_url))
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from bench.population import TARGETING_MIX, city_load, residents_create

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    say(f"migrated ({time.perf_counter() - started:.1f} s)")
    city = city_load(shared_data_dir(data))
    existing = User.objects.filter(username__startswith="bench-").count()
    if existing:
        say(f"reusing the {existing:,} bench residents already in the database")
    else:
        residents_create(count=count, inside=city.city, subscribe_to=city, mix=TARGETING_MIX)
    alert_ids = _alerts_draft(city)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            version, postgis = cursor.fetchone()
            server = f"PostgreSQL {version.split()[0]}, PostGIS {postgis}"
        else:
            cursor.execute("SELECT sqlite_version(), spatialite_version()")
            sqlite, spatialite = cursor.fetchone()
            server = f"SQLite {sqlite}, SpatiaLite {spatialite}"
    connection.close()
    return alert_ids, city.note, server


def _run_child(alert_ids: list[int], database_url: str, repeat: int, warmup: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            *(sys.executable, __file__, "--measure", ",".join(map(str, alert_ids))),
            *("--repeat", str(repeat), "--warmup", str(warmup)),
        ],
        env=django_env(database_url),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:10.1f} ms"


def _report_run(number: int, run: dict[str, Any]) -> float:
    print(f"\nrun {number}")
    print(f"{'area':<36} {'recipients':>10} {'app median':>13} {'bare median':>13} {'ratio':>6}")
    ratios = []
    for area in run["areas"]:
        app, bare = statistics.median(area["app"]), statistics.median(area["bare"])
        ratios.append(app / bare)
        print(f"{area['area'][:36]:<36} {area['recipients']:>10,} {_ms(app)} {_ms(bare)} {app / bare:6.2f}")
    overall = statistics.median(ratios)
    print(
        f"overall median ratio {overall:.2f}; peak RSS of the measuring process {run['peak_rss_mb']:.0f} MB", flush=True
    )
    return overall


def main() -> int:
    args = _arguments()
    if args.measure:
        measure([int(value) for value in args.measure.split(",")], args.repeat, args.warmup)
        return 0
    database = args.db
    if args.database_url:
        database = "spatialite" if args.database_url.startswith("spatialite") else "postgis"
    # On SpatiaLite one recipient query over 1M residents takes minutes (no prepared geometries: the
    # alert's polygon is parsed again for every candidate point), so it is measured once per path.
    postgis = database == "postgis"
    runs_wanted = args.runs if args.runs is not None else (3 if postgis else 1)
    repeat = args.repeat if args.repeat is not None else (3 if postgis else 1)
    warmup = args.warmup if args.warmup is not None else (1 if postgis else 0)
    if runs_wanted < 1 or repeat < 1 or warmup < 0:
        raise SystemExit("--runs and --repeat must be at least 1, --warmup at least 0")
    server: PostgresServer | None = None
    folder: tempfile.TemporaryDirectory[str] | None = None
    try:
        if args.database_url:
            database_url = args.database_url
            where = "the database given with --database-url"
        elif database == "postgis":
            server = PostgresServer(args.pg_port).start()
            database_url = server.url
            where = f"its own cluster on 127.0.0.1:{server.port}"
        else:
            folder = tempfile.TemporaryDirectory(prefix="commsplatform-bench-spatialite.")
            database_url = f"spatialite:///{Path(folder.name) / 'bench.sqlite3'}"
            where = f"its own file {Path(folder.name) / 'bench.sqlite3'}"
        prepared = time.perf_counter()
        alert_ids, note, version = _prepare(database_url, count=args.subscribers, data=args.data)
        say(f"prepared in {time.perf_counter() - prepared:.0f} s")

        print(f"targeting benchmark: {args.subscribers:,} synthetic residents on {database} ({version}; {where})")
        if note:
            print(f"note: {note}")
        print(
            f"{runs_wanted} runs, each measuring in a fresh child process (data generation is not in its peak "
            f"RSS): per area {warmup} untimed warm-up(s), then {repeat} timed repetition(s) of each path, "
            f"alternating; ids streamed in chunks of {CHUNK_SIZE}",
            flush=True,
        )
        runs: list[dict[str, Any]] = []
        overall: list[float] = []
        for number in range(1, runs_wanted + 1):
            runs.append(_run_child(alert_ids, database_url, repeat, warmup))
            overall.append(_report_run(number, runs[-1]))
    finally:
        if server is not None:
            server.stop()
        if folder is not None:
            folder.cleanup()

    print(f"\nmedians over {len(runs)} runs")
    print(f"{'area':<36} {'recipients':>10} {'app median':>13} {'bare median':>13} {'ratio':>6}")
    for index, area in enumerate(runs[0]["areas"]):
        app = statistics.median(statistics.median(run["areas"][index]["app"]) for run in runs)
        bare = statistics.median(statistics.median(run["areas"][index]["bare"]) for run in runs)
        print(f"{area['area'][:36]:<36} {area['recipients']:>10,} {_ms(app)} {_ms(bare)} {app / bare:6.2f}")
    ratio = statistics.median(overall)
    rss = statistics.median(run["peak_rss_mb"] for run in runs)
    ratio_ok, rss_ok = ratio <= TARGET_RATIO, rss <= TARGET_RSS_MB
    scope = "" if database == "postgis" else " (the targets are set for PostGIS; shown for comparison)"
    print(f"overall median ratio app/bare: {ratio:.2f} (runs: {', '.join(f'{r:.2f}' for r in overall)})")
    rss_runs = ", ".join(f"{run['peak_rss_mb']:.0f}" for run in runs)
    print(f"peak RSS of the measuring process: {rss:.0f} MB (runs: {rss_runs})")
    print(f"target ratio <= {TARGET_RATIO}: {'PASS' if ratio_ok else 'FAIL'}{scope}")
    print(f"target peak RSS <= {TARGET_RSS_MB:.0f} MB: {'PASS' if rss_ok else 'FAIL'}{scope}")
    return 0 if ratio_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
