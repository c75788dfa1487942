"""The process's Bot API client: one python-telegram-bot `ExtBot` on one event loop of the process's own.

Celery tasks and Django views are synchronous; they run coroutines on that loop with `on_bot_loop`. The loop
lives in a daemon thread started on first use (again after a fork), so that the HTTP connections and the Redis
rate limiter's connections are kept between tasks instead of being opened for every message.
"""

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from django.conf import settings
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

_T = TypeVar("_T")
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()
_bot: ExtBot[Any] | None = None
_bot_lock: asyncio.Lock | None = None


class NotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN is not set: the bot is off."""


def bot_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def _loop_get() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid, _bot, _bot_lock
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():  # first use, or a forked worker process
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="telegram-bot", daemon=True).start()
            _loop_pid = os.getpid()
            _bot = None
            _bot_lock = None
        return _loop


def on_bot_loop(coroutine: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
    """Run a coroutine on the process's bot loop from synchronous code and return its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, _loop_get()).result(timeout)


def bot_build(*, rate_limited: bool = True) -> ExtBot[Any]:
    """A new, uninitialised bot for the configured server; the caller owns it (and its event loop)."""
    if not bot_configured():
        raise NotConfigured("TELEGRAM_BOT_TOKEN is not set")
    from bots.telegram.ratelimit import RedisRateLimiter

    timeout = settings.TELEGRAM_REQUEST_TIMEOUT_SECONDS
    request = HTTPXRequest(
        connection_pool_size=64,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )
    return ExtBot(
        settings.TELEGRAM_BOT_TOKEN,
        base_url=settings.TELEGRAM_API_BASE_URL,
        base_file_url=settings.TELEGRAM_API_FILE_URL,
        request=request,
        get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=60, connect_timeout=timeout),
        rate_limiter=RedisRateLimiter() if rate_limited else None,
    )


async def bot_get() -> ExtBot[Any]:
    """The process's initialised bot; call on the bot loop (inside a coroutine given to `on_bot_loop`)."""
    global _bot, _bot_lock
    if _bot_lock is None:
        _bot_lock = asyncio.Lock()
    async with _bot_lock:
        if _bot is None:
            bot = bot_build()
            await bot.initialize()
            _bot = bot
        return _bot


def bot_reset() -> None:
    """Forget the process's bot (tests that point the settings at another server)."""
    global _bot
    if _bot is not None and _loop is not None and _loop.is_running():
        bot, _bot = _bot, None
        asyncio.run_coroutine_threadsafe(bot.shutdown(), _loop).result(10)
    _bot = None
