"""Settings for the Celery worker and beat that the reliability tests start in their own processes.

Same as the test settings, but the broker is the test's own redis-server (which it restarts), the only
transport is the recording one, and the recovery timings are seconds instead of minutes.
"""

import os

from commsplatform.settings.test import *  # noqa: F403
from commsplatform.settings.test import CHANNEL_LAYER_SOCKET_TIMEOUT

REDIS_URL = os.environ["WORKER_REDIS_URL"]
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}]},
    }
}
ALERT_TRANSPORTS = {"recording": "tests.alerts.recording_transport.RecordingTransport"}
CELERY_DELIVERY_TRANSPORTS = ["recording"]
CELERY_TASK_QUEUES_NAMES = ["default", "alerts", "deliveries.recording"]
ALERT_CLAIM_TIMEOUT_SECONDS = 4
ALERT_REDRIVE_AFTER_SECONDS = 4
ALERT_RETRY_BASE_SECONDS = 0.2
ALERT_RETRY_MAX_SECONDS = 2.0
ALERT_MAX_ATTEMPTS = 50
CELERY_BEAT_SCHEDULE = {"alerts.redrive": {"task": "alerts.redrive", "schedule": 1.0}}
