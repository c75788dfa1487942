"""Town hall fan-out: N real WebSocket clients in one room on one daphne with the Redis channel layer.

    .venv/bin/python bench/townhall.py --clients 2000            # about 13 min on 2 cores

The host posts official updates through its own WebSocket connection (the whole path: the consumer, the
service, the room's record, the per-viewer projection, the channel layer, every client's consumer). Between
two updates the benchmark sends the same-sized frame with a raw channels-redis `group_send` to the room's group,
which every consumer forwards untouched: the baseline, measured in the same run on the same connections.
Latency is from just before the host's frame (or the raw `group_send`) to its arrival at each client, on one
machine's clock. Prints p50/p99 of both per run, their ratio, lost messages, medians over the runs, and
PASS/FAIL against the issue's targets (p99 ≤ 1 s, p99 ≤ twice the raw p99, nothing lost).
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
)

DEFAULT_PG_PORT = 55496
DEFAULT_REDIS_PORT = 6496
DEFAULT_DAPHNE_PORT = 8496
UNUSABLE = "!"  # an unusable password hash: the residents sign in by their sessions only
SESSION_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # what Django's own session keys are made of
RAW_ID = 2**62  # above any real event id: consumers forward it like a live event


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2000, help="WebSocket clients in the room (default 2000)")
    parser.add_argument("--updates", type=int, default=50, help="official updates per run (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs over the same connections (default 3)")
    parser.add_argument("--client-processes", type=int, default=8, help="processes holding the clients (default 8)")
    parser.add_argument("--opening", type=int, default=1, help="handshakes in flight per client process (default 1)")
    # One daphne on 2 shared cores delivers one fan-out to 2,000 sockets in about a second: sends 1 s apart
    # queue up behind each other (latency then grows through the run), 2 s apart each is measured on its own.
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two sends (default 2.0)")
    parser.add_argument("--db", choices=["postgis", "spatialite"], default="postgis")
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT)
    parser.add_argument("--redis-port", type=int, default=DEFAULT_REDIS_PORT)
    parser.add_argument("--daphne-port", type=int, default=DEFAULT_DAPHNE_PORT)
    parser.add_argument("--client-part", help=argparse.SUPPRESS)  # child mode: a JSON file of its sessions
    return parser.parse_args()


# --- the client processes -----------------------------------------------------------------------------------


async def _client(url: str, cookie: str, origin: str, received: dict[str, float], ready: asyncio.Event,
                  stop: asyncio.Event, errors: list[str], opening: asyncio.Semaphore) -> None:  # fmt: skip
    from websockets.asyncio.client import connect

    try:
        # A few handshakes at a time per process: people arrive over a minute, not all in the same millisecond,
        # and daphne drops a handshake the application has not accepted within 5 s.
        await opening.acquire()
        try:
            ws = await connect(url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=60,
                               ping_interval=None, max_queue=None, close_timeout=5)  # fmt: skip
            welcome = json.loads(await ws.recv())
        finally:
            opening.release()
        async with ws:
            if welcome.get("type") != "welcome":
                errors.append(f"no welcome: {welcome}")
                return
            ready.set()
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                if '"bench-' not in text:
                    continue
                frame = json.loads(text)
                data = frame.get("data", {})
                tag = data.get("body", "") if frame.get("event") == "message.posted" else data.get("tag", "")
                # "bench-real-<run>-<n> <t0>" or "bench-raw-<run>-<n> <t0>"
                key, _space, sent = tag.partition(" ")
                if key.startswith("bench-") and key not in received:
                    received[key] = now - float(sent)
    except Exception as exc:  # noqa: BLE001 - a failed client is counted and reported, not fatal to the others
        errors.append(f"{type(exc).__name__}: {exc}"[:200])


async def _client_part(path: str) -> None:
    spec = json.loads(Path(path).read_text())
    stop = asyncio.Event()
    per_client: list[dict[str, float]] = [{} for _ in spec["cookies"]]
    errors: list[str] = []
    readies = [asyncio.Event() for _ in spec["cookies"]]
    opening = asyncio.Semaphore(spec["opening"])
    tasks = [
        asyncio.create_task(_client(spec["url"], cookie, spec["origin"], received, ready, stop, errors, opening))
        for cookie, received, ready in zip(spec["cookies"], per_client, readies, strict=True)
    ]
    # Each client is either in (welcomed) or out (failed).
    while not all(r.is_set() or t.done() for r, t in zip(readies, tasks, strict=True)):
        await asyncio.sleep(0.2)
    print(json.dumps({"ready": sum(r.is_set() for r in readies), "errors": errors[:5]}), flush=True)
    # The coordinator closes our stdin when the runs are over.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await asyncio.gather(*tasks)
    print(json.dumps({"received": per_client, "errors": errors[:20], "failed": len(errors)}), flush=True)


# --- the coordinator ----------------------------------------------------------------------------------------


@dataclass
class Run:
    real: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    lost_real: int = 0
    lost_raw: int = 0

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _setup(clients: int) -> tuple[int, list[str], str]:
    """The city, the host, N residents with sessions, and the town hall; returns room id, cookies, host cookie."""
    from django.conf import settings
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts import services as accounts
    from accounts.models import AreaLevel, Role, User
    from rooms import services as rooms

    city = accounts.area_create(actor=None, name="Bench City", code="BC", level=AreaLevel.CITY,
                                geometry=MultiPolygon(Polygon.from_bbox((0, 0, 1, 1)), srid=4326))  # fmt: skip
    organisation = accounts.organisation_create(actor=None, name="Bench CP", kind="civil_protection", area=city)
    host = accounts.user_create(username="bench-host", password=None)  # signs in by its session only
    accounts.membership_grant(actor=None, user=host, organisation=organisation, role=Role.OFFICIAL, area=city)
    users = User.objects.bulk_create([User(username=f"bench-{i}", password=UNUSABLE) for i in range(clients)])
    users = list(User.objects.filter(username__startswith="bench-").exclude(pk=host.pk).order_by("pk"))
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    sessions, cookies = [], []
    for user in [host, *users]:
        key = get_random_string(32, SESSION_KEY_CHARS)
        data = {"_auth_user_id": str(user.pk), "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
                "_auth_user_hash": user.get_session_auth_hash()}  # fmt: skip
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={key}")
    Session.objects.bulk_create(sessions, batch_size=1000)
    room = rooms.room_create(actor=host, title="Bench town hall", kind="town_hall", visibility="public", area=city)
    return room.pk, cookies[1:], cookies[0]


def _daphne_start(env: dict[str, str], port: int, folder: Path) -> "subprocess.Popen[bytes]":
    log = (folder / "daphne.log").open("wb")
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull,
               "commsplatform.asgi:application"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{(folder / 'daphne.log').read_text()[-3000:]}")
        if port_in_use(port):
            return process
        time.sleep(0.1)
    raise RuntimeError("daphne did not listen")


async def _rounds(args: argparse.Namespace, room_id: int, url: str, origin: str, host_cookie: str,
                  run_number: int) -> list[str]:  # fmt: skip
    """One run: `updates` official posts by the host, each followed by a raw group_send; returns their keys."""
    from channels.layers import get_channel_layer
    from websockets.asyncio.client import connect

    from rooms.events import room_group

    layer = get_channel_layer()
    assert layer is not None
    keys = []
    async with connect(url, additional_headers={"Cookie": host_cookie, "Origin": origin}, max_queue=None,
                       ping_interval=None) as host:  # fmt: skip
        await host.recv()  # welcome
        drain = asyncio.create_task(_drain(host))
        for n in range(args.updates):
            key = f"bench-real-{run_number}-{n}"
            body = f"{key} {time.time():.6f}"
            await host.send(json.dumps({"type": "message.post", "kind": "official", "body": body}))
            keys.append(key)
            await asyncio.sleep(args.interval)
            key = f"bench-raw-{run_number}-{n}"
            # The same shape and size as a real update's frame, serialised once, forwarded as is.
            tag = f"{key} {time.time():.6f}"
            data = {"tag": tag, "kind": "official", "body": tag}
            frame = json.dumps({"type": "event", "id": RAW_ID, "event": "bench.raw", "at": "", "actor_id": None,
                                "data": data}, separators=(",", ":"))  # fmt: skip
            await layer.group_send(room_group(room_id), {"type": "room.event", "id": RAW_ID, "public": frame,
                                                         "moderator": frame})  # fmt: skip
            keys.append(key)
            await asyncio.sleep(args.interval)
        drain.cancel()
    return keys


async def _drain(ws: object) -> None:
    while True:
        await ws.recv()  # type: ignore[attr-defined]


def main() -> int:
    args = _arguments()
    if args.client_part:
        asyncio.run(_client_part(args.client_part))
        return 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.clients + 1000:
        say(f"open-file limit {hard} is low for {args.clients} clients")
    folder = Path(tempfile.mkdtemp(prefix="commsplatform-bench-townhall."))
    pg: PostgresServer | None = None
    redis_server: RedisServer | None = None
    daphne: subprocess.Popen[bytes] | None = None
    children: list[subprocess.Popen[str]] = []
    keep_folder = True
    try:
        redis_server = RedisServer(args.redis_port).start()
        if args.db == "postgis":
            pg = PostgresServer(args.pg_port, settings={"max_connections": "100"}).start()
            database_url = pg.url
        else:
            database_url = f"spatialite:///{folder / 'bench.sqlite3'}"
        env = django_env(database_url, redis_server.url)
        django_setup(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()
        room_id, cookies, host_cookie = _setup(args.clients)
        say(f"{args.clients} residents with sessions, one town hall ({time.perf_counter() - started:.1f} s)")
        port = free_port(args.daphne_port)
        daphne = _daphne_start(env, port, folder)
        url, origin = f"ws://127.0.0.1:{port}/ws/rooms/{room_id}/", f"http://127.0.0.1:{port}"
        parts = [cookies[i :: args.client_processes] for i in range(args.client_processes)]
        started = time.perf_counter()
        for index, part in enumerate(parts):
            spec = folder / f"clients-{index}.json"
            spec.write_text(json.dumps({"url": url, "origin": origin, "cookies": part, "opening": args.opening}))
            children.append(subprocess.Popen([sys.executable, __file__, "--client-part", str(spec)], env=env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))  # fmt: skip
        connected = 0
        for child in children:
            assert child.stdout is not None
            line = json.loads(child.stdout.readline())
            connected += line["ready"]
            if line["errors"]:
                say(f"client errors: {line['errors']}")
        say(f"{connected} of {args.clients} clients connected ({time.perf_counter() - started:.1f} s)")
        time.sleep(3)  # let the presence pushes of the arrivals settle
        all_keys: list[list[str]] = []
        for number in range(1, args.runs + 1):
            say(f"run {number}: {args.updates} updates and {args.updates} raw sends, {args.interval} s apart")
            all_keys.append(asyncio.run(_rounds(args, room_id, url, origin, host_cookie, number)))
        time.sleep(3)
        received: list[dict[str, float]] = []
        failed = 0
        for child in children:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.close()
            result = json.loads(child.stdout.read().strip().splitlines()[-1])
            received += result["received"]
            failed += result["failed"]
            child.wait(60)
        runs = []
        for keys in all_keys:
            run = Run()
            for key in keys:
                is_raw = key.startswith("bench-raw")
                for client in received:
                    if key in client:
                        (run.raw if is_raw else run.real).append(client[key])
                    elif is_raw:
                        run.lost_raw += 1
                    else:
                        run.lost_real += 1
            runs.append(run)
        status = _report(args, runs, connected, failed, database_url)
        time.sleep(5)  # the clients have closed: let daphne finish their disconnects
        process_stop(daphne, group=True)
        crashes = (folder / "daphne.log").read_text(errors="replace").count("Exception inside application")
        print(f"daphne: {crashes} connection(s) ended by an exception (see its log)")
        status = status or (1 if crashes else 0)
        keep_folder = status != 0
        return status
    finally:
        for child in children:
            process_stop(child)  # type: ignore[arg-type]
        if daphne is not None:
            process_stop(daphne, group=True)
        if pg is not None:
            pg.stop()
        if redis_server is not None:
            redis_server.stop()
        if keep_folder:
            say(f"kept {folder} (daphne.log) for a look at what failed")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _report(args: argparse.Namespace, runs: list[Run], connected: int, failed: int, database_url: str) -> int:
    database = "PostgreSQL + PostGIS" if database_url.startswith("postgis") else "SpatiaLite"
    print(f"town hall benchmark: {connected} WebSocket clients in {args.client_processes} processes, one daphne, "
          f"Redis channel layer, {database}; {args.updates} official updates per run, each followed by a raw "
          f"group_send of the same size, {args.interval} s apart")  # fmt: skip
    if failed:
        print(f"clients that failed: {failed}")
    rows = []
    for number, run in enumerate(runs, 1):
        row = (Run.pct(run.real, 0.5), Run.pct(run.real, 0.99), Run.pct(run.raw, 0.5), Run.pct(run.raw, 0.99))
        rows.append(row)
        print(f"run {number}: updates p50 {row[0] * 1000:7.1f} ms p99 {row[1] * 1000:7.1f} ms | raw group_send "
              f"p50 {row[2] * 1000:7.1f} ms p99 {row[3] * 1000:7.1f} ms | p99 ratio {row[1] / row[3]:.2f} | "
              f"lost {run.lost_real} updates, {run.lost_raw} raw")  # fmt: skip
    p50, p99, raw50, raw99 = (statistics.median(r[i] for r in rows) for i in range(4))
    lost = sum(r.lost_real for r in runs)
    ratio = statistics.median(r[1] / r[3] for r in rows)
    print(f"median of {len(runs)} runs: updates p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; raw p50 "
          f"{raw50 * 1000:.1f} ms, p99 {raw99 * 1000:.1f} ms; p99 ratio {ratio:.2f}; updates lost {lost}")  # fmt: skip
    ok = p99 <= 1.0 and ratio <= 2.0 and lost == 0 and connected == args.clients
    print(f"{'PASS' if ok else 'FAIL'} (target: p99 <= 1 s, p99 <= 2x raw, 0 lost, all {args.clients} connected)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
