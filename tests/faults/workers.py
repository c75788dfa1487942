"""The dispatch fault cases' machinery: a private redis-server, a Celery worker and beat on the test database, the
lane's PostgreSQL cluster, and the residents an alert targets.

The worker and beat run tests/faults/worker_settings.py: their broker and channel layer are the case's own
redis-server (which a case may restart), the only transport is the one the case names (the recording transport,
or the real telegram transport against the fake Bot API), and the recovery timings are seconds instead of minutes.
Every process writes its output under the test's tmp_path and is stopped by its own handle, also on failure.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Count

from accounts.models import ChannelIdentity, ChannelKind, Consent, ConsentPurpose, ResidentProfile, User
from alerts import tasks
from alerts.models import Alert, Delivery, DeliveryState
from alerts.services import lifecycle
from commsplatform.celery import app
from tests.alerts.factories import content_over, staff_for
from tests.factories import AreaTree
from tests.faults.report import fault_report

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def required(message: str) -> None:
    """Fail under `make test` (REQUIRE_SERVICES=1), skip elsewhere."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def stop_process(process: subprocess.Popen[bytes] | None, *, group: bool = False) -> None:
    """SIGTERM, then SIGKILL after a timeout: the process (and its group, for a Celery worker's pool)."""
    if process is None or process.poll() is not None:
        return
    send: Callable[[int], None] = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    send(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(10)


class RedisServer:
    """A private redis-server that keeps nothing on disk: a restart loses every queued task."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        """Killed (as a crash would) and started again on the same port."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        self.start()


def postgres_restart() -> None:
    """Restart the lane's PostgreSQL cluster (scripts/test.sh faults: TEST_PG_DATA, TEST_PG_BIN); `-m fast` ends
    every session at once, as a crash or a failover does to the clients."""
    data, binary = os.environ.get("TEST_PG_DATA"), os.environ.get("TEST_PG_BIN")
    if not data or not binary:
        required("needs TEST_PG_DATA and TEST_PG_BIN (scripts/test.sh faults)")
    command = [f"{binary}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "60", "restart"]
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)


@dataclass
class Stack:
    """A Celery worker (alerts, default and the transport's queue) and beat, on the test database."""

    redis: RedisServer
    folder: Path
    transport: str = "recording"
    extra_env: dict[str, str] = field(default_factory=dict)
    worker: subprocess.Popen[bytes] | None = None
    beat: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        db = connection.settings_dict
        database_url = f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.faults.worker_settings",
            "DATABASE_URL": database_url,
            "WORKER_REDIS_URL": self.redis.url,
            "FAULT_TRANSPORT": self.transport,
            "RECORDING_LOG_DIR": str(self.folder),
            **self.extra_env,
        }

    def _celery(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "commsplatform", *args, "--loglevel", "INFO"],
            cwd=REPO,
            env=self.env(),
            stdout=(self.folder / log).open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL reaches the pool children too
        )

    def start_worker(self) -> None:
        self.worker = self._celery(
            "worker",
            "--queues",
            f"alerts,default,deliveries.{self.transport}",
            "--concurrency",
            "2",
            "--hostname",
            f"faults-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            log="worker.log",
        )

    def start_beat(self) -> None:
        self.beat = self._celery("beat", "--schedule", str(self.folder / "beat-schedule"), log="beat.log")

    def kill_worker(self) -> None:
        """SIGKILL to the worker and its pool processes: no task gets to finish, acknowledge or clean up."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)

    def send_task(self, name: str, args: list[object], queue: str = "alerts") -> None:
        """Enqueue on the stack's own broker (the test process's Celery app points at the lane's Redis)."""
        with app.connection_for_write(self.redis.url) as broker:
            app.send_task(name, args=args, connection=broker, queue=queue)

    def stop(self) -> None:
        stop_process(self.worker, group=True)
        stop_process(self.beat, group=True)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """make(transport=..., extra_env=...): a private Redis, then a worker and beat on it."""
    started: list[Stack] = []

    def make(transport: str = "recording", extra_env: dict[str, str] | None = None) -> Stack:
        redis = RedisServer(tmp_path)
        redis.start()
        stack = Stack(redis=redis, folder=tmp_path, transport=transport, extra_env=extra_env or {})
        started.append(stack)
        stack.start_worker()
        stack.start_beat()
        return stack

    yield make
    for stack in started:
        stack.stop()
        stack.redis.stop()


