"""Test settings: the database comes from DATABASE_URL (SpatiaLite or PostGIS lane); fast hashing.

The channel layer is in memory for unit tests unless TEST_CHANNEL_LAYER=redis asks for the real one.
"""

import os
from typing import Any

from commsplatform.settings.base import *  # noqa: F403
from commsplatform.settings.base import (
    CHANNEL_LAYER_SOCKET_TIMEOUT,
    DATABASES,
    RATE_LIMITS,
    REDIS_URL,
    REST_FRAMEWORK,
    VAR_DIR,
    env,
)

DEBUG = False
# Tests close what they open: no connection outlives the test that opened it (threads of async tests included).
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("spatialite"):
    # A file, as in production: an in-memory shared-cache database fails concurrent writers at once
    # ("table is locked") instead of queueing them, which would hide or fake concurrency bugs.
    # One file per test run (so parallel runs never share it); processes the run starts inherit its path.
    VAR_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("TEST_SQLITE_PATH", str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3"))
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_SQLITE_PATH"]}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def redis_channel_layers(url: str) -> dict[str, Any]:
    """The Redis channel layer on `url`: the PostGIS lanes, and the settings of the processes tests start."""
    host = {"address": url, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}}


if env("TEST_CHANNEL_LAYER", default="memory") == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
HEALTH_CHECK_TIMEOUT = 1.0
STATIC_ROOT = None  # nothing is collected for tests; whitenoise then has no folder to look for
AUDIT_CHAIN_KEY = "test-audit-key"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Other apps' tests save replies and needs, which queue classifier work on commit; no broker there.
# Classifier tests switch it on and run the tasks inline.
CLASSIFIER_ENABLED = False
# Rate limits are off: tests make many requests from one address and one user. tests/security/test_rate_limits.py
# turns them on with realistic rates (override_settings), as in every other settings module.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),
}
RATE_LIMITS = dict.fromkeys(RATE_LIMITS)
