"""Settings of the daphne, Celery worker and beat processes of tests/stack.py (the multi-process test stack).

The test settings, with what a scaled-out deployment has and unit tests do without: the broker, the results and
the channel layer on one Redis database of the stack's (REDIS_URL), shared by every process of the stack and by
the test process (tests.stack.sharing_the_stack). Content types are read fresh in each use, as in the browser
tests' servers (tests/web/server_app.py): the test database is flushed between tests while these processes live on.
"""

import os

from commsplatform.settings.test import *  # noqa: F403
from commsplatform.settings.test import redis_channel_layers

REDIS_URL = os.environ["REDIS_URL"]
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", MEDIA_ROOT)  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "tests.web.server_app.WebServerTestsConfig"]  # noqa: F405
