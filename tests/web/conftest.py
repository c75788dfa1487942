"""Browser tests: a real daphne and a real Celery worker on loopback, driven through Debian's Chromium by Playwright.

`web_server` starts, once for the package, `daphne` and a Celery worker on the test database with the Redis channel
layer and static files collected as in production (tests/web/server_settings.py). While it runs, the test process
itself uses the same broker and channel layer: an alert a test issues through the services is dispatched by that
worker, and a check-in a test makes reaches the pages' WebSockets. `visit(user=…, language=…)` opens
a page in a new browser context of its own (its own cookies and cache), signed in as `user` when given. Pages that
raise a JavaScript error fail the test. `screenshot(page, name)` saves var/screenshots/<name>.png for review;
`axe_violations(page)` runs axe-core (from npm) in the page; `transferred_bytes(page)` adds up what the browser
fetched over the network for the page.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.stack import sharing_the_stack as _sharing_the_stack

# Playwright's sync API runs an event loop in the test's thread; Django would then refuse the ORM calls the tests
# make between browser steps. The browser and the test never share a connection or a transaction.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(settings.NODE_MODULES_DIR) / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "var" / "screenshots"
# The browser tests' broker, results and channel layer: a Redis database no other test uses.
WEB_REDIS_DB = 9
# Flags for a machine without network: no background fetches, no sandbox (root), software rendering.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Injected by Playwright through the DevTools protocol, which the pages' CSP does not apply to.
CSP_REFUSALS_AS_ERRORS = """
document.addEventListener("securitypolicyviolation", function (event) {
  setTimeout(function () {
    var what = event.blockedURI || "inline";
    throw new Error("Content-Security-Policy refused " + event.violatedDirective + ": " + what);
  });
});
"""

pytestmark = [pytest.mark.services]


def _required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def _unavailable(message: str) -> None:
    if _required():
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("spatialite"):
        return f"spatialite:///{db['NAME']}"
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _redis_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{WEB_REDIS_DB}", "", ""))


@dataclass
class WebServer:
    base_url: str
    redis_url: str
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- {name} ({path})\n" + "\n".join(text))
        return "\n".join(out)


@pytest.fixture(scope="package")
def web_server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        _unavailable(f"the browser tests need a running Redis at {settings.REDIS_URL} ({exc})")
    redis_url = _redis_url()
    redis.Redis.from_url(redis_url).flushdb()
    folder = tmp_path_factory.mktemp("web-server")
    static_root = folder / "static"
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.web.server_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(folder / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if collect.returncode != 0:
        pytest.fail(f"collectstatic failed (are the npm packages installed? `npm ci`):\n{collect.stderr[-3000:]}")
    port = _free_port()
    logs = {"daphne": folder / "daphne.log", "worker": folder / "worker.log"}
    server = WebServer(base_url=f"http://127.0.0.1:{port}", redis_url=redis_url, logs=logs)
    queues = [q for q in settings.CELERY_TASK_QUEUES_NAMES if q != "bots" and not q.endswith(".telegram")]
    commands = {
        "daphne": [
            sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "commsplatform.asgi:application",
        ],
        "worker": [
            sys.executable, "-m", "celery", "-A", "commsplatform", "worker", "-Q", ",".join(queues),
            "--pool", "threads", "--concurrency", "4", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ],
    }  # fmt: skip
    try:
        for name, command in commands.items():
            handle = logs[name].open("wb")
            server.processes[name] = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
            )
            handle.close()
        deadline = time.monotonic() + 90
        while True:
            for name, process in server.processes.items():
                if process.poll() is not None:
                    pytest.fail(f"{name} exited with status {process.returncode}\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=5) as response:  # noqa: S310 (http)
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the web server did not report healthy within 90 s\n{server.log_tail()}")
            time.sleep(0.5)
        with _sharing_the_stack(redis_url):
            yield server
    finally:
        for process in server.processes.values():
            process.terminate()
        for process in server.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextmanager
def _loop_hidden_between_calls() -> Iterator[None]:
    """Let the test's own code call services that use async_to_sync while Playwright's sync API is in use.

    Playwright runs its event loop in a greenlet of the test's thread, and between two of its calls the loop stays
    marked as running in that thread; asgiref's async_to_sync (channel layer sends in the services) then refuses to
    run. The loop is marked running only while a Playwright call waits for it.
    """
    from playwright._impl import _sync_base

    original = _sync_base.wait_for_future

    def wait_for_future(loop: asyncio.AbstractEventLoop, dispatcher_fiber: Any, future: Any) -> None:
        asyncio.events._set_running_loop(loop)
        try:
            original(loop, dispatcher_fiber, future)
        finally:
            asyncio.events._set_running_loop(None)

    _sync_base.wait_for_future = wait_for_future
    try:
        yield
    finally:
        _sync_base.wait_for_future = original


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"the browser tests need Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with _loop_hidden_between_calls():
        manager = sync_playwright()
        playwright = manager.start()
        asyncio.events._set_running_loop(None)
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
        finally:
            asyncio.events._set_running_loop(playwright._loop)
            manager.__exit__(None, None, None)
            asyncio.events._set_running_loop(None)


def session_cookie(user: Any) -> dict[str, str]:
    """A signed-in session for `user`, made as the login view would (the session row is in the shared database)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    return {"name": settings.SESSION_COOKIE_NAME, "value": cookie.value}


