"""The log scan for personal data (tests/personal_data.py) finds what it must and fails the run; nothing else.

The scan itself runs at the end of every pytest session, in every lane; these tests prove it is not a check that
cannot fail: planted values are found in every form a log would print them, a clean log passes, and a session
whose logs (its own or a subprocess's *.log file) carry a recorded value exits non-zero, naming file and line.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point

from tests.conftest import REPO_ROOT
from tests.personal_data import CAPTURE_NAME, PLANTED_MARKER, Recorder, run_logs

NAME = "Zelda Quixote-Marchbanks"
USERNAME = "z.quixote"
EMAIL = "Zelda.Quixote@example.net"
PHONE = "+44 20 7946 0958"
CHAT_ID = 712345678
TEXT = "My grandmother needs insulin, she is alone at home"
# A house in Paris, as a phone's location would give it.
LON, LAT = 2.352219, 48.856614


@pytest.fixture
def recorder() -> Recorder:
    recorder = Recorder()
    recorder.add("name", NAME)
    recorder.add("name", "Ysolde")  # a Telegram user's first name alone
    recorder.add("username", USERNAME)
    recorder.add("email", EMAIL)
    recorder.add("phone", PHONE)
    recorder.add("chat_id", CHAT_ID)
    recorder.add("text", TEXT)
    recorder.add("location", Point(LON, LAT, srid=4326))
    recorder.add("location", Point(2.5, 2.5, srid=4326))  # a test resident placed with few decimals
    return recorder


LEAKS = [
    ("name", f"INFO bots.journeys welcome {NAME}"),
    ("name", "DEBUG telegram.Bot sendMessage {'chat_id': 1, 'text': 'Hello Ysolde!'}"),
    ("username", f"WARNING accounts login failed for {USERNAME}"),
    ("email", "INFO alerts.transports sent to zelda.quixote@EXAMPLE.net"),
    ("phone", f"ERROR shelters contact {PHONE} unreachable"),
    ("phone", "ERROR shelters contact 442079460958 unreachable"),
    ("chat_id", f"WARNING bots.telegram chat {CHAT_ID} blocked the bot"),
    ("text", f"INFO celery.app.trace Task alerts.report succeeded in 0.1s: '{TEXT}'"),
    ("text", f"ValueError: bad report {TEXT[:40]}…"),
    ("location", f"INFO alerts home at {LON} {LAT}"),
    ("location", f"INFO alerts reported at {LAT}, {LON}"),
    ("location", f"INFO alerts SRID=4326;POINT ({LON} {LAT})"),
    ("location", 'DEBUG geojson {"coordinates": [2.3522, 48.8566]}'),
    ("location", "DEBUG rounded 48.8566,2.3522"),
    ("location", "WARNING profile POINT (2.5 2.5) outside every area"),
]

CLEAN = [
    "2026-12-06 07:10:00,159 WARNING django.request Forbidden: /api/accounts/me/home-location/",
    "INFO celery.app.trace Task alerts.dispatch[5d41] succeeded in 0.02s: {'deliveries': 712}",
    "INFO bots welcome Zelda and Quixote-Marchbanks, Ysoldes, user 7123456 and 7123456789",
    "INFO somewhere else 2.3622 48.8566 (a kilometre away) and 48.85 2.35 (a whole quarter)",
    "DEBUG area POLYGON ((0 0, 2.5 0, 2.5 2.5, 0 2.5, 0 0))",
    "INFO My grandmother needs",
    "INFO zelda.quixote@example.network z.quixote2 zquixote",
]


def _log(tmp_path: Path, lines: list[str]) -> Path:
    # Marked, so that the run's own scan leaves these planted values to this test.
    (tmp_path / PLANTED_MARKER).touch()
    path = tmp_path / "planted.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_scan_finds_each_kind_of_personal_data_on_its_line(recorder, tmp_path):
    path = _log(tmp_path, [line for _, line in LEAKS])

    hits = recorder.scan([path])

    found = {(hit.line_number, hit.kind) for hit in hits}
    assert found >= {(number, kind) for number, (kind, _) in enumerate(LEAKS, 1)}
    assert {hit.line_number for hit in hits} == set(range(1, len(LEAKS) + 1))
    assert all(hit.path == path for hit in hits)
    assert f"{path}:1: name" in str(hits[0])


def test_a_clean_log_has_no_finding(recorder, tmp_path):
    assert recorder.scan([_log(tmp_path, CLEAN)]) == []


def test_the_run_scans_every_log_under_basetemp_but_planted_ones(tmp_path):
    (tmp_path / "web-server0").mkdir()
    (tmp_path / "web-server0" / "daphne.log").touch()
    (tmp_path / "test_x0" / "worker").mkdir(parents=True)
    (tmp_path / "test_x0" / "worker" / "celery.log").touch()
    (tmp_path / "test_x0" / "notes.txt").touch()
    (tmp_path / "test_y0").mkdir()
    _log(tmp_path / "test_y0", ["planted"])

    assert run_logs(tmp_path) == [
        tmp_path / "test_x0" / "worker" / "celery.log",
        tmp_path / "web-server0" / "daphne.log",
    ]


def test_non_ascii_values_are_also_found_json_escaped(tmp_path):
    recorder = Recorder()
    recorder.add("name", "Zoë")
    path = _log(tmp_path, ['DEBUG update {"first_name": "Zo\\u00eb"}', "INFO Zoë", "INFO Zoëlle"])

    assert [hit.line_number for hit in recorder.scan([path])] == [1, 2]


def test_too_short_or_generic_values_are_not_recorded():
    recorder = Recorder()
    for kind, value in [
        ("name", "Al"),
        ("name", "event"),
        ("username", "resident"),
        ("username", "bob-1"),
        ("phone", "112"),
        ("chat_id", 4242),
        ("text", "help"),
        ("text", "Flooding!!!!!!!"),
    ]:
        recorder.add(kind, value)

    assert len(recorder) == 0


def test_the_capture_keeps_debug_records_that_caplog_does_not_see(caplog, tmp_path_factory):
    logger = logging.getLogger("tests.security.capture_probe")

    logger.debug("probe at debug %s", "d-7f3a")
    logger.info("probe at info %s", "i-7f3a")

    assert [record.getMessage() for record in caplog.records] == ["probe at info i-7f3a"]
    captured = (tmp_path_factory.getbasetemp() / CAPTURE_NAME).read_text(encoding="utf-8")
    assert "probe at debug d-7f3a" in captured
    assert "probe at info i-7f3a" in captured


INNER_TEST = f"""
import logging
from types import SimpleNamespace

