"""Polled CAP feeds: fetching (http/https only, time-out, size cap, ETag), reading Atom/RSS entries that carry
or link CAP alerts, and importing the new ones; and the feeds' configuration.

Each entry is its own document: one bad or unreachable entry is reported in the feed's `last_error` and does
not hold back the others (a feed is polled again and again; a rejected entry is retried when the feed
changes). Identifiers already here are skipped, so polling is idempotent, and two overlapping polls of one
feed are prevented by claiming it first.
"""

import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.client import HTTPMessage
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from lxml import etree

from accounts import permissions
from accounts.models import AdministrativeArea, Organisation, User
from alerts.cap_xml import ATOM, CAP_VERSIONS, CapRejected, cap_container_kind, cap_parse_xml
from alerts.models import Alert, CapFeed
from alerts.services import lifecycle
from alerts.services.cap_import import cap_import
from commsplatform.core.audit import audit_record
from commsplatform.core.errors import Conflict, DomainError, ValidationFailed

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 10.0
MAX_ENTRIES_PER_POLL = 100
MIN_POLL_INTERVAL_SECONDS = 30
CAP_MEDIA_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")
USER_AGENT = "commsplatform-cap-poller/1.0"


class FeedFetchError(Exception):
    """The feed or a linked document could not be fetched; the message says why."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise FeedFetchError(f"redirect refused: {newurl[:200]} is not an http(s) address")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Only the handlers named here: no file:, ftp: or data: scheme can be reached, even by a redirect.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


@dataclass
class Fetched:
    status: int
    body: bytes = b""
    etag: str = ""


def feed_fetch(url: str, *, etag: str = "") -> Fetched:
    """GET an http(s) URL with a time-out and a size cap; 304 when the ETag still matches."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FeedFetchError(f"only http and https addresses are polled, not {url[:200]!r}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/xml, */*"})  # noqa: S310 - scheme checked above
    if etag:
        request.add_header("If-None-Match", etag)
    limit = settings.CAP_MAX_DOCUMENT_BYTES
    try:
        with _opener().open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            body = response.read(limit + 1)
            if len(body) > limit:
                raise FeedFetchError(f"{url[:200]}: larger than the limit of {limit} bytes")
            return Fetched(status=response.status, body=body, etag=response.headers.get("ETag", "") or "")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(status=304, etag=etag)
        if 300 <= exc.code < 400:
            raise FeedFetchError(f"{url[:200]}: redirect refused ({str(exc.reason)[:200]})") from exc
        raise FeedFetchError(f"{url[:200]}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FeedFetchError(f"{url[:200]}: {getattr(exc, 'reason', exc)}") from exc


@dataclass
class FeedEntry:
    """One entry of a feed: a CAP document of its own (inline alert serialised) or a link to fetch."""

    key: str
    document: bytes = b""
    link: str = ""


def _entry_link(entry: etree._Element, base: str) -> str:
    links = [
        link for link in entry if isinstance(link.tag, str) and etree.QName(link).localname in ("link", "enclosure")
    ]
    chosen = ""
    for link in links:
        href = link.get("href") or link.get("url") or (link.text or "").strip()
        if not href:
            continue
        if (link.get("type") or "").split(";")[0].strip() in CAP_MEDIA_TYPES:
            chosen = href
            break
        if not chosen and link.get("rel", "alternate") in ("alternate", "related", "enclosure"):
            chosen = href
    return urllib.parse.urljoin(base, chosen) if chosen else ""


def feed_entries(data: bytes, *, url: str) -> list[FeedEntry]:
    """The entries of a polled document: an alert or container of inline alerts, or Atom/RSS entries linking CAP."""
    root = cap_parse_xml(data)
    kind = cap_container_kind(root)
    if kind in ("alert", "edxl-de", "alerts"):
        return [FeedEntry(key=url, document=data)]
    if kind not in ("atom", "rss"):
        raise CapRejected(f"not a CAP feed: the root element is {root.tag!r}.", kind="not_cap")
    entries = []
    if etree.QName(root).localname == "entry":
        items = [root]
    else:
        items = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname in ("entry", "item")]
    for index, item in enumerate(items[:MAX_ENTRIES_PER_POLL]):
        key = (item.findtext(f"{{{ATOM}}}id") or item.findtext("guid") or "").strip() or f"{url}#{index}"
        inline = [
            element
            for element in item.iter()
            if isinstance(element.tag, str)
            and etree.QName(element).localname == "alert"
            and etree.QName(element).namespace in CAP_VERSIONS
        ]
        if inline:
            entries.append(FeedEntry(key=key, document=etree.tostring(inline[0])))
            continue
        link = _entry_link(item, url)
        if link:
            entries.append(FeedEntry(key=key, link=link))
    return entries


@dataclass
class PollReport:
    feed_id: int
    not_modified: bool = False
    imported: list[int] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(feed: CapFeed, now: datetime) -> bool:
    """Mark the feed as being polled now, unless another poll claimed it since it was read."""
    claimed = CapFeed.objects.filter(pk=feed.pk, last_polled_at=feed.last_polled_at).update(last_polled_at=now)
    if claimed:
        feed.last_polled_at = now
    return claimed == 1


def _import_entry(feed: CapFeed, entry: FeedEntry, report: PollReport) -> None:
    document = entry.document
    if not document:
        document = feed_fetch(entry.link).body
    try:
        alerts = cap_import(actor=None, data=document, feed=feed, feed_entry=entry.key)
    except Conflict:
        report.skipped += 1  # already imported: polling is idempotent
        return
    report.imported.extend(alert.pk for alert in alerts)


def cap_feed_poll(*, feed: CapFeed, now: datetime | None = None) -> PollReport:
    """Fetch the feed and import its new alerts; records last_polled_at, etag and last_error."""
    now = now or timezone.now()
    report = PollReport(feed_id=feed.pk)
    if not _claim(feed, now):
        report.errors.append("another poll of this feed is running")
        return report
    try:
        fetched = feed_fetch(feed.url, etag=feed.etag)
        if fetched.status == 304:
            report.not_modified = True
        else:
            entries = feed_entries(fetched.body, url=feed.url)
            known = set(Alert.objects.filter(extra__feed__id=feed.pk).values_list("extra__feed__entry", flat=True))
            for entry in entries:
                if entry.key in known and entry.link:
                    report.skipped += 1  # a linked document already imported is not fetched again
                    continue
                try:
                    _import_entry(feed, entry, report)
                except (DomainError, FeedFetchError) as exc:
                    report.errors.append(f"entry {entry.key[:200]}: {getattr(exc, 'message', exc)}")
            feed.etag = fetched.etag[:255]
    except (DomainError, FeedFetchError) as exc:
        report.errors.append(str(getattr(exc, "message", exc)))
    feed.last_error = "\n".join(report.errors)[:5000]
    feed.save(update_fields=["etag", "last_error", "updated_at"])
    if report.errors:
        logger.warning("CAP feed %s: %s", feed.pk, feed.last_error[:500])
    return report


def cap_feeds_poll_due(*, now: datetime | None = None) -> list[PollReport]:
    """Poll every active feed whose interval has passed since it was last polled."""
    now = now or timezone.now()
    reports = []
    for feed in CapFeed.objects.filter(is_active=True).select_related("organisation"):
        due = feed.last_polled_at is None or feed.last_polled_at + timedelta(seconds=feed.poll_interval_seconds) <= now
        if due:
            reports.append(cap_feed_poll(feed=feed, now=now))
    return reports


# Configuration ----------------------------------------------------------------------------------------


def _require_approver(actor: User | None, organisation: Organisation, area: AdministrativeArea) -> None:
    """Feeds bring alerts into an area: configured by who may approve alerts there, for their organisation."""
    lifecycle.require_role_in(
        actor,
        organisation=organisation,
        perm=permissions.APPROVE_ALERTS,
        area=area,
        what="approve alerts, so add feeds,",
    )


def _check_url(url: str) -> str:
    url = url.strip()
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
        raise ValidationFailed("A feed is an http or https address.", fields={"url": "not http(s)"})
    return url


def _check_interval(seconds: int) -> int:
    if seconds < MIN_POLL_INTERVAL_SECONDS:
        raise ValidationFailed(
            f"Poll at most every {MIN_POLL_INTERVAL_SECONDS} seconds.", fields={"poll_interval_seconds": "too short"}
        )
    return seconds


def cap_feed_create(
    *,
    actor: User | None,
    name: str,
    url: str,
    organisation: Organisation,
    area: AdministrativeArea,
    poll_interval_seconds: int = 300,
    is_active: bool = True,
) -> CapFeed:
    _require_approver(actor, organisation, area)
    url = _check_url(url)
    if not name.strip():
        raise ValidationFailed("A feed needs a name.", fields={"name": "required"})
    with transaction.atomic():
        if CapFeed.objects.filter(url=url).exists():
            raise Conflict("This feed is already polled.", fields={"url": "duplicate"})
        feed = CapFeed.objects.create(
            name=name.strip(),
            url=url,
            organisation=organisation,
            area=area,
            poll_interval_seconds=_check_interval(poll_interval_seconds),
            is_active=is_active,
        )
        audit_record(
            action="alerts.cap_feed_created",
            target=feed,
            area_id=area.pk,
            actor_id=actor.pk if actor is not None else None,
            data={"feed_id": feed.pk},
        )
    return feed


def cap_feed_update(*, actor: User, feed: CapFeed, **changes: Any) -> CapFeed:
    """Change name, url, area, poll_interval_seconds or is_active (each optional)."""
    _require_approver(actor, feed.organisation, feed.area)
    if changes.get("area") is not None:
        _require_approver(actor, feed.organisation, changes["area"])
        feed.area = changes["area"]
    if changes.get("url") is not None:
        url = _check_url(changes["url"])
        if CapFeed.objects.filter(url=url).exclude(pk=feed.pk).exists():
            raise Conflict("This feed is already polled.", fields={"url": "duplicate"})
        if url != feed.url:
            feed.url, feed.etag = url, ""
    if changes.get("name") is not None:
        feed.name = changes["name"].strip() or feed.name
    if changes.get("poll_interval_seconds") is not None:
        feed.poll_interval_seconds = _check_interval(changes["poll_interval_seconds"])
    if changes.get("is_active") is not None:
        feed.is_active = changes["is_active"]
    with transaction.atomic():
        feed.save()
        audit_record(
            action="alerts.cap_feed_updated",
            target=feed,
            area_id=feed.area_id,
            actor_id=actor.pk,
            data={"fields": sorted(name for name, value in changes.items() if value is not None)},
        )
    return feed


def cap_feed_delete(*, actor: User, feed: CapFeed) -> None:
    _require_approver(actor, feed.organisation, feed.area)
    with transaction.atomic():
        audit_record(action="alerts.cap_feed_deleted", target=feed, area_id=feed.area_id, actor_id=actor.pk)
        feed.delete()
