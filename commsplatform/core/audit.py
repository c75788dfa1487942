"""Appending to and verifying the audit chain. Every state change and every sensitive read goes here."""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from commsplatform.core.context import current_context
from commsplatform.core.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_digest(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    area_id: int | None,
    source: str,
    request_id: str,
    data: Any,
    prev_hash: str,
) -> str:
    payload = _canonical(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id,
            action,
            object_type,
            object_id,
            area_id,
            source,
            request_id,
            data,
            prev_hash,
        ]
    )
    key = settings.AUDIT_CHAIN_KEY.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _digest_of(event: AuditEvent) -> str:
    return _event_digest(
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        area_id=event.area_id,
        source=event.source,
        request_id=event.request_id,
        data=event.data,
        prev_hash=event.prev_hash,
    )


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    area_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction, so the change and its record commit together.

    `data` must not hold personal data (names, locations, free text): ids and field names only.
    """
    ctx = current_context()
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    # Round-trip through JSON so the stored value hashes the same after it is read back.
    clean_data = json.loads(_canonical(dict(data or {})))
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            # The genesis migration creates the row; a database flushed since (as transactional
            # tests do between tests) has lost it, and the first append starts the chain again.
            # Concurrent first appends all try: the conflict is ignored and everyone then locks the one row.
            AuditChainHead.objects.bulk_create([AuditChainHead(pk=1, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True)
            head = AuditChainHead.objects.select_for_update().get(pk=1)
        event = AuditEvent(
            seq=head.seq + 1,
            at=timezone.now(),
            actor_id=actor_id if actor_id is not None else ctx.actor_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            area_id=area_id,
            source=ctx.source[:200],
            request_id=ctx.request_id[:64],
            data=clean_data,
            prev_hash=head.hash,
        )
        event.hash = _digest_of(event)
        event.save()
        AuditChainHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the chain in order; name the first event whose content, link or position is wrong."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if event.seq != expected_seq:
            return ChainReport(
                False, checked, expected_seq, f"event #{expected_seq} is missing (next stored is #{event.seq})"
            )
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, event.seq, f"event #{event.seq} does not link to event #{event.seq - 1}")
        if not hmac.compare_digest(_digest_of(event), event.hash):
            return ChainReport(
                False, checked, event.seq, f"event #{event.seq} was altered (its hash does not match its content)"
            )
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != checked:
        missing = checked + 1
        return ChainReport(
            False, checked, missing, f"event #{missing} is missing (the chain head records {head_seq} events)"
        )
    if head_hash != prev_hash:
        return ChainReport(False, checked, checked, f"event #{checked} does not match the chain head")
    return ChainReport(True, checked)
