"""Settings of the daphne and Celery worker processes that the browser tests start (tests/web/conftest.py).

The test settings, with what a deployment has and unit tests do without: the Redis channel layer (the browser's
WebSocket, the worker's sends and the test process meet there), static files collected, compressed and served by
whitenoise as in production, and a Redis database of the browser tests' own for the broker.
"""

import os

from commsplatform.settings.test import *  # noqa: F403
from commsplatform.settings.test import redis_channel_layers

REDIS_URL = os.environ["REDIS_URL"]
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
STATIC_ROOT = os.environ["STATIC_ROOT"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "commsplatform.core.storage.StaticFilesStorage"},
}
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", MEDIA_ROOT)  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "tests.web.server_app.WebServerTestsConfig"]  # noqa: F405
