"""A scaled-out deployment on loopback for multi-process tests: two daphne processes and Celery workers per queue
family, on the pytest-django test database and a Redis database of the caller's choosing.

`Stack(folder, database_url=…, redis_url=…)` runs, each in a process (and process group) of its own, with the
settings of tests/stack_settings.py (the test settings, with the broker, results and channel layer on that Redis
database):

- daphne `a` and `b` (names given by `daphnes=`), each on a free loopback port;
- one Celery worker per production queue family, read from deploy/workers/*.env (CELERY_QUEUES, and
  CELERY_CONCURRENCY capped at `max_concurrency` to spare the CI's two cores). The queue names are kept only when
  the settings define them (CELERY_TASK_QUEUES_NAMES): the deliveries worker serves every transport the test
  settings use (websocket, email, telegram). Two families are left out by default (SKIPPED_FAMILIES):
  `classifier` (the test settings turn the classifier off, CLASSIFIER_ENABLED=False, and its worker would load a
  transformers model) and `bots` (Telegram updates need a bot token and the fake Bot API; tests/bots covers it);
- beat, when asked (`beat=True`).

`start()` starts them all and waits until each daphne's /healthz says the database and Redis (and, when the stack
has workers, Celery) answer and each worker logs that it is ready; `kill(name)` sends SIGKILL (or another signal)
to a process's group, `restart(name)` starts it again and waits for it; `stop()` stops everything (SIGTERM, then
SIGKILL after a timeout), and is safe to call twice. Every process writes to `<folder>/<name>.log`; `log_tail()`
gives the end of each for failure messages.

`sharing_the_stack(redis_url)` points this test process's Celery producer and channel layer at the same Redis
database, so that what a test does through the services reaches the stack's processes.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection
from django.test import override_settings

REPO = Path(__file__).resolve().parents[1]
WORKER_FAMILIES_DIR = REPO / "deploy" / "workers"
SETTINGS_MODULE = "tests.stack_settings"
# Queue families not started by default, and why (see the module's docstring).
SKIPPED_FAMILIES = {
    "classifier": "the test settings switch the classifier off, and its worker would load a transformers model",
    "bots": "Telegram updates need a bot token and the fake Bot API (tests/bots)",
}
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """A free TCP port on loopback (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test database, once set up)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("spatialite"):
        return f"spatialite:///{db['NAME']}"
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def redis_url_for_db(db: int) -> str:
    """The run's Redis (settings.REDIS_URL) with another database number."""
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


@dataclass(frozen=True)
class WorkerFamily:
    """A production worker family: its queues and how many tasks it runs at once."""

    name: str
    queues: tuple[str, ...]
    concurrency: int


def worker_families(
    *, skip: Iterable[str] = tuple(SKIPPED_FAMILIES), max_concurrency: int = 2
) -> dict[str, WorkerFamily]:
    """The families of deploy/workers/worker-<name>.env, with the queues the settings define."""
    known = set(settings.CELERY_TASK_QUEUES_NAMES)
    families: dict[str, WorkerFamily] = {}
    for path in sorted(WORKER_FAMILIES_DIR.glob("worker-*.env")):
        name = path.stem.removeprefix("worker-")
        if name in set(skip):
            continue
        values: dict[str, str] = {}
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
        queues = tuple(q for q in values.get("CELERY_QUEUES", "").split(",") if q.strip() in known)
        if not queues:
            continue
        concurrency = max(1, min(int(values.get("CELERY_CONCURRENCY", "1")), max_concurrency))
        families[name] = WorkerFamily(name=name, queues=queues, concurrency=concurrency)
    return families


