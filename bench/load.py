"""Load on the public read endpoints through two daphne processes, beside a trivial endpoint in the same run.

    .venv/bin/python bench/load.py                      # about 4 min on 2 cores (3 runs of 30 s)
    .venv/bin/python bench/load.py --clients 200 --duration 60 --runs 5

Starts its own PostgreSQL + PostGIS and Redis on loopback ports, loads a city (New York City's areas and
hurricane evacuation centres from the shared data, topped up with synthetic shelters; a made-up town without the
data), a few issued public alerts and signed-in residents, then two daphne processes with the production
settings (bench/load_settings.py: production's, plus the trivial URL). Many concurrent clients (aiohttp, one
event loop, closed loop: each sends its next request when the last one is answered) alternate between the two
daphnes and between three endpoints:

- feed: GET /api/alerts/feed.atom, the public Atom feed of active alerts (anonymous);
- nearest: GET /api/shelters/nearest/?lon=&lat= from a random point in the city (a signed-in resident's session:
  the API needs sign-in);
- trivial: GET /bench/trivial, a view that answers "ok" through the same daphne, middleware and view thread.

Each request carries what the deployment's nginx adds (X-Forwarded-For, X-Forwarded-Proto: https; the daphnes run
with --proxy-headers as deploy/systemd does), with the client address drawn from a large pool of residents, so
that DRF's throttles (production rates: 120/min per anonymous address, 1200/min per user) are in the path but
no one resident exceeds them. Any answer other than 200, a timeout or a connection error is an error.

Prints per endpoint: requests, throughput, p50, p99, error rate, p99 / trivial p99; per run and the medians over
the runs; and PASS/FAIL against the issue's target: 0 errors and p99 <= 3x the trivial endpoint's.
"""

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import (
    ROOT,
    PostgresServer,
    RedisServer,
    django_env,
    django_setup,
    free_port,
    port_in_use,
    process_stop,
    say,
    shared_data_dir,
)

DEFAULT_PG_PORT = 55530
DEFAULT_REDIS_PORT = 6530
DEFAULT_DAPHNE_PORT = 8530
ENDPOINTS = ("trivial", "feed", "nearest")
UNUSABLE = "!"  # an unusable password hash: the residents sign in by their sessions only
SESSION_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # what Django's own session keys are made of
NYC_CENTRES = Path("shelters") / "nyc" / "nyc_hurricane_evacuation_centers_center.csv"
TARGET_RATIO = 3.0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per run (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3); medians are printed over them")
    parser.add_argument("--shelters", type=int, default=300, help="shelters in the city (default 300)")
    parser.add_argument("--alerts", type=int, default=6, help="issued public alerts (default 6)")
    parser.add_argument("--residents", type=int, default=1000, help="signed-in residents (default 1000)")
    parser.add_argument("--addresses", type=int, default=50_000, help="client addresses drawn from (default 50000)")
    parser.add_argument(
        "--db-conn-max-age",
        type=int,
        help="DB_CONN_MAX_AGE for the daphnes (the production settings read it; default: theirs, 0)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request is an error")
    parser.add_argument("--data", help="the shared data folder (default: SHARED_DATA_DIR or ../shared/data)")
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT)
    parser.add_argument("--redis-port", type=int, default=DEFAULT_REDIS_PORT)
    parser.add_argument("--daphne-port", type=int, default=DEFAULT_DAPHNE_PORT, help="first daphne's port")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


# --- the population -----------------------------------------------------------------------------------------


