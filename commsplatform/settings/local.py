"""The embedded default for one machine: SpatiaLite under var/, local Redis, debug off unless asked."""

from commsplatform.settings.base import *  # noqa: F403
from commsplatform.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
