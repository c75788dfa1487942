"""manage.py cap_check FILE|DIR…: read, validate, import (rolled back), re-export and re-validate each file.

Prints one line per file, `<path>: ok` or `<path>: rejected: <reason>`, and exits with status 1 when any file is
rejected. The import runs as the system (no permission needed) against the configured database, inside a
transaction that is always rolled back: nothing is written. A file is ok when every alert in it passes the
XSD of its version, CAP's own rules and its signatures, imports, and its CAP 1.2 export passes the 1.2 XSD and
reads back as the same alert. Without a schema a file is rejected, never ok.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from alerts.cap_xml import (
    CapRejected,
    alert_to_cap_xml,
    cap_alert_read,
    cap_content_differences,
    cap_document_read,
    cap_parse_xml,
    schema_source,
)
from alerts.services.cap_import import cap_import
from commsplatform.core.errors import DomainError

EXTENSIONS = {".xml", ".cap", ".atom", ".edxlde", ".rss"}


class _RolledBack(Exception):
    pass


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
        else:
            found.append(path)
    return found


def cap_file_check(data: bytes) -> str | None:
    """None when the document passes every check and round-trips; else the reason it is rejected."""
    document = cap_document_read(data, require_schema=True)
    problem: str | None = None
    try:
        with transaction.atomic():
            alerts = cap_import(actor=None, data=data, require_schema=True)
            for read, alert in zip(document.alerts, alerts, strict=True):
                where = f"alert {read.position}: " if len(document.alerts) > 1 else ""
                exported = alert_to_cap_xml(alert)
                try:
                    again = cap_alert_read(cap_parse_xml(exported), require_schema=True)
                except CapRejected as exc:
                    problem = f"{where}the CAP 1.2 export is invalid: {exc.message}"
                    break
                differences = cap_content_differences(read.content, again.content)
                if differences:
                    problem = f"{where}the export differs from the original: " + "; ".join(differences[:5])
                    break
            raise _RolledBack
    except _RolledBack:
        pass
    return problem


class Command(BaseCommand):
    help = "Check CAP files: parse, validate, import (rolled back), re-export, re-validate. Exit 1 if any is rejected."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="CAP files, or folders searched for .xml/.cap/.atom/.edxlde/.rss")

    def handle(self, *args: Any, **options: Any) -> None:
        for version in ("1.2", "1.1"):
            self.stderr.write(f"CAP {version} schema: {schema_source(version) or 'NOT AVAILABLE'}")
        files = _files(options["paths"])
        if not files:
            raise CommandError("No CAP files found.")
        rejected = 0
        for path in files:
            try:
                reason = cap_file_check(path.read_bytes())
            except DomainError as exc:
                reason = exc.message
            except OSError as exc:
                reason = f"cannot read the file: {exc.strerror or exc}"
            if reason is None:
                self.stdout.write(f"{path}: ok")
            else:
                rejected += 1
                self.stdout.write(f"{path}: rejected: {' '.join(reason.split())}")
        self.stderr.write(f"{len(files) - rejected} ok, {rejected} rejected, of {len(files)} files")
        if rejected:
            raise CommandError(f"{rejected} of {len(files)} files rejected.")
