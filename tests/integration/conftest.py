"""The multi-process integration lane (`make test-integration`): one stack for the package, as a scaled-out
deployment runs — two daphne processes and a Celery worker per production queue family (tests/stack.py) on the
pytest-django test database (PostGIS in the lane) and a Redis database of this lane's own."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import Stack, running_stack, worker_families

# The stack's broker, results and channel layer: a Redis database no other lane's test uses.
INTEGRATION_REDIS_DB = 10


@pytest.fixture(scope="package")
def stack(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory.mktemp("stack"),
        django_db_blocker,
        redis_db=INTEGRATION_REDIS_DB,
        families=worker_families().values(),
        lane="integration",
    ) as stack:
        yield stack
