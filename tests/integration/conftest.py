"""The multi-process integration lane (`make test-integration`): one stack for the package, as a scaled-out
deployment runs — two daphne processes and a Celery worker per production queue family (tests/stack.py) on the
pytest-django test database (PostGIS in the lane) and a Redis database of this lane's own."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings

from tests.stack import Stack, database_url, redis_url_for_db, sharing_the_stack, worker_families

# The stack's broker, results and channel layer: a Redis database no other lane's test uses.
INTEGRATION_REDIS_DB = 10


@pytest.fixture(scope="package")
def stack(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the integration lane needs a running Redis at {settings.REDIS_URL} ({exc})")
    with django_db_blocker.unblock():
        url = database_url()
    if not url.startswith("postgis"):
        message = "the multi-process stack runs on PostGIS (scripts/test.sh integration)"
        if os.environ.get("TEST_LANE") in ("integration", "faults"):
            pytest.fail(message)
        pytest.skip(message)
    redis_url = redis_url_for_db(INTEGRATION_REDIS_DB)
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(
        tmp_path_factory.mktemp("stack"), database_url=url, redis_url=redis_url, families=worker_families().values()
    )
    try:
        stack.start()
        with sharing_the_stack(redis_url):
            yield stack
    finally:
        stack.stop()
