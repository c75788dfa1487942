"""Fixtures shared by every test: API clients, an area tree, and access to the real services."""

import os
from pathlib import Path

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import AreaTree, make_area_tree

# No personal data in logs: records the residents' data the run creates, captures every log record, and scans the
# run's logs at the end (tests/personal_data.py).
pytest_plugins = ["tests.personal_data"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR = Path(os.environ.get("SHARED_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def _services_required() -> bool:
    # `make test` sets this: there, a missing service is a failure, not a reason to skip.
    return os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.fixture
def shared_data_dir() -> Path:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"needs the shared data folder {SHARED_DATA_DIR} (absent on this checkout)")
    return SHARED_DATA_DIR


@pytest.fixture
def redis_url() -> str:
    """The URL of the real Redis the test run started; skipped (or failed under make test) without it."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"needs a running Redis at {settings.REDIS_URL} ({exc})"
        if _services_required():
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return settings.REDIS_URL


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def tree(db: None) -> AreaTree:
    return make_area_tree()
