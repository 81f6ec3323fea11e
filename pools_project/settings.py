"""Settings for Number Pools, read from the environment.

Every value has an embedded default that needs nothing installed (SQLite, the
simulator gateway), so `manage.py runserver` works on a laptop. A malformed
value stops the process at start with a message that names the variable.
"""

import base64
import binascii
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}.")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_database(name: str, default: str) -> dict:
    raw = os.environ.get(name) or default
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL ({exc}): {raw!r}.") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {raw!r}.")
    return config


def env_webhook_secret(name: str, default: str) -> str:
    """A Standard Webhooks secret: `whsec_` followed by base64 of the key bytes."""
    raw = os.environ.get(name) or default
    prefix, _, encoded = raw.partition("_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        key = b""
    if prefix != "whsec" or len(key) < 16:
        raise ImproperlyConfigured(f"{name} must look like whsec_<base64 of at least 16 bytes>.")
    return raw


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The secret carriers sign their webhooks with (Standard Webhooks scheme).
CARRIER_WEBHOOK_SECRET = env_webhook_secret(
    "CARRIER_WEBHOOK_SECRET", "whsec_ZGV2ZWxvcG1lbnQtY2Fycmllci1zZWNyZXQ="
)
# Lets callbacks reach loopback and private addresses (development and tests only).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)

# Where the messages of numbers with no connection leave (an account without a default
# connection); the simulator needs no carrier.
SMS_GATEWAY_BACKEND = os.environ.get(
    "SMS_GATEWAY_BACKEND", "carriers.gateways.simulator.SimulatorGateway"
)
# The service's public address, for the short links it puts in message bodies.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
SHORT_LINK_DEFAULT_VALIDITY = env_int("SHORT_LINK_DEFAULT_VALIDITY", 7 * 24 * 3600)
# A MaxMind GeoIP2/GeoLite2 City database; clicks get country and city when it is set.
GEOIP_DATABASE = os.environ.get("GEOIP_DATABASE", "")

# Background work. No broker: tasks run in-process as they are enqueued.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"

# Notifications to the accounts' URLs.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)

# Number health (Telnyx): unhealthy under 25% delivered over the recent final statuses.
NUMBER_HEALTH_WINDOW = env_int("NUMBER_HEALTH_WINDOW", 20)
NUMBER_HEALTH_MIN_REPORTS = env_int("NUMBER_HEALTH_MIN_REPORTS", 5)
NUMBER_HEALTH_THRESHOLD = 0.25

# Dispatch (SPEC §12): how long a dispatcher holds a message it is handing over; past
# that, a dispatcher that died is presumed dead and the message is taken again.
DISPATCH_LEASE_SECONDS = env_int("DISPATCH_LEASE_SECONDS", 60)

CELERY_BEAT_SCHEDULE = {
    # Messages whose turn came and whose task was lost, or whose dispatcher died.
    "dispatch-due-messages": {"task": "messaging.tasks.dispatch_due_messages", "schedule": 1.0},
    "deliver-due-notifications": {
        "task": "messaging.tasks.deliver_due_notifications",
        "schedule": 30.0,
    },
    "expire-queued-messages": {"task": "messaging.tasks.expire_queued_messages", "schedule": 60.0},
    "recompute-number-health": {
        "task": "messaging.tasks.recompute_all_number_health",
        "schedule": 15 * 60.0,
    },
    "purge-sticky-mappings": {"task": "pools.tasks.purge_expired_mappings", "schedule": 3600.0},
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "carriers",
    "virtual_numbers",
    "pools",
    "messaging",
    "optout",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pools_project.urls"
WSGI_APPLICATION = "pools_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once, and
    # take the write lock at BEGIN so a read-then-write transaction cannot deadlock.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "pools_project.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "pools_project.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Number Pools API",
    "DESCRIPTION": "Pools of virtual numbers that pick the right sender for every message.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "NumberTypeEnum": "virtual_numbers.models.Number.Type",
        "ConnectionStatusEnum": "carriers.models.Connection.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
