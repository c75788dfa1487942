"""Telegram updates in: each stored once under its update_id, then processed once by a worker.

Webhook and long polling both hand updates to `update_receive`; a Celery task calls `update_process`, which
runs the bot's handlers (bots/journeys) on the process's bot loop. An update Telegram sends again (it does, when
an answer was late) finds its update_id taken and changes nothing.
"""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bots.models import TelegramUpdate, UpdateState
from commsplatform.core.errors import ValidationFailed

logger = logging.getLogger(__name__)

# Telegram re-sends an update for at most 24 hours; after this long a stored update (which holds what the person
# wrote) has served its purpose of catching repeats and is deleted.
UPDATE_RETENTION = timedelta(hours=48)
# The kinds of update the bot acts on; any other (edited messages, chat member changes...) is stored and skipped.
HANDLED_KINDS = ("message", "callback_query")
MAX_UPDATE_ID = 2**53


@dataclass(frozen=True)
class Received:
    update_id: int
    duplicate: bool


def update_parse(body: bytes) -> dict[str, Any]:
    """The update a request body holds, or ValidationFailed naming what is wrong with it."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("The body is not JSON.", fields={"body": "not_json"}) from None
    return update_check(data)


def update_check(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("An update is a JSON object.", fields={"body": "not_object"})
    update_id = data.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id < MAX_UPDATE_ID:
        raise ValidationFailed("An update needs a non-negative integer update_id.", fields={"update_id": "invalid"})
    for kind in HANDLED_KINDS:
        if kind in data and not isinstance(data[kind], dict):
            raise ValidationFailed(f"The update's {kind} must be an object.", fields={kind: "not_object"})
    return data


def update_receive(*, data: dict[str, Any], source: str) -> Received:
    """Store a checked update and queue its processing; a repeat of a stored update_id is a no-op."""
    from bots.tasks import process_update

    update = update_check(data)
    update_id = int(update["update_id"])
    try:
        with transaction.atomic():
            TelegramUpdate.objects.create(update_id=update_id, source=source, payload=update)
            transaction.on_commit(lambda: process_update.delay(update_id))
    except IntegrityError:
        return Received(update_id, duplicate=True)
    return Received(update_id, duplicate=False)


def update_process(*, update_id: int) -> str:
    """Run the handlers for a stored update, once: the first call claims it, any later call finds it claimed."""
    claimed = TelegramUpdate.objects.filter(update_id=update_id, state=UpdateState.RECEIVED).update(
        state=UpdateState.PROCESSING, processed_at=timezone.now()
    )
    if not claimed:
        return "skipped"
    payload = TelegramUpdate.objects.values_list("payload", flat=True).get(update_id=update_id)
    from bots.application import application_process
    from bots.telegram.api import on_bot_loop

    try:
        on_bot_loop(application_process(payload))
    except Exception as exc:
        # The type only: the message of an error may quote what the person wrote.
        TelegramUpdate.objects.filter(update_id=update_id).update(state=UpdateState.FAILED, error=type(exc).__name__)
        logger.exception("telegram update %s failed: %s", update_id, type(exc).__name__)
        return "failed"
    TelegramUpdate.objects.filter(update_id=update_id).update(state=UpdateState.DONE, processed_at=timezone.now())
    return "done"


def updates_prune() -> int:
    """Delete updates older than UPDATE_RETENTION (beat runs this hourly); returns how many went."""
    cutoff = timezone.now() - UPDATE_RETENTION
    deleted, _ = TelegramUpdate.objects.filter(received_at__lt=cutoff).delete()
    return deleted
