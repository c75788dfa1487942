"""manage.py cap_check on every shared CAP file: one line per file, ok or rejected with the reason its README
gives, exit status 1 when any is rejected, and nothing written."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts import cap_xml
from alerts.models import Alert
from commsplatform.core.models import AuditEvent
from tests.alerts.test_cap_xml import EXPECTED_REJECTIONS, HOSTILE, cap_document

# What cap_check prints for each kind of rejection (CapRejected.kind → words of the reason).
REASON_WORDS = {
    "schema": "schema (CAP 1.",
    "namespace": "unknown namespace",
    "rule": "CAP rule",
    "signature": "signature does not verify",
    "container": "container has",
}


def _run(*paths: Path | str) -> tuple[dict[str, str], bool]:
    out, err = StringIO(), StringIO()
    failed = False
    try:
        call_command("cap_check", *[str(p) for p in paths], stdout=out, stderr=err)
    except CommandError:
        failed = True
    lines = {}
    for line in out.getvalue().splitlines():
        name, _, outcome = line.partition(": ")
        lines[name] = outcome
    return lines, failed


@pytest.mark.django_db
@pytest.mark.shared_data
@pytest.mark.parametrize("folder", ["valid", "cap11", "containers", "invalid"])
def test_cap_check_on_the_shared_folders(shared_data_dir, folder):
    cap_dir = shared_data_dir / "cap"
    lines, failed = _run(cap_dir / folder)
    assert lines, "no file was checked"
    expected_failures = 0
    for path, outcome in lines.items():
        name = str(Path(path).relative_to(cap_dir))
        if name in EXPECTED_REJECTIONS:
            expected_failures += 1
            kind, words = EXPECTED_REJECTIONS[name]
            assert outcome.startswith("rejected: "), f"{name}: {outcome}"
            assert REASON_WORDS[kind] in outcome, f"{name}: {outcome}"
            assert words in outcome, f"{name}: {outcome}"
        else:
            assert outcome == "ok", f"{name}: {outcome}"
    assert failed == (expected_failures > 0)
    assert not Alert.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.shared_data
def test_cap_check_counts(shared_data_dir):
    lines, failed = _run(shared_data_dir / "cap")
    assert failed
    outcomes = list(lines.values())
    assert len(outcomes) == 150
    assert outcomes.count("ok") == 150 - len(EXPECTED_REJECTIONS)


@pytest.mark.django_db
def test_cap_check_ok_and_hostile_files(tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(cap_document("check-1"))
    hostile = tmp_path / "xxe.xml"
    hostile.write_bytes(HOSTILE["xxe-file"][0])
    lines, failed = _run(good, hostile)
    assert lines[str(good)] == "ok"
    assert lines[str(hostile)] == "rejected: hostile XML: DTDs are not allowed (possible XXE/entity expansion)."
    assert failed
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_cap_check_passes_only_when_every_file_does(tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(cap_document("check-2"))
    lines, failed = _run(good)
    assert lines == {str(good): "ok"}
    assert not failed


@pytest.mark.django_db
def test_cap_check_without_a_schema_fails_loudly(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(cap_xml, "_packaged_schema", lambda version: None)
    settings.CAP_SCHEMA_DIR = str(tmp_path / "no-schemas-here")
    good = tmp_path / "good.xml"
    good.write_bytes(cap_document("check-3"))
    lines, failed = _run(good)
    assert lines[str(good)].startswith("rejected: schema not available")
    assert failed
