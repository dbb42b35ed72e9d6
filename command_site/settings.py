"""Command's settings: every value comes from the environment (or `.env`, written by `make run`).

Readers in `command_site.env` fail loudly with the variable's name; the README lists them all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from command_site.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_path,
    env_paths,
    env_str,
    load_env_file,
)
from command_site.worker import default_worker_count

BASE_DIR = Path(__file__).resolve().parent.parent

_env_file = env_str("COMMAND_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_env_file(Path(_env_file))

# --- Core -----------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (make run writes one to .env), "
            "or set DEBUG=true to use a development-only key."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if urlparse(_origin).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://, got {_origin!r}")

PORT = env_int("PORT", 8000, minimum=1, maximum=65535)

COMMAND_DATA_DIR = env_path("COMMAND_DATA_DIR", BASE_DIR / "var")
try:
    COMMAND_DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"COMMAND_DATA_DIR {COMMAND_DATA_DIR} cannot be created: {exc.strerror}") from None
COMMAND_WORKSPACE_ROOTS = env_paths("COMMAND_WORKSPACE_ROOTS", [COMMAND_DATA_DIR / "workspaces"])
# False where the web and the workers share no disk (the Cloud Run layout in cloudbuild.yaml): then
# project folders, diffs, previews and snapshots cannot work, and Command says so instead.
COMMAND_WORKSPACES = env_bool("COMMAND_WORKSPACES", True)
# Content-addressed snapshot store for rollback points: outside every user folder.
COMMAND_SNAPSHOT_DIR = env_path("COMMAND_SNAPSHOT_DIR", COMMAND_DATA_DIR / "snapshots")

# Fernet keys for provider secrets: the first encrypts, all decrypt (rotation).
COMMAND_SECRET_KEYS = env_list("COMMAND_SECRET_KEYS", [])
COMMAND_ALLOW_LOCAL_PROVIDERS = env_bool("COMMAND_ALLOW_LOCAL_PROVIDERS", False)
# Seconds to wait for one model provider reply (planning retries at most 3 times, plus one repair).
COMMAND_PROVIDER_TIMEOUT = env_float("COMMAND_PROVIDER_TIMEOUT", 60.0, minimum=1)

COMMAND_PROMPT_MAX_CHARS = env_int("COMMAND_PROMPT_MAX_CHARS", 20_000, minimum=100)
COMMAND_UPLOAD_MAX_BYTES = env_int("COMMAND_UPLOAD_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
COMMAND_UPLOAD_MAX_FILES = env_int("COMMAND_UPLOAD_MAX_FILES", 10, minimum=1)
# Request bodies over these are refused with 413 before they are read (command_site.request_limits):
# every page, and the two pages that take uploads (the request form, the workspace zip import).
COMMAND_REQUEST_MAX_BYTES = env_int("COMMAND_REQUEST_MAX_BYTES", 10 * 1024 * 1024, minimum=64 * 1024)
COMMAND_UPLOAD_REQUEST_MAX_BYTES = env_int(
    "COMMAND_UPLOAD_REQUEST_MAX_BYTES",
    max(COMMAND_UPLOAD_MAX_BYTES * COMMAND_UPLOAD_MAX_FILES + 1024 * 1024, COMMAND_REQUEST_MAX_BYTES),
    minimum=64 * 1024,
)
if COMMAND_UPLOAD_REQUEST_MAX_BYTES < COMMAND_UPLOAD_MAX_BYTES:
    raise ImproperlyConfigured(
        f"COMMAND_UPLOAD_REQUEST_MAX_BYTES ({COMMAND_UPLOAD_REQUEST_MAX_BYTES}) must be at least "
        f"COMMAND_UPLOAD_MAX_BYTES ({COMMAND_UPLOAD_MAX_BYTES}): a request could not carry even one allowed upload."
    )
# Pictures of DOCX/PPTX/XLSX first pages through LibreOffice headless, when soffice is installed.
COMMAND_OFFICE_PREVIEWS = env_bool("COMMAND_OFFICE_PREVIEWS", True)

# --- Applications ---------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "channels",
    "django_q",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "command_site",
    "tasks",
    "workspaces",
    "outputs",
    "approvals",
    "providers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "command_site.security_headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "command_site.idle_sessions.IdleSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "command_site.urls"
ASGI_APPLICATION = "command_site.asgi.application"
WSGI_APPLICATION = "command_site.wsgi.application"

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
                "command_site.context_processors.product",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

_default_sqlite = COMMAND_DATA_DIR / "command.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{_default_sqlite}")
try:
    _db = dj_database_url.parse(DATABASE_URL)
except Exception as exc:  # dj-database-url raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # Several processes (daphne, workers) write: WAL, IMMEDIATE transactions, a busy timeout.
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("COMMAND_SQLITE_BUSY_TIMEOUT", 30, minimum=1),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file so that daphne and qcluster subprocesses can open it too.
    _db["TEST"] = {"NAME": str(COMMAND_DATA_DIR / f"test-{os.getpid()}.sqlite3")}
elif _db["ENGINE"] in {"django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"}:
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db["CONN_MAX_AGE"] = 0
    # A psycopg pool does not survive django-q2's forked worker processes (the forks share the
    # pooled sockets and corrupt the protocol: "the last operation didn't produce records"), so
    # the qcluster process connects without one.
    if env_bool("COMMAND_DB_POOL", "qcluster" not in sys.argv):
        _db["OPTIONS"] = {
            "pool": {
                "min_size": 1,
                "max_size": env_int("COMMAND_DB_POOL_MAX", 10, minimum=1),
                "timeout": 10,
            }
        }
        # Test each connection as it leaves the pool: after a PostgreSQL restart the pool still
        # holds cut connections, and the first requests would fail with 500 (found by make chaos).
        _db["CONN_HEALTH_CHECKS"] = True
    _suffix = env_str("COMMAND_TEST_DB_SUFFIX", "")
    _db["TEST"] = {"NAME": f"test_{_db['NAME']}{_suffix}"}
else:
    raise ImproperlyConfigured(f"DATABASE_URL must point at SQLite or PostgreSQL, got engine {_db['ENGINE']!r}")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache ---------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' layer, minus the messages it keeps for sockets already closed
            # (daphne's memory flat over 5,000 watched runs), and with receives that end when
            # cancelled: on Python 3.11 one could pop for ever (a 300 s test teardown hang).
            "BACKEND": "command_site.channel_layer.RedisChannelLayer",
            # Reads may wait longer than the layer's blocking receive (BZPOPMIN, 5 s): redis-py 8's
            # default socket timeout is also 5 s, which tears down every quiet socket's consumer
            # (django/channels_redis#422). A dead connection still times out.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "capacity": 1000, "expiry": 30},
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The workstream consumer re-reads the event table this often: the only path from a separate worker
# process in embedded mode, and a safety net for dropped pushes with Redis. While a subscribed run is
# being worked on it reads every COMMAND_TAIL_ACTIVE_INTERVAL instead, backing off when none is.
COMMAND_TAIL_INTERVAL = env_float("COMMAND_TAIL_INTERVAL", 2.0 if REDIS_URL else 0.25, minimum=0.05)
COMMAND_TAIL_ACTIVE_INTERVAL = env_float(
    "COMMAND_TAIL_ACTIVE_INTERVAL", COMMAND_TAIL_INTERVAL if REDIS_URL else 0.05, minimum=0.02
)
if COMMAND_TAIL_ACTIVE_INTERVAL > COMMAND_TAIL_INTERVAL:
    raise ImproperlyConfigured(
        f"COMMAND_TAIL_ACTIVE_INTERVAL ({COMMAND_TAIL_ACTIVE_INTERVAL}) must not be longer than "
        f"COMMAND_TAIL_INTERVAL ({COMMAND_TAIL_INTERVAL})"
    )
# Fallback narration: only after a working run's stream was quiet this long, checked this often.
COMMAND_NARRATION_QUIET = env_float("COMMAND_NARRATION_QUIET", 20.0, minimum=1.0)
COMMAND_NARRATION_CHECK = env_float("COMMAND_NARRATION_CHECK", 5.0, minimum=0.1)
# django-q2 keeps its cluster heartbeat in a cache every process can read.
CACHES["cluster"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "q2"}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "command_cluster_cache"}
)

# --- django-q2 (always the ORM broker: see DESIGN.md, reliability model) --------------------

COMMAND_WORKERS = env_int("COMMAND_WORKERS", default_worker_count(), minimum=1, maximum=64)
Q_TIMEOUT = env_int("COMMAND_Q_TIMEOUT", 1800, minimum=10)
Q_RETRY = env_int("COMMAND_Q_RETRY", 1860, minimum=11)
if Q_TIMEOUT >= Q_RETRY:
    # A task still running when `retry` elapses is handed out again: a second copy would run.
    raise ImproperlyConfigured(
        f"COMMAND_Q_TIMEOUT ({Q_TIMEOUT}s) must be shorter than COMMAND_Q_RETRY ({Q_RETRY}s): "
        "otherwise django-q2 hands a still-running task to a second worker."
    )
Q_CLUSTER = {
    "name": "command",
    "orm": "default",
    "workers": COMMAND_WORKERS,
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": env_int("COMMAND_Q_MAX_ATTEMPTS", 3, minimum=1),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "queue_limit": 50,
    "poll": env_float("COMMAND_Q_POLL", 0.5, minimum=0.05),
    "cache": "cluster",
    "label": "Background jobs",
    "sync": env_bool("COMMAND_Q_SYNC", False),
}

# --- Execution engine defaults (per-action policies live in tasks/retry.py) -----------------

MAX_RETRIES = env_int("MAX_RETRIES", 3, minimum=0, maximum=20)
RETRY_BACKOFF = env_float("RETRY_BACKOFF", 2.0, minimum=1.0)
RETRY_SAFE_TYPES = env_list(
    "RETRY_SAFE_TYPES",
    ["read_file", "write_file", "generate_output", "verify", "deliver"],
)
COMMAND_LEASE_SECONDS = env_int("COMMAND_LEASE_SECONDS", 60, minimum=5)
# A draining worker job takes no new run after this many seconds, and a run under way steps
# aside between steps past it when someone's request is waiting to be planned.
COMMAND_DRAIN_TURN_SECONDS = env_float("COMMAND_DRAIN_TURN_SECONDS", 10.0, minimum=0.5)
COMMAND_MAX_RUNS_PER_USER = env_int("COMMAND_MAX_RUNS_PER_USER", 3, minimum=1)
COMMAND_COMMAND_TIMEOUT = env_int("COMMAND_COMMAND_TIMEOUT", 600, minimum=1)
# Commands run under bubblewrap (command_site.sandbox); "off" runs them unsandboxed, and says so everywhere.
COMMAND_SANDBOX = env_choice("COMMAND_SANDBOX", "on", {"on", "off"})
COMMAND_SANDBOX_MAX_PROCESSES = env_int("COMMAND_SANDBOX_MAX_PROCESSES", 256, minimum=8)
COMMAND_SANDBOX_MEMORY_MB = env_int("COMMAND_SANDBOX_MEMORY_MB", 4096, minimum=64)
COMMAND_SANDBOX_OUTPUT_MB = env_int("COMMAND_SANDBOX_OUTPUT_MB", 16, minimum=1)
COMMAND_SANDBOX_FILE_MB = env_int("COMMAND_SANDBOX_FILE_MB", 1024, minimum=1)
# Each workspace's writable home inside the sandbox (HOME, npm and pip caches) lives under here.
COMMAND_SANDBOX_HOME_DIR = env_path("COMMAND_SANDBOX_HOME_DIR", COMMAND_DATA_DIR / "sandbox")
# Extra read-only folders a toolchain needs (e.g. /opt/node), beside /usr, /bin and /lib.
COMMAND_SANDBOX_READONLY_PATHS = env_paths("COMMAND_SANDBOX_READONLY_PATHS", [])
# How long an approval request waits for a decision before it expires (the run then asks again on resume).
COMMAND_APPROVAL_TTL_SECONDS = env_int("COMMAND_APPROVAL_TTL_SECONDS", 86400, minimum=60)

# Model-driven runs (tasks.engine.loop): the budget of one run (reaching it pauses the run; each
# resume allows as much again), and how much of each observation goes back to the model.
COMMAND_LOOP_MAX_TURNS = env_int("COMMAND_LOOP_MAX_TURNS", 40, minimum=1)
COMMAND_LOOP_MAX_TOOL_CALLS = env_int("COMMAND_LOOP_MAX_TOOL_CALLS", 120, minimum=1)
COMMAND_LOOP_MAX_TOKENS = env_int("COMMAND_LOOP_MAX_TOKENS", 1_000_000, minimum=1000)
# The cost limit of one run in US dollars, counted only for a connection with prices (0: none).
COMMAND_LOOP_MAX_COST_USD = env_float("COMMAND_LOOP_MAX_COST_USD", 5.0, minimum=0)
COMMAND_LOOP_OBSERVATION_CHARS = env_int("COMMAND_LOOP_OBSERVATION_CHARS", 16_000, minimum=500)
COMMAND_LOOP_OUTPUT_TAIL_CHARS = env_int("COMMAND_LOOP_OUTPUT_TAIL_CHARS", 4_000, minimum=200)
COMMAND_LOOP_TREE_FILES = env_int("COMMAND_LOOP_TREE_FILES", 300, minimum=10)
# Past this many characters of conversation, older tool results are sent as one-line stubs.
COMMAND_LOOP_CONTEXT_CHARS = env_int("COMMAND_LOOP_CONTEXT_CHARS", 240_000, minimum=10_000)
# The model's words stream into the workstream at most once per this many seconds (0: not streamed).
COMMAND_LOOP_STREAM_SECONDS = env_float("COMMAND_LOOP_STREAM_SECONDS", 1.0, minimum=0)

# --- Storage --------------------------------------------------------------------------------

COMMAND_STORAGE = env_choice("COMMAND_STORAGE", "local", {"local", "s3"})
if COMMAND_STORAGE == "s3":
    _bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    if not _bucket:
        raise ImproperlyConfigured("COMMAND_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL"),
            "region_name": env_str("AWS_S3_REGION_NAME", "us-east-1"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(COMMAND_DATA_DIR / "media"), "base_url": "/media/"},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = str(COMMAND_DATA_DIR / "media")
STATIC_URL = "/static/"
STATIC_ROOT = COMMAND_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Accounts (django-allauth) --------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_choice("COMMAND_EMAIL_VERIFICATION", "optional", {"none", "optional", "mandatory"})
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
# See command_site.accounts: no account enumeration at sign-up, failed logins counted per client
# address and account together (an attacker cannot lock the owner out).
ACCOUNT_ADAPTER = "command_site.accounts.AccountAdapter"
ACCOUNT_FORMS = {"signup": "command_site.accounts.SignupForm"}
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Behind this many reverse proxies, the client address (for login rate limits) is read from
# X-Forwarded-For; 0 uses the connection's address (which behind a proxy is the proxy's).
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("COMMAND_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
# A signed-in session that makes no request for this long is signed out (0: never).
COMMAND_SESSION_IDLE_SECONDS = env_int("COMMAND_SESSION_IDLE_SECONDS", 8 * 3600, minimum=0)
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False

SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
_github_id, _github_secret = env_str("COMMAND_GITHUB_CLIENT_ID"), env_str("COMMAND_GITHUB_CLIENT_SECRET")
if bool(_github_id) != bool(_github_secret):
    raise ImproperlyConfigured("Set both COMMAND_GITHUB_CLIENT_ID and COMMAND_GITHUB_CLIENT_SECRET, or neither")
if _github_id:
    INSTALLED_APPS.append("allauth.socialaccount.providers.github")
    SOCIALACCOUNT_PROVIDERS["github"] = {
        "APPS": [{"client_id": _github_id, "secret": _github_secret, "key": ""}],
        "SCOPE": ["read:user", "user:email"],
    }
_google_id, _google_secret = env_str("COMMAND_GOOGLE_CLIENT_ID"), env_str("COMMAND_GOOGLE_CLIENT_SECRET")
if bool(_google_id) != bool(_google_secret):
    raise ImproperlyConfigured("Set both COMMAND_GOOGLE_CLIENT_ID and COMMAND_GOOGLE_CLIENT_SECRET, or neither")
if _google_id:
    INSTALLED_APPS.append("allauth.socialaccount.providers.google")
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": _google_id, "secret": _google_secret, "key": ""}],
        "SCOPE": ["profile", "email"],
    }
# The generic OpenID Connect provider is always installed; it has an app only when configured.
INSTALLED_APPS.append("allauth.socialaccount.providers.openid_connect")
_oidc_url = env_str("COMMAND_OIDC_SERVER_URL")
_oidc_id, _oidc_secret = env_str("COMMAND_OIDC_CLIENT_ID"), env_str("COMMAND_OIDC_CLIENT_SECRET")
if _oidc_url or _oidc_id or _oidc_secret:
    if not (_oidc_url and _oidc_id and _oidc_secret):
        raise ImproperlyConfigured(
            "OpenID Connect login needs COMMAND_OIDC_SERVER_URL, COMMAND_OIDC_CLIENT_ID and "
            "COMMAND_OIDC_CLIENT_SECRET together"
        )
    if urlparse(_oidc_url).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"COMMAND_OIDC_SERVER_URL must be an http(s) URL, got {_oidc_url!r}")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "oidc",
                "name": env_str("COMMAND_OIDC_NAME", "Single sign-on"),
                "client_id": _oidc_id,
                "secret": _oidc_secret,
                "settings": {"server_url": _oidc_url},
            }
        ]
    }

# Without a mail server, mail goes to an outbox folder (one file per message, owner-only), never
# to the console: a password-reset link printed there stays in the web process's log.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "command_site.mail.OutboxEmailBackend")
EMAIL_FILE_PATH = str(env_path("COMMAND_OUTBOX_DIR", COMMAND_DATA_DIR / "outbox"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Command <command@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Security -------------------------------------------------------------------------------

COMMAND_HTTPS = env_bool("COMMAND_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if COMMAND_HTTPS else None
SECURE_SSL_REDIRECT = COMMAND_HTTPS and env_bool("COMMAND_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = COMMAND_HTTPS
CSRF_COOKIE_SECURE = COMMAND_HTTPS
SECURE_HSTS_SECONDS = env_int("COMMAND_HSTS_SECONDS", 31_536_000 if COMMAND_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = COMMAND_HTTPS
SECURE_HSTS_PRELOAD = COMMAND_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # previews opt in with @xframe_options_sameorigin
SESSION_COOKIE_HTTPONLY = True
SILENCED_SYSTEM_CHECKS: list[str] = []

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploaded files are streamed to temporary files as they arrive, never held whole in memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Reset and confirmation keys, preview tokens and query values never reach the log.
    "filters": {"secret_urls": {"()": "command_site.log_redaction.SecretUrlFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secret_urls"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Also at the loggers that log request paths, for any handler Django itself adds (DEBUG).
        "django.request": {"filters": ["secret_urls"]},
        "django.server": {"filters": ["secret_urls"]},
        "httpx": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
