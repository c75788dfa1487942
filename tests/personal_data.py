"""No personal data in logs: a pytest plugin (loaded by tests/conftest.py) that checks the log output of a whole run.

1. It records the test residents' personal data as the suite creates it (post_save signals on the models that
   hold it): names, user names, emails, phone numbers, Telegram chat ids, home and reported locations, and the
   free text residents write (reports, replies, needs, room posts and questions).
2. It captures every log record of the test process at DEBUG and up (with their arguments and tracebacks) into
   `<basetemp>/personal-data/test-process.log`, without changing what `caplog`, pytest's report sections or
   Django's console handler see: the root logger goes to DEBUG; loggers that settings.LOGGING gives a level of
   their own keep it, so the capture is what production would log with LOG_LEVEL=DEBUG.
3. At the end of the session it scans that file and every other `*.log` under pytest's basetemp (the output of
   the daphne, Celery and other processes the tests start) and fails the run on any hit, naming the file, the line
   and the kind of value. This runs in every lane, whatever was collected.

What counts (rules for `Recorder.add`), so that a hit means a leak and not a coincidence:
- names: the full name ("Rachael Rose"), case-sensitive, as whole words; a one-word name (a Telegram first name,
  "Ada") if it has 3+ letters and does not start in lower case. Not each part of a full name alone: common first
  and last names are also place and street names ("Prince Albert", "Park") in the alerts' public text;
- user names: 6+ characters with a digit or a separator (maria.rossi, person12), whole token. A user name is an
  identifier the person chose and is often their name; the code logs ids, never user names, so such a user name in
  a log is a leak. One of letters only is either a plain word (the fixtures' "resident", "auditor"), which would
  match ordinary log text, or a first name, which the name check covers;
- emails: whole address, case-insensitive;
- phone numbers: as written (7+ digits in it) and as its bare digits;
- numeric chat ids: 7+ digits as a whole number (Telegram ids have 9-10); the suite's short fake chat ids
  (4242) would match ports and row ids, so they are not checked;
- locations: a pair of numbers in a line ("lon lat", "lat, lon", "[lon, lat]", "POINT (lon lat)"...) equal to a
  recorded point in either order, at least one of them printed with 4+ decimals (about 11 m: a house), compared to
  the printed precision; a point the tests placed with fewer decimals (2.5, 2.5) is only checked as WKT
  "POINT (2.5 2.5)", since bare "2.5 2.5" also appears in every polygon of the test areas;
- free text: 12+ characters and 2+ words, the whole text or its first 32 characters.
Also the JSON-escaped form (`\\u00e9`) of any value with non-ASCII characters.

Not scanned: lines of the fake Telegram server (tests/fakes/telegram_api.py plays Telegram, which receives the
messages by design), the test tooling's own loggers (factory_boy logs the factories' arguments at DEBUG; the test
SMTP server logs the mail it receives), and
folders holding a PLANTED_MARKER file (the scanner's own tests plant personal data there on purpose).
Not recorded: rows written without signals (bulk_create) and data a subprocess creates (a sign-up through daphne).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CAPTURE_NAME = "personal-data/test-process.log"
# A folder holding this file holds personal data planted on purpose (the scanner's own tests): not scanned.
PLANTED_MARKER = "personal-data-planted-here"
# Loggers of the test tooling itself, not of the code under test: factory_boy and Faker, the fakes, and aiosmtpd
# ("mail.log"), the SMTP server the email transport's tests send to, which plays the mail provider.
HARNESS_LOGGERS = ("factory", "faker", "tests.fakes", "mail.log")
# A line printed by the fake Telegram server (its log format names its logger).
HARNESS_LINE = re.compile(r"\btests\.fakes\.telegram_api\b")

MIN_NAME = 3
MIN_USERNAME = 6
MIN_DIGITS = 7
MIN_TEXT = 12
TEXT_PREFIX = 32
PRECISE_DECIMALS = 4

_WORD = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]+")
# Two numbers side by side ("2.3522 48.8566", "48.8566, 2.3522"); the second in a lookahead, so that in a run of
# numbers every neighbouring pair is tried.
_NUMBER_PAIR = re.compile(r"(?<![\w.])(-?\d{1,3}(?:\.(\d+))?)(?=(?:\s*[,;]\s*|\s+)(-?\d{1,3}(?:\.(\d+))?)(?![\w.]))")


@dataclass(frozen=True)
class Needle:
    kind: str
    value: str
    pattern: re.Pattern[str] | None = None  # None: a plain substring test

    def found_in(self, line: str) -> bool:
        if self.pattern is None:
            return self.value in line
        return self.pattern.search(line) is not None


@dataclass(frozen=True)
class Hit:
    path: Path
    line_number: int
    kind: str
    value: str
    line: str

    def __str__(self) -> str:
        excerpt = self.line.strip()
        if len(excerpt) > 200:
            excerpt = excerpt[:200] + "…"
        return f"{self.path}:{self.line_number}: {self.kind} {self.value!r} in: {excerpt}"


def _escaped(value: str) -> str:
    return json.dumps(value)[1:-1]


def _key(value: str) -> str | None:
    """The longest word of a value (of an email, of its local part): a line can only contain the value if it has
    that word, and the rarer the word, the fewer values a line is tested against."""
    words = _WORD.findall(value.split("@", 1)[0]) or _WORD.findall(value)
    return max(words, key=len) if words else None


class Recorder:
    """The personal values a run created, indexed so that a large log is scanned in one pass."""

    def __init__(self) -> None:
        self._by_word: dict[str, set[Needle]] = defaultdict(set)
        self._points: dict[tuple[int, int], set[tuple[float, float]]] = defaultdict(set)
        self._coarse_points: set[Needle] = set()

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_word.values()) + sum(len(v) for v in self._points.values())

    def _needle(self, kind: str, value: str, pattern: str | None, flags: int = 0) -> None:
        for form in {value, _escaped(value)}:
            key = _key(form)
            if key is None:
                continue
            compiled = None if pattern is None else re.compile(pattern.replace("{v}", re.escape(form)), flags)
            self._by_word[key.lower() if flags & re.IGNORECASE else key].add(Needle(kind, form, compiled))

    def add(self, kind: str, value: Any) -> None:
        """Record a value of one kind (name, username, email, phone, chat_id, text, location); skip what is too
        short or generic to identify anyone."""
        if value is None or value == "":
            return
        if kind == "location":
            self.add_point(value.x, value.y)
            return
        text = str(value).strip()
        if kind == "name":
            parts = _LETTERS.findall(text)
            if len(parts) > 1:
                self._needle(kind, " ".join(text.split()), r"(?<!\w){v}(?!\w)")
            elif parts and len(parts[0]) >= MIN_NAME and not parts[0][0].islower():
                self._needle(kind, parts[0], r"(?<!\w){v}(?!\w)")
        elif kind == "username":
            # A user name made of letters only is a word (the fixtures' "resident", "mayor") or a first name, which
            # the name check covers; one with a digit or a separator (maria.rossi, person12) is an identifier.
            if len(text) >= MIN_USERNAME and not text.isalpha():
                self._needle(kind, text, r"(?<![\w.@+-]){v}(?![\w@+-]|\.\w)")
        elif kind == "email":
            if "@" in text:
                self._needle(kind, text.lower(), r"(?<![\w.+-]){v}(?![\w-]|\.\w)", re.IGNORECASE)
        elif kind in ("phone", "chat_id"):
            digits = re.sub(r"\D", "", text)
            if len(digits) >= MIN_DIGITS:
                self._needle(kind, digits, r"(?<!\d){v}(?!\d)")
                if text != digits:
                    self._needle(kind, text, None)
        elif kind == "text":
            if len(text) >= MIN_TEXT and len(text.split()) >= 2:
                self._needle(kind, text, None)
                if len(text) > TEXT_PREFIX:
                    self._needle(kind, text[:TEXT_PREFIX], None)
        else:
            raise ValueError(f"unknown kind of personal data: {kind}")

    def add_point(self, lon: float, lat: float) -> None:
        precise = any(_decimals(repr(float(c))) >= PRECISE_DECIMALS for c in (lon, lat))
        if precise:
            for a, b in ((lon, lat), (lat, lon)):
                self._points[_cell(a, b)].add((a, b))
            return
        # A point placed with a few decimals is only a leak when printed as a point.
        for x, y in {(_short(lon), _short(lat)), (repr(float(lon)), repr(float(lat)))}:
            self._needle("location", f"POINT ({x} {y})", rf"POINT\s*\(\s*{re.escape(x)}\s+{re.escape(y)}\s*\)")

    def hits_in_line(self, line: str) -> Iterator[tuple[str, str]]:
        words = set(_WORD.findall(line))
        words |= {w.lower() for w in words}
        for word in words & self._by_word.keys():
            for needle in self._by_word[word]:
                if needle.found_in(line):
                    yield needle.kind, needle.value
        if self._points:
            for match in _NUMBER_PAIR.finditer(line):
                found = self._point_at(match)
                if found:
                    yield "location", found

    def _point_at(self, match: re.Match[str]) -> str | None:
        a_text, a_dec, b_text, b_dec = match.groups()
        decimals = (len(a_dec or ""), len(b_dec or ""))
        if max(decimals) < PRECISE_DECIMALS:
            return None
        a, b = float(a_text), float(b_text)
        ca, cb = _cell(a, b)
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                for x, y in self._points.get((ca + da, cb + db), ()):
                    # Equal at the precision printed: rounded or cut off there.
                    if abs(a - x) < 10 ** -decimals[0] and abs(b - y) < 10 ** -decimals[1]:
                        return f"{x} {y}"
        return None

    def scan(self, paths: Iterable[Path]) -> list[Hit]:
        hits: list[Hit] = []
        for path in paths:
            with path.open(encoding="utf-8", errors="replace") as lines:
                for number, line in enumerate(lines, 1):
                    if HARNESS_LINE.search(line):
                        continue
                    for kind, value in set(self.hits_in_line(line)):
                        hits.append(Hit(path, number, kind, value, line))
        return hits


def run_logs(basetemp: Path) -> list[Path]:
    """Every *.log under the run's basetemp, but for the folders where a test planted personal data on purpose."""
    planted = {marker.parent for marker in basetemp.rglob(PLANTED_MARKER)}
    return sorted(path for path in basetemp.rglob("*.log") if not planted.intersection(path.parents))


