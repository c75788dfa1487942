"""Throwaway servers for the benchmarks: a PostgreSQL 15 + PostGIS cluster and a redis-server, each on its own port.

They mirror scripts/test.sh: the cluster lives in a temporary directory, listens on 127.0.0.1 only, runs with
fsync off, and as root runs as the postgres user (PostgreSQL refuses root). Each is stopped by what started it:
`pg_ctl stop` on its own data directory, and the redis-server by its own pid.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_ROLE = "comms"
PG_PASSWORD = "comms-bench"  # noqa: S105 - a throwaway cluster on 127.0.0.1 that lives for one run
PG_DB = "comms"


def say(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port(start: int) -> int:
    """The first port from `start` upwards that nothing listens on."""
    port = start
    while port_in_use(port):
        port += 1
    return port


def _as_pg(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """A private PostgreSQL 15 cluster with PostGIS, a superuser role and a database for the benchmark."""

    def __init__(self, port: int, settings: dict[str, str] | None = None) -> None:
        self.port = free_port(port)
        self.settings = settings or {}
        self.folder: Path | None = None
        self.data: Path | None = None

    @property
    def url(self) -> str:
        return f"postgis://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{self.port}/{PG_DB}"

    def _psql(self, database: str, *statements: str) -> None:
        assert self.folder is not None
        command = [
            "psql",
            *("-h", str(self.folder), "-p", str(self.port), "-U", "postgres", "-d", database),
            *("-q", "-v", "ON_ERROR_STOP=1"),
        ]
        for statement in statements:
            command += ["-c", statement]
        subprocess.run(_as_pg(command), check=True, stdout=subprocess.DEVNULL)

    def start(self) -> "PostgresServer":
        self.folder = Path(tempfile.mkdtemp(prefix="commsplatform-bench-pg."))
        self.folder.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        say(f"starting PostgreSQL 15 on 127.0.0.1:{self.port} ({self.folder})")
        log = self.folder / "initdb.log"
        with log.open("wb") as out:
            initdb = [str(PG_BIN / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres"]
            initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]
            if subprocess.run(_as_pg(initdb), stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"initdb failed:\n{log.read_text()}")
        self.data = self.folder / "data"
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.folder}",
            # Durability is not needed for a throwaway benchmark database (as in scripts/test.sh).
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            *(f"-c {name}={value}" for name, value in self.settings.items()),
        ]
        started = subprocess.run(
            _as_pg(
                [
                    *(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log")),
                    *("-w", "-t", "60", "start", "-o", " ".join(options)),
                ]
            ),
            stdout=subprocess.DEVNULL,
        )
        if started.returncode:
            server_log = self.folder / "server.log"
            raise RuntimeError(f"PostgreSQL did not start:\n{server_log.read_text() if server_log.exists() else ''}")
        self._psql(
            "postgres",
            f"CREATE ROLE {PG_ROLE} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}'",
            f"CREATE DATABASE {PG_DB} OWNER {PG_ROLE}",
        )
        self._psql(PG_DB, "CREATE EXTENSION IF NOT EXISTS postgis")
        return self

    def stop(self) -> None:
        if self.data is not None and (self.data / "postmaster.pid").exists():
            say(f"stopping PostgreSQL on port {self.port}")
            subprocess.run(
                _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = self.data = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class RedisServer:
    """A private redis-server without persistence, stopped by its own pid."""

    def __init__(self, port: int) -> None:
        self.port = free_port(port)
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.folder = Path(tempfile.mkdtemp(prefix="commsplatform-bench-redis."))
        say(f"starting redis-server on 127.0.0.1:{self.port}")
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                *(binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)),
                *("--save", "", "--appendonly", "no", "--logfile", str(self.folder / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.folder / 'redis.log'}")
            if port_in_use(self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None:
            say(f"stopping redis-server (pid {self.process.pid})")
            process_stop(self.process)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.process = None
        self.folder = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def process_stop(process: "subprocess.Popen[bytes]", *, group: bool = False, timeout: float = 15.0) -> None:
    """TERM, then KILL after `timeout`: only for a process this benchmark started (`group`: its own session)."""
    if process.poll() is not None:
        return
    try:
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(5)
    except ProcessLookupError:
        pass


def django_env(database_url: str, redis_url: str | None = None) -> dict[str, str]:
    """The environment the benchmark's Django processes share (this one, its children, the Celery worker)."""
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="bench.settings", DATABASE_URL=database_url, DEBUG="false")
    env.setdefault("LOG_LEVEL", "WARNING")
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CHANNEL_LAYER_REDIS_URL"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process from `env` (call once, before importing models)."""
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def shared_data_dir(explicit: str | None) -> Path | None:
    """--data, else SHARED_DATA_DIR, else ../shared/data beside the repository; None when it is absent."""
    candidate = Path(explicit or os.environ.get("SHARED_DATA_DIR") or ROOT.parent / "shared" / "data")
    return candidate if candidate.is_dir() else None


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
