"""Rate limits on the sign-in and public endpoints: over the limit a request gets 429 with Retry-After and a clear
message (an HTML page for the site's forms, JSON for the API) and changes nothing; another address or person is
not affected; after the window it passes again (the clock is moved with time-machine, the counters stay in Redis).
The counters live in the shared cache (Redis), so a limit holds across processes: one process uses it up, and
the next request of another is refused.

Each test turns the limits on with realistic rates (the test settings leave them off) and counts in a Redis key
space of its own.
"""

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User
from alerts.models import CitizenReport
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-test-password-42"
API_RATES = {"anon": "3/min", "user": "5/min", "reports": "2/min"}
WEB_RATES = {"login": "3/m", "signup": "2/h", "report": "2/m"}


def _cache(redis_url: str, prefix: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }


@pytest.fixture
def limits(redis_url: str) -> Iterator[str]:
    """Realistic limits, counted in Redis under a key prefix of this test's own; yields the prefix.

    The clock stands still (until a test moves it on): django-ratelimit counts in fixed windows, and a window that
    ended between two of a test's requests would reset the count under it.
    """
    prefix = f"rate-limit-test-{uuid.uuid4().hex}"
    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": API_RATES}
    with (
        time_machine.travel(timezone.now(), tick=False),
        override_settings(CACHES=_cache(redis_url, prefix), REST_FRAMEWORK=rest, RATE_LIMITS=WEB_RATES),
    ):
        yield prefix


def _later(seconds: float) -> Any:
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


def _sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _assert_refused_page(response: Any) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "text/html" in response.headers["Content-Type"]
    assert "Too many attempts" in response.content.decode()


def test_sign_in_is_limited_per_address(limits):
    UserFactory.create(username="alice", password=PASSWORD)
    browser = Client()
    for _ in range(3):
        assert _sign_in(browser, "alice", "wrong-password").status_code == 200  # the form, with its error
    # The fourth attempt is refused, even with the right password: no session is opened.
    refused = _sign_in(browser, "alice", PASSWORD)
    _assert_refused_page(refused)
    assert "_auth_user_id" not in browser.session
    # Someone else, from another address, signs in as usual.
    UserFactory.create(username="bob", password=PASSWORD)
    other = Client()
    assert _sign_in(other, "bob", PASSWORD, address="10.0.0.2").status_code == 302
    # After the window, the first address may try again.
    with _later(61):
        assert _sign_in(browser, "alice", PASSWORD).status_code == 302
        assert browser.session["_auth_user_id"]


def test_sign_in_is_limited_per_username_across_addresses(limits):
    UserFactory.create(username="carol", password=PASSWORD)
    for number in range(3):
        response = _sign_in(Client(), "carol", "guess", address=f"10.0.1.{number}")
        assert response.status_code == 200
    _assert_refused_page(_sign_in(Client(), "carol", PASSWORD, address="10.0.1.99"))


def test_the_api_sign_in_page_and_the_admin_sign_in_are_limited(limits):
    # Each form from an address of its own (the forms share the sign-in limit of an address).
    for number, url in enumerate(("/api-auth/login/", "/admin/login/")):
        browser, address = Client(), f"10.0.2.{number}"
        for _ in range(3):
            response = browser.post(url, {"username": f"nobody-{number}", "password": "x"}, REMOTE_ADDR=address)
            assert response.status_code == 200, url
        _assert_refused_page(browser.post(url, {"username": "x", "password": "x"}, REMOTE_ADDR=address))


def test_sign_up_is_limited_per_address(limits):
    browser = Client()
    for number in range(2):
        form = {"username": f"new-person-{number}", "password1": PASSWORD, "password2": PASSWORD}
        form["preferred_language"] = "en"
        assert browser.post("/signup/", form).status_code == 302
        browser.logout()
    users = User.objects.count()
    form = {"username": "one-too-many", "password1": PASSWORD, "password2": PASSWORD, "preferred_language": "en"}
    _assert_refused_page(browser.post("/signup/", form))
    assert User.objects.count() == users
    assert Client().post("/signup/", {**form, "username": "elsewhere"}, REMOTE_ADDR="10.0.3.1").status_code == 302


