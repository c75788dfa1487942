"""Test settings: the database comes from DATABASE_URL (SpatiaLite or PostGIS lane); fast hashing.

The channel layer is in memory for unit tests unless TEST_CHANNEL_LAYER=redis asks for the real one.
"""

from commsplatform.settings.base import *  # noqa: F403
from commsplatform.settings.base import REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if env("TEST_CHANNEL_LAYER", default="memory") == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
HEALTH_CHECK_TIMEOUT = 1.0
AUDIT_CHAIN_KEY = "test-audit-key"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