from tests.personal_data import record


def test_a_resident(tmp_path_factory):
    record("name", {NAME!r})
    record("location", SimpleNamespace(x={LON}, y={LAT}))
    logging.getLogger("app.module").{{level}}("resident %s registered", {{in_process!r}})
    worker_log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker_log.write_text("Task succeeded: {{in_subprocess}}\\n")
"""


def _inner_session(tmp_path: Path, *, level: str, in_process: str, in_subprocess: str) -> tuple[int, str]:
    """A pytest session with only this plugin, whose test records a resident and logs the given values."""
    (tmp_path / PLANTED_MARKER).touch()
    (tmp_path / "test_inner.py").write_text(
        INNER_TEST.format(level=level, in_process=in_process, in_subprocess=in_subprocess)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    output = tmp_path / "inner-session.txt"
    with output.open("wb") as out:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "tests.personal_data", "-p", "no:django", "-p", "no:cacheprovider",
             "--basetemp", str(tmp_path / "basetemp"), "-q", "test_inner.py"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False,
        )  # fmt: skip
    return result.returncode, output.read_text()


def test_a_session_whose_logs_carry_personal_data_fails(tmp_path):
    code, output = _inner_session(
        tmp_path, level="debug", in_process="Zelda Quixote-Marchbanks", in_subprocess="POINT (2.352219 48.856614)"
    )

    assert code == 1, output
    assert "1 passed" in output
    assert "personal data in logs" in output
    assert f"{CAPTURE_NAME}:1: name 'Zelda Quixote-Marchbanks'" in output
    assert "worker.log:1: location" in output


def test_a_session_with_clean_logs_passes(tmp_path):
    code, output = _inner_session(tmp_path, level="info", in_process="user 17", in_subprocess="'sent': 1")

    assert code == 0, output
    assert "personal data in logs: none" in output


def test_the_telegram_library_never_logs_its_api_calls_even_at_debug():
    # python-telegram-bot logs each Bot API call's parameters and answer at DEBUG: chat ids, first names, texts.
    # The run's capture puts the root logger at DEBUG, as LOG_LEVEL=DEBUG would in production.
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("telegram.ext.ExtBot").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("telegram.ext.Application").isEnabledFor(logging.INFO)
