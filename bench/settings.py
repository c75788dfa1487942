"""Settings of the benchmarks' own processes (the measuring process, its helpers and the Celery worker).

The local settings (database and Redis from DATABASE_URL and REDIS_URL), with debug off so that no query
log grows in memory, and a channel layer that lets every message of a run accumulate: nothing reads the
benchmark's browser channels, and at the default capacity (100 per channel, and all channels made by one
process share one Redis key) the layer would skip the write of all but the first hundred messages.
"""

from commsplatform.settings.local import *  # noqa: F403
from commsplatform.settings.local import CHANNEL_LAYER_MAX_CONNECTIONS, CHANNEL_LAYER_SOCKET_TIMEOUT, env

DEBUG = False
BENCH_CHANNEL_CAPACITY = 10_000_000
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": env(
                        "CHANNEL_LAYER_REDIS_URL", default=env("REDIS_URL", default="redis://127.0.0.1:6390/0")
                    ),
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                }
            ],
            "capacity": BENCH_CHANNEL_CAPACITY,
        },
    }
}
# bench/dispatch.py --worker-db-reuse N: let the Celery worker keep its database connections for N tasks
# (Celery otherwise closes them before and after every task). Off unless asked: the project does not set it.
CELERY_DB_REUSE_MAX = env.int("BENCH_CELERY_DB_REUSE_MAX", default=0) or None
