"""Polling CAP feeds from a local HTTP server (127.0.0.1, started by the test): inline and linked alerts,
ETag, idempotence, per-entry errors, refusals (scheme, size, redirects), and the periodic task."""

import hashlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from alerts import tasks
from alerts.models import Alert, AlertOrigin, AlertState, CapFeed
from alerts.services.cap_feeds import FeedFetchError, cap_feed_create, cap_feed_poll, feed_fetch
from tests.alerts.test_cap_xml import cap_document


class Server:
    """Serves `routes` (path → bytes) with ETags; `hits` counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


def _atom(entries: list[tuple[str, str]]) -> bytes:
    """An Atom feed whose entries link CAP documents: (entry id, href)."""
    items = "".join(
        f"<entry><id>{entry_id}</id><title>t</title><updated>2024-01-01T00:00:00Z</updated>"
        f'<link rel="alternate" type="application/cap+xml" href="{href}"/></entry>'
        for entry_id, href in entries
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:feed</id><title>f</title>{items}</feed>'.encode()


@pytest.fixture
def feed_at(tree):
    def make(url: str) -> CapFeed:
        return cap_feed_create(actor=None, name="Test feed", url=url, organisation=tree.organisation, area=tree.city_a)

    return make


def test_a_feed_of_links_is_imported_once(server, feed_at):
    server.routes["/a.xml"] = cap_document("feed-a")
    server.routes["/b.xml"] = cap_document("feed-b", polygon=None, geocode=("FIPS6", "1"))
    server.routes["/feed.atom"] = _atom([("urn:a", "/a.xml"), ("urn:b", f"{server.base}/b.xml")])
    feed = feed_at(f"{server.base}/feed.atom")

    report = cap_feed_poll(feed=feed)
    assert report.errors == []
    alerts = Alert.objects.order_by("identifier")
    assert [a.identifier for a in alerts] == ["feed-a", "feed-b"]
    assert {a.origin for a in alerts} == {AlertOrigin.CAP_FEED}
    assert {a.state for a in alerts} == {AlertState.DRAFT}
    assert {a.organisation_id for a in alerts} == {feed.organisation_id}
    assert alerts[0].extra["feed"] == {"id": feed.pk, "entry": "urn:a"}
    feed.refresh_from_db()
    assert feed.etag
    assert feed.last_error == ""
    assert feed.last_polled_at is not None

    # Unchanged: the server answers 304 and nothing is fetched again.
    again = cap_feed_poll(feed=feed)
    assert again.not_modified
    assert server.hits["/a.xml"] == 1

    # Changed feed, same entries plus a new one: only the new document is fetched and imported.
    server.routes["/c.xml"] = cap_document("feed-c")
    server.routes["/feed.atom"] = _atom([("urn:a", "/a.xml"), ("urn:b", "/b.xml"), ("urn:c", "/c.xml")])
    third = cap_feed_poll(feed=feed)
    assert third.skipped == 2
    assert Alert.objects.count() == 3
    assert server.hits["/a.xml"] == 1


@pytest.mark.shared_data
def test_a_feed_with_inline_alerts_and_a_container(server, feed_at, shared_data_dir):
    containers = shared_data_dir / "cap" / "containers"
    server.routes["/amber.atom"] = (containers / "google-cap-library__amber.atom").read_bytes()
    server.routes["/rfs.xml"] = (containers / "google-cap-library__bushfire_valid.edxlde").read_bytes()
    amber = feed_at(f"{server.base}/amber.atom")
    assert cap_feed_poll(feed=amber).errors == []
    assert Alert.objects.filter(identifier="http://doj.dc.gov/amber12345").exists()
    rfs = feed_at(f"{server.base}/rfs.xml")
    assert len(cap_feed_poll(feed=rfs).imported) == 7
    # Polled again after the feed changed on the server: the same identifiers are not imported twice.
    server.routes["/rfs.xml"] += b"\n"
    report = cap_feed_poll(feed=rfs)
    assert report.imported == []
    assert report.skipped == 1
    assert Alert.objects.count() == 8


@pytest.mark.shared_data
def test_one_bad_entry_is_reported_and_does_not_hold_back_the_others(server, feed_at, shared_data_dir):
    invalid = shared_data_dir / "cap" / "invalid" / "deliberate" / "google-cap-library__invalid.xml"
    server.routes["/bad.xml"] = invalid.read_bytes()
    server.routes["/good.xml"] = cap_document("feed-good")
    server.routes["/feed.atom"] = _atom([("urn:bad", "/bad.xml"), ("urn:gone", "/gone.xml"), ("urn:good", "/good.xml")])
    feed = feed_at(f"{server.base}/feed.atom")
    report = cap_feed_poll(feed=feed)
    assert [a.identifier for a in Alert.objects.all()] == ["feed-good"]
    feed.refresh_from_db()
    assert "entry urn:bad: schema (CAP 1.2 XSD): line 9" in feed.last_error
    assert "entry urn:gone:" in feed.last_error
    assert "HTTP 404" in feed.last_error
    assert len(report.errors) == 2


def test_refusals_are_recorded_not_raised(server, feed_at, settings):
    settings.CAP_MAX_DOCUMENT_BYTES = 2000
    server.routes["/big.atom"] = b"<feed>" + b" " * 5000 + b"</feed>"
    feed = feed_at(f"{server.base}/big.atom")
    cap_feed_poll(feed=feed)
    feed.refresh_from_db()
    assert "larger than the limit of 2000 bytes" in feed.last_error

    server.redirects["/elsewhere.atom"] = "file:///etc/passwd"
    feed = feed_at(f"{server.base}/elsewhere.atom")
    cap_feed_poll(feed=feed)
    feed.refresh_from_db()
    assert "redirect refused" in feed.last_error
    assert "file:///etc/passwd" in feed.last_error

    server.redirects["/ftp.atom"] = "ftp://127.0.0.1/feed.atom"
    feed = feed_at(f"{server.base}/ftp.atom")
    cap_feed_poll(feed=feed)
    feed.refresh_from_db()
    assert "redirect refused: ftp://127.0.0.1/feed.atom is not an http(s) address" in feed.last_error

    server.routes["/page.html"] = b"<html><body>hello</body></html>"
    feed = feed_at(f"{server.base}/page.html")
    cap_feed_poll(feed=feed)
    feed.refresh_from_db()
    assert "not a CAP feed" in feed.last_error


def test_only_http_and_https_are_fetched():
    with pytest.raises(FeedFetchError, match="only http and https"):
        feed_fetch("file:///etc/passwd")
    with pytest.raises(FeedFetchError, match="only http and https"):
        feed_fetch("ftp://127.0.0.1/feed.atom")


def test_the_periodic_task_polls_feeds_that_are_due(server, feed_at):
    server.routes["/a.xml"] = cap_document("task-a")
    server.routes["/feed.atom"] = _atom([("urn:a", "/a.xml")])
    due = feed_at(f"{server.base}/feed.atom")
    server.routes["/other.atom"] = _atom([])
    recent = feed_at(f"{server.base}/other.atom")
    CapFeed.objects.filter(pk=recent.pk).update(last_polled_at=timezone.now() - timedelta(seconds=10))
    CapFeed.objects.create(
        name="Off", url=f"{server.base}/off.atom", organisation=due.organisation, area=due.area, is_active=False
    )
    result = tasks.poll_feeds()
    assert result == {"polled": 1, "imported": 1, "failed": 0}
    assert "/other.atom" not in server.hits
    assert "/off.atom" not in server.hits
    assert Alert.objects.get().identifier == "task-a"