def residents(count: int, *, kind: str = ChannelKind.WEB, first_chat_id: int = 700_000) -> list[int]:
    """`count` reachable residents inside the alert's rectangle, written in bulk (the services would take
    minutes); returns their user ids. Telegram residents get chat ids first_chat_id, first_chat_id + 1, ..."""
    password = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"resident-{n}", password=password, preferred_language="en") for n in range(count)]
    )
    ResidentProfile.objects.bulk_create(
        [
            ResidentProfile(user=user, home_location=Point(0.6 + (n % 100) * 0.01, 0.6 + (n // 100) * 0.01, srid=4326))
            for n, user in enumerate(users)
        ]
    )
    Consent.objects.bulk_create([Consent(user=user, purpose=ConsentPurpose.TERMS, version="1") for user in users])
    ChannelIdentity.objects.bulk_create(
        [
            ChannelIdentity(
                user=user,
                kind=kind,
                external_id=str(first_chat_id + n) if kind == ChannelKind.TELEGRAM else f"user:{user.pk}",
            )
            for n, user in enumerate(users)
        ]
    )
    # A city's residents arrive over time and autovacuum has analysed the tables long before an alert; rows written
    # in one go are not, and the planner would take the tables for empty. Analyse them as autovacuum would have.
    with connection.cursor() as cursor:
        for model in (User, ResidentProfile, Consent, ChannelIdentity):
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')
    return [user.pk for user in users]


def issue(tree: AreaTree, stack: Stack) -> Alert:
    """An alert over every resident, issued through the services; the dispatch the issue enqueues on commit goes
    to the stack's broker (this process's Celery app points at the lane's Redis, where no worker of ours listens)."""
    staff = staff_for(tree)
    alert = lifecycle.alert_draft_create(actor=staff.drafter, content=content_over(0.5, 0.5, 2, 2, hours=2))
    lifecycle.alert_submit(actor=staff.drafter, alert=alert)
    with mock.patch.object(tasks.dispatch, "delay", lambda alert_id: stack.send_task("alerts.dispatch", [alert_id])):
        return lifecycle.alert_approve(actor=staff.approver, alert=alert, issue=True)


def sent_rows(alert: Alert) -> int:
    return Delivery.objects.filter(alert=alert, state=DeliveryState.SENT).count()


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_SECONDS, alert: Alert | None = None
) -> None:
    """Poll until condition() holds; on time out, say where the alert's deliveries stand."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + _standing(alert))
        time.sleep(POLL_SECONDS)


def _standing(alert: Alert | None) -> str:
    if alert is None:
        return ""
    states = Delivery.objects.filter(alert=alert).values("state", "failed_reason").annotate(n=Count("pk"))
    return "; deliveries: " + ", ".join(f"{row['n']} {row['state']} {row['failed_reason']!r}" for row in states)


def recorded_sends(folder: Path) -> Counter[int]:
    """Physical sends of the recording transport, per recipient (every worker process's log)."""
    counts: Counter[int] = Counter()
    for log in folder.glob("sends-*.log"):
        for line in log.read_text().splitlines():
            recipient, _delivery = line.split()
            counts[int(recipient)] += 1
    return counts


def provider_lookups(folder: Path) -> int:
    """Resends the recording transport did not make because the provider had accepted them (RECORDING_LOOKUP)."""
    return sum(len(log.read_text().splitlines()) for log in folder.glob("lookups-*.log"))


def report_case(case: str, alert: Alert, recipients: list[int], physical: Counter[int], detail: str) -> None:
    """fault_report with the counts per recipient: delivered = one physical send and one sent delivery row."""
    rows = Counter(
        dict(
            Delivery.objects.filter(alert=alert, state=DeliveryState.SENT)
            .values("recipient_id")
            .annotate(n=Count("pk"))
            .values_list("recipient_id", "n")
        )
    )
    alert.refresh_from_db()
    assert alert.targeted_count == len(recipients), "the alert did not target every resident"
    retried = Delivery.objects.filter(alert=alert, attempts__gt=1).count()
    unrecorded = sum(1 for r in recipients if physical[r] >= 1 and rows[r] == 0)
    fault_report(
        case,
        targeted=len(recipients),
        delivered=sum(1 for r in recipients if physical[r] == 1 and rows[r] == 1),
        lost=sum(1 for r in recipients if physical[r] == 0),
        duplicated=sum(1 for r in recipients if physical[r] > 1 or rows[r] > 1),
        detail=f"{detail}; {retried} deliveries took more than one attempt"
        + (f"; {unrecorded} sent but not recorded as sent" if unrecorded else ""),
    )
