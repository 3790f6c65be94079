"""Sitter settings: one module, driven by environment variables (see .env.example).

Development needs no configuration at all. Production differs only by environment values.
"""

import json
import os
import re
from datetime import timedelta

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal import env, objectstore
from portal.env import BASE_DIR, VAR_DIR

DEBUG = env.flag("DEBUG")
SECRET_KEY = env.secret("SECRET_KEY")
# Fernet keys, newest first: the first encrypts, all decrypt (see `rotate_encryption_key`).
FIELD_ENCRYPTION_KEYS = env.secret(
    "FIELD_ENCRYPTION_KEYS", generate=lambda: Fernet.generate_key().decode()
).split(",")

PUBLIC_BASE_URL = env.text("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.items("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env.items("CSRF_TRUSTED_ORIGINS", PUBLIC_BASE_URL)
ADMIN_PATH = env.text("ADMIN_PATH", "admin/").strip("/") + "/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal",
    "ledger",
    "upstream",
    "verification",
    "assets",
    "ninja",
    "integrations",
]

MIDDLEWARE = [
    # First: forwarded headers count only from the trusted proxy, for everything after.
    "portal.middleware.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which would read an oversized body to look for its token.
    "portal.middleware.BodySizeMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.two_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees the sign-in attempt the view made (see django-axes' docs).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env.text("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside the writer, IMMEDIATE
    # takes the write lock at BEGIN so two writers queue instead of failing mid-transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a live test server, a test worker and the test share one database;
    # one per process, so test runs side by side never meet.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Audit ledger ---------------------------------------------------------------------------------
# Ed25519 key that signs ledger checkpoints: base64 of the raw 32-byte key, or a PKCS#8 PEM. Kept
# out of the database on purpose; print its public half with `manage.py audit_public_key`.
# (A Fernet key is 32 random bytes in url-safe base64, and any 32 random bytes are an Ed25519 key.)
AUDIT_SIGNING_KEY = env.secret("AUDIT_SIGNING_KEY", generate=lambda: Fernet.generate_key().decode())
# Short: `verify_audit` flags events left without a checkpoint for twice this long.
AUDIT_CHECKPOINT_INTERVAL = timedelta(seconds=env.integer("AUDIT_CHECKPOINT_INTERVAL_SECONDS", 30))
# The first checkpoint of each interval is emailed here, out of reach of whoever could rewrite
# the database.
AUDIT_WITNESS_EMAILS = env.items("AUDIT_WITNESS_EMAILS")
AUDIT_WITNESS_INTERVAL = timedelta(seconds=env.integer("AUDIT_WITNESS_INTERVAL_SECONDS", 3600))
# Proxies in front of the web process that append to X-Forwarded-For; 0 trusts REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0)
# Where those proxies connect from (addresses or networks; gunicorn reads the same variable):
# X-Forwarded-For and X-Forwarded-Proto from any other peer are dropped (portal.middleware).
FORWARDED_ALLOW_IPS = env.items("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Cache, broker, Celery ------------------------------------------------------------------------
REDIS_URL = env.text("REDIS_URL")
# A Redis that hangs instead of refusing must not hang the pages that read the cache with it: the
# cache's users fail open (portal.throttle) once a call gives up.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    # Shared by every process on this machine, unlike the in-memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

BROKER_FOLDER = VAR_DIR / "broker"
# Without Redis, the embedded broker: message files in var/broker, written atomically (see
# portal.broker). kombu's own filesystem:// loses messages and stops workers with several
# processes, so that URL gets this transport too.
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL", REDIS_URL or "sitterfs://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_URL = "sitterfs://" + CELERY_BROKER_URL.removeprefix("filesystem://")
CELERY_TASK_TIME_LIMIT = env.integer("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(BROKER_FOLDER / "queue"),
        "data_folder_out": str(BROKER_FOLDER / "queue"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "claimed_folder": str(BROKER_FOLDER / "claimed"),
        "corrupt_folder": str(BROKER_FOLDER / "corrupt"),
        # How long an idle worker waits before looking at the folder again (kombu's default: 1 s,
        # which also paces a worker that has a task in hand).
        "polling_interval": 0.1,
    }
    if CELERY_BROKER_URL.startswith("sitterfs://")
    # An unacknowledged task is redelivered after this long; it must outlast the longest task.
    else {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 6}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
HEARTBEAT_INTERVAL = timedelta(seconds=env.integer("HEARTBEAT_INTERVAL_SECONDS", 15))
# Every periodic job, in one place.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "heartbeat": {"task": "portal.tasks.heartbeat", "schedule": HEARTBEAT_INTERVAL},
    "audit-checkpoint": {
        "task": "ledger.tasks.write_checkpoint",
        "schedule": AUDIT_CHECKPOINT_INTERVAL,
    },
}

# --- Authentication -------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out sign-in before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after repeated failed sign-ins (the staff page and the admin alike), per username and
# client address; a success clears the count. Locks are listed, and lifted, in the admin.
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "portal.clients.client_ip"  # honours TRUSTED_PROXY_COUNT
AXES_LOCKOUT_CALLABLE = "portal.two_factor.locked_out"
# Second factor (TOTP): anyone with a confirmed device enters a code after the password;
# superusers must enrol one before they reach the admin or staff pages.
TOTP_REQUIRED_FOR_ADMINS = env.flag("TOTP_REQUIRED_FOR_ADMINS", not DEBUG)
OTP_TOTP_ISSUER = env.text("OTP_TOTP_ISSUER", "Sitter")
# The admin never shows another user's TOTP secret or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文"), ("zh-hant", "繁體中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.text("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.text("STATIC_ROOT", str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.text("MEDIA_ROOT", str(VAR_DIR / "media"))
MEDIA_URL = "/media-not-served/"  # media is never served directly; see assets.views
# Uploaded media: under MEDIA_ROOT, or in the S3-compatible bucket MEDIA_STORAGE_URL names
# (portal/objectstore.py; docs/configuration.md). Every web and worker host then shares it.
MEDIA_STORAGE_URL = env.text("MEDIA_STORAGE_URL").strip()
# How long a presigned GET URL for one object holds: the upstream's download in `url` mode.
MEDIA_PRESIGNED_URL_TTL = timedelta(seconds=env.integer("MEDIA_PRESIGNED_URL_SECONDS", 600))
STORAGES = {
    "default": (
        {
            "BACKEND": "assets.s3.MediaS3Storage",
            "OPTIONS": objectstore.storage_options(MEDIA_STORAGE_URL),
        }
        if MEDIA_STORAGE_URL
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Uploads larger than this go to a temporary file on disk, never whole into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Email ----------------------------------------------------------------------------------------
# Development logs mail and keeps it in the outbox (verification/outbox.py: the staff page
# /dev/outbox/ lists it); production sends through SMTP.
EMAIL_BACKEND_PATH = env.text(
    "EMAIL_BACKEND",
    "verification.outbox.OutboxEmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
OUTBOX_DIR = env.VAR_DIR / "outbox"
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": (
            {
                "host": env.text("EMAIL_HOST", "localhost"),
                "port": env.integer("EMAIL_PORT", 587),
                "username": env.text("EMAIL_HOST_USER"),
                "password": env.optional_secret("EMAIL_HOST_PASSWORD"),
                "use_tls": env.flag("EMAIL_USE_TLS", True),
                "timeout": 20,
            }
            if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "Sitter <sitter@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Upstream -------------------------------------------------------------------------------------
# Where `make run` starts the simulator; the demo upstream account points here.
SIMULATOR_URL = env.text("SIMULATOR_URL", "http://127.0.0.1:8100")
UPSTREAM_CONNECT_TIMEOUT = env.number("UPSTREAM_CONNECT_TIMEOUT", 5.0)
UPSTREAM_READ_TIMEOUT = env.number("UPSTREAM_READ_TIMEOUT", 60.0)
# Calls per second per upstream account, shared by every worker through Redis (upstream.pacing):
# the published limits (CONTRACT.md §4). 0 turns a limit off.
UPSTREAM_QPS_LIMIT = env.number("UPSTREAM_QPS_LIMIT", 30.0)
UPSTREAM_GET_QPS_LIMIT = env.number("UPSTREAM_GET_QPS_LIMIT", 100.0)
UPSTREAM_QPS_MAX_WAIT = env.number("UPSTREAM_QPS_MAX_WAIT", 10.0)

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.flag("SECURE_HSTS_PRELOAD", True)
    # Off only to measure a server over plain HTTP on loopback; `check --deploy` then warns.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.flag("SECURE_COOKIES", True)
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env.flag("TRUST_X_FORWARDED_PROTO", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz, /readyz and /metrics are probed over plain HTTP from inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

# --- Logging --------------------------------------------------------------------------------------
LOG_LEVEL = env.text("LOG_LEVEL", "INFO")
# "json": one JSON object per line (production default); "plain": for reading in a terminal.
# Either way, secrets (tokens, keys, passwords, person link tokens) are redacted from every line.
LOG_FORMAT = env.text("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ValueError(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "portal.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "portal.logging.JsonFormatter"},
    },
    "filters": {"quiet_sweeps": {"()": "portal.logging.QuietSweeps"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["quiet_sweeps"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's own handlers (unredacted console output in DEBUG, the development server's lines)
    # are replaced: everything goes through the one redacting handler above.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Metrics --------------------------------------------------------------------------------------
# /metrics (Prometheus text format, counts only) answers a request carrying
# "Authorization: Bearer <METRICS_KEY>"; without a key configured it does not exist.
METRICS_KEY = env.optional_secret("METRICS_KEY")

# --- Verification journey -------------------------------------------------------------------------
# How long a person's invitation link works, and how long a result is waited for after the person
# starts liveness (the upstream link itself lives about 120 s).
INVITATION_TTL = timedelta(days=env.integer("INVITATION_TTL_DAYS", 7))
LIVENESS_LINK_TTL = timedelta(seconds=env.integer("LIVENESS_LINK_TTL_SECONDS", 120))
LIVENESS_RESULT_WINDOW = timedelta(minutes=env.integer("LIVENESS_RESULT_WINDOW_MINUTES", 30))
# Links sent by email or SMS per session per hour (the first one included); staff are told when
# the next one can go.
INVITATIONS_PER_SESSION_PER_HOUR = env.integer("INVITATIONS_PER_SESSION_PER_HOUR", 3)
# Liveness checks one link may start in any hour; a new one only once the last is finished or its
# upstream page has expired.
LIVENESS_STARTS_PER_HOUR = env.integer("LIVENESS_STARTS_PER_HOUR", 5)
# A person's result page asks the upstream about one attempt at most this often (the background
# sweep keeps asking on its own schedule).
LIVENESS_RESULT_CHECK_SECONDS = env.integer("LIVENESS_RESULT_CHECK_SECONDS", 5)
# Wrong link tokens allowed per client address per window before it is slowed down.
LINK_FAILURES_ALLOWED = env.integer("LINK_FAILURES_ALLOWED", 20)
LINK_FAILURE_WINDOW = timedelta(minutes=15)
# Consent for a new project on a group already verified: the person proves it is them with a
# one-time code sent to their own email or phone on file ("code"), or with a fresh liveness check
# that makes a new group ("liveness"). Without a contact on file, it is always liveness.
REUSED_GROUP_CONSENT_PROOF = env.text("REUSED_GROUP_CONSENT_PROOF", "code")
if REUSED_GROUP_CONSENT_PROOF not in ("code", "liveness"):
    raise ImproperlyConfigured("REUSED_GROUP_CONSENT_PROOF must be 'code' or 'liveness'.")
CONSENT_CODE_TTL = timedelta(minutes=env.integer("CONSENT_CODE_TTL_MINUTES", 15))
CONSENT_CODE_ATTEMPTS = env.integer("CONSENT_CODE_ATTEMPTS", 5)
CONSENT_CODE_SENDS = env.integer("CONSENT_CODE_SENDS", 3)
POLL_SWEEP_INTERVAL = timedelta(seconds=env.integer("POLL_SWEEP_INTERVAL_SECONDS", 3))
SMS_BACKEND = env.text(
    "SMS_BACKEND",
    "verification.outbox.OutboxSmsBackend" if DEBUG else "verification.sms.ConsoleSmsBackend",
)
TWILIO_ACCOUNT_SID = env.text("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env.optional_secret("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env.text("TWILIO_FROM_NUMBER")
TWILIO_API_URL = env.text("TWILIO_API_URL", "https://api.twilio.com")
CELERY_BEAT_SCHEDULE["poll-liveness"] = {
    "task": "verification.tasks.sweep_liveness",
    "schedule": POLL_SWEEP_INTERVAL,
}
CELERY_BEAT_SCHEDULE["finish-withdrawals"] = {
    "task": "verification.tasks.sweep_withdrawals",
    "schedule": timedelta(minutes=10),
}
# Invitations and receipts whose task was lost (the broker down or restarted empty) go out late.
CELERY_BEAT_SCHEDULE["send-stalled-invitations"] = {
    "task": "verification.tasks.sweep_invitations",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["send-unsent-receipts"] = {
    "task": "verification.tasks.sweep_receipts",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["expire-sessions"] = {
    "task": "verification.tasks.expire_sessions",
    "schedule": timedelta(minutes=5),
}
# The studio as people see it in invitations and on their pages: its name, its logo (an https URL,
# or a path under the portal such as /static/…; none by default) and its accent colour (#rrggbb).
STUDIO_NAME = env.text("STUDIO_NAME", "The studio")
STUDIO_LOGO_URL = env.text("STUDIO_LOGO_URL", "")
STUDIO_ACCENT_COLOR = env.text("STUDIO_ACCENT_COLOR", "#2a5bd7")
if not re.fullmatch(r"#[0-9a-fA-F]{6}", STUDIO_ACCENT_COLOR):
    raise ValueError(f"STUDIO_ACCENT_COLOR must look like #2a5bd7, not {STUDIO_ACCENT_COLOR!r}")
if STUDIO_LOGO_URL and not re.match(r"(https://|/)", STUDIO_LOGO_URL):
    raise ValueError("STUDIO_LOGO_URL must be an https:// address or a path starting with /")
if STUDIO_LOGO_URL.startswith("https://"):  # the person's pages may load it, and only it
    SECURE_CSP["img-src"].append(STUDIO_LOGO_URL)

# --- Asset intake ---------------------------------------------------------------------------------
# How files reach the upstream: "url" (it downloads a signed, expiring portal URL; needs
# PUBLIC_BASE_URL reachable from the upstream), "inline" (Base64 in the request; files up to
# about 45 MB), or "multipart".
ASSET_FORWARDING_MODE = env.text("ASSET_FORWARDING_MODE", "url")
ASSET_FETCH_TTL = timedelta(seconds=env.integer("ASSET_FETCH_TTL_SECONDS", 3600))
# Overrides of the upstream media limits, as JSON: {"video_max_duration_s": 15, ...}.
MEDIA_LIMITS = json.loads(env.text("MEDIA_LIMITS", "{}"))
# The largest file one upload may carry; 0: the largest the media limits allow of any kind (a
# 50 MB video). A body declaring more (plus 64 KB for the form around the file) is refused before
# it is read; see assets/uploads.py.
ASSET_UPLOAD_MAX_BYTES = env.integer("ASSET_UPLOAD_MAX_BYTES", 0)
# An upload body must arrive within this many seconds, and never pause longer than the idle time.
ASSET_UPLOAD_READ_SECONDS = env.integer("ASSET_UPLOAD_READ_SECONDS", 300)
ASSET_UPLOAD_IDLE_SECONDS = env.integer("ASSET_UPLOAD_IDLE_SECONDS", 30)
# Files one person's link may upload in any hour (refused ones included).
PERSON_UPLOADS_PER_HOUR = env.integer("PERSON_UPLOADS_PER_HOUR", 30)
ASSET_STATUS_SWEEP_INTERVAL = timedelta(seconds=env.integer("ASSET_STATUS_SWEEP_SECONDS", 3))
# A worker forwarding an asset holds it this long; if the worker dies, another takes the asset over
# once the lease has run out. It must outlast one whole forward (lookups, sends, their retries).
ASSET_FORWARD_LEASE = timedelta(seconds=env.integer("ASSET_FORWARD_LEASE_SECONDS", 900))
CELERY_BEAT_SCHEDULE["check-assets"] = {
    "task": "assets.tasks.sweep_processing",
    "schedule": ASSET_STATUS_SWEEP_INTERVAL,
}
CELERY_BEAT_SCHEDULE["forward-stalled-assets"] = {
    "task": "assets.tasks.sweep_forwarding",
    "schedule": timedelta(minutes=1),
}

# --- Retention ------------------------------------------------------------------------------------
# Local copies of uploads are deleted this many days after the upstream settled them (Active or
# Failed); the asset's record and SHA-256 stay. A person's media is destroyed at the earliest of:
# every consent ended, every project closed (plus a grace period, so a project closed by mistake
# can be reopened), or this many days after their last interaction (BIPA: at most three years).
# See verification/retention.py.
RETENTION_LOCAL_MEDIA_DAYS = env.integer("RETENTION_LOCAL_MEDIA_DAYS", 30)
RETENTION_PERSON_DAYS = env.integer("RETENTION_PERSON_DAYS", 1095)
RETENTION_PROJECT_CLOSED_DAYS = env.integer("RETENTION_PROJECT_CLOSED_DAYS", 30)
CELERY_BEAT_SCHEDULE["apply-retention"] = {
    "task": "verification.tasks.apply_retention",
    "schedule": crontab(hour=3, minute=17),
}

# --- API and webhooks (integrations/) --------------------------------------------------------------
# Requests a minute for a new API key (each key has its own limit, changeable in admin).
API_KEY_RATE_LIMIT_PER_MINUTE = env.integer("API_KEY_RATE_LIMIT_PER_MINUTE", 600)
# Seconds between a failed webhook attempt and the next; the event is given up after the last.
# The default is the Standard Webhooks schedule: about 27 hours in all.
WEBHOOK_RETRY_SCHEDULE = [
    int(s) for s in env.items("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
]
WEBHOOK_TIMEOUT_SECONDS = env.number("WEBHOOK_TIMEOUT_SECONDS", 10)
# Failed attempts in a row after which an endpoint is paused and the admins are mailed.
WEBHOOK_PAUSE_AFTER_FAILURES = env.integer("WEBHOOK_PAUSE_AFTER_FAILURES", 50)
# How long the old signing secret still signs after a rotation.
WEBHOOK_ROTATION_HOURS = env.integer("WEBHOOK_ROTATION_HOURS", 24)
# Webhooks go only to public https addresses; these networks (CIDR) are allowed even if private
# or loopback (an internal receiver), and WEBHOOK_ALLOW_HTTP permits plain http (development).
WEBHOOK_ALLOWED_NETWORKS = env.items("WEBHOOK_ALLOWED_NETWORKS", "")
WEBHOOK_ALLOW_HTTP = env.flag("WEBHOOK_ALLOW_HTTP", DEBUG)
# consent.expiring is sent this many days before a consent's last day.
CONSENT_EXPIRING_DAYS = env.integer("CONSENT_EXPIRING_DAYS", 14)
CELERY_BEAT_SCHEDULE["send-webhooks"] = {
    "task": "integrations.tasks.sweep_webhooks",
    "schedule": timedelta(seconds=env.integer("WEBHOOK_SWEEP_SECONDS", 5)),
}
CELERY_BEAT_SCHEDULE["consent-milestones"] = {
    "task": "integrations.tasks.record_consent_milestones",
    "schedule": timedelta(hours=1),
}
CELERY_BEAT_SCHEDULE["forget-idempotent-answers"] = {
    "task": "integrations.tasks.forget_idempotent_answers",
    "schedule": timedelta(hours=1),
}
