"""Dispatch at city scale: issue → every delivery written and queued → drained through the websocket transport.

    .venv/bin/python bench/dispatch.py --recipients 100000

Starts its own PostgreSQL 15 + PostGIS cluster (or, with --db spatialite, a SpatiaLite temp file) and its own
redis-server (broker, results and channel layer), imports New York City's boroughs from the shared data (or
made-up squares), writes N residents living in one borough, each with a web identity, and gives each one's
browser group (alerts.events.user_group) one member channel, so that every group_send writes a real message.
Then it starts ONE real Celery worker on the alerts and deliveries.websocket queues and, per run, issues an
alert over that borough through the two-person flow (drafted, submitted, approved and issued by two people)
and measures from the database:

  all-queued   issue → every delivery written and enqueued (alert.dispatch_completed_at - issued_at);
  drain        deliveries sent per second, from the first claim to the last delivery recorded sent;
  ceiling      in the same run, just before and just after the pipeline (their mean), channel-layer
               group_send to the same groups with the transport's pattern (gathered batches of its batch
               size, as many in flight as it allows, as many processes as the worker has), one event loop
               per process, a message of the transport's: deliveries per second.

It prints each run, the medians, the ratio drain / ceiling and PASS/FAIL against the issue's targets
(all-queued <= 15 s; websocket deliveries >= 50 % of the raw ceiling). Everything it started is stopped at
the end by its own pid (the worker's process group, redis-server) or data directory (pg_ctl), whatever happens.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.servers import (  # noqa: E402 - the repository root must be importable first
    PostgresServer,
    RedisServer,
    django_env,
    django_setup,
    process_stop,
    say,
    shared_data_dir,
)

TARGET_ALL_QUEUED_SECONDS = 15.0
TARGET_RATIO = 0.5
DEFAULT_PG_PORT = 55494
DEFAULT_REDIS_PORT = 6402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000, help="residents inside the area (default 100000)")
    parser.add_argument("--db", choices=["postgis", "spatialite"], default="postgis")
    parser.add_argument("--data", help="shared data folder (default: SHARED_DATA_DIR or ../shared/data)")
    parser.add_argument("--runs", type=int, default=3, help="alerts issued one after the other (default 3)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes, and raw-loop processes")
    parser.add_argument("--prefetch-multiplier", type=int, default=4, help="the worker's --prefetch-multiplier")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for one run to drain")
    parser.add_argument(
        "--worker-db-reuse",
        type=int,
        default=0,
        metavar="N",
        help="let the worker keep its database connections for N tasks (CELERY_DB_REUSE_MAX; the project does not "
        "set it, so by default Celery closes them around every task)",
    )
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT)
    parser.add_argument("--redis-port", type=int, default=DEFAULT_REDIS_PORT)
    parser.add_argument("--raw-part", help=argparse.SUPPRESS)  # child mode: "index/parts/alert id/start at"
    return parser.parse_args()


# The raw ceiling (child processes) -------------------------------------------------------------------


def raw_part(spec: str) -> None:
    """Send this process's share of the alert's message to every resident's group: batches as the worker takes them."""
    index, parts, alert_id, start_at = spec.split("/")
    django_setup(dict(os.environ))
    from channels.layers import get_channel_layer

    from accounts.models import User
    from alerts import events
    from alerts.messages import alert_message
    from alerts.models import Alert
    from alerts.transports import transport_get

    alert = Alert.objects.get(pk=int(alert_id))
    transport = transport_get("websocket")
    batch_size = transport.batch_size
    in_flight = getattr(transport, "concurrency", batch_size)
    residents = User.objects.filter(username__startswith="bench-").order_by("pk").values_list("pk", flat=True)
    # A delivery id of the same size as the real ones (the message is the transport's, byte for byte in size).
    rows = [(1_000_000 + number, user_id) for number, user_id in enumerate(residents)]
    batches = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    mine = batches[int(index) :: int(parts)]
    payload = alert_message(alert, alert.infos.first().language)
    layer = get_channel_layer()

    async def send_all() -> tuple[float, float, int]:
        slots = asyncio.Semaphore(in_flight)

        async def one(pk: int, recipient_id: int) -> None:
            async with slots:
                message = {"type": "alert.message", "delivery_id": pk, **payload}
                await layer.group_send(events.user_group(recipient_id), message)

        await asyncio.sleep(max(float(start_at) - time.time(), 0))
        started = time.time()
        sent = 0
        for batch in mine:
            await asyncio.gather(*(one(pk, recipient_id) for pk, recipient_id in batch))
            sent += len(batch)
        return started, time.time(), sent

    started, ended, sent = asyncio.run(send_all())
    print(json.dumps({"started": started, "ended": ended, "sent": sent}))


