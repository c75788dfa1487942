"""The OpenAPI schema: it is served, it validates, and no endpoint in it answers anonymous callers
unless it is meant to be public."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

# (method, path) pairs that anyone may call without signing in.
PUBLIC = {
    ("get", "/api/accounts/areas/"),
    ("get", "/api/accounts/areas/{area_id}/"),
    ("get", "/api/alerts/feed.atom"),
    # Where shelters and evacuation routes are, and whether they have room, is public safety information.
    ("get", "/api/shelters/"),
    ("get", "/api/shelters/routes/"),
}


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
    url = re.sub(r"\{[^}]+\}", str(tree.city_a.pk), path)
    if "{purpose}" in path or "{kind}" in path:
        url = re.sub(r"\{[^}]+\}", "location", path)

    response = getattr(api, method)(url, {}, format="json")

    if (method, path) in PUBLIC:
        assert response.status_code < 400, f"{method.upper()} {path} is public but answered {response.status_code}"
    else:
        assert response.status_code == 401, f"{method.upper()} {path} answered {response.status_code} anonymously"
        assert "WWW-Authenticate" in response.headers


def test_every_endpoint_is_checked():
    # The parametrised test above must see the whole API, not an empty list.
    assert len(_operations()) >= 30
