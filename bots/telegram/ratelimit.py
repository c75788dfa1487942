"""The bot's one rate limiter, shared by every process: Redis token buckets per bot, per chat and per group.

Every Bot API call of the bot goes through `RedisRateLimiter.process_request` (PTB's `BaseRateLimiter`), but only
calls that put a message in a chat (send*, except sendChatAction; copyMessage(s), forwardMessage(s)) take tokens:
one from the bot's bucket (TELEGRAM_RATE_PER_BOT a second) and one from the chat's (TELEGRAM_RATE_PER_CHAT a second
for a private chat, TELEGRAM_RATE_PER_GROUP for a group or channel: a negative id or an @username). A media group
or a multi-message copy takes one token per message. Both buckets are checked and taken together by one Lua script,
with Redis's own clock, so that any number of processes on any number of machines never send faster than
Telegram allows. The buckets are GCRA ("theoretical arrival time") with a small burst: BURST_PER_BOT messages
may leave at once after a pause, so that a send that wakes a few milliseconds late does not lose its slot; a
chat's bucket has no burst (Telegram's per-chat limit is the strictest).

Priority (`rate_limit_args`, an int): PRIORITY_LIFE_SAFETY (1) before PRIORITY_INTERACTIVE (2, the default:
handlers' replies) before PRIORITY_NORMAL (3: room posts and other broadcasts). A request the buckets refuse
registers itself, with its priority, as a waiter of each bucket that refused it (a Redis sorted set per bucket
and level, each entry expiring shortly after the waiter's next try, so that a dead process blocks nobody for
long). A request may only take a token from a bucket while no waiter of a higher priority is registered on it:
a normal message never takes the token a waiting life-safety message needs, whichever process each runs in.
Among equal priorities there is no order. Lower priorities can starve while higher ones keep the bot busy; that
is the point (an evacuation order to 100,000 people goes before the room posts).

Waiting costs little Redis: within a process, one request per priority level asks Redis at a time (a local
turnstile) and sleeps exactly until Redis says its next token is due; a request refused only by its own chat's
bucket steps aside so that others in the process can go meanwhile.

Telegram's 429 (RetryAfter) on a sending call pauses the bot's bucket for `retry_after` in Redis, for every
process, and is re-raised: the caller decides (the telegram transport records a retry with Telegram's
retry_after). For interactive requests (the handlers' replies, a person waiting) a RetryAfter of at most
INTERACTIVE_RETRY_MAX_SECONDS is waited out and the call made once more before giving up.

`wait_at_most(seconds)` bounds how long the calls made inside it may wait for tokens: past that they raise
`RateLimitTimeout` (with the wait still ahead as `retry_after`) instead of calling Telegram, so that a delivery
batch never outlives its claim. Without Redis nothing is sent: the Redis error propagates (fail closed: a limiter
that lets everything through is how a bot gets banned).
"""

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

logger = logging.getLogger(__name__)

# Never 0: PTB drops a falsy rate_limit_args, and the request would pass as interactive.
PRIORITY_LIFE_SAFETY = 1
PRIORITY_INTERACTIVE = 2
PRIORITY_NORMAL = 3
PRIORITIES = (PRIORITY_LIFE_SAFETY, PRIORITY_INTERACTIVE, PRIORITY_NORMAL)

BURST_PER_BOT = 5  # messages; Telegram tolerates short bursts, and the fake server's bucket holds a second's worth
BURST_PER_CHAT = 1
BURST_PER_GROUP = 1
INTERACTIVE_RETRY_MAX_SECONDS = 5.0
WAITER_GRACE_SECONDS = 0.5  # a waiter's registration outlives its next try by this much
REDIS_CALL_TIMEOUT_SECONDS = 2.0  # bound with asyncio.timeout: no socket timeout (see CHANNEL_LAYER_SOCKET_TIMEOUT)
KEY_PREFIX = "telegram:ratelimit"

