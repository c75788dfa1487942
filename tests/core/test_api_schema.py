"""The OpenAPI schema: it is served, it validates, and no endpoint in it answers anonymous callers
unless it is meant to be public."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from accounts.models import Role
from rooms.models import Room
from rooms.services import room_create
from tests.factories import AreaTree, UserFactory, grant

# (method, path) pairs that anyone may call without signing in.
PUBLIC = {
    ("get", "/api/accounts/areas/"),
    ("get", "/api/accounts/areas/{area_id}/"),
    ("get", "/api/alerts/feed.atom"),
    # Where shelters and evacuation routes are, and whether they have room, is public safety information.
    ("get", "/api/shelters/"),
    ("get", "/api/shelters/{shelter_id}/"),
    ("get", "/api/shelters/routes/"),
    ("get", "/api/shelters/routes/{route_id}/"),
    # The public transcript of a public room: the record of what officials said is open to everyone.
    ("get", "/api/rooms/{room_id}/transcript/"),
}


def _public_room(tree: AreaTree) -> Room:
    host = UserFactory.create(username="schema-host")
    grant(host, Role.OFFICIAL, tree.city_a, tree.organisation)
    return room_create(actor=host, title="Schema", kind="town_hall", visibility="public", area=tree.city_a)


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations() -> list[tuple[str, str]]:
    ops = []
    for path, item in _schema()["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                ops.append((method, path))
    return sorted(ops)


def test_schema_validates_against_openapi():
    validate_schema(_schema())


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_endpoint_answers_anonymous_callers_unless_public(api, tree, method, path):
    if "{room_id}" in path:
        # A public room that exists, so that a public endpoint of rooms has something to answer about.
        path_with_room = path.replace("{room_id}", str(_public_room(tree).pk))
    else:
        path_with_room = path
    url = re.sub(r"\{[^}]+\}", str(tree.city_a.pk), path_with_room)
    if "{purpose}" in path or "{kind}" in path:
        url = re.sub(r"\{[^}]+\}", "location", path)

    response = getattr(api, method)(url, {}, format="json")

    if (method, path) in PUBLIC:
        # An id that names no such object (an area's id stands in for it) is answered, with 404, not refused.
        answered = response.status_code < 400 or (response.status_code == 404 and "{" in path_with_room)
        assert answered, f"{method.upper()} {path} is public but answered {response.status_code}"
    else:
        assert response.status_code == 401, f"{method.upper()} {path} answered {response.status_code} anonymously"
        assert "WWW-Authenticate" in response.headers


def test_every_endpoint_is_checked():
    # The parametrised test above must see the whole API, not an empty list.
    assert len(_operations()) >= 30