# Setting up (parent) ---------------------------------------------------------------------------------


async def _members_add(user_ids: list[int]) -> list[str]:
    """One member channel in each person's browser group; returns the Redis keys their messages land in."""
    from channels.layers import get_channel_layer

    from alerts import events

    layer = get_channel_layer()
    keys: set[str] = set()
    step = 50  # concurrent commands each take a connection; the layer's pool allows 100
    for start in range(0, len(user_ids), step):
        channels = [await layer.new_channel() for _ in user_ids[start : start + step]]
        await asyncio.gather(
            *(
                layer.group_add(events.user_group(user_id), channel)
                for user_id, channel in zip(user_ids[start : start + step], channels, strict=True)
            )
        )
        keys.update(layer.prefix + layer.non_local_name(channel) for channel in channels)
    return sorted(keys)


def _flush(redis_url: str, keys: list[str]) -> None:
    """Drop the messages a phase left in the member channels (the groups stay)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _worker_start(env: dict[str, str], folder: Path, concurrency: int, prefetch: int) -> "subprocess.Popen[bytes]":
    celery = Path(sys.executable).parent / "celery"
    hostname = f"bench-{uuid.uuid4().hex[:8]}@%h"
    command = [
        *([str(celery)] if celery.exists() else [sys.executable, "-m", "celery"]),
        *("-A", "commsplatform", "worker", "-Q", "alerts,deliveries.websocket"),
        *("-c", str(concurrency), "--prefetch-multiplier", str(prefetch), "-P", "prefork"),
        *("-l", "WARNING", "--without-gossip", "--without-mingle", "--hostname", hostname),
    ]
    say(f"starting the worker: {' '.join(command[-18:])}")
    log = (folder / "worker.log").open("ab")
    # Its own session, so that stopping its process group reaches its pool processes too, and nothing else.
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    from commsplatform.celery import app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited; see {folder / 'worker.log'}")
        replies = app.control.ping(timeout=1.0)
        if any(hostname.split("@")[0] in name for reply in replies for name in reply):
            return worker
    raise RuntimeError("the worker did not answer a ping within 90 s")


@dataclass
class Run:
    all_queued: float
    all_sent: float
    drain_seconds: float
    drain_rate: float
    steady_rate: float
    end_to_end_rate: float
    sent: int
    other_states: dict[str, int]
    in_batches: float  # seconds from claim to recorded, summed over batches
    batches: int
    database: dict[str, float]  # PostgreSQL's own counters over the run: sessions opened, seconds active
    ceiling_rate: float = 0.0
    ceilings: tuple[float, float] = (0.0, 0.0)

    @property
    def ratio(self) -> float:
        return self.drain_rate / self.ceiling_rate if self.ceiling_rate else 0.0


def _issue(staff: Any, alert: Any) -> Any:
    """The two-person flow: the drafter submits, the approver approves and issues (dispatch is queued on commit)."""
    from alerts.services import lifecycle

    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    return lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)


def _database_activity() -> dict[str, float]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sessions, active_time / 1000.0, xact_commit FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        sessions, active, commits = cursor.fetchone()
    return {"sessions": float(sessions), "active_seconds": float(active), "commits": float(commits)}


def _pipeline(staff: Any, alert: Any, expected: int, timeout: float) -> Run:
    from django.db.models import Count, Max, Min

    from alerts.models import Alert, Delivery, DeliveryState

    database_before = _database_activity()
    alert = _issue(staff, alert)
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    unfinished = Delivery.objects.filter(alert=alert, state__in=[DeliveryState.QUEUED, DeliveryState.CLAIMED])
    # Cheap polls (an index probe once a second): the figures come from the rows' own timestamps afterwards.
    while True:
        time.sleep(1.0)
        completed = Alert.objects.filter(pk=alert.pk, dispatch_completed_at__isnull=False).exists()
        if completed and not unfinished.exists():
            break
        if time.monotonic() - last_report > 15:
            sent = Delivery.objects.filter(alert=alert, state=DeliveryState.SENT).count()
            say(f"  {sent:,} of {expected:,} sent")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"alert {alert.pk} did not drain within {timeout:.0f} s")
    database_after = _database_activity()
    alert = Alert.objects.get(pk=alert.pk)
    states = dict(Delivery.objects.filter(alert=alert).values_list("state").annotate(n=Count("pk")).order_by("state"))
    sent_rows = Delivery.objects.filter(alert=alert, state=DeliveryState.SENT)
    times = sent_rows.aggregate(first_claim=Min("claimed_at"), last_sent=Max("sent_at"))
    sent = states.get(DeliveryState.SENT, 0)
    if sent + sum(n for state, n in states.items() if state != DeliveryState.SENT) != expected:
        raise RuntimeError(f"alert {alert.pk}: expected {expected} deliveries, found {states}")
    assert alert.issued_at is not None
    assert alert.dispatch_completed_at is not None
    all_queued = (alert.dispatch_completed_at - alert.issued_at).total_seconds()
    all_sent = (times["last_sent"] - alert.issued_at).total_seconds()
    after_queued = sent_rows.filter(sent_at__gt=alert.dispatch_completed_at).count()
    # Each batch's claim → send → record, from its rows: how much of the worker's time batches took.
    batches = sent_rows.values("claim_token").annotate(claimed=Min("claimed_at"), recorded=Max("sent_at"))
    in_batches = sum((batch["recorded"] - batch["claimed"]).total_seconds() for batch in batches)
    drain = (times["last_sent"] - times["first_claim"]).total_seconds()
    return Run(
        all_queued=all_queued,
        drain_seconds=drain,
        all_sent=all_sent,
        drain_rate=sent / drain,
        steady_rate=after_queued / max(all_sent - all_queued, 1e-9),
        end_to_end_rate=sent / all_sent,
        sent=sent,
        other_states={state: n for state, n in states.items() if state != DeliveryState.SENT},
        in_batches=in_batches,
        batches=len(batches),
        database={key: database_after[key] - database_before[key] for key in database_after},
    )


def _ceiling(alert_id: int, env: dict[str, str], processes: int) -> float:
    start_at = time.time() + 8  # every process is set up (Django, ids, payload) before the first send
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--raw-part", f"{index}/{processes}/{alert_id}/{start_at}"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(processes)
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=900)
        if child.returncode:
            raise RuntimeError(f"a raw-loop process failed ({child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if min(result["started"] for result in results) < start_at - 0.5:
        raise RuntimeError("a raw-loop process started early")
    window = max(result["ended"] for result in results) - min(result["started"] for result in results)
    return sum(result["sent"] for result in results) / window


def main() -> int:
    args = _arguments()
    if args.raw_part:
        raw_part(args.raw_part)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="commsplatform-bench-dispatch."))
    server: PostgresServer | None = None
    redis_server: RedisServer | None = None
    worker: subprocess.Popen[bytes] | None = None
    runs: list[Run] = []
    try:
        redis_server = RedisServer(args.redis_port).start()
        if args.db == "postgis":
            server = PostgresServer(args.pg_port).start()
            database_url = server.url
        else:
            database_url = f"spatialite:///{folder / 'bench.sqlite3'}"
        env = django_env(database_url, redis_server.url)
        if args.worker_db_reuse:
            env["BENCH_CELERY_DB_REUSE_MAX"] = str(args.worker_db_reuse)
        django_setup(env)
        from django.core.management import call_command
        from django.db import connection

        from accounts.models import User
        from alerts.transports import transport_get
        from bench.population import (
            EVERYONE_REACHABLE,
            city_load,
            hurricane_alert_draft,
            residents_create,
            staff_create,
        )

        call_command("migrate", verbosity=0, interactive=False)
        city = city_load(shared_data_dir(args.data))
        area = city.districts[0]
        first = residents_create(count=args.recipients, inside=area, subscribe_to=city, mix=EVERYONE_REACHABLE)
        staff = staff_create(city.city)
        residents = User.objects.filter(pk__gte=first, username__startswith="bench-")
        user_ids = list(residents.order_by("pk").values_list("pk", flat=True))
        started = time.perf_counter()
        keys = asyncio.run(_members_add(user_ids))
        say(f"{len(user_ids):,} browser groups with one member channel each ({time.perf_counter() - started:.1f} s)")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('server_version'), postgis_lib_version()")
                version, postgis = cursor.fetchone()
            database = f"PostgreSQL {version.split()[0]} + PostGIS {postgis}"
        else:
            database = "SpatiaLite"
        worker = _worker_start(env, folder, args.concurrency, args.prefetch_multiplier)
        transport = transport_get("websocket")
        batch_size = transport.batch_size
        in_flight = getattr(transport, "concurrency", batch_size)

        print(f"dispatch benchmark: {len(user_ids):,} residents in {area.name} ({city.city.name}), on {database}")
        if city.note:
            print(f"note: {city.note}")
        if args.worker_db_reuse:
            print(f"note: the worker keeps its database connections for {args.worker_db_reuse} tasks (not the default)")
        print(
            f"one Celery worker: -Q alerts,deliveries.websocket -c {args.concurrency} -P prefork "
            f"--prefetch-multiplier {args.prefetch_multiplier}; websocket batches of {batch_size}; "
            f"raw ceiling: {args.concurrency} processes, one event loop each, asyncio.gather over batches of "
            f"{batch_size} group_send, at most {in_flight} in flight (as the transport)"
        )
        for number in range(1, args.runs + 1):
            # The ceiling is measured just before and just after the pipeline, and averaged, so that a
            # change in the machine's load during the run weighs on both sides alike.
            alert = hurricane_alert_draft(staff, area, imminent=False)
            _flush(redis_server.url, keys)
            say(f"run {number}: raw ceiling, before")
            before = _ceiling(alert.pk, env, args.concurrency)
            _flush(redis_server.url, keys)
            say(f"run {number}: issuing")
            run = _pipeline(staff, alert, len(user_ids), args.timeout)
            _flush(redis_server.url, keys)
            say(f"run {number}: raw ceiling, after")
            after = _ceiling(alert.pk, env, args.concurrency)
            run.ceiling_rate = (before + after) / 2
            run.ceilings = (before, after)
            runs.append(run)
            others = f", not sent: {run.other_states}" if run.other_states else ""
            print(
                f"run {number}: all queued {run.all_queued:6.2f} s | all sent {run.all_sent:6.1f} s | "
                f"drain {run.drain_rate:5.0f} deliveries/s (after all queued {run.steady_rate:.0f}/s, "
                f"issue→all sent {run.end_to_end_rate:.0f}/s) | "
                f"raw ceiling {run.ceiling_rate:5.0f}/s (before {run.ceilings[0]:.0f}, after {run.ceilings[1]:.0f}) | "
                f"ratio {run.ratio:.2f}{others}"
            )
            busy = run.in_batches / (args.concurrency * run.drain_seconds)
            print(
                f"       {run.batches} batches, {1000 * run.in_batches / run.batches:.0f} ms each from claim to "
                f"recorded; the worker's {args.concurrency} processes spent {busy:.0%} of the drain inside them"
            )
            if run.database:
                print(
                    f"       PostgreSQL: {run.database['sessions']:.0f} sessions opened, "
                    f"{run.database['commits']:.0f} commits, "
                    f"{run.database['active_seconds']:.1f} s executing statements"
                )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE alerts_delivery")  # what autovacuum would do between alerts
        connection.close()
    finally:
        if worker is not None:
            say("stopping the worker")
            process_stop(worker, group=True, timeout=30)
        if redis_server is not None:
            redis_server.stop()
        if server is not None:
            server.stop()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)

    queued = statistics.median(run.all_queued for run in runs)
    drain = statistics.median(run.drain_rate for run in runs)
    ceiling = statistics.median(run.ceiling_rate for run in runs)
    ratio = statistics.median(run.ratio for run in runs)
    print(f"\nmedians over {len(runs)} runs")
    print(f"issue → all queued: {queued:.2f} s (target <= {TARGET_ALL_QUEUED_SECONDS:.0f} s)")
    print(f"issue → all sent: {statistics.median(run.all_sent for run in runs):.1f} s")
    print(f"websocket deliveries: {drain:.0f}/s over the drain (first claim → last sent)")
    print(f"  once all were queued: {statistics.median(run.steady_rate for run in runs):.0f}/s")
    print(f"raw channel-layer group_send ceiling: {ceiling:.0f}/s")
    print(f"ratio websocket / ceiling: {ratio:.2f} (target >= {TARGET_RATIO:.2f})")
    queued_ok, ratio_ok = queued <= TARGET_ALL_QUEUED_SECONDS, ratio >= TARGET_RATIO
    print(f"target all-queued <= {TARGET_ALL_QUEUED_SECONDS:.0f} s: {'PASS' if queued_ok else 'FAIL'}")
    print(f"target websocket >= {TARGET_RATIO:.0%} of the raw ceiling: {'PASS' if ratio_ok else 'FAIL'}")
    return 0 if queued_ok and ratio_ok else 1


if __name__ == "__main__":
    sys.exit(main())
