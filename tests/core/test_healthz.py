"""/healthz against the real services: a real Redis and a real Celery worker process."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from commsplatform.celery import app as celery_app
from tests.conftest import REPO_ROOT


def _start_worker(redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "commsplatform.settings.test",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "commsplatform",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "default",
            "-n",
            f"healthz-test-{os.getpid()}@%h",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "info",
        ],
        cwd=REPO_ROOT,
        env=env,
        # Into the run's basetemp, where the log scan for personal data reads it (tests/personal_data.py).
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[None]:
    process = _start_worker(redis_url, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if celery_app.control.ping(timeout=0.5):
                break
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with status {process.returncode}")
        else:
            pytest.fail("the Celery worker did not answer a ping within 60 s")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_no_worker_answers() -> None:
    deadline = time.monotonic() + 20
    while celery_app.control.ping(timeout=0.5) and time.monotonic() < deadline:
        pass


@pytest.mark.services
@pytest.mark.django_db
def test_all_ok_with_database_redis_and_a_worker(client, worker):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "celery": "ok",
    }
    assert body["checks"]["celery"]["workers_answered"] >= 1


@pytest.mark.services
@pytest.mark.django_db
def test_503_names_the_missing_worker(client, redis_url):
    _wait_until_no_worker_answers()

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] == "down"
    assert "no Celery worker" in body["checks"]["celery"]["error"]


@pytest.mark.django_db
def test_503_when_redis_is_unreachable(client):
    closed = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with override_settings(REDIS_URL=closed, CELERY_BROKER_URL=closed):
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["celery"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert elapsed < 10, "a dead Redis must not hang the health check"


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_nul_characters_in_the_address_are_refused(client) -> None:
    response = client.get("/api/alerts/feed.atom", {"area": "1\x00"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_value"
