"""Who is in a room right now, across every daphne process: one Redis sorted set per room.

Each connection is a member scored by when it last said it was there; connections refresh their entry while
open and remove it when they close. Entries older than ROOM_PRESENCE_TTL_SECONDS (a process that died) do
not count. A changed count is pushed to the room at most once per PUSH_INTERVAL, by whichever process
takes the turn.
"""

import asyncio
import logging
import time

from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from rooms import events

logger = logging.getLogger(__name__)
PUSH_INTERVAL = 2.0
# Each presence call gives up after this long. The limit is ours (asyncio.timeout), not redis-py's socket timeout:
# with a socket timeout redis-py writes through asyncio.wait_for, which on Python 3.11 can swallow the cancellation
# of a closing connection (see CHANNEL_LAYER_SOCKET_TIMEOUT in settings).
CALL_TIMEOUT = 5.0
_clients: dict[int, aioredis.Redis] = {}


def _redis() -> aioredis.Redis:
    # One client per event loop's process; redis-py pools connections itself.
    key = id(asyncio.get_running_loop())
    if key not in _clients:
        _clients.clear()
        # A blocking pool: when thousands of connections arrive or leave at once, they wait for one of the pool's
        # connections instead of failing with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=50, timeout=20, socket_timeout=None, socket_connect_timeout=5
        )
        _clients[key] = aioredis.Redis(connection_pool=pool)
    return _clients[key]


def _key(room_id: int) -> str:
    return f"rooms:presence:{room_id}"


async def presence_enter(room_id: int, channel_name: str) -> None:
    async with asyncio.timeout(CALL_TIMEOUT):
        await _redis().zadd(_key(room_id), {channel_name: time.time()})
        await _schedule_push(room_id)


async def presence_refresh(room_id: int, channel_name: str) -> None:
    async with asyncio.timeout(CALL_TIMEOUT):
        await _redis().zadd(_key(room_id), {channel_name: time.time()}, xx=True)


async def presence_leave(room_id: int, channel_name: str) -> None:
    async with asyncio.timeout(CALL_TIMEOUT):
        await _redis().zrem(_key(room_id), channel_name)
        await _schedule_push(room_id)


async def presence_count(room_id: int) -> int:
    client = _redis()
    async with asyncio.timeout(CALL_TIMEOUT):
        await client.zremrangebyscore(_key(room_id), 0, time.time() - settings.ROOM_PRESENCE_TTL_SECONDS)
        return int(await client.zcard(_key(room_id)))


async def _schedule_push(room_id: int) -> None:
    """Take the turn to push the count in PUSH_INTERVAL seconds, unless another connection already has it."""
    if await _redis().set(f"{_key(room_id)}:push", b"1", nx=True, px=int(PUSH_INTERVAL * 1000)):
        asyncio.get_running_loop().create_task(_push_later(room_id))


async def _push_later(room_id: int) -> None:
    await asyncio.sleep(PUSH_INTERVAL)
    try:
        await events.presence_broadcast(room_id, await presence_count(room_id))
    except (OSError, RedisError) as exc:
        logger.warning("presence of room %s not pushed: %s", room_id, type(exc).__name__)