# Message-sending endpoints that do not start with "send", and the one that does but sends nothing.
_SENDING_OTHERS = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})
_NOT_SENDING = frozenset({"sendChatAction"})

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("telegram_rate_deadline", default=None)

# KEYS: 1 pause, 2 bot bucket, 3 bot waiters (life-safety), 4 bot waiters (interactive),
#       then optionally 5 chat bucket, 6 chat waiters (life-safety), 7 chat waiters (interactive).
# ARGV: 1 priority, 2 cost, 3 waiter id on the bot's bucket (one per process and level), 4 grace ms, 5 bot interval ms,
#       6 bot burst, 7 chat interval ms, 8 chat burst, 9 waiter id on the chat's bucket (one per request),
#       10 "1" to stay registered on the bot's bucket after taking a token (more of this process's requests wait).
# Returns {verdict, milliseconds to wait}: "ok" (tokens taken), "pause" (429 pause), "bot" (the bot's bucket, or
# a higher-priority waiter on it, is the longer wait), "chat" (the chat's bucket is).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local priority = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local bot_waiter = ARGV[3]
local chat_waiter = ARGV[9]
local keep = ARGV[10] == '1'
local grace = tonumber(ARGV[4])

local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if paused > now then
  return {'pause', tostring(paused - now)}
end

local function check(tat_key, waiter_sets, interval, burst)
  local tat = tonumber(redis.call('GET', tat_key) or '0')
  local debt = math.max(tat - now, 0)
  local need = math.min(cost, burst) * interval
  local wait = debt + need - burst * interval
  for level = 1, priority - 1 do
    local set = waiter_sets[level]
    if set then
      redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
      if redis.call('ZCARD', set) > 0 and wait < interval then
        wait = interval
      end
    end
  end
  return wait, math.max(tat, now) + need
end

local function register(set, waiter, wait)
  local expires = wait + grace
  redis.call('ZADD', set, now + expires, waiter)
  if redis.call('PTTL', set) < expires + 1000 then
    redis.call('PEXPIRE', set, math.ceil(expires) + 1000)
  end
end

local bot_sets = {KEYS[3], KEYS[4]}
local bot_wait, bot_tat = check(KEYS[2], bot_sets, tonumber(ARGV[5]), tonumber(ARGV[6]))
local chat_wait, chat_tat, chat_sets = 0, nil, nil
if #KEYS >= 7 then
  chat_sets = {KEYS[6], KEYS[7]}
  chat_wait, chat_tat = check(KEYS[5], chat_sets, tonumber(ARGV[7]), tonumber(ARGV[8]))
end

if bot_wait <= 0 and chat_wait <= 0 then
  redis.call('SET', KEYS[2], tostring(bot_tat), 'PX', math.ceil(bot_tat - now) + 1000)
  if chat_tat then
    redis.call('SET', KEYS[5], tostring(chat_tat), 'PX', math.ceil(chat_tat - now) + 1000)
  end
  if priority < 3 then
    if keep then
      register(bot_sets[priority], bot_waiter, tonumber(ARGV[5]))
    else
      redis.call('ZREM', bot_sets[priority], bot_waiter)
    end
    if chat_sets then redis.call('ZREM', chat_sets[priority], chat_waiter) end
  end
  return {'ok', '0'}
end

-- The bucket that makes the request wait longest is the one it waits for (and reserves).
if bot_wait >= chat_wait then
  if priority < 3 then register(bot_sets[priority], bot_waiter, bot_wait) end
  return {'bot', tostring(bot_wait)}
end
if priority < 3 then register(chat_sets[priority], chat_waiter, chat_wait) end
return {'chat', tostring(chat_wait)}
"""

# KEYS: 1 pause. ARGV: 1 milliseconds. Extends the pause (never shortens it); returns the milliseconds left.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wanted = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if wanted > current then
  redis.call('SET', KEYS[1], tostring(wanted), 'PX', math.ceil(wanted - now))
  current = wanted
end
return tostring(current - now)
"""