class Stack:
    """The stack's processes by name: `daphne-a`, `daphne-b`, `worker-<family>`, `beat`."""

    def __init__(
        self,
        folder: Path,
        *,
        database_url: str,
        redis_url: str,
        daphnes: Iterable[str] = ("a", "b"),
        families: Iterable[WorkerFamily] = (),
        beat: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.database_url = database_url
        self.redis_url = redis_url
        self.ports = {f"daphne-{name}": free_port() for name in daphnes}
        self.families = {f"worker-{family.name}": family for family in families}
        self.beat = beat
        self.extra_env = env or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}  # name -> how many times started (for the worker's ready line)

    # --- addresses ---

    def http_url(self, daphne: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[f'daphne-{daphne}']}{path}"

    def ws_url(self, daphne: str, path: str) -> str:
        return f"ws://127.0.0.1:{self.ports[f'daphne-{daphne}']}{path}"

    @property
    def names(self) -> list[str]:
        return [*self.ports, *self.families, *(["beat"] if self.beat else [])]

    def log_path(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    # --- processes ---

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MEDIA_ROOT": str(self.folder / "media"),
            "CELERY_BEAT_SCHEDULE_FILENAME": str(self.folder / "beat-schedule"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        for name in (
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "CHANNEL_LAYER_REDIS_URL",
        ):
            env.pop(name, None)
        return env

    def command(self, name: str) -> list[str]:
        if name in self.ports:
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.ports[name]),
                    "commsplatform.asgi:application"]  # fmt: skip
        celery = [sys.executable, "-m", "celery", "-A", "commsplatform"]
        if name in self.families:
            family = self.families[name]
            return [*celery, "worker", "-n", f"{family.name}-{uuid.uuid4().hex[:6]}@%h", "-Q", ",".join(family.queues),
                    "--concurrency", str(family.concurrency), "-O", "fair", "--without-gossip", "--without-mingle",
                    "--loglevel", "INFO"]  # fmt: skip
        if name == "beat":
            return [*celery, "beat", "--schedule", str(self.folder / "beat-schedule"), "--loglevel", "INFO"]
        raise KeyError(name)

    def start_process(self, name: str) -> None:
        """Start one process (not waiting for it); its output is appended to its log."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            raise RuntimeError(f"{name} is already running")
        self.starts[name] = self.starts.get(name, 0) + 1
        with self.log_path(name).open("ab") as log:
            log.write(f"\n=== start {self.starts[name]} of {name} ===\n".encode())
            log.flush()
            self.processes[name] = subprocess.Popen(
                self.command(name),
                cwd=REPO,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: a signal reaches a worker's pool processes too
            )

    def start(self) -> None:
        """Start every process and wait until all are ready."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            self.start_process(name)
        self.wait_ready()

    def _ready(self, name: str) -> bool:
        if name in self.ports:
            # /healthz answers 200 when the database, Redis and a Celery worker answer; a stack without workers
            # asks only for the first two.
            try:
                status, report = http_json("GET", f"http://127.0.0.1:{self.ports[name]}/healthz", timeout=5)
            except (urllib.error.URLError, OSError, ValueError):
                return False
            if status == 200:
                return True
            checks = report.get("checks", {}) if isinstance(report, dict) else {}
            needed = ("database", "redis") if not self.families else ("database", "redis", "celery")
            return all(checks.get(check, {}).get("status") == "ok" for check in needed)
        if name in self.families:
            # Celery logs "<hostname> ready." once it consumes; only this start's part of the log counts.
            text = self.log(name).rsplit(f"=== start {self.starts[name]} of {name} ===", 1)[-1]
            return " ready." in text
        return True

    def wait_ready(self, names: Iterable[str] | None = None, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until the daphnes answer /healthz with 200 and the workers consume; fail if one exits."""
        waiting = list(names if names is not None else self.names)
        deadline = time.monotonic() + timeout
        while waiting:
            for name in list(waiting):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {process.returncode}\n{self.log_tail()}")
                if self._ready(name):
                    waiting.remove(name)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready within {timeout:.0f} s: {', '.join(waiting)}\n{self.log_tail()}")
            time.sleep(0.25)

    def alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process's group (SIGKILL by default: no cleanup at all) and wait for it to end."""
        process = self.processes[name]
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        process.wait(STOP_TIMEOUT_SECONDS)

    def restart(self, name: str) -> None:
        """Stop the process if it runs, start it again and wait until it is ready."""
        self._stop_one(name)
        self.start_process(name)
        self.wait_ready([name])

    def _stop_one(self, name: str) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Stop every process: SIGTERM to all at once, then SIGKILL to those still there after the timeout."""
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(10)

    # --- logs ---

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 40, names: Iterable[str] | None = None) -> str:
        out = []
        for name in names if names is not None else self.names:
            tail = self.log(name).splitlines()[-lines:]
            out.append(f"--- {name} ({self.log_path(name)})\n" + "\n".join(tail))
        return "\n".join(out)

    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_stack(
    folder: Path, django_db_blocker: Any, *, redis_db: int, families: Iterable[WorkerFamily], lane: str
) -> Iterator[Stack]:
    """A started stack on the test database and Redis database `redis_db` (emptied first), shared with this process,
    stopped on the way out. It runs on PostGIS: elsewhere the test is skipped, or fails in `lane` (where it must run)
    and when Redis is not there."""
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        raise AssertionError(f"the multi-process stack needs a running Redis at {settings.REDIS_URL} ({exc})") from exc
    with django_db_blocker.unblock():
        url = database_url()
    if not url.startswith("postgis"):
        message = f"the multi-process stack runs on PostGIS (scripts/test.sh {lane})"
        if os.environ.get("TEST_LANE") in ("integration", "faults"):
            raise AssertionError(message)
        import pytest

        pytest.skip(message)
    redis_url = redis_url_for_db(redis_db)
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(folder, database_url=url, redis_url=redis_url, families=families)
    try:
        stack.start()
        with sharing_the_stack(redis_url):
            yield stack
    finally:
        stack.stop()


@contextmanager
def sharing_the_stack(redis_url: str) -> Iterator[None]:
    """Point this process's Celery producer and channel layer at the stack's Redis database."""
    from commsplatform.celery import app
    from commsplatform.settings.test import redis_channel_layers

    celery_app: Any = app  # private pools are reset below: typed loosely

    layers = redis_channel_layers(redis_url)

    def reconnect(broker_url: str) -> None:
        celery_app.conf.broker_url = broker_url
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None  # the connection and producer pools are made again for the new URL
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    reconnect(redis_url)
    with override_settings(CHANNEL_LAYERS=layers):  # channels drops its cached layers on setting_changed
        try:
            yield
        finally:
            reconnect(previous)


# --- clients ---


def session_cookie(user: Any) -> str:
    """A `Cookie` header value signed in as `user`, made as the login view would (the session row is in the
    shared database, so every daphne of the stack accepts it)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def basic_auth(username: str, password: str) -> str:
    return "Basic " + b64encode(f"{username}:{password}".encode()).decode()


def http_json(
    method: str, url: str, body: Any = None, *, authorization: str = "", timeout: float = 30.0
) -> tuple[int, Any]:
    """One real HTTP request with a JSON body; the status and the decoded JSON answer (None when empty)."""
    import json

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http on loopback)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http on loopback)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None


async def ws_connect(url: str, *, cookie: str) -> Any:
    """A real WebSocket client connection (the `websockets` package), signed in with a session cookie and sending
    the Origin a browser on that daphne would send (the ASGI app checks it against ALLOWED_HOSTS)."""
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    parts = urlsplit(url)
    origin = Origin(f"http://{parts.netloc}")
    return await connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=15)


async def ws_expect(ws: Any, predicate: Any, *, timeout: float = 20.0, what: str = "a frame") -> dict[str, Any]:
    """The next JSON frame for which `predicate(frame)` holds, skipping others; fails after `timeout` seconds."""
    import asyncio
    import json

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        try:
            raw = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout:.0f} s") from None
        frame = json.loads(raw)
        if isinstance(frame, dict) and predicate(frame):
            return frame
