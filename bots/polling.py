"""Long polling: python-telegram-bot's Updater calls getUpdates; each update goes to update_receive, exactly as
the webhook's do (stored once, then processed by a Celery task)."""

import logging
from typing import Any

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bots import updates
from bots.models import UpdateSource
from bots.telegram.api import bot_build
from commsplatform.core.errors import ValidationFailed

logger = logging.getLogger(__name__)


async def _forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    try:
        received = await sync_to_async(updates.update_receive)(data=update.to_dict(), source=UpdateSource.POLLING)
    except ValidationFailed as exc:
        logger.warning("telegram polling: skipped an update: %s", exc.message)
        return
    if received.duplicate:
        logger.info("telegram polling: update %s was already received", received.update_id)


def polling_application() -> Application[Any, Any, Any, Any, Any, Any]:
    """An Application whose only handler hands every update on; receiving sends nothing, so no rate limiter."""
    application = Application.builder().bot(bot_build(rate_limited=False)).build()
    application.add_handler(TypeHandler(Update, _forward))
    return application
