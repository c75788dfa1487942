"""manage.py audit_verify: walk the audit chain and name the first broken link (exit status 1)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commsplatform.core.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit record; name the first broken event."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain broken at event #{report.broken_seq}: {report.reason} "
                f"({report.checked} verified before it)"
            )
        self.stdout.write(f"ok: {report.checked} events verified")
