"""The python-telegram-bot Application that runs the journeys' handlers, one per process, on the bot loop.

It has no Updater: updates come from bots.updates (webhook or polling, stored once), and are given to
`application_process` one at a time by the Celery task.
"""

import asyncio
import contextvars
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes

from bots.journeys import handlers_all
from bots.telegram.api import bot_get

logger = logging.getLogger(__name__)
_application: Application[Any, Any, Any, Any, Any, Any] | None = None
_lock: asyncio.Lock | None = None
# The errors of the update being processed (handlers run in application_process's own task and context).
_errors: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar("bot_errors", default=None)


class HandlerFailed(RuntimeError):
    """A handler raised: the update is marked failed (the person was told something went wrong)."""


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    # The type only: an error's message may quote what the person wrote.
    logger.error("telegram handler failed: %s", type(error).__name__, exc_info=error)
    errors = _errors.get()
    if errors is not None and error is not None:
        errors.append(error)
    if isinstance(update, Update) and update.effective_chat is not None:
        from bots.journeys.common import say_sorry

        await say_sorry(update)


async def application_get() -> Application[Any, Any, Any, Any, Any, Any]:
    global _application, _lock
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _application is None:
            application = Application.builder().bot(await bot_get()).updater(None).build()
            application.add_handlers(handlers_all())
            application.add_error_handler(_on_error)
            await application.initialize()
            _application = application
        return _application


async def application_process(payload: dict[str, Any]) -> None:
    application = await application_get()
    update = Update.de_json(payload, application.bot)
    errors: list[BaseException] = []
    _errors.set(errors)
    await application.process_update(update)
    if errors:
        raise HandlerFailed(type(errors[0]).__name__) from errors[0]


def application_reset() -> None:
    """Forget the process's Application (tests that point the bot at another server)."""
    global _application
    _application = None