def test_the_report_page_is_limited_per_person(limits):
    alice = UserFactory.create(username="reporter-a")
    browser = Client()
    browser.force_login(alice)
    for number in range(2):
        assert browser.post("/report/", {"text": f"Water rising, report {number}"}).status_code == 302
    reports = CitizenReport.objects.count()
    _assert_refused_page(browser.post("/report/", {"text": "One report too many"}))
    assert CitizenReport.objects.count() == reports
    # Reading the page is not counted.
    assert browser.get("/report/").status_code == 200
    # Someone else (same address) still reports.
    other = Client()
    other.force_login(UserFactory.create(username="reporter-b"))
    assert other.post("/report/", {"text": "The bridge is closed"}).status_code == 302


def _assert_refused_api(response: Any) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    # DRF's message, in the endpoint's format (JSON; YAML for the schema): "Request was throttled. Expected
    # available in N seconds."
    assert "request was throttled" in response.content.decode().lower()


def test_the_public_alerts_feed_is_limited_per_address(limits):
    anonymous = Client()
    for _ in range(3):
        assert anonymous.get("/api/alerts/feed.atom").status_code == 200
    _assert_refused_api(anonymous.get("/api/alerts/feed.atom"))
    # The limit is per anonymous address, for every public read.
    _assert_refused_api(anonymous.get("/api/shelters/"))
    assert Client().get("/api/alerts/feed.atom", REMOTE_ADDR="10.0.4.1").status_code == 200
    with _later(61):
        assert anonymous.get("/api/alerts/feed.atom").status_code == 200


def test_signed_in_api_calls_are_limited_per_user(limits):
    alice, bob = UserFactory.create(username="api-a"), UserFactory.create(username="api-b")
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(bob)
    for _ in range(5):
        assert first.get("/api/accounts/me/").status_code == 200
    _assert_refused_api(first.get("/api/accounts/me/"))
    assert second.get("/api/accounts/me/").status_code == 200


def test_report_submission_through_the_api_is_limited_per_person(limits):
    alice = UserFactory.create(username="api-reporter")
    client = Client()
    client.force_login(alice)
    for number in range(2):
        sent = client.post("/api/alerts/reports/", {"text": f"Smoke over the hill {number}"})
        assert sent.status_code == 201, sent.content
    reports = CitizenReport.objects.count()
    _assert_refused_api(client.post("/api/alerts/reports/", {"text": "One too many"}))
    assert CitizenReport.objects.count() == reports
    # Reading one's reports is not counted against sending.
    assert client.get("/api/alerts/reports/").status_code == 200


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_failed_basic_auth_attempts_are_limited_per_address(limits):
    UserFactory.create(username="api-user", password=PASSWORD)
    client = Client()
    for _ in range(3):
        assert client.get("/api/accounts/me/", headers=_basic("api-user", "guess")).status_code == 401
    # Over the limit the credentials are not checked at all, right or wrong.
    _assert_refused_api(client.get("/api/accounts/me/", headers=_basic("api-user", PASSWORD)))
    # Successful calls from another address are not affected.
    other = client.get("/api/accounts/me/", headers=_basic("api-user", PASSWORD), REMOTE_ADDR="10.0.5.1")
    assert other.status_code == 200
    with _later(61):
        assert client.get("/api/accounts/me/", headers=_basic("api-user", PASSWORD)).status_code == 200


# One process uses up the anonymous limit of its address; the next request, from this process, is refused.
USE_UP = """
import django, os, sys
django.setup()
from django.conf import settings
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
setup_test_environment()
rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "user": None, "reports": None}}
caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": os.environ["RATE_LIMIT_PREFIX"]}}
with override_settings(CACHES=caches, REST_FRAMEWORK=rest):
    print([Client().get("/api/schema/").status_code for _ in range(3)])
"""


def test_the_limit_holds_across_processes(limits, redis_url, tmp_path):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "commsplatform.settings.test",
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PREFIX": limits,
        "PYTHONPATH": str(ROOT),
    }
    other_process = subprocess.run(
        [sys.executable, "-c", USE_UP], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    (tmp_path / "other-process.log").write_text(other_process.stdout + other_process.stderr)
    assert other_process.returncode == 0, other_process.stderr
    assert other_process.stdout.strip().splitlines()[-1] == "[200, 200, 200]"
    _assert_refused_api(Client().get("/api/schema/"))