@dataclass
class Visitor:
    """Opens pages, each person in a browser context of their own; collects the pages' JavaScript errors."""

    browser: Any
    base_url: str
    contexts: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __call__(
        self,
        path: str = "/",
        *,
        user: Any = None,
        language: str = "en",
        javascript: bool = True,
        geolocation: tuple[float, float] | None = None,
        viewport: tuple[int, int] = (1280, 900),
    ) -> Any:
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "locale": language,
            "java_script_enabled": javascript,
            "viewport": {"width": viewport[0], "height": viewport[1]},
        }
        if geolocation is not None:
            options["geolocation"] = {"latitude": geolocation[0], "longitude": geolocation[1]}
            options["permissions"] = ["geolocation"]
        context = self.browser.new_context(**options)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        cookies = [{**session_cookie(user), "url": self.base_url}] if user is not None else []
        cookies.append({"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": self.base_url})
        context.add_cookies(cookies)
        # Chromium reports a script, style or connection that the Content-Security-Policy refused only on its
        # console; this turns each refusal into an uncaught error, which "pageerror" collects.
        context.add_init_script(script=CSP_REFUSALS_AS_ERRORS)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.goto(path)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def visit(web_server: WebServer, browser: Any, transactional_db: None) -> Iterator[Visitor]:
    visitor = Visitor(browser=browser, base_url=web_server.base_url)
    yield visitor
    visitor.close()
    assert not visitor.errors, "JavaScript errors or CSP refusals in the pages:\n" + "\n".join(visitor.errors)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under var/screenshots/ for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the given impacts on the page as it is now (id, impact, help, the nodes)."""
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is not installed at {AXE_JS} (run `npm ci`)")
    # Evaluated through the DevTools protocol, not added as an inline <script>: the pages' Content-Security-Policy
    # refuses inline scripts, and a test tool gets no exception from it.
    page.evaluate(AXE_JS.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result
        if v["impact"] in impacts
    ]


def transferred_bytes(page: Any) -> dict[str, int]:
    """What the browser fetched over the network for the page so far, by URL (headers and bodies, as compressed)."""
    entries = page.evaluate(
        """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                 .map(e => [e.name, e.transferSize])"""
    )
    sizes: dict[str, int] = {}
    for name, size in entries:
        sizes[name] = sizes.get(name, 0) + int(size)
    return sizes


@pytest.fixture
def shot() -> Callable[[Any, str], Path]:
    return screenshot


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.2) -> Any:
    """Poll a database condition from the test process until it holds (the browser's work is in other processes)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(interval)


__all__ = ["axe_violations", "screenshot", "transferred_bytes", "wait_until"]
