"""Settings for the Celery worker and beat that the fault cases start in their own processes (tests/faults/workers.py).

Same as the test settings, but the broker and channel layer are the case's own redis-server (which it may restart),
the only transport is the one the case names in FAULT_TRANSPORT (the recording transport, or the real telegram
transport against the fake Bot API named by TELEGRAM_API_BASE_URL), and the recovery timings are seconds instead of
minutes.
"""

import os

from commsplatform.settings.test import *  # noqa: F403
from commsplatform.settings.test import redis_channel_layers

REDIS_URL = os.environ["WORKER_REDIS_URL"]
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
FAULT_TRANSPORT = os.environ.get("FAULT_TRANSPORT", "recording")
if FAULT_TRANSPORT == "telegram":
    ALERT_TRANSPORTS = {"telegram": "bots.telegram.transport.TelegramTransport"}
else:
    ALERT_TRANSPORTS = {"recording": "tests.faults.recording_transport.RecordingTransport"}
CELERY_DELIVERY_TRANSPORTS = [FAULT_TRANSPORT]
CELERY_TASK_QUEUES_NAMES = ["default", "alerts", f"deliveries.{FAULT_TRANSPORT}"]
ALERT_CLAIM_TIMEOUT_SECONDS = int(os.environ.get("ALERT_CLAIM_TIMEOUT_SECONDS", "4"))
ALERT_REDRIVE_AFTER_SECONDS = int(os.environ.get("ALERT_REDRIVE_AFTER_SECONDS", "4"))
ALERT_RETRY_BASE_SECONDS = 0.2
ALERT_RETRY_MAX_SECONDS = 2.0
ALERT_MAX_ATTEMPTS = 50
CELERY_BEAT_SCHEDULE = {"alerts.redrive": {"task": "alerts.redrive", "schedule": 1.0}}
