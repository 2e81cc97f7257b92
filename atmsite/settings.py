"""Settings for atmsite, read from the environment through django-environ.

With no environment at all the project refuses to start (no secret key); `make run` writes a
`.env` with DJANGO_DEBUG=true and fresh random secrets, and then runs on embedded defaults:
SQLite under var/, Celery over kombu's filesystem transport under var/, media under var/media.
Every variable is listed with its meaning in `.env.example`.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# DJANGO_ENV_FILE names the dotenv file to read (default: .env in the checkout; empty: none).
ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    # Real environment variables win over the file.
    env.read_env(ENV_FILE, overwrite=False)


def _secret(name: str) -> str:
    """Return a required secret from the environment, failing loudly when it is missing."""
    value = env.str(name, default="")
    if len(value) < 32:
        raise ImproperlyConfigured(
            f"{name} must be set to a random string of at least 32 characters "
            "(run `make env` for development, see .env.example)."
        )
    return value


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = _secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_celery_results",
    "csp",
    "axes",
    "accounts",
    "transactions",
    "atm",
    "anonymization",
]

MIDDLEWARE = [
    # First: X-Forwarded-* headers from anyone but our proxy are dropped before anything reads them.
    "atmsite.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "atmsite.lib.nul.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "atmsite.lib.staff_sessions.StaffSessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # After every middleware but one, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
    # Innermost, so the branded page it may put in place still gets the security headers above (and
    # django-axes' lockout answer, made outside it, is never replaced).
    "atmsite.errors.DebugErrorPagesMiddleware",
]

ROOT_URLCONF = "atmsite.urls"
WSGI_APPLICATION = "atmsite.wsgi.application"
ASGI_APPLICATION = "atmsite.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two money movements never interleave
    # between their reads and writes (SQLite has no SELECT ... FOR UPDATE).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The money path's few fixed statements (transactions.postings, bound on the server) become
    # prepared statements on their first run in a connection: parsed and planned once, not at every
    # withdrawal (~0.3 ms of the server's CPU each, benchmarks/atm_throughput.py). Django's own
    # queries bind on the client and are never prepared. Behind a pooler that cannot keep prepared
    # statements (PgBouncer before 1.21 in transaction mode) set DATABASE_PREPARED_STATEMENTS=false.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff authentication ---------------------------------------------------------------------
# Argon2id at OWASP's baseline like the PINs (19 MiB, t=2, p=1: ~20 ms a check here; Django's
# default of 100 MiB and 8 lanes took ~280 ms), at most STAFF_PASSWORD_VERIFY_CONCURRENCY at once
# per process. Hashes of another cost are re-hashed at this one on the next successful login.
PASSWORD_HASHERS = [
    "accounts.hashers.StaffArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
STAFF_ARGON2_TIME_COST = env.int("STAFF_ARGON2_TIME_COST", default=2)
STAFF_ARGON2_MEMORY_KIB = env.int("STAFF_ARGON2_MEMORY_KIB", default=19_456)
STAFF_ARGON2_PARALLELISM = env.int("STAFF_ARGON2_PARALLELISM", default=1)
STAFF_PASSWORD_VERIFY_CONCURRENCY = env.int("STAFF_PASSWORD_VERIFY_CONCURRENCY", default=2)
# django-axes (atmsite.lib.staff_logins): /admin/login/ refuses for STAFF_LOGIN_COOLOFF_MINUTES a
# user name at one address after STAFF_LOGIN_FAILURE_LIMIT failures, an address after
# STAFF_LOGIN_ADDRESS_FAILURE_LIMIT whatever the user names, and a user name after
# STAFF_LOGIN_USERNAME_FAILURE_LIMIT from any addresses except those it has logged in from before.
# An administrator can lift it earlier: `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "atmsite.lib.staff_logins.StaffLoginHandler"
AXES_USERNAME_CALLABLE = "atmsite.lib.staff_logins.client_username"
AXES_FAILURE_LIMIT = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
STAFF_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("STAFF_LOGIN_ADDRESS_FAILURE_LIMIT", default=10)
STAFF_LOGIN_USERNAME_FAILURE_LIMIT = env.int("STAFF_LOGIN_USERNAME_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("STAFF_LOGIN_COOLOFF_MINUTES", default=30))
# What the limits are counted by (StaffLoginHandler counts them itself, each with its own limit).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]
# Failures while locked out are not counted: the lockout ends a cool-off after the last counted failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "atmsite.lib.network.client_address"
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False
# Staff login and logout records (django-axes AccessLog, AccessFailureLog) are an audit trail: the
# hourly `prune-staff-logins` task deletes them after this many days (atmsite.lib.staff_logins).
STAFF_LOGIN_LOG_RETENTION_DAYS = env.int("STAFF_LOGIN_LOG_RETENTION_DAYS", default=365)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Released data is only served through a permission-checked view, never from a public URL.
MEDIA_URL = "/media-not-served/"
STORAGES = {
    # Release artifacts go through this storage. For S3-compatible object storage install
    # django-storages and set e.g. DJANGO_DEFAULT_STORAGE_BACKEND=storages.backends.s3.S3Storage and
    # DJANGO_DEFAULT_STORAGE_OPTIONS={"bucket_name": "releases", "endpoint_url": "https://…"}.
    "default": {
        "BACKEND": env.str("DJANGO_DEFAULT_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("DJANGO_DEFAULT_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Sessions, cookies, security headers -------------------------------------------------------
SESSION_ENGINE = "accounts.sessions"
# Session cookies end with the browser (the web ATM's as much as staff's). Server-side, a session
# row expires after SESSION_COOKIE_AGE and `prune-sessions` deletes it; a staff session also ends
# after STAFF_SESSION_IDLE_SECONDS without a request and STAFF_SESSION_MAX_SECONDS after login
# (atmsite.lib.staff_sessions), an ATM session after ATM_SESSION_IDLE_SECONDS (atm.session).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
STAFF_SESSION_MAX_SECONDS = env.int("STAFF_SESSION_MAX_SECONDS", default=8 * 3600)
SESSION_COOKIE_AGE = STAFF_SESSION_MAX_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Behind a reverse proxy (nginx, deploy/nginx/) that terminates TLS and sets X-Forwarded-Proto and
# X-Forwarded-For. Those headers are believed only from the proxies' addresses (or networks) in
# DJANGO_TRUSTED_PROXIES; atmsite.middleware drops them on requests from any other peer.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None
TRUSTED_PROXIES = env.list("DJANGO_TRUSTED_PROXIES", default=["127.0.0.1", "::1"])
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# No inline scripts or styles anywhere: every script and stylesheet is a local static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

LOGIN_URL = "/admin/login/"
CSRF_FAILURE_VIEW = "atmsite.errors.csrf_failure"

# --- Bank secrets and ATM rules -------------------------------------------------------------
# Keyed HMAC-SHA256 of the PAN: the lookup key for a card; the PAN itself is never stored.
ATM_PAN_HMAC_KEY = _secret("ATM_PAN_HMAC_KEY")
# Server-side pepper mixed into every PIN hash, so the database alone cannot be brute-forced.
ATM_PIN_PEPPER = _secret("ATM_PIN_PEPPER")
# Customer contact details are encrypted at rest with a key derived from this secret; old keys
# still decrypt during a rotation (see accounts/crypto.py and SECURITY.md).
ATM_FIELD_ENCRYPTION_KEY = _secret("ATM_FIELD_ENCRYPTION_KEY")
ATM_FIELD_ENCRYPTION_OLD_KEYS = env.list("ATM_FIELD_ENCRYPTION_OLD_KEYS", default=[])
# Argon2id cost of a PIN hash: one of OWASP's equivalent minimum configurations (9 MiB, t=4, p=1;
# OWASP lists 46/1, 19/2, 12/3, 9/4 and 7/5 MiB/passes as equal defence), ~20 ms a verify on one
# core here. The pepper, not the hash cost, is what stops an offline search of the 10^6 PINs of a
# leaked table; the cost keeps a verify cheap enough for p99 < 100 ms at the ATM under load
# (measured by benchmarks/atm_load.py; 64 MiB/t=3 took ~180 ms a verify on this 2-core machine).
# 9 MiB/t=4 took ~0.8x the CPU of 19 MiB/t=2 beside other work (SECURITY.md); hashes made with other
# parameters still verify and are re-hashed at the card's next login.
ATM_ARGON2_TIME_COST = env.int("ATM_ARGON2_TIME_COST", default=4)
ATM_ARGON2_MEMORY_KIB = env.int("ATM_ARGON2_MEMORY_KIB", default=9_216)
ATM_ARGON2_PARALLELISM = env.int("ATM_ARGON2_PARALLELISM", default=1)
# At most this many PIN verifications run at once in one process (each takes ATM_ARGON2_MEMORY_KIB).
ATM_PIN_VERIFY_CONCURRENCY = env.int("ATM_PIN_VERIFY_CONCURRENCY", default=4)
ATM_MAX_PIN_ATTEMPTS = 3
ATM_SESSION_IDLE_SECONDS = env.int("ATM_SESSION_IDLE_SECONDS", default=120)
# Failed logins allowed within the window per client address, per network (/24 or /64) and over
# the whole ATM before new logins from there are throttled (a browser that logged in with the
# same card before is still let through; the card's own lockout still applies).
ATM_LOGIN_THROTTLE_ATTEMPTS = env.int("ATM_LOGIN_THROTTLE_ATTEMPTS", default=10)
ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS = env.int("ATM_LOGIN_THROTTLE_NETWORK_ATTEMPTS", default=30)
ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS = env.int("ATM_LOGIN_THROTTLE_GLOBAL_ATTEMPTS", default=2000)
# How long a browser is remembered as one that logged in with a card (the device cookie).
ATM_KNOWN_DEVICE_DAYS = env.int("ATM_KNOWN_DEVICE_DAYS", default=180)
ATM_LOGIN_THROTTLE_WINDOW_SECONDS = env.int("ATM_LOGIN_THROTTLE_WINDOW_SECONDS", default=600)
# Currencies accounts may be kept in: ISO 4217 codes counted in hundredths (a system check refuses
# others). New accounts get ATM_CURRENCY, which must be one of them.
ATM_CURRENCIES = [code.strip().upper() for code in env.list("ATM_CURRENCIES", default=["EUR"])]
ATM_CURRENCY = env.str("ATM_CURRENCY", default=ATM_CURRENCIES[0] if ATM_CURRENCIES else "EUR")
# Smallest banknote the ATM dispenses, in minor units (cents): 1000 = 10.00.
ATM_SMALLEST_NOTE_MINOR = env.int("ATM_SMALLEST_NOTE_MINOR", default=1000)
ATM_DEFAULT_DAILY_LIMIT_MINOR = env.int("ATM_DEFAULT_DAILY_LIMIT_MINOR", default=100_000)
# Cash in at the ATM: whole notes of this many cents (500 = 5.00, the smallest euro note), at most
# ATM_DEPOSIT_MAX_MINOR in one deposit and ATM_DEPOSIT_DAILY_LIMIT_MINOR a day per account.
ATM_DEPOSIT_NOTE_MINOR = env.int("ATM_DEPOSIT_NOTE_MINOR", default=500)
ATM_DEPOSIT_MAX_MINOR = env.int("ATM_DEPOSIT_MAX_MINOR", default=300_000)
ATM_DEPOSIT_DAILY_LIMIT_MINOR = env.int("ATM_DEPOSIT_DAILY_LIMIT_MINOR", default=500_000)
# Transfers from the ATM: at most this much a day per account (the PIN is asked for each one).
ATM_TRANSFER_DAILY_LIMIT_MINOR = env.int("ATM_TRANSFER_DAILY_LIMIT_MINOR", default=200_000)
# A transfer's confirmation page is valid this long: its PIN must be posted within it (atm.confirmation).
ATM_TRANSFER_CONFIRM_SECONDS = env.int("ATM_TRANSFER_CONFIRM_SECONDS", default=300)

# Four eyes: a staff adjustment or reversal above this amount (cents, either sign) waits until a
# second staff member approves it; at or below it one teller suffices.
STAFF_APPROVAL_THRESHOLD_MINOR = env.int("STAFF_APPROVAL_THRESHOLD_MINOR", default=100_000)

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # kombu's default is "control" relative to the working directory; keep it under var/ too.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With late acks, a task running when the broker connection drops is cancelled and re-queued
# instead of finishing unacknowledged (Celery 6's default).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Fixed housekeeping; django-celery-beat copies these into its editable database schedule.
# Release schedules are created per policy by the anonymization app.
CELERY_BEAT_SCHEDULE = {
    "prune-login-attempts": {"task": "accounts.prune_login_attempts", "schedule": 3600.0},
    "prune-sessions": {"task": "accounts.prune_sessions", "schedule": 3600.0},
    "prune-staff-logins": {"task": "accounts.prune_staff_logins", "schedule": 3600.0},
}

# --- Releases ----------------------------------------------------------------------------------
# A running release whose heartbeat is older than this is taken to have lost its worker and may
# be claimed again. A run beats at every step and at most every 10 s during the search.
ANONYMIZATION_STALE_SECONDS = env.int("ANONYMIZATION_STALE_SECONDS", default=1800)
# Entries a night's increment cannot release k-anonymously are held back to later nights while
# they are younger than this many days (counted from their local day), then suppressed for good.
ANONYMIZATION_MAX_HOLD_DAYS = env.int("ANONYMIZATION_MAX_HOLD_DAYS", default=7)

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
