"""Security headers on every kind of response: HTML pages, API JSON, error pages (404, 403, 500), redirects,
static files and the API docs; the pages carry no inline script (the Content-Security-Policy forbids it); and
under the production settings, HSTS, secure cookies and the HTTPS redirect."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from accounts.models import Role
from tests.factories import AreaTree, UserFactory, grant

ROOT = Path(__file__).resolve().parents[2]


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def _forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


# The site's routes, and two that fail (for the 403 and 500 pages), used as ROOT_URLCONF by the error-page test.
urlpatterns = [
    path("security-test/boom/", _boom),
    path("security-test/forbidden/", _forbidden),
    path("", include("commsplatform.urls")),
]


def assert_security_headers(response: Any, what: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", what
    policy = headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("default-src") == ["'self'"], (what, policy)
    assert directives.get("script-src") == ["'self'"], (what, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (what, policy)
    assert directives.get("object-src") == ["'none'"], (what, policy)
    if what != "/api/docs/":  # Swagger UI's page keeps an inline <style> (commsplatform/urls.py)
        assert "'unsafe-inline'" not in directives.get("style-src", []), (what, policy)
    assert "'unsafe-eval'" not in policy, (what, policy)


@pytest.fixture
def resident_client(tree: AreaTree) -> Client:
    client = Client()
    client.force_login(UserFactory.create(username="header-resident"))
    return client


@pytest.fixture
def staff_client(tree: AreaTree) -> Client:
    staff = UserFactory.create(username="header-staff")
    for role in (Role.ALERT_DRAFTER, Role.SHELTER_MANAGER, Role.OFFICIAL, Role.MODERATOR, Role.AUDITOR):
        grant(staff, role, tree.city_a, tree.organisation)
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/login/", 200),
        ("/signup/", 200),
        ("/", 200),
        ("/shelters/", 200),
        ("/api/accounts/areas/", 200),
        ("/api/alerts/feed.atom", 200),
        ("/api/accounts/me/", 401),
        ("/api/schema/", 200),
        ("/api/docs/", 200),
        ("/healthz", None),
        ("/no-such-page/", 404),
        ("/api/alerts/999999/", 401),
        ("/me/", 302),
    ],
)
def test_anonymous_responses_carry_the_security_headers(client, url, status):
    response = client.get(url)
    if status is not None:
        assert response.status_code == status, (url, response.status_code)
    assert_security_headers(response, url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/me/", "/report/", "/rooms/", "/shelters/", "/api/accounts/me/"])
def test_signed_in_pages_carry_the_security_headers(resident_client, url):
    response = resident_client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert_security_headers(response, url)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_error_pages_carry_the_security_headers():
    client = Client(raise_request_exception=False)
    server_error = client.get("/security-test/boom/")
    assert server_error.status_code == 500
    assert_security_headers(server_error, "500")
    forbidden = client.get("/security-test/forbidden/")
    assert forbidden.status_code == 403
    assert_security_headers(forbidden, "403")
    bad_method = client.get("/logout/")
    assert bad_method.status_code == 405
    assert_security_headers(bad_method, "405")


@pytest.mark.django_db
def test_static_files_carry_the_security_headers():
    # Served by whitenoise, as in the single-machine deployment (behind nginx in the scaled one).
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        client = Client()
        for url in ("/static/web/site.css", "/static/vendor/leaflet/leaflet.js", "/static/web/map.js"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert_security_headers(response, url)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.django_db
def test_pages_have_no_inline_script_for_the_policy_to_block(client, resident_client, staff_client):
    pages = [
        (client, "/login/"),
        (client, "/signup/"),
        (client, "/shelters/"),
        (client, "/api/docs/"),
        (resident_client, "/"),
        (resident_client, "/me/"),
        (resident_client, "/welcome/"),
        (resident_client, "/report/"),
        (resident_client, "/rooms/"),
        (staff_client, "/console/"),
        (staff_client, "/console/alerts/new/"),
        (staff_client, "/console/shelters/"),
    ]
    for who, url in pages:
        response = who.get(url)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        assert not INLINE_SCRIPT.findall(html), (url, INLINE_SCRIPT.findall(html))
        assert not EVENT_HANDLER.findall(html), (url, EVENT_HANDLER.findall(html))


PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.test import Client, override_settings
# Only the static files' storage differs from production (nothing was collected): the page renders its links.
static = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
client = Client(HTTP_HOST="alerts.example.org")
with override_settings(STORAGES=static):
    plain = client.get("/login/")
    secure = client.get("/login/", secure=True)
cookie = secure.cookies["csrftoken"]
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location"),
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "csrf_cookie": {"secure": cookie["secure"], "httponly": cookie["httponly"], "samesite": cookie["samesite"]},
    "session_cookie": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
    "cache": settings.CACHES["default"]["BACKEND"],
    "throttles": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"],
    "rates": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
    "rate_limits": settings.RATE_LIMITS,
}))
"""


def test_production_settings_send_hsts_secure_cookies_and_redirect_to_https(tmp_path):
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SPATIALITE_LIBRARY_PATH", "NODE_MODULES_DIR", "VIRTUAL_ENV"}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment.update(
        DJANGO_SETTINGS_MODULE="commsplatform.settings.production",
        PYTHONPATH=str(ROOT),
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="alerts.example.org",
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(64),
        DATABASE_URL=f"spatialite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",  # never contacted: a GET of the sign-in page counts nothing
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", PRODUCTION_PROBE],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["plain_status"] == 301
    assert probe["plain_location"] == "https://alerts.example.org/login/"
    assert probe["status"] == 200
    headers = probe["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    for name, value in {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }.items():
        assert headers[name] == value, name
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert probe["csrf_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert probe["session_cookie"] == [True, True]
    # Rate limits in production: counted in Redis (shared by every daphne), at the production rates.
    assert probe["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert probe["throttles"] == [
        "commsplatform.core.throttling.AnonRateThrottle",
        "commsplatform.core.throttling.UserRateThrottle",
    ]
    assert probe["rates"] == {"anon": "120/min", "user": "1200/min", "reports": "10/min"}
    assert probe["num_proxies"] == 1
    assert probe["rate_limits"] == {"login": "10/m", "signup": "20/h", "report": "10/m"}