def _points_inside(geometry: Any, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """`count` random (lon, lat) inside `geometry` (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = geometry.extent
    prepared = geometry.prepared
    from django.contrib.gis.geos import Point

    points: list[tuple[float, float]] = []
    while len(points) < count:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if prepared.contains(Point(lon, lat, srid=4326)):
            points.append((lon, lat))
    return points


def _shelters_load(city: Any, data_dir: Path | None, total: int, rng: random.Random) -> str:
    """The city's real shelters when it is New York City and the file is there, then synthetic ones up to `total`.

    About 70 % of all are open (1 in 10 of those full), the others closed or planned, as in bench/shelters.py.
    """
    from django.contrib.gis.geos import Point

    from shelters.importers import shelter_import
    from shelters.models import Shelter, ShelterStatus, search_text_of

    def state(capacity: int) -> tuple[str, int]:
        status = rng.choices([ShelterStatus.OPEN, ShelterStatus.CLOSED, ShelterStatus.PLANNED], weights=[70, 20, 10])[0]
        if status != ShelterStatus.OPEN:
            return status, 0
        if rng.random() < 0.1:
            return ShelterStatus.FULL, capacity
        return status, rng.randint(0, capacity - 1)

    real = 0
    if city.code == "NYC" and data_dir is not None and (data_dir / NYC_CENTRES).is_file():
        result = shelter_import(actor=None, path=data_dir / NYC_CENTRES, file_format="nyc", area=city)
        for shelter in result.created:
            capacity = rng.randint(100, 800)  # the city's file states none
            status, occupancy = state(capacity)
            Shelter.objects.filter(pk=shelter.pk).update(capacity=capacity, status=status, occupancy=occupancy)
        real = len(result.created)
    hazards = ["flood", "earthquake", "tsunami", "landslide", "storm"]
    batch = []
    for number, (lon, lat) in enumerate(_points_inside(city.geometry, max(0, total - real), rng)):
        capacity = rng.randint(20, 1500)
        status, occupancy = state(capacity)
        name = f"Bench shelter {number}"
        street, postcode = f"Street {number % 997}", f"B{number % 9999:04d}"
        batch.append(
            Shelter(
                name=name,
                names={"en": name},
                street=street,
                postcode=postcode,
                location=Point(lon, lat, srid=4326),
                area=city,
                hazards=rng.sample(hazards, rng.randint(1, 3)),
                capacity=capacity,
                occupancy=occupancy,
                status=status,
                step_free_access=rng.random() < 0.4,
                pets_allowed=rng.random() < 0.2,
                languages=["en"],
                search_text=search_text_of([name, street, postcode]),
            )
        )
    Shelter.objects.bulk_create(batch, batch_size=1000)
    if real:
        return f"{real} New York City evacuation centres and {len(batch)} synthetic shelters"
    return f"{len(batch)} synthetic shelters"


def _alerts_issue(city: Any, count: int) -> int:
    """`count` Severe hurricane alerts over the city's districts in turn, through the two-person flow (the staff's
    roles cover the city; the evacuation zones reach beyond it, into the water)."""
    from alerts.services import lifecycle
    from bench.population import hurricane_alert_draft, staff_create

    staff = staff_create(city.city)
    areas = city.districts or [city.city]
    for number in range(count):
        draft = hurricane_alert_draft(staff, areas[number % len(areas)], imminent=number % 2 == 0)
        lifecycle.alert_submit(actor=staff.drafter, alert=draft)
        lifecycle.alert_approve(actor=staff.approver, alert=draft, issue=True)
    return count


def _residents_with_sessions(count: int) -> list[str]:
    """`count` residents, each signed in by a session of its own; returns their Cookie headers."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts.models import User

    User.objects.bulk_create([User(username=f"bench-resident-{i}", password=UNUSABLE) for i in range(count)])
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    sessions, cookies = [], []
    for user in User.objects.filter(username__startswith="bench-resident-").order_by("pk"):
        key = get_random_string(32, SESSION_KEY_CHARS)
        data = {"_auth_user_id": str(user.pk), "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
                "_auth_user_hash": user.get_session_auth_hash()}  # fmt: skip
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={key}")
    Session.objects.bulk_create(sessions, batch_size=1000)
    return cookies


