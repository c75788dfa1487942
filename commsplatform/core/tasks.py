"""Periodic kernel tasks."""

import logging

from celery import shared_task

from commsplatform.core.audit import audit_chain_verify

logger = logging.getLogger(__name__)


@shared_task(name="core.audit_verify", time_limit=1800, soft_time_limit=1700)
def audit_verify() -> dict[str, object]:
    report = audit_chain_verify()
    if not report.ok:
        logger.error("Audit chain broken at event #%s: %s", report.broken_seq, report.reason)
    return {"ok": report.ok, "checked": report.checked, "broken_seq": report.broken_seq}
