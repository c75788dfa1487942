"""Production: secrets and hosts come from the environment only; secure transport everywhere.

Runs behind nginx (deploy/nginx/commsplatform.conf), which terminates TLS and sets X-Forwarded-Proto.
`manage.py check --deploy --fail-level WARNING` passes with these settings (tests/core/test_production_settings.py).
docs/deployment.md lists the environment a deployment sets.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from commsplatform.settings.base import *  # noqa: F403
from commsplatform.settings.base import DATABASES, LOGGING, REST_FRAMEWORK, env

# Nothing below falls back to a development default: each of these must be set, and non-empty.
REQUIRED_ENVIRONMENT = ["SECRET_KEY", "ALLOWED_HOSTS", "AUDIT_CHAIN_KEY", "DATABASE_URL", "REDIS_URL"]
_missing = [name for name in REQUIRED_ENVIRONMENT if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"Production settings need {', '.join(_missing)} in the environment "
        "(see deploy/env.example and docs/deployment.md); refusing to start without them."
    )

if env.bool("DEBUG", default=False):
    raise ImproperlyConfigured("DEBUG must not be on in production: unset DEBUG or set it to False.")
DEBUG = False

SECRET_KEY = env("SECRET_KEY")
if SECRET_KEY.startswith(("insecure-", "django-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY is a development key: generate a new one for production.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# The key of the audit chain: keep it with the backups, without it the chain cannot be verified after a restore.
AUDIT_CHAIN_KEY = env("AUDIT_CHAIN_KEY")
if AUDIT_CHAIN_KEY == SECRET_KEY:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must differ from SECRET_KEY (each can then be rotated alone).")

# Transport: nginx terminates TLS and passes X-Forwarded-Proto; plain HTTP is redirected to HTTPS, except the
# health check, which monitoring probes on the loopback without TLS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS is sent by Django only (nginx does not add the header, so it is never sent twice).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Cookies: HTTPS only, out of reach of scripts. The pages read the CSRF token from the form's hidden
# csrfmiddlewaretoken field (web/static/web/alerts.js), never from the cookie, so the cookie can be HttpOnly.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# No persistent database connections by default. Under daphne (ASGI) Django runs each request's sync code in a
# thread of its own, so a connection kept for reuse is never reused: it stays open until that thread is gone, and
# under load PostgreSQL runs out of connections (bench/load.py measured 500s from "too many clients" with 60 s
# and none with 0; Django's documentation gives the same advice for ASGI). Celery workers reuse theirs: their
# env files (deploy/workers/) set DB_CONN_MAX_AGE=60. Connections are checked before any reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Static files: hashed names collected by `manage.py collectstatic` into STATIC_ROOT and served by nginx.
# Media (report photos) are never served directly: they go through views that check permissions.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "commsplatform.core.storage.StaticFilesStorage"},
}

# Rate limits (base.py: DRF throttles for the API, django-ratelimit for the pages' forms) count in Redis, shared by
# every daphne. Behind nginx the client address is the last X-Forwarded-For entry, the one nginx adds.
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": env.int("NUM_PROXIES", default=1)}

# Logging: one line per record on stdout (journald keeps it). No request bodies, no SQL: residents' names,
# phone numbers and locations stay out of the logs. daphne's access log (client addresses) is off in the units.
_base_loggers: dict[str, dict[str, str]] = LOGGING["loggers"]  # type: ignore[assignment]
LOGGING = {
    **LOGGING,
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        **_base_loggers,
        "django.db.backends": {"level": "WARNING"},
    },
}