def _decimals(number: str) -> int:
    return len(number.split(".", 1)[1]) if "." in number and "e" not in number.lower() else 0


def _short(coordinate: float) -> str:
    """How GEOS's WKT writer prints a coordinate: no trailing zeros (2.5, 3)."""
    return f"{coordinate:.15g}" if not float(coordinate).is_integer() else str(int(coordinate))


def _cell(a: float, b: float) -> tuple[int, int]:
    return (math.floor(a * 100), math.floor(b * 100))


# --- recording: the models that hold personal data ---------------------------------------------------------------

_ACTIVE: Recorder | None = None


def record(kind: str, value: Any) -> None:
    """Record a personal value for the current run's scan (for data the models' signals do not see)."""
    if _ACTIVE is not None:
        _ACTIVE.add(kind, value)


def _on_save(sender: type, instance: Any, **kwargs: Any) -> None:
    for kind, value in _personal_values(sender.__name__, instance):
        record(kind, value)


def _personal_values(model: str, instance: Any) -> Iterator[tuple[str, Any]]:
    if model == "User":
        yield "name", f"{instance.first_name} {instance.last_name}".strip()
        yield from (("username", instance.username), ("email", instance.email))
    elif model == "ResidentProfile":
        yield from (("location", instance.home_location), ("location", instance.last_location))
    elif model == "ResidentNeed":
        yield "text", instance.note
    elif model == "ChannelIdentity":
        yield ("email" if "@" in instance.external_id else "chat_id"), instance.external_id
    elif model == "TelegramChat":
        yield "chat_id", instance.chat_id
    elif model in ("Reply", "CitizenReport"):
        yield "text", instance.message if model == "Reply" else instance.text
        yield "location", instance.location
    elif model == "Message":
        # Official posts are public statements; what a resident writes is theirs.
        from rooms.models import OFFICIAL_KINDS

        if instance.kind not in OFFICIAL_KINDS:
            yield "text", instance.body
    elif model == "Shelter":
        # The facility's own phone and email are public; its staff contacts are people.
        for contact in instance.contacts or []:
            if isinstance(contact, dict):
                for field, kind in (("name", "name"), ("phone", "phone"), ("email", "email")):
                    yield kind, contact.get(field)