class RateLimitTimeout(TelegramError):
    """The wait for tokens would end past the deadline set with `wait_at_most`; nothing was sent."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Rate limiter: no token within the deadline; next in about {retry_after:.1f} s")
        self.retry_after = retry_after


@contextlib.contextmanager
def wait_at_most(seconds: float) -> Iterator[None]:
    """Calls made inside (in this task and the tasks it starts) wait for tokens at most until `seconds` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's retry_after in seconds. PTB keeps it as a timedelta; its public attribute warns until v23."""
    value = getattr(error, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(error.args[0]) if error.args and isinstance(error.args[0], int | float) else 1.0


def message_cost(endpoint: str, data: dict[str, Any]) -> int:
    """How many messages a call puts in a chat (0: it sends none and takes no token)."""
    if endpoint in _NOT_SENDING or not (endpoint.startswith("send") or endpoint in _SENDING_OTHERS):
        return 0
    if endpoint == "sendMediaGroup":
        return max(len(data.get("media") or ()), 1)
    if endpoint in ("copyMessages", "forwardMessages"):
        return max(len(data.get("message_ids") or ()), 1)
    return 1


def _chat_key(chat_id: object) -> tuple[str, bool] | None:
    """(key, is a group) of a chat id as PTB passes it; a group or channel is a negative id or an @username."""
    if chat_id is None or chat_id == "":
        return None
    text = str(chat_id).strip()
    try:
        return str(int(text)), int(text) < 0
    except ValueError:
        return text.lower(), True


class RedisRateLimiter(BaseRateLimiter[int]):
    """PTB's rate limiter interface over the shared Redis token buckets (see the module docstring)."""

    def __init__(self, *, redis_url: str | None = None, bot_id: str | None = None) -> None:
        self.redis_url = redis_url or settings.REDIS_URL
        self.bot_id = bot_id or settings.TELEGRAM_BOT_TOKEN.split(":", 1)[0] or "bot"
        # {…} is a Redis Cluster hash tag: every key of this bot lives in one slot, so one script may use them all.
        self.prefix = f"{KEY_PREFIX}:{{{self.bot_id}}}"
        self.rate_per_bot = float(settings.TELEGRAM_RATE_PER_BOT)
        self.rate_per_chat = float(settings.TELEGRAM_RATE_PER_CHAT)
        self.rate_per_group = float(settings.TELEGRAM_RATE_PER_GROUP)
        self._redis: aioredis.Redis | None = None
        self._acquire_script: Any = None
        self._pause_script: Any = None
        self._turnstiles: dict[int, asyncio.Lock] = {}
        # This process's requests waiting at each level; one registration on the bot's bucket stands for them all.
        self._pending = dict.fromkeys(PRIORITIES, 0)
        self._process_waiter = uuid.uuid4().hex

    async def initialize(self) -> None:
        if self._redis is None:
            # No socket_timeout: on Python 3.11 redis-py's asyncio.wait_for path can lose a cancellation. Every
            # call is bounded with asyncio.timeout instead.
            self._redis = aioredis.Redis.from_url(self.redis_url)
            self._acquire_script = self._redis.register_script(_ACQUIRE)
            self._pause_script = self._redis.register_script(_PAUSE)
            self._turnstiles = {priority: asyncio.Lock() for priority in PRIORITIES}

    async def shutdown(self) -> None:
        if self._redis is not None:
            redis_client, self._redis = self._redis, None
            await redis_client.aclose()

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("RedisRateLimiter is not initialised")
        return self._redis

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        priority = PRIORITY_INTERACTIVE if rate_limit_args is None else int(rate_limit_args)
        if priority not in PRIORITIES:
            raise ValueError(f"unknown rate-limit priority {rate_limit_args!r}")
        cost = message_cost(endpoint, data)
        chat = _chat_key(data.get("chat_id")) if cost else None
        attempts = 2 if priority == PRIORITY_INTERACTIVE else 1
        for attempt in range(1, attempts + 1):
            if cost:
                await self.acquire(chat=chat, priority=priority, cost=cost)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                if cost:
                    await self.pause(seconds)
                logger.warning("telegram %s: 429, retry after %.0f s (priority %d)", endpoint, seconds, priority)
                if attempt == attempts or seconds > INTERACTIVE_RETRY_MAX_SECONDS:
                    raise
                if not cost:  # a sending call's next acquire waits the shared pause out
                    await asyncio.sleep(seconds)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def pause(self, seconds: float) -> float:
        """Stop every process sending for `seconds` (Telegram's retry_after); returns the pause left in seconds."""
        async with asyncio.timeout(REDIS_CALL_TIMEOUT_SECONDS):
            left = await self._pause_script(keys=[f"{self.prefix}:pause"], args=[int(seconds * 1000)])
        return float(left) / 1000

    async def acquire(self, *, chat: tuple[str, bool] | None, priority: int, cost: int = 1) -> None:
        """Wait until the bot's bucket and the chat's have `cost` tokens for this priority, and take them."""
        waiter = uuid.uuid4().hex
        turnstile = self._turnstiles[priority]
        self._pending[priority] += 1
        try:
            while True:
                async with turnstile:
                    while True:
                        verdict, wait = await self._try(chat, priority, cost, waiter)
                        if verdict == "ok":
                            return
                        self._deadline_check(wait)
                        if verdict == "chat":
                            break  # step aside: others in this process may go while this chat's token comes
                        await asyncio.sleep(wait)
                await asyncio.sleep(wait)
        except BaseException:
            if priority != PRIORITY_NORMAL:
                await self._forget(waiter, chat, priority, bot_too=self._pending[priority] == 1)
            raise
        finally:
            self._pending[priority] -= 1

    async def _try(self, chat: tuple[str, bool] | None, priority: int, cost: int, waiter: str) -> tuple[str, float]:
        bot = f"{self.prefix}:bot"
        keys = [f"{self.prefix}:pause", bot, f"{bot}:w{PRIORITY_LIFE_SAFETY}", f"{bot}:w{PRIORITY_INTERACTIVE}"]
        chat_interval, chat_burst = 0.0, 1
        if chat is not None:
            name, is_group = chat
            key = f"{self.prefix}:chat:{name}"
            keys += [key, f"{key}:w{PRIORITY_LIFE_SAFETY}", f"{key}:w{PRIORITY_INTERACTIVE}"]
            rate = self.rate_per_group if is_group else self.rate_per_chat
            chat_interval, chat_burst = 1000.0 / rate, BURST_PER_GROUP if is_group else BURST_PER_CHAT
        args = [
            priority,
            cost,
            f"{self._process_waiter}:{priority}",
            int(WAITER_GRACE_SECONDS * 1000),
            1000.0 / self.rate_per_bot,
            BURST_PER_BOT,
            chat_interval,
            chat_burst,
            waiter,
            "1" if self._pending[priority] > 1 else "0",
        ]
        async with asyncio.timeout(REDIS_CALL_TIMEOUT_SECONDS):
            verdict, wait = await self._acquire_script(keys=keys, args=args)
        return verdict.decode(), max(float(wait) / 1000, 0.0)

    @staticmethod
    def _deadline_check(wait: float) -> None:
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() + wait > deadline:
            raise RateLimitTimeout(wait)

    async def _forget(self, waiter: str, chat: tuple[str, bool] | None, priority: int, *, bot_too: bool) -> None:
        """Drop the registrations of a request that gave up (best effort: they expire by themselves anyway)."""
        removals = []
        if bot_too:  # no other request of this process waits at this level
            removals.append((f"{self.prefix}:bot:w{priority}", f"{self._process_waiter}:{priority}"))
        if chat is not None:
            removals.append((f"{self.prefix}:chat:{chat[0]}:w{priority}", waiter))
        with contextlib.suppress(Exception):  # best effort, on a path that is already failing
            async with asyncio.timeout(REDIS_CALL_TIMEOUT_SECONDS):
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key, member in removals:
                        pipe.zrem(key, member)
                    await pipe.execute()
