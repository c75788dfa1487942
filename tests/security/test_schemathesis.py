"""Schemathesis against the OpenAPI schema (/api/schema/), in process through Django's WSGI application.

Every operation of the schema gets generated requests as an anonymous caller, as a signed-in member of staff who
holds every role over a city with data in it (areas, an issued alert, a report, a shelter, a room, a route, an
asset, so that the ids the generated requests name often exist), and as a resident of that city. Each response
must not be a server error, must carry a status code the schema lists for the operation, and its body must conform
to the schema.

Bounded for CI: a few examples per operation, derandomized (the same requests on every run), no deadline, no
example database on disk.
"""

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.security.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db

# Examples per operation: the signed-in run goes deeper than the anonymous one (mostly 401s). Alert content
# (infos with areas of polygons) is slow to generate, about 2 s an example: those operations get fewer.
MAX_EXAMPLES = {"anonymous": 4, "staff": 8, "resident": 4}
HEAVY_EXAMPLES = 2
HEAVY = {
    "POST /api/alerts/",
    "PUT /api/alerts/{alert_id}/",
    "POST /api/alerts/{alert_id}/update/",
    "POST /api/alerts/templates/",
    "PUT /api/alerts/templates/{template_id}/",
}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db: None) -> Iterator[Any]:
    """The schema as the application serves it, and the application to call, inside the test's transaction.

    As Django's test client does, the handler's signals do not close the test's database connection between
    requests (it holds the transaction that the test rolls back).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        # The handler itself: get_wsgi_application() would run django.setup() again, which reconfigures logging.
        yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def _strategy(operation: Any, ids: dict[str, int]) -> Any:
    """Generated requests; for an operation with ids in its path, half of them name objects that exist."""
    random_ids = operation.as_strategy()
    names = [parameter.name for parameter in operation.path_parameters]
    known = {name: ids[name] for name in names if name in ids}
    if not names or len(known) != len(names):
        return random_ids
    return st.one_of(random_ids, operation.as_strategy(path_parameters=known))


def _run(schema: Any, world: World, caller: str, headers: dict[str, str]) -> list[str]:
    failures: list[str] = []
    for operation in _operations(schema):

        @settings(
            max_examples=HEAVY_EXAMPLES if operation.label in HEAVY else MAX_EXAMPLES[caller],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, world.ids))
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        # Every operation is exercised; their failures are reported together.
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
            failures.append(f"{operation.label}: {exc}")
    return failures


def test_anonymous_requests_get_no_server_error_and_conform_to_the_schema(api_schema, world):
    failures = _run(api_schema, world, "anonymous", headers={})
    assert not failures, "\n\n".join(failures)


def _basic(username: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()}


def test_staff_requests_get_no_server_error_and_conform_to_the_schema(api_schema, world):
    failures = _run(api_schema, world, "staff", headers=_basic(world.staff.username))
    assert not failures, "\n\n".join(failures)


def test_resident_requests_get_no_server_error_and_conform_to_the_schema(api_schema, world):
    """A resident with a home, consents and a report: their own endpoints (/me/...) answer with their data."""
    failures = _run(api_schema, world, "resident", headers=_basic(world.resident.username))
    assert not failures, "\n\n".join(failures)
