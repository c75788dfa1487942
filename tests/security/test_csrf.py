"""CSRF on every form: every page route of the site refuses a POST without the token from a signed-in browser
(403, Django's CSRF failure, nothing changed); every <form method="post"> the pages render carries the token; the
API refuses an unsafe call on a session without the token (and accepts it with one).

The routes come from the URL resolver, so a new page is checked without anyone adding it here; a route whose path
parameters this file cannot fill, or a view exempt from CSRF that is not listed below, fails the test.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from alerts.models import CitizenReport
from tests.security.conftest import World

pytestmark = pytest.mark.django_db

# Views that Django does not CSRF-check, each with the reason it is safe.
CSRF_EXEMPT = {
    # Telegram posts updates here; the request is authenticated by the secret path and the secret-token header.
    "bots/telegram/<str:path_secret>/": "Telegram's webhook (secret path + X-Telegram-Bot-Api-Secret-Token)",
}
# Django's admin: every admin view is wrapped in csrf_protect by AdminSite.admin_view; these stand for them all.
ADMIN_SAMPLE = ["admin/login/", "admin/logout/", "admin/password_change/", "admin/accounts/user/add/"]
# Values for the path parameters of the page routes (the ids come from the world, the rest are real values).
ACTIONS = {
    "console/alerts/<int:alert_id>/<slug:action>/": ["submit", "approve", "reject", "issue", "update", "cancel"],
    "console/shelters/<int:shelter_id>/<slug:action>/": ["check-in", "check-out", "status", "capacity", "head-count"],
}
OTHER_PARAMETERS = {"purpose": "location", "path_secret": "not-the-secret", "assignment_id": "1"}
CSRF_FAILURE = b"CSRF verification failed"


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def page_routes() -> list[tuple[str, URLPattern]]:
    """Every route that is not the API (DRF views: checked by SessionAuthentication, below) nor the admin."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            continue
        if route.startswith("admin/"):
            continue
        found.append((route, pattern))
    return found


def _urls(route: str, ids: dict[str, int]) -> list[str]:
    urls = ["/" + route]
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", route):
        if name == "action":
            values = ACTIONS.get(route)
            assert values, f"{route}: list the actions of this route in ACTIONS"
        elif name in ids:
            values = [str(ids[name])]
        elif name in OTHER_PARAMETERS:
            values = [OTHER_PARAMETERS[name]]
        else:
            raise AssertionError(f"{route}: no value for the path parameter {name!r}: add one to this test")
        placeholder = f"<{converter}:{name}>" if converter else f"<{name}>"
        urls = [url.replace(placeholder, value) for url in urls for value in values]
    return urls


def row_counts() -> dict[str, int]:
    """Rows of every table (sessions aside: signing in makes them), in one query."""
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy and model._meta.label_lower != "sessions.session"
        }
    )
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(f"SELECT '{table}', COUNT(*) FROM {quote(table)}" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def _browser(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_every_page_refuses_a_post_without_the_csrf_token(world: World):
    staff = _browser(world.staff)
    # The browser has a CSRF cookie, as after any page it has seen; only the token in the form is missing.
    assert staff.get("/login/").status_code in (200, 302)
    before = row_counts()
    checked = []
    for route, pattern in page_routes():
        if route in CSRF_EXEMPT:
            assert getattr(pattern.callback, "csrf_exempt", False), f"{route} is listed as exempt but is not"
            continue
        for url in _urls(route, world.ids):
            for body in ({}, {"csrfmiddlewaretoken": "forged-token-forged-token-forged-1"}):
                response = staff.post(url, body)
                assert response.status_code == 403, (url, body, response.status_code)
                assert CSRF_FAILURE in response.content, (url, response.content[:300])
            checked.append(url)
    assert row_counts() == before, "a POST refused for CSRF changed the database"
    # Every route was reached (a sanity check that the walk found the site's pages).
    assert len(checked) >= 50, checked
    assert "/login/" in checked
    assert "/signup/" in checked
    assert "/report/" in checked
    assert f"/console/shelters/{world.ids['shelter_id']}/check-in/" in checked
    assert "/console/assets/upload/" in checked


def test_no_page_is_exempt_from_csrf_unless_listed():
    exempt = {route for route, pattern in page_routes() if getattr(pattern.callback, "csrf_exempt", False)}
    # The asset upload is exempt at the outer view only to install its upload-size handler first; it checks the
    # token itself (csrf_protect), which the test above proves with a refused POST.
    assert exempt - {"console/assets/upload/"} == set(CSRF_EXEMPT)


def test_the_admin_refuses_a_post_without_the_csrf_token(world: World):
    world.staff.is_staff = True
    world.staff.is_superuser = True
    world.staff.save(update_fields=["is_staff", "is_superuser"])
    admin = _browser(world.staff)
    anonymous = Client(enforce_csrf_checks=True)
    before = row_counts()
    for route in ADMIN_SAMPLE:
        for who in (admin, anonymous):
            response = who.post("/" + route, {"username": "someone", "password": "x"})
            assert response.status_code == 403, (route, response.status_code)
            assert CSRF_FAILURE in response.content
    assert row_counts() == before


class _Forms(HTMLParser):
    """The POST forms of a page, each with the names of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self._open = {"action": attributes.get("action"), "method": (attributes.get("method") or "get").lower()}
            self._open["inputs"] = []
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None:
            self._open["inputs"].append((attributes.get("name"), attributes.get("value")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def test_every_post_form_on_the_pages_carries_the_csrf_token(world: World):
    staff = Client()
    staff.force_login(world.staff)
    resident = Client()
    resident.force_login(world.resident)
    anonymous = Client()
    forms_seen = 0
    pages = 0
    for route, _pattern in page_routes():
        if route in CSRF_EXEMPT:
            continue
        for url in _urls(route, world.ids):
            for who in (anonymous, resident, staff):
                response = who.get(url)
                if response.status_code != 200 or "text/html" not in response.headers.get("Content-Type", ""):
                    continue
                pages += 1
                parser = _Forms()
                parser.feed(response.content.decode())
                for form in parser.forms:
                    if form["method"] != "post":
                        continue
                    forms_seen += 1
                    tokens = [value for name, value in form["inputs"] if name == "csrfmiddlewaretoken"]
                    assert len(tokens) == 1, (url, form["action"])
                    assert tokens[0], (url, form["action"])
    # Enough pages and forms were looked at for the check to mean something.
    assert pages >= 25, pages
    assert forms_seen >= 25, forms_seen


def test_the_api_refuses_an_unsafe_call_on_a_session_without_the_csrf_token(world: World):
    browser = _browser(world.resident)
    page = browser.get("/report/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token is not None
    before = CitizenReport.objects.count()
    refused = browser.post("/api/alerts/reports/", {"text": "A tree fell on the road"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert CitizenReport.objects.count() == before
    # The same call with the token from the page goes through: it was the token that was missing.
    accepted = browser.post(
        "/api/alerts/reports/",
        {"text": "A tree fell on the road"},
        content_type="application/json",
        headers={"X-CSRFToken": token.group(1).decode()},
    )
    assert accepted.status_code == 201, accepted.content
    assert CitizenReport.objects.count() == before + 1