def _connect_signals() -> None:
    from django.apps import apps
    from django.db.models.signals import post_save

    for label in (
        "accounts.User",
        "accounts.ResidentProfile",
        "accounts.ResidentNeed",
        "accounts.ChannelIdentity",
        "bots.TelegramChat",
        "alerts.Reply",
        "alerts.CitizenReport",
        "rooms.Message",
        "shelters.Shelter",
    ):
        post_save.connect(_on_save, sender=apps.get_model(label), weak=False, dispatch_uid=f"personal-data-{label}")


# --- capture: every log record of this process -------------------------------------------------------------------


class _HarnessFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.name == name or record.name.startswith(name + ".") for name in HARNESS_LOGGERS)


class Capture:
    """Every record at DEBUG and up goes to a file, while the handlers already there see what they saw before.

    The root logger goes down to DEBUG; the other root handlers (Django's console), and pytest's caplog and report
    handlers, are raised to the root's level from before, so tests and their failure reports are unchanged.
    `ensure()` runs before each test: it puts this back if a test reconfigured logging in the meantime.
    """

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.level_before = logging.getLogger().getEffectiveLevel()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.handler.addFilter(_HarnessFilter())
        self.restored_after: list[str] = []
        self.ensure()

    def ensure(self, after: str | None = None) -> None:
        root = logging.getLogger()
        if after is not None and (root.level != logging.DEBUG or self.handler not in root.handlers):
            self.restored_after.append(after)
        others = [handler for handler in root.handlers if handler is not self.handler]
        pytest_plugin = self.config.pluginmanager.get_plugin("logging-plugin")
        if pytest_plugin is not None and pytest_plugin.log_level is None:
            # pytest sets these handlers' levels only when --log-level is given; caplog restores the level it found.
            others += [pytest_plugin.caplog_handler, pytest_plugin.report_handler]
            if pytest_plugin.log_file_level is None:
                others.append(pytest_plugin.log_file_handler)
        for handler in others:
            if handler.level == logging.NOTSET:
                handler.setLevel(self.level_before)
        for logger in [root, *root.manager.loggerDict.values()]:
            if (
                isinstance(logger, logging.Logger)
                and (logger is root or not logger.propagate)
                and self.handler not in logger.handlers
            ):
                logger.addHandler(self.handler)
        root.setLevel(logging.DEBUG)

    def stop(self) -> None:
        root = logging.getLogger()
        for logger in [root, *root.manager.loggerDict.values()]:
            if isinstance(logger, logging.Logger) and self.handler in logger.handlers:
                logger.removeHandler(self.handler)
        self.handler.close()


