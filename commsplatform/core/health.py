"""Reachability of the database, Redis and the Celery workers, each with a time limit."""

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection


def _timed(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = {"status": "ok", **check()}
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason is reported
        result = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict[str, Any]:
    timeout = settings.HEALTH_CHECK_TIMEOUT
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def _celery() -> dict[str, Any]:
    from commsplatform.celery import app

    timeout = settings.HEALTH_CHECK_TIMEOUT
    with app.connection_for_write() as conn:
        # Fail fast instead of retrying forever when the broker is away.
        conn.ensure_connection(max_retries=1, timeout=timeout)
        # One answer is enough to call Celery reachable; waiting for every worker would make each
        # health check last the whole time-out.
        replies = app.control.ping(timeout=timeout, connection=conn, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return {"workers_answered": len(replies)}


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    if checks["redis"]["status"] != "ok" and settings.CELERY_BROKER_URL == settings.REDIS_URL:
        checks["celery"] = {"status": "down", "error": "the broker (Redis) is unreachable"}
    else:
        checks["celery"] = _timed(_celery)
    healthy = all(c["status"] == "ok" for c in checks.values())
    return healthy, {"status": "ok" if healthy else "down", "checks": checks}
