"""Settings for FLIS-portal, all read from the environment (see .env.example and
docs/operations/settings.md).

Development defaults work offline on one machine: SQLite in WAL mode and private files under
the data folder, Redis on 127.0.0.1. With DEBUG=false every secret must be given, and
`manage.py check --deploy` passes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import xstatic.pkg.bootstrap
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from flisportal.lib.env import (
    DEVELOPMENT_AUDIT_HMAC_KEY,
    DEVELOPMENT_KEY_ENCRYPTION_KEY,
    DEVELOPMENT_SECRET_KEY,
    env_bool,
    env_cache,
    env_database,
    env_int,
    env_list,
    env_path,
    env_secret,
    env_str,
    redis_url_with_timeouts,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
# With DEBUG, a page that is not there (or outside the user's scope) shows the portal's own 404
# page; true shows Django's technical 404 page (every URL pattern) for a developer instead.
TECHNICAL_404 = env_bool("FLISPORTAL_TECHNICAL_404", False)

# Everything the portal writes at run time (database, extracts, host keys) lives here.
DATA_DIR = env_path("FLISPORTAL_DATA_DIR", BASE_DIR / "var")

SECRET_KEY = env_secret(
    "SECRET_KEY",
    debug=DEBUG,
    dev_default=DEVELOPMENT_SECRET_KEY,
    min_length=50,
)

# Fernet keys (comma-separated, newest first) that encrypt SFTP private keys at rest.
# Keeping older keys after the first lets a key be rotated without losing stored keys.
KEY_ENCRYPTION_KEYS = env_list("FLISPORTAL_KEY_ENCRYPTION_KEYS", []) or (
    [DEVELOPMENT_KEY_ENCRYPTION_KEY] if DEBUG else []
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "flisportal.apps.RqConfig",  # django-rq, with a Danish name (flisportal/apps.py)
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "flisportal",
    "routes",
    "deliveries",
    "deliveries.serviceplatform",
    "deliveries.api",
    "flisportal.notifications",
    "flisportal.audit",
    "flisportal.sso",
    "flisportal.apps.AxesConfig",  # django-axes, with a Danish name (flisportal/apps.py)
    "django_otp",
    "flisportal.apps.TotpConfig",  # django-otp's TOTP plugin, with a Danish name
    "flisportal.twofactor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "flisportal.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "flisportal.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The user's list of sessions, then the second-factor gate (flisportal/twofactor/).
    "flisportal.twofactor.middleware.SessionListMiddleware",
    "flisportal.twofactor.middleware.SecondFactorMiddleware",
    # With DEBUG: the portal's 404 page, not Django's technical one (FLISPORTAL_TECHNICAL_404).
    "flisportal.middleware.PortalNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Serves collected static files under gunicorn; runserver does it itself in development.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "flisportal.urls"
WSGI_APPLICATION = "flisportal.wsgi.application"
ASGI_APPLICATION = "flisportal.asgi.application"

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
                "django.template.context_processors.i18n",
                "flisportal.context_processors.portal",
                "flisportal.sso.context_processors.sso_providers",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", DATA_DIR / "flisportal.sqlite3")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite cannot create its own folder; the data folder is private to the portal's user.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "routes.User"
# django-axes first: it refuses a locked-out account or source before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Refuses a password for users whose provider (or SSO_PASSWORD_LOGIN) switched them off.
    "flisportal.sso.backends.PasswordGateBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "front:start"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "flisportal.twofactor.passwords.RecentPasswordValidator"},
]
# Two factors and passwords (flisportal/twofactor/, docs/operations/two-factor.md). Roles that
# must use a second factor besides administrators, who always must: "vendor", "consultant".
FLISPORTAL_TWO_FACTOR_ROLES = env_list("FLISPORTAL_TWO_FACTOR_ROLES", ["administrator"])
_KNOWN_ROLES = {"administrator", "vendor", "consultant"}
if not set(FLISPORTAL_TWO_FACTOR_ROLES) <= _KNOWN_ROLES:
    raise ImproperlyConfigured(
        "FLISPORTAL_TWO_FACTOR_ROLES may name only administrator, vendor and consultant; got "
        + ", ".join(sorted(set(FLISPORTAL_TWO_FACTOR_ROLES) - _KNOWN_ROLES))
    )
# How many earlier passwords an administrator may not reuse.
FLISPORTAL_PASSWORD_HISTORY = env_int("FLISPORTAL_PASSWORD_HISTORY", 5, minimum=1, maximum=50)
# A "Glemt adgangskode" link works once, and only this long.
PASSWORD_RESET_TIMEOUT = 60 * env_int(
    "FLISPORTAL_PASSWORD_RESET_MINUTES", 60, minimum=5, maximum=24 * 60
)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = "FLIS-portal"

# Danish first, English available through the language switch.
LANGUAGE_CODE = "da"
LANGUAGES = [("da", _("Dansk")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "flisportal" / "locale"]
# One date and number format in both languages: 05.04.2026 14:03, 1.234 (flisportal/formats).
FORMAT_MODULE_PATH = ["flisportal.formats"]
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Bootstrap comes from the installed xstatic-bootstrap package: no CDN, no copied files.
STATICFILES_DIRS = [
    ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR),
    BASE_DIR / "flisportal" / "static",
]
STORAGES: dict[str, dict[str, Any]] = {
    # Extracts and reports: a private root that no URL serves. Downloads go through views that
    # check the user's scope. Set FLISPORTAL_STORAGE_BACKEND for an object store
    # (docs/operations/deployment.md).
    "default": {
        "BACKEND": env_str(
            "FLISPORTAL_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": {},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "private")
# Deliberately no MEDIA_URL: uploaded files are never served directly.
MEDIA_URL = None
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    STORAGES["default"]["OPTIONS"] = {"location": str(MEDIA_ROOT), "base_url": None}
elif STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage":
    # An S3-compatible object store (the optional extra `s3`: django-storages + boto3).
    # Credentials come the way boto3 always takes them (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY in the environment, or an instance role), never from this file.
    STORAGES["default"]["OPTIONS"] = {
        "bucket_name": env_str("FLISPORTAL_S3_BUCKET", ""),
        "endpoint_url": env_str("FLISPORTAL_S3_ENDPOINT_URL", "") or None,
        "region_name": env_str("FLISPORTAL_S3_REGION", "") or None,
        "location": env_str("FLISPORTAL_S3_PREFIX", ""),
        # Extracts are personal data: private objects, never a public URL, never overwritten.
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
    if not STORAGES["default"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("FLISPORTAL_S3_BUCKET must name the bucket for extracts.")
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Uploads of extracts (deliveries). KOMBIT recommends files under 2 GB on the Serviceplatform.
MAX_UPLOAD_BYTES = env_int("FLISPORTAL_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1)
# A .zip may expand at most this many times its compressed size (zip-bomb guard); real CSV
# extracts compress 5-20 times.
ZIP_MAX_RATIO = env_int("FLISPORTAL_ZIP_MAX_RATIO", 200, minimum=1)
# Samlet upload (deliveries.batches): one vendor's month is up to 98 kommuner x 5 areas = 490
# files, so one batch takes that many, and as many bytes as the request may stream in all.
BATCH_MAX_FILES = env_int("FLISPORTAL_BATCH_MAX_FILES", 500, minimum=1, maximum=5000)
BATCH_MAX_BYTES = env_int("FLISPORTAL_BATCH_MAX_BYTES", 10 * 1024**3, minimum=1)
# A batch's files wait here, on local disk, between the preview and the confirmation; a batch
# left unconfirmed (or half sent) is deleted by the nightly retention run after this many hours.
BATCH_STAGING_DIR = env_path("FLISPORTAL_BATCH_STAGING_DIR", DATA_DIR / "batches")
BATCH_KEEP_HOURS = env_int("FLISPORTAL_BATCH_KEEP_HOURS", 72, minimum=1, maximum=24 * 60)
# Django refuses a request with more than 100 file parts (a bare 400) before any upload handler
# sees them. One more than a batch may hold, so the batch's own handler is the one that refuses,
# with a message that says the limit; the single upload's handler still stops at its second part.
DATA_UPLOAD_MAX_NUMBER_FILES = BATCH_MAX_FILES + 1
# How many errors a validation report lists one by one (all are counted).
VALIDATION_MAX_LISTED_ERRORS = env_int("FLISPORTAL_VALIDATION_MAX_LISTED_ERRORS", 1000, minimum=1)
# Bytes of the extract the validator checks at a time: memory grows with this, not with the
# size of the file.
VALIDATION_BATCH_BYTES = env_int("FLISPORTAL_VALIDATION_BATCH_BYTES", 4 * 1024**2, minimum=4096)

# --- The vendor API (docs/users/api.md) ----------------------------------------------------
# Requests one API token may make, as "<number>/<second|minute|hour|day>". Counted in the
# cache (CACHES below): with Redis once for all web processes.
API_RATE = env_str("FLISPORTAL_API_RATE", "120/minute")
if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", API_RATE):
    raise ImproperlyConfigured(
        f"FLISPORTAL_API_RATE must read like 120/minute (second, minute, hour or day), "
        f"not {API_RATE!r}."
    )
# The longest a token made on the API-nøgler page may stay valid.
API_TOKEN_MAX_DAYS = env_int("FLISPORTAL_API_TOKEN_MAX_DAYS", 365, minimum=1, maximum=3650)
# Hours an upload's Idempotency-Key is remembered; the nightly retention run deletes older
# ones, and a request repeated after that is a new upload. Long enough for a vendor's script
# to retry over a weekend; at least an hour, so a key whose first request is still running
# (the 409 case, at most STALE_CLAIM) is never deleted under it.
API_IDEMPOTENCY_KEEP_HOURS = env_int(
    "FLISPORTAL_API_IDEMPOTENCY_KEEP_HOURS", 72, minimum=1, maximum=24 * 365
)
REST_FRAMEWORK = {
    # The API's views name their token authentication themselves (deliveries.api.views);
    # nothing else authenticates through DRF, so no session cookie ever opens the API.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "deliveries.api.problems.problem_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FLIS-portal API",
    "DESCRIPTION": "Leverancer til FLIS og kommunernes LIS (SF1630): upload, status, "
    "valideringsrapporter og indbakke. Se docs/users/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's problem answers (401, 404, 429; uploads 409, 413, 422), said once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "deliveries.api.schema.problem_responses",
    ],
    # One name per choice set in the schema (a delivery's and a check's statuses differ).
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStatusEnum": "deliveries.lifecycle.states.DeliveryStatus",
        "FileCheckStatusEnum": "deliveries.models.FileCheckStatus",
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Seconds to wait for Redis to accept a connection and for each reply (not for workers'
# blocking waits, which RQ lengthens itself).
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT", 5, minimum=1, maximum=300)
RQ_QUEUES = {
    name: {
        "URL": redis_url_with_timeouts(REDIS_URL, REDIS_SOCKET_TIMEOUT),
        "DEFAULT_TIMEOUT": timeout,
    }
    for name, timeout in (("default", 300), ("validation", 3600), ("sftp", 3600))
}
RQ_SHOW_ADMIN_LINK = True

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "flisportal.lib.mail.SmtpBackend",
)
# Django's SMTP backend named in the environment gets the portal's, which is the same but
# refuses clear text in production at the moment of sending (flisportal/lib/mail.py).
if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    EMAIL_BACKEND = "flisportal.lib.mail.SmtpBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Production refuses SMTP without TLS (flisportal.E006): the mails name people, deliveries and
# kommuner. A relay on this machine or a private network may be allowed in so many words.
EMAIL_ALLOW_PLAINTEXT = env_bool("FLISPORTAL_EMAIL_ALLOW_PLAINTEXT", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "FLIS-portal <flisportal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The Serviceplatform stand-in (manage.py serviceplatform) for development and tests.
SERVICEPLATFORM_STANDIN_HOST = env_str("SERVICEPLATFORM_STANDIN_HOST", "127.0.0.1")
SERVICEPLATFORM_STANDIN_PORT = env_int(
    "SERVICEPLATFORM_STANDIN_PORT", 2222, minimum=1, maximum=65535
)
# Bytes one SFTP user may keep in the stand-in's OUT/: an upload (or a truncate/seek past the
# end) beyond it is refused, so one sender cannot fill the disk the recipients' IN/ share.
SERVICEPLATFORM_STANDIN_OUT_QUOTA_BYTES = env_int(
    "SERVICEPLATFORM_STANDIN_OUT_QUOTA_BYTES", 2 * 1024**3, minimum=1
)
# KOMBIT's SFTP schemas; the project carries its own copy.
KOMBIT_XSD_DIR = env_path("KOMBIT_XSD_DIR", BASE_DIR / "deliveries" / "xsd")

# --- SFTP client (deliveries/sftp.py) -------------------------------------------------------
# Seconds. Connect: TCP connect. Banner: the server's SSH banner and the key exchange. Auth:
# public-key authentication. Operation: any single SFTP request or write without progress, so
# a server that goes silent mid-transfer is noticed instead of hanging a worker.
SFTP_CONNECT_TIMEOUT = env_int("SFTP_CONNECT_TIMEOUT", 10, minimum=1, maximum=600)
SFTP_BANNER_TIMEOUT = env_int("SFTP_BANNER_TIMEOUT", 15, minimum=1, maximum=600)
SFTP_AUTH_TIMEOUT = env_int("SFTP_AUTH_TIMEOUT", 15, minimum=1, maximum=600)
SFTP_OPERATION_TIMEOUT = env_int("SFTP_OPERATION_TIMEOUT", 60, minimum=1, maximum=3600)
# Transient faults (refused, timeout, reset, server gone) are retried with exponential backoff
# and jitter: attempt n waits about BASE * 2**(n-1) seconds, at most MAX; after MAX_ATTEMPTS
# tries the delivery fails with the last reason. Permanent faults are never retried.
SFTP_RETRY_MAX_ATTEMPTS = env_int("SFTP_RETRY_MAX_ATTEMPTS", 6, minimum=1, maximum=100)
SFTP_RETRY_BASE_DELAY = env_int("SFTP_RETRY_BASE_DELAY", 30, minimum=1, maximum=3600)
SFTP_RETRY_MAX_DELAY = env_int("SFTP_RETRY_MAX_DELAY", 1800, minimum=1, maximum=86400)
# --- end SFTP client ------------------------------------------------------------------------

# --- Push, receipts and reconciler (docs/design/push-and-receipts.md) -----------------------
# The push job retries with SFTP_RETRY_MAX_ATTEMPTS and SFTP_RETRY_BASE_DELAY/MAX_DELAY above.
# Seconds between two looks for technical receipts in the senders' IN/ folders (RQ cron).
RECEIPT_POLL_SECONDS = env_int("RECEIPT_POLL_SECONDS", 60, minimum=5, maximum=86400)
# Adaptive polling (issue #18): after a push is sent, its sender's IN/ is looked at after
# POLL_SOON_SECONDS, then after steps that double, until the receipt is there or the step
# reaches RECEIPT_POLL_SECONDS; after a delivery is distributed, its recipients' IN/ likewise
# up to FETCH_POLL_SECONDS. The cron rounds stay as the safety net. Off: only the cron rounds.
ADAPTIVE_POLL = env_bool("FLISPORTAL_ADAPTIVE_POLL", True)
POLL_SOON_SECONDS = env_int("FLISPORTAL_POLL_SOON_SECONDS", 1, minimum=1, maximum=60)
# The most SFTP logins per SFTP user and calendar minute that these extra rounds may make (the
# Serviceplatform is shared; a burst of pushes must not become a burst of logins).
SFTP_MAX_LOGINS_PER_MINUTE = env_int(
    "FLISPORTAL_SFTP_MAX_LOGINS_PER_MINUTE", 12, minimum=1, maximum=600
)
# Seconds between two runs of the reconciler (RQ cron).
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 300, minimum=10, maximum=86400)
# A delivery validating or pushing with no sign of life from its worker for this long is taken
# back and enqueued again (the worker died, or Redis lost the job). Workers show life about
# every 10 seconds, so this only has to be longer than a pause, not than a whole large push.
# The same limit applies to a check without sending (deliveries/services/reconcile.py).
RECONCILE_STUCK_MINUTES = env_int("RECONCILE_STUCK_MINUTES", 15, minimum=1, maximum=10080)
# A delivery sent this long ago without a technical receipt is flagged on its page.
RECEIPT_OVERDUE_MINUTES = env_int("RECEIPT_OVERDUE_MINUTES", 60, minimum=1, maximum=10080)

# Seconds the coverage dashboard keeps its rendered table. It is also rebuilt at once when a
# delivery, route, registry entry or expected period changes (routes/views.py); the time only
# bounds what no change record catches. 0 turns the cache off.
COVERAGE_CACHE_SECONDS = env_int("COVERAGE_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# Seconds Udvikling keeps its counts, under the same change stamp as the coverage table
# (flisportal/front/trends_views.py); 0 turns the cache off.
TRENDS_CACHE_SECONDS = env_int("TRENDS_CACHE_SECONDS", 300, minimum=0, maximum=3600)
# The cache (docs/operations/settings.md): by default Redis, the database after the queues' on
# REDIS_URL's server, shared by every web process on every host, so a table one process built
# serves them all and an API token's requests are counted once. A full coverage table is
# ≈300 KB and lives COVERAGE_CACHE_SECONDS; the keys are derived from the database, so
# processes never need to tell each other what changed. A Redis that does not answer within
# two seconds is a miss, never an error page (flisportal/lib/cache.py). CACHE_URL=locmem://
# keeps one cache per process instead.
CACHES = {"default": env_cache("CACHE_URL", REDIS_URL, min(REDIS_SOCKET_TIMEOUT, 2))}

# Expected deliveries (docs/design/expected-deliveries.md). Seconds between two runs of the
# scanner that creates the expected periods and marks them due soon / overdue / met.
EXPECTED_SCAN_SECONDS = env_int("EXPECTED_SCAN_SECONDS", 900, minimum=30, maximum=86400)
# A period counts as "due soon" this many days before its due date.
EXPECTED_DUE_SOON_DAYS = env_int("EXPECTED_DUE_SOON_DAYS", 3, minimum=0, maximum=31)
# Endpoints whose established routes owe a monthly extract. KOMBIT's external test
# environment owes none; the local stand-in does, so the demo shows the states.
EXPECTED_ENDPOINTS = env_list("EXPECTED_ENDPOINTS", ["produktion", "lokal"])
# Endpoints that carry real personal data (KOMBIT's production Serviceplatform): a route on
# one of them is not established without a signed databehandleraftale unless an administrator
# overrides it with a reason (docs/users/route-orders.md). Exttest and the stand-in carry test
# data only, so there the portal warns and allows.
PRODUCTION_ENDPOINTS = env_list("PRODUCTION_ENDPOINTS", ["produktion"])

# Notifications (docs/design/notifications.md). Links in mails start with this.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")
# A distributed file not fetched by its recipient this long is reported.
NOTIFY_NOT_FETCHED_HOURS = env_int("NOTIFY_NOT_FETCHED_HOURS", 48, minimum=1, maximum=2160)
# How many validation errors a "validation failed" mail lists (the report has them all).
NOTIFY_FIRST_ERRORS = env_int("NOTIFY_FIRST_ERRORS", 5, minimum=1, maximum=100)
# A failed send is retried after MAIL_RETRY_SECONDS, doubling, until MAIL_MAX_ATTEMPTS.
MAIL_MAX_ATTEMPTS = env_int("MAIL_MAX_ATTEMPTS", 5, minimum=1, maximum=50)
MAIL_RETRY_SECONDS = env_int("MAIL_RETRY_SECONDS", 60, minimum=1, maximum=86400)
# A mail pending or sending this long without progress had its job lost: queued again (checked
# every MAIL_REQUEUE_SECONDS). Longer than the retry delays, so a waiting retry is not doubled.
MAIL_STUCK_MINUTES = env_int("MAIL_STUCK_MINUTES", 60, minimum=5, maximum=10080)
MAIL_REQUEUE_SECONDS = env_int("MAIL_REQUEUE_SECONDS", 600, minimum=30, maximum=86400)
# When the daily digest goes out (cron syntax, server time zone).
DIGEST_CRON = env_str("DIGEST_CRON", "0 7 * * *")
# A route waiting this many days in "bestilt" (ordered in Digitaliseringskataloget, not yet
# established) is flagged on the route pages and mailed to administrators; again after each
# further period of as many days while it still waits (routes/notify.py).
ORDERED_REMINDER_DAYS = env_int("FLISPORTAL_ORDERED_REMINDER_DAYS", 14, minimum=1, maximum=365)

# Retention (docs/operations/retention.md): extracts rejected by the validator or
# refused by the Serviceplatform are deleted this many days after that final state; fetched
# ones after their data area's retention days. The Hent side's copies of fetched files go the
# same way: quarantined ones after RETENTION_REJECTED_DAYS, good ones after their data area's
# days. The job runs nightly at RETENTION_CRON.
RETENTION_REJECTED_DAYS = env_int("RETENTION_REJECTED_DAYS", 30, minimum=1, maximum=3650)
RETENTION_CRON = env_str("RETENTION_CRON", "30 3 * * *")
# The same job deletes outgoing mails (sent, digested or given up) this many days after their
# last attempt (they hold addresses and delivery details), and django-axes' login logs
# (successful logins and logouts; failure logs if enabled: username, source address, user
# agent) this many days after the login. Lockout counters go once AXES_COOLOFF_MINUTES have
# passed, when they no longer lock anything.
RETENTION_MAIL_DAYS = env_int("RETENTION_MAIL_DAYS", 180, minimum=1, maximum=3650)
RETENTION_LOGIN_LOG_DAYS = env_int("RETENTION_LOGIN_LOG_DAYS", 90, minimum=1, maximum=3650)
# Hours a check without sending (deliveries.services.check) keeps its report; the nightly
# retention run deletes it after that. The checked file itself is deleted as soon as it has
# been checked. Short: a check is a draft, and its report quotes values from the file.
FILE_CHECK_KEEP_HOURS = env_int("FLISPORTAL_CHECK_KEEP_HOURS", 72, minimum=1, maximum=24 * 90)

# Audit log: the chain is verified daily at this time (cron syntax); a break mails admins.
AUDIT_VERIFY_CRON = env_str("AUDIT_VERIFY_CRON", "45 2 * * *")
# The key of the audit log's HMAC chain. It lives outside the database on purpose: whoever can
# write the audit table but does not hold this key cannot make an edited row verify again.
# Losing it leaves the chain unverifiable, so it is kept like the database backups are.
AUDIT_HMAC_KEY = env_secret(
    "FLISPORTAL_AUDIT_HMAC_KEY", debug=DEBUG, dev_default=DEVELOPMENT_AUDIT_HMAC_KEY, min_length=32
)
# Each day's head of the chain (number, hash, time) is appended to this file and written to the
# log stream (logger flisportal.audit), at AUDIT_HEAD_EXPORT_CRON. Rows deleted from the end of
# the chain, with its checkpoint, show as a head that is missing (docs/operations/audit-log.md).
AUDIT_HEADS_FILE = env_path("FLISPORTAL_AUDIT_HEADS_FILE", DATA_DIR / "audit-heads.jsonl")
AUDIT_HEAD_EXPORT_CRON = env_str("AUDIT_HEAD_EXPORT_CRON", "55 23 * * *")

# Login lockout (django-axes). After AXES_FAILURE_LIMIT failed logins an account is refused
# from that source for AXES_COOLOFF_MINUTES. Locking by username alone would let anyone lock a
# colleague out from anywhere; by address alone, a whole town hall behind one NAT address
# would share one allowance.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# Comma-separated; "username+ip_address" locks that username from that address only (the
# default: a mistyping colleague on the same network is not locked out with the culprit).
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env_list("AXES_LOCKOUT_PARAMETERS", ["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# The lockout page (flisportal/lockout.py) says which lock holds and what to do about it.
AXES_LOCKOUT_CALLABLE = "flisportal.lockout.lockout_response"
# 429 Too Many Requests, for both locks (django-axes' default, named for flisportal/lockout.py).
AXES_HTTP_RESPONSE_CODE = 429
# A second limit on the source address alone, across user names: a kommune's NAT address is not
# locked by one colleague's typos, but trying 50 user names from one address is stopped.
# flisportal/lockout.py adds it to django-axes' own (username + address) limit.
AXES_HANDLER = "flisportal.lockout.LockoutHandler"
FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS = env_int(
    "FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1, maximum=1000
)
# The client's address (flisportal/lib/clientaddr.py), for the lockout and the audit log. Behind
# N reverse proxies of our own, the N-th address from the right of the forwarded header; 0: the
# connection's own address (REMOTE_ADDR), and any forwarded header is ignored.
FLISPORTAL_TRUSTED_PROXY_COUNT = env_int("FLISPORTAL_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
# Empty: X-Forwarded-For. Naming a header without a proxy count is refused (flisportal.E011).
FLISPORTAL_FORWARDED_HEADER = env_str("FLISPORTAL_FORWARDED_HEADER", "")
AXES_CLIENT_IP_CALLABLE = "flisportal.lib.clientaddr.client_address"
# No longer read for the address: it needed django-ipware, which is not installed, so the proxy's
# address was every client's. Kept only so a deployment that still names a header in it is
# refused with a pointer to the settings above (flisportal.E011).
LEGACY_AXES_IP_HEADERS = env_list("AXES_IP_HEADERS", [])
# --- Single sign-on over OpenID Connect (flisportal/sso, docs/operations/sso.md) ------------
# Off: nobody but a superuser logs in with a password; everyone else through a provider.
SSO_PASSWORD_LOGIN = env_bool("SSO_PASSWORD_LOGIN", True)
# Seconds an ID token's exp/iat may be off from the portal's clock (clock skew), no more.
SSO_CLOCK_SKEW_SECONDS = env_int("SSO_CLOCK_SKEW_SECONDS", 60, minimum=0, maximum=300)
# Seconds the portal waits for a provider's discovery, key and token endpoints.
SSO_HTTP_TIMEOUT = env_int("SSO_HTTP_TIMEOUT", 10, minimum=1, maximum=120)
# --- end single sign-on ----------------------------------------------------------------------

# --- Hent-side fetcher (deliveries/fetching.py) ---------------------------------------------
# Seconds between two fetch rounds: each round lists IN/ of every recipient SFTP user the portal
# holds an active key for, and fetches what has arrived (RQ cron, `manage.py rqcron`).
FETCH_POLL_SECONDS = env_int("FETCH_POLL_SECONDS", 300, minimum=1, maximum=86400)
# --- end Hent-side fetcher ------------------------------------------------------------------

# Production hardening: on whenever DEBUG is off (check --deploy passes).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
# A load balancer asks /healthz over plain HTTP on the backend's own address: answered, not
# redirected to https.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "paramiko": {"level": "WARNING"},
        "asyncssh": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