# --- the session -------------------------------------------------------------------------------------------------


class PersonalDataPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder = Recorder()
        self.capture: Capture | None = None
        self.hits: list[Hit] = []
        self.scanned: list[Path] = []
        self.basetemp: Path | None = None
        self.previous_test: str | None = None
        self.scan_seconds = 0.0

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        global _ACTIVE
        _ACTIVE = self.recorder
        from django.conf import settings

        if settings.configured:
            _connect_signals()
        self.basetemp = self.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # pytest's own
        self.capture = Capture(self.config, self.basetemp / CAPTURE_NAME)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.capture is not None:
            self.capture.ensure(after=self.previous_test)
        self.previous_test = item.nodeid

    # Last: after the session fixtures' teardown has stopped the processes they started and their logs are complete.
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        global _ACTIVE
        _ACTIVE = None
        if self.capture is not None:
            self.capture.stop()
        if self.basetemp is None or self.config.option.collectonly:
            return
        started = time.monotonic()
        self.scanned = run_logs(self.basetemp)
        self.hits = self.recorder.scan(self.scanned)
        self.scan_seconds = time.monotonic() - started
        if self.hits and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.basetemp is None or self.config.option.collectonly:
            return
        if self.capture is not None and self.capture.restored_after:
            terminalreporter.write_line(
                "personal data in logs: the log capture was put back after a test reconfigured logging: "
                + ", ".join(self.capture.restored_after[:10])
            )
        if not self.hits:
            megabytes = sum(path.stat().st_size for path in self.scanned) / 1e6
            terminalreporter.write_line(
                f"personal data in logs: none ({len(self.recorder)} values recorded; {len(self.scanned)} log files, "
                f"{megabytes:.1f} MB, scanned in {self.scan_seconds:.1f} s under {self.basetemp})"
            )
            return
        terminalreporter.section("personal data in logs", sep="=", red=True, bold=True)
        for hit in self.hits[:50]:
            terminalreporter.write_line(str(hit))
        counts = Counter((str(hit.path), hit.kind) for hit in self.hits)
        for (path, kind), count in sorted(counts.items()):
            terminalreporter.write_line(f"{count:6d} {kind} in {path}")
        terminalreporter.write_line(
            f"{len(self.hits)} lines with personal data of the test residents in the logs: the run fails. "
            "Log ids, never names, contacts, locations or what people wrote."
        )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PersonalDataPlugin(config), "personal-data-in-logs")