def _populate(args: argparse.Namespace) -> tuple[list[str], list[tuple[float, float]], str]:
    """The city, its shelters, the alerts and the residents; returns cookies, query points and a description."""
    from django.db import connection

    from bench.population import city_load

    rng = random.Random(args.seed)
    started = time.perf_counter()
    city = city_load(shared_data_dir(args.data))
    if city.note:
        say(city.note)
    shelters = _shelters_load(city.city, shared_data_dir(args.data), args.shelters, rng)
    alerts = _alerts_issue(city, args.alerts)
    cookies = _residents_with_sessions(args.residents)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    points = _points_inside(city.city.geometry, 2000, rng)
    say(f"{city.city.name}: {shelters}, {alerts} issued alerts, {len(cookies)} residents with sessions "
        f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    return cookies, points, f"{city.city.name}, {shelters}, {alerts} active public alerts"


def _pg_sessions() -> int:
    """Sessions PostgreSQL has opened in the benchmark's database so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        row = cursor.fetchone()
    connection.close()
    return int(row[0]) if row else 0


def _connect_ms(count: int = 20) -> float:
    """Median milliseconds to open (and close) a PostgreSQL session as the daphnes do: TCP, password (SCRAM)."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    times = []
    for _ in range(count):
        began = time.perf_counter()
        psycopg.connect(**params).close()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


# --- the daphnes --------------------------------------------------------------------------------------------


def _daphne_start(env: dict[str, str], port: int, log: Path) -> "subprocess.Popen[bytes]":
    """One daphne as deploy/systemd/commsplatform-web@.service runs it (proxy headers, no access log)."""
    command = [sys.executable, "-m", "daphne", "--proxy-headers", "-b", "127.0.0.1", "-p", str(port),
               "--access-log", os.devnull, "commsplatform.asgi:application"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    say(f"daphne on 127.0.0.1:{port} (pid {process.pid})")
    return process


def _daphne_wait(process: "subprocess.Popen[bytes]", port: int, log: Path) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{log.read_text(errors='replace')[-3000:]}")
        if port_in_use(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"daphne on port {port} did not listen")


# --- the clients --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    endpoint: str
    target: int
    started: float
    seconds: float
    error: str | None


@dataclass
class Load:
    bases: list[str]
    cookies: list[str]
    points: list[tuple[float, float]]
    addresses: int
    seed: int
    samples: list[Sample] = field(default_factory=list)
    sent: Counter[str] = field(default_factory=Counter)  # every request of the run, warm-up included


def _request(load: Load, endpoint: str, rng: random.Random) -> tuple[str, dict[str, str]]:
    address = rng.randrange(load.addresses)
    headers = {
        # What nginx adds (deploy/nginx/commsplatform.conf): the resident's address and the original scheme.
        "X-Forwarded-For": f"10.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}",
        "X-Forwarded-Proto": "https",
    }
    if endpoint == "trivial":
        return "/bench/trivial", headers
    if endpoint == "feed":
        return "/api/alerts/feed.atom", headers
    lon, lat = rng.choice(load.points)
    headers["Cookie"] = rng.choice(load.cookies)
    return f"/api/shelters/nearest/?lon={lon:.6f}&lat={lat:.6f}", headers


def _answer_ok(endpoint: str, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    if endpoint == "feed" and b"<entry>" not in body:
        return "feed without entries"
    if endpoint == "nearest" and b'"FeatureCollection"' not in body:
        return "nearest without a FeatureCollection"
    return None


async def _client(load: Load, session: Any, number: int, start: float, end: float) -> None:
    import aiohttp

    rng = random.Random(load.seed * 100_003 + number)
    step = number  # clients start at different places of the cycle: endpoints x daphnes
    while True:
        now = time.perf_counter()
        if now >= end:
            return
        endpoint, target = ENDPOINTS[step % len(ENDPOINTS)], step % len(load.bases)
        step += 1
        path, headers = _request(load, endpoint, rng)
        began = time.perf_counter()
        error: str | None = None
        try:
            async with session.get(load.bases[target] + path, headers=headers, allow_redirects=False) as response:
                body = await response.read()
                error = _answer_ok(endpoint, response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        finished = time.perf_counter()
        load.sent[endpoint] += 1
        if began >= start:
            load.samples.append(Sample(endpoint, target, began, finished - began, error))


async def _drive(load: Load, clients: int, warmup: float, duration: float, timeout: float) -> tuple[float, float]:
    """Run the clients for warmup + duration seconds; returns the measured window (start, end)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        start = time.perf_counter() + warmup
        end = start + duration
        await asyncio.gather(*(_client(load, session, number, start, end) for number in range(clients)))
    return start, end


def _check(load: Load) -> None:
    """Each endpoint answers on each daphne as expected before anything is measured."""
    import urllib.request

    rng = random.Random(load.seed)
    for base in load.bases:
        for endpoint in ENDPOINTS:
            path, headers = _request(load, endpoint, rng)
            request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - loopback http only
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            problem = _answer_ok(endpoint, status, body)
            if problem:
                raise RuntimeError(f"{base}{path}: {problem}: {body[:500]!r}")


# --- the figures --------------------------------------------------------------------------------------------


@dataclass
class Figures:
    requests: int
    rate: float
    p50: float
    p99: float
    errors: int
    ratio: float = float("nan")

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else float("nan")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _figures(samples: list[Sample], seconds: float) -> dict[str, Figures]:
    figures = {}
    for endpoint in ENDPOINTS:
        mine = [s for s in samples if s.endpoint == endpoint]
        times = [s.seconds for s in mine]
        figures[endpoint] = Figures(len(mine), len(mine) / seconds, _pct(times, 0.5), _pct(times, 0.99),
                                    sum(1 for s in mine if s.error))  # fmt: skip
    for item in figures.values():
        item.ratio = item.p99 / figures["trivial"].p99
    return figures


def _table(figures: dict[str, Figures]) -> None:
    print(f"  {'endpoint':<8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'err rate':>9} {'p99/trivial p99':>16}")  # fmt: skip
    for endpoint, item in figures.items():
        print(f"  {endpoint:<8} {item.requests:>9} {item.rate:>8.1f} {item.p50 * 1000:>8.1f} {item.p99 * 1000:>8.1f} "
              f"{item.errors:>7} {item.error_rate:>9.4f} {item.ratio:>16.2f}")  # fmt: skip


def _verdict(figures: dict[str, Figures]) -> bool:
    errors = sum(item.errors for item in figures.values())
    worst = max(figures[e].ratio for e in ENDPOINTS if e != "trivial")
    return errors == 0 and worst <= TARGET_RATIO


# --- main ---------------------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def _on_signal(number: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(number).name)


def main() -> int:
    args = _arguments()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (ignored there)
    folder = Path(tempfile.mkdtemp(prefix="commsplatform-bench-load."))
    pg: PostgresServer | None = None
    redis_server: RedisServer | None = None
    daphnes: list[subprocess.Popen[bytes]] = []
    keep_folder = True
    try:
        redis_server = RedisServer(args.redis_port).start()
        pg = PostgresServer(args.pg_port, settings={"max_connections": "200"}).start()
        env = django_env(pg.url, redis_server.url)
        # The production settings (and so the daphnes) need these; made up for this run.
        env.update(DJANGO_SETTINGS_MODULE="bench.load_settings", SECRET_KEY=secrets.token_urlsafe(50),
                   AUDIT_CHAIN_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1")  # fmt: skip
        env.pop("DEBUG", None)
        if args.db_conn_max_age is not None:
            env["DB_CONN_MAX_AGE"] = str(args.db_conn_max_age)
        (folder / "static").mkdir()  # nginx serves the static files in a deployment: an empty folder for whitenoise
        env["STATIC_ROOT"] = str(folder / "static")
        django_setup(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        cookies, points, description = _populate(args)
        first = free_port(args.daphne_port)
        ports = [first, free_port(first + 1)]
        logs = [folder / f"daphne-{port}.log" for port in ports]
        for port, log in zip(ports, logs, strict=True):
            daphnes.append(_daphne_start(env, port, log))
        for process, port, log in zip(daphnes, ports, logs, strict=True):
            _daphne_wait(process, port, log)
        load = Load([f"http://127.0.0.1:{port}" for port in ports], cookies, points, args.addresses, args.seed)
        _check(load)
        connect_ms = _connect_ms()
        print(f"load benchmark: {description}; PostgreSQL + PostGIS, Redis; 2 daphne processes (production "
              f"settings, --proxy-headers, DB_CONN_MAX_AGE {env.get('DB_CONN_MAX_AGE', 'unset: 0')}); "
              f"{args.clients} concurrent clients alternating between them, "
              f"{args.duration:g} s measured after {args.warmup:g} s of warm-up per run; opening a PostgreSQL "
              f"session takes {connect_ms:.1f} ms (median of 20)")  # fmt: skip
        runs: list[dict[str, Figures]] = []
        for number in range(1, args.runs + 1):
            load.samples, load.sent = [], Counter()
            sessions_before = _pg_sessions()
            cpu_before = time.process_time()
            window = asyncio.run(_drive(load, args.clients, args.warmup, args.duration, args.timeout))
            client_cpu = time.process_time() - cpu_before
            sessions = _pg_sessions() - sessions_before - 1  # less our own
            figures = _figures(load.samples, window[1] - window[0])
            runs.append(figures)
            per_daphne = Counter(s.target for s in load.samples)
            kinds = Counter(s.error for s in load.samples if s.error)
            kinds_text = "; errors: " + ", ".join(f"{k} x{n}" for k, n in kinds.most_common(5)) if kinds else ""
            database_requests = load.sent["feed"] + load.sent["nearest"]
            print(f"run {number}: {len(load.samples)} requests, per daphne "
                  f"{', '.join(str(per_daphne[i]) for i in range(len(ports)))}; PostgreSQL sessions opened "
                  f"{sessions} ({sessions / max(1, database_requests):.2f} per feed or nearest request); the clients' "
                  f"CPU {client_cpu:.1f} s over {args.warmup + args.duration:g} s{kinds_text}")  # fmt: skip
            _table(figures)
            print(f"  {'PASS' if _verdict(figures) else 'FAIL'}", flush=True)
        medians = {
            endpoint: Figures(
                int(statistics.median(r[endpoint].requests for r in runs)),
                statistics.median(r[endpoint].rate for r in runs),
                statistics.median(r[endpoint].p50 for r in runs),
                statistics.median(r[endpoint].p99 for r in runs),
                sum(r[endpoint].errors for r in runs),
                statistics.median(r[endpoint].ratio for r in runs),
            )
            for endpoint in ENDPOINTS
        }
        print(f"median of {len(runs)} runs (errors: the sum over the runs; ratio: the median of the runs' ratios):")
        _table(medians)
        ok = _verdict(medians)
        print(f"{'PASS' if ok else 'FAIL'} (target: 0 errors; p99 <= {TARGET_RATIO:g}x the trivial endpoint's p99)")
        for process in daphnes:
            process_stop(process, group=True)
        crashes = sum(log.read_text(errors="replace").count("Traceback") for log in logs)
        if crashes:
            print(f"daphne logs: {crashes} traceback(s), kept in {folder}")
            ok = False
        keep_folder = not ok
        return 0 if ok else 1
    except (KeyboardInterrupt, Interrupted) as exc:
        say(f"interrupted ({str(exc) or 'SIGINT'}): stopping what was started")
        keep_folder = False
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in daphnes:
            with contextlib.suppress(Exception):
                process_stop(process, group=True)
        if pg is not None:
            pg.stop()
        if redis_server is not None:
            redis_server.stop()
        if keep_folder:
            say(f"kept {folder} (the daphnes' logs)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
