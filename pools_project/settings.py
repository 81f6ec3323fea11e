"""Settings for Number Pools, read from the environment.

Every value has an embedded default that needs nothing installed (SQLite, the
simulator gateway), so `manage.py runserver` works on a laptop. A malformed
value stops the process at start with a message that names the variable.
"""

import base64
import binascii
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

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


_RATE_PERIODS = ("second", "minute", "hour", "day")


def env_rate(name: str, default: str) -> str | None:
    """`N/second|minute|hour|day`, or None for `off` / `0` (no limit)."""
    raw = os.environ.get(name, default).strip().lower()
    if raw in ("off", "0"):
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name} must be N/second, N/minute, N/hour or N/day with N >= 1, or off; got {raw!r}."
        )
    return f"{int(count)}/{period}"


def redis_neighbour(url: str) -> str:
    """The database after a Redis URL's own (the broker's), so cache keys stay apart."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return ""
    db = parts.path.strip("/")
    return parts._replace(path=f"/{int(db) + 1 if db.isdigit() else 1}").geturl()


def env_cache(name: str, fallback: str) -> dict:
    raw = os.environ.get(name) or fallback or "locmem://"
    scheme = urlsplit(raw).scheme
    if scheme in ("redis", "rediss"):
        # Short timeouts: an unreachable cache must not hold requests (the rate limit
        # lets them through when it cannot count).
        options = {"socket_connect_timeout": 1, "socket_timeout": 1}
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": raw,
            "OPTIONS": options,
        }
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(
        f"{name} must be a redis://, rediss:// or locmem:// URL, got {raw!r}."
    )


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS in production (`manage.py check --deploy` is clean); all off while DEBUG is on,
# so runserver keeps working over plain http.
# Behind a proxy that terminates TLS the request arrives as http: trust the proxy's
# X-Forwarded-Proto (and X-Forwarded-For, for the admin's login lockout), and only then.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer's health check comes over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Off unless asked: with it, anyone may submit the domain to the browsers' preload
# lists, which is hard to undo.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)

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
# The service's public address, for the short links it puts in message bodies and the
# webhook URLs of connections. Unset, it is where `scripts/run` serves: PORT, or 8000.
PUBLIC_BASE_URL = (
    os.environ.get("PUBLIC_BASE_URL") or f"http://localhost:{env_int('PORT', 8000)}"
).rstrip("/")
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
# Redis and SQS hand a task a worker took but never acknowledged (it died) to another
# after this long. Dispatch does not wait for it — the sweep takes a dead worker's
# messages again once their lease runs out — but notifications, health and purges do.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TIMEZONE = "UTC"

# The cache counts the API's rate limits. Redis shares the counts between processes:
# CACHE_URL, else the broker's Redis (its next database); else each process counts
# on its own (LocMemCache).
CACHES = {"default": env_cache("CACHE_URL", redis_neighbour(CELERY_BROKER_URL))}
# Requests per API key (accounts.throttling); `off` lifts the limit.
API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "600/minute")
# PostgreSQL: seconds a process keeps an API key it has read, with its account
# (accounts.authentication). A change to either reaches every process at once by
# LISTEN/NOTIFY: this bounds how long a missed one could last. 0 reads every request's;
# behind a PgBouncer in transaction mode, which keeps no LISTEN, set 0.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 60)

# The bare DRF endpoint `manage.py benchmark` measures the send endpoint against
# (pools_project/bare.py); on only in the benchmark's own servers.
BENCHMARK_BARE_ENDPOINT = env_bool("BENCHMARK_BARE_ENDPOINT", False)

# Quiet at start: every manage.py command would print axes' banner otherwise.
AXES_VERBOSE = False
# The admin's login (django-axes): locked for a username from an address after this
# many failures in a row, until the cool-off has passed; a success resets the count.
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
_cooloff_minutes = env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or _cooloff_minutes < 1:
    raise ImproperlyConfigured(
        "ADMIN_LOGIN_FAILURE_LIMIT and ADMIN_LOGIN_COOLOFF_MINUTES must be at least 1."
    )
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the lockout: attempts during it do not restart it, so the
# operator it locked out knows when to try again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"

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
    # Scheduled messages (sendAt, quiet hours) whose time has come: the schedule's
    # resolution is this period.
    "release-scheduled-messages": {
        "task": "messaging.tasks.release_scheduled_messages",
        "schedule": 1.0,
    },
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
    "forget-received-webhooks": {
        "task": "messaging.tasks.forget_received_webhooks",
        "schedule": 600.0,
    },
}

INSTALLED_APPS = [
    "pools_project.apps.ConsoleAdminConfig",
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
    "axes",
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
    # Last, as django-axes asks: it turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
else:
    # Parameters bound by the server, and a statement run twice on a connection prepared
    # (psycopg): the send path's statements are planned once per connection, not on
    # every send, where planning cost more than running them (SPEC §15). A PgBouncer in
    # transaction mode older than 1.21 keeps no prepared statement: turn them off there.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    # Django's backend, with its batches cut to what a server-bound statement takes.
    DATABASES["default"]["ENGINE"] = "pools_project.postgresql"
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2

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
    "DEFAULT_PARSER_CLASSES": ["pools_project.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "pools_project.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
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
        "MessageStatusEnum": "messaging.models.Message.Status",
        "InboundActionEnum": "optout.models.Keyword.Action",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pools_project.schema.retry_after_documented",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
