"""Cloustral settings: one file, driven by the environment (see .env.example and README)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cloustral.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105  (DEBUG only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

INSTALLED_APPS = [
    "support.site.SupportAdminConfig",  # django.contrib.admin with the support console as its site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django_otp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "anymail",
    "accounts",
    "orgs",
    "connections",
    "inventory",
    "findings",
    "dashboard",
    "privacy",
    "automations",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for the API reference page
    "api",
    "billing",
    "demo",  # simulated clouds and seed_demo: outside the product, which never imports it
    "support",  # last: its staff groups are synced after every other app's permissions exist
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cloustral.middleware.SecurityHeadersMiddleware",  # Permissions-Policy; no-store on signed-in HTML
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.MFARequiredMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "support.middleware.StaffSessionMiddleware",  # staff sessions: absolute and idle expiry
    "support.middleware.StaffAuditMiddleware",  # every staff view and change in the console is audit-logged
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Staff sessions end sooner than customers': this long after the login, or after this long idle.
STAFF_SESSION_MAX_AGE_MINUTES = env_int("STAFF_SESSION_MAX_AGE_MINUTES", 8 * 60)
STAFF_SESSION_IDLE_MINUTES = env_int("STAFF_SESSION_IDLE_MINUTES", 30)

ROOT_URLCONF = "cloustral.urls"
WSGI_APPLICATION = "cloustral.wsgi.application"
ASGI_APPLICATION = "cloustral.asgi.application"

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
                "accounts.context_processors.product",
                "orgs.context_processors.org_nav",
            ],
        },
    },
]

# --- Database: SQLite file by default, PostgreSQL when DATABASE_URL is set -------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "cloustral.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when REDIS_URL is set (shared by every process: rate limits need it) --------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cloustral",
        }
    }
else:
    # One process (runserver) shares this; production must set REDIS_URL (checked by accounts.checks).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cloustral"}}

# --- Celery: eager in-process without Redis ---------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Time limits (seconds) of the long tasks. At the soft limit a task stops cleanly (the sync run is
# marked failed; an evaluation writes nothing); the hard limit ends a worker that did not stop. So one
# connection's scan or one organization's rules never hold a worker other organizations wait for.
SYNC_SOFT_TIME_LIMIT = env_int("SYNC_SOFT_TIME_LIMIT", 3600)
SYNC_TIME_LIMIT = env_int("SYNC_TIME_LIMIT", SYNC_SOFT_TIME_LIMIT + 120)
if not 0 < SYNC_SOFT_TIME_LIMIT < SYNC_TIME_LIMIT:
    raise ImproperlyConfigured("SYNC_TIME_LIMIT must be greater than SYNC_SOFT_TIME_LIMIT (both in seconds, > 0)")
# No task outlasts a sync's limits (the visibility timeout below is checked against those).
EVALUATION_SOFT_TIME_LIMIT = min(600, SYNC_SOFT_TIME_LIMIT)
EVALUATION_TIME_LIMIT = min(EVALUATION_SOFT_TIME_LIMIT + 60, SYNC_TIME_LIMIT)
# A killed worker (acks_late): a task is acknowledged only when it ends. A prefork child that dies has its
# task requeued at once (reject_on_worker_lost); a whole worker that dies (SIGKILL, out of memory, host
# lost) leaves its task unacknowledged in Redis, which delivers it again once the visibility timeout has
# passed since delivery. It must exceed the longest task (the sync's hard limit), or a task still running
# is handed to a second worker; and the longest countdown (a scan waiting for its organization's slot
# comes back after ~SYNC_SLOT_RETRY_SECONDS, an automation's retry after at most a few minutes), for a
# worker holds those unacknowledged too. Runs whose task does not come back are failed by the reaper.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", SYNC_TIME_LIMIT + 600)
if CELERY_VISIBILITY_TIMEOUT <= SYNC_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must be greater than SYNC_TIME_LIMIT (seconds)")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BEAT_SCHEDULE = {
    # Scheduled scans: connections whose scan frequency is due are queued every 5 minutes.
    "enqueue-due-syncs": {"task": "inventory.tasks.enqueue_due_syncs", "schedule": 300.0},
    # Runs whose worker died are marked failed, so nothing stays "running" forever.
    "reap-stale-sync-runs": {"task": "inventory.tasks.reap_stale_runs", "schedule": 120.0},
    # Suppressions past their expiry reopen their findings.
    "expire-suppressions": {"task": "findings.tasks.expire_suppressions", "schedule": 900.0},
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
SITE_ID = 1

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "orgs.forms.SignupExtraForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # same browser only (allauth keeps the pending login in the session)
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("REAUTHENTICATION_TIMEOUT", 300)
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Cloustral] "
# privacy's adapter is accounts' own plus account deletion (a sign-up during its grace period).
ACCOUNT_ADAPTER = "privacy.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
# One rate-limit mechanism for the product (allauth's, on the shared cache). key = account.
ACCOUNT_RATE_LIMITS = {
    "login": env_str("RATE_LIMIT_LOGIN", "30/m/ip"),
    "login_failed": env_str("RATE_LIMIT_LOGIN_FAILED", "10/m/ip,5/5m/key"),
    "signup": env_str("RATE_LIMIT_SIGNUP", "10/m/ip"),
    "reset_password": env_str("RATE_LIMIT_RESET_PASSWORD", "10/m/ip,3/5m/key"),
    "mfa_verify": env_str("RATE_LIMIT_MFA_VERIFY", "20/m/ip,5/5m/key"),
    # Re-authentication (accounts/reauth.py): proofs tried, and codes sent by email; user = the account.
    "reauthenticate": env_str("RATE_LIMIT_REAUTHENTICATE", "10/m/ip,5/5m/user"),
    "reauthenticate_email_code": env_str("RATE_LIMIT_REAUTHENTICATE_EMAIL_CODE", "3/10m/user"),
}
# Behind N load balancers the client address is the N-th from the right in X-Forwarded-For.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

GOOGLE_CLIENT_ID = env_str("GOOGLE_CLIENT_ID")
GOOGLE_CLIENT_SECRET = env_str("GOOGLE_CLIENT_SECRET")
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "SCOPE": ["openid", "email", "profile"],
        "AUTH_PARAMS": {"access_type": "online"},
        "EMAIL_AUTHENTICATION": True,
        "APPS": (
            [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}]
            if GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET
            else []
        ),
    }
}
SOCIALACCOUNT_LOGIN_ON_GET = False
# Google sign-ups see the sign-up form too: the 18+ confirmation and the organization name.
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False

# --- Organizations ------------------------------------------------------------------------------
# An invitation link works once, for this many days (resending starts a new period with a new link).
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7)

OTP_TOTP_ISSUER = "Cloustral"
MFA_RECOVERY_CODE_COUNT = 10

# --- Cloud connections ----------------------------------------------------------------------
# Cloustral's own AWS account, trusted by customers' roles; when unset it is asked of STS with the
# platform's standard boto3 credential chain. AWS_ENDPOINT_URL (read by boto3) points every client
# at another endpoint, e.g. a local moto server.
PLATFORM_AWS_ACCOUNT_ID = env_str("PLATFORM_AWS_ACCOUNT_ID")
# Override the Azure cloud's endpoints (sovereign clouds are chosen per connection; these win).
AZURE_ARM_ENDPOINT = env_str("AZURE_ARM_ENDPOINT")
AZURE_AUTHORITY_HOST = env_str("AZURE_AUTHORITY_HOST")
AZURE_CA_BUNDLE = env_str("AZURE_CA_BUNDLE")

# --- Inventory sync engine ----------------------------------------------------------------------
# Collector units (type × region) fetched at once per sync.
SYNC_MAX_WORKERS = env_int("SYNC_MAX_WORKERS", 8)
# Share of each documented AWS API quota a scan may use (inventory/ratelimit.py), 0 < f <= 1.
try:
    SYNC_RATE_FRACTION = float(env_str("SYNC_RATE_FRACTION", "0.5"))
except ValueError:
    raise ImproperlyConfigured("SYNC_RATE_FRACTION must be a number between 0 and 1, e.g. 0.5") from None
if not 0 < SYNC_RATE_FRACTION <= 1:
    raise ImproperlyConfigured("SYNC_RATE_FRACTION must be a number between 0 and 1, e.g. 0.5")
# A running sync records a heartbeat this often; one silent for SYNC_STALE_MINUTES is marked failed.
SYNC_HEARTBEAT_SECONDS = env_int("SYNC_HEARTBEAT_SECONDS", 5)
SYNC_STALE_MINUTES = env_int("SYNC_STALE_MINUTES", 15)
# A queued sync that no worker picked up within this many minutes is marked failed.
SYNC_QUEUED_TIMEOUT_MINUTES = env_int("SYNC_QUEUED_TIMEOUT_MINUTES", 60)
# A run whose worker was lost mid-run starts again this many times at most, then is failed.
SYNC_MAX_RESTARTS = 2
# Fair share (inventory/slots.py): scans of one organization running at once, 0 for no cap. Keep it below
# the workers' total concurrency, so that other organizations' scans always find a worker.
SYNC_MAX_CONCURRENT_PER_ORG = env_int("SYNC_MAX_CONCURRENT_PER_ORG", 2)
# A slot is a lease, refreshed while the scan runs; a dead worker's slot frees itself when it runs out.
SYNC_SLOT_LEASE_SECONDS = max(60, 12 * SYNC_HEARTBEAT_SECONDS)
# A scan that found no free slot is queued again after about this long (spread by ±25%).
SYNC_SLOT_RETRY_SECONDS = 30

# --- Secrets at rest: "kid:base64key,kid2:base64key2" — the first encrypts, all decrypt -------
ENCRYPTION_KEYS = env_str("ENCRYPTION_KEYS")

# --- Email (django-anymail; console in development) -------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "anymail.backends.amazon_ses.EmailBackend",
)
ANYMAIL = {
    "AMAZON_SES_CLIENT_PARAMS": {"region_name": env_str("AWS_SES_REGION", "us-east-1")},
    "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN"),
    "SENDGRID_API_KEY": env_str("SENDGRID_API_KEY"),
    "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY"),
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cloustral <no-reply@cloustral.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalization: stored in UTC, shown in the user's timezone ------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (vendor libraries copied from node_modules by scripts/setup) ----------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic fills it; WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = DEBUG or not env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security headers; production values unless DEBUG ---------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF, "https://accounts.google.com"],
    "frame-ancestors": [CSP.NONE],
}

# --- Logging: JSON lines, secrets redacted by a filter on every handler -----------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "cloustral.logging.RedactSecretsFilter"},
        "client_errors": {"()": "cloustral.logging.ClientErrorTracebackFilter"},
    },
    "formatters": {
        "json": {"()": "cloustral.logging.JSONFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["client_errors", "redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "azure": {"level": "WARNING"},
    },
}

URLIZE_ASSUME_HTTPS = True
ADMIN_URL = env_str("ADMIN_URL", "admin/")

# --- Billing ------------------------------------------------------------------------------------
# Plans and their limits are data (billing/plans.py); Stripe holds prices, cards and invoices.
from celery.schedules import crontab  # noqa: E402

# Off only for an installation without plans (every organization then has no limit enforced).
BILLING_ENFORCE_LIMITS = env_bool("BILLING_ENFORCE_LIMITS", True)
# Days a past-due organization keeps its plan before it falls back to Free limits (until it pays).
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 7)
BILLING_TRIAL_DAYS = env_int("BILLING_TRIAL_DAYS", 14)
# Stripe price of each plan: "team:month=price_…,team:year=price_…,business:month=…,business:year=…".
BILLING_PRICE_IDS: dict[str, dict[str, str]] = {}
for _entry in env_list("BILLING_PRICE_IDS"):
    _key, _, _price = _entry.partition("=")
    _plan, _, _interval = _key.strip().partition(":")
    if _price.strip() and _interval in ("month", "year"):
        BILLING_PRICE_IDS.setdefault(_plan, {})[_interval] = _price.strip()
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
STRIPE_API_VERSION = env_str("STRIPE_API_VERSION", "")  # empty: the version the stripe library pins
# The demo's and tests' localstripe lacks a few calls: translate them at the HTTP boundary (docs/billing.md).
STRIPE_LOCALSTRIPE = env_bool("STRIPE_LOCALSTRIPE", False)
STRIPE_PORTAL_CONFIGURATION = env_str("STRIPE_PORTAL_CONFIGURATION", "")
LOGGING["loggers"]["stripe"] = {"level": "WARNING"}  # the library logs every request at INFO
CELERY_BEAT_SCHEDULE["billing-prune-history"] = {
    "task": "billing.tasks.prune_history",
    "schedule": crontab(hour=3, minute=17),
}
CELERY_BEAT_SCHEDULE["billing-end-grace-periods"] = {
    "task": "billing.tasks.end_grace_periods",
    "schedule": crontab(hour=4, minute=7),
}

# --- API ----------------------------------------------------------------------------------------
# Requests per minute per API key (api/throttling.py, on the shared cache): past it, 429 + Retry-After.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
REST_FRAMEWORK = {
    # The API's views set their own authentication (API keys), permissions, throttle and JSON-only
    # rendering (api/views/base.py); these defaults only keep DRF from assuming sessions anywhere.
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.KeyCapability"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cloustral API",
    "DESCRIPTION": (
        "Read an organization's connections, inventory, findings (also in OCSF), rules, compliance and scans; "
        "start and cancel scans, suppress findings, write custom rules. Authenticate with an API key: "
        "`Authorization: Bearer clst_...`. Errors are `{\"code\": ..., \"message\": ...}`. Guide: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ScanStatusEnum": "inventory.models.SyncRun.Status",
        "ConnectionStatusEnum": "connections.models.CloudConnection.Status",
        "FindingStatusEnum": "findings.models.Finding.Status",
        "VerdictEnum": ["pass", "fail", "not_evaluated"],
    },
}

# --- First run ----------------------------------------------------------------------------------
# A real Celery worker without Redis (the demo): kombu's filesystem transport through this folder, and
# a file cache both processes share (sync locks, cancels, rate limits). Tasks then leave the request.
CELERY_BROKER_FOLDER = env_str("CELERY_BROKER_FOLDER")
if CELERY_BROKER_FOLDER and not REDIS_URL:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(Path(CELERY_BROKER_FOLDER) / "queue"),
        "data_folder_out": str(Path(CELERY_BROKER_FOLDER) / "queue"),
        "control_folder": str(Path(CELERY_BROKER_FOLDER) / "control"),  # else ./control in the working dir
    }
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(Path(CELERY_BROKER_FOLDER) / "cache"),
        }
    }

# --- Automations ------------------------------------------------------------------------------
# Every email goes through automations.mail.TrackingBackend: each recipient's delivery is recorded and
# suppressed addresses (hard bounces, complaints) are skipped; it hands the message to the real backend,
# DELIVERY_EMAIL_BACKEND (defaults to what EMAIL_BACKEND above chose: anymail's SES, or the console).
DELIVERY_EMAIL_BACKEND = env_str("DELIVERY_EMAIL_BACKEND", EMAIL_BACKEND)
EMAIL_BACKEND = "automations.mail.TrackingBackend"
# The tracking webhooks' HTTP basic auth, "user:password" (also put in the SNS subscription's URL).
if env_str("ANYMAIL_WEBHOOK_SECRET"):
    ANYMAIL["WEBHOOK_SECRET"] = env_str("ANYMAIL_WEBHOOK_SECRET")
# SNS topics allowed to report SES events (empty: any topic whose message Amazon SNS signed).
AWS_SES_SNS_TOPIC_ARNS = env_list("AWS_SES_SNS_TOPIC_ARNS")
# Slack incoming webhooks must be on these hosts.
SLACK_WEBHOOK_HOSTS = tuple(env_list("SLACK_WEBHOOK_HOSTS", ["hooks.slack.com", "hooks.slack-gov.com"]))
# Development and tests only: webhooks may use http:// and private or loopback addresses.
AUTOMATIONS_WEBHOOK_ALLOW_LOCAL = env_bool("AUTOMATIONS_WEBHOOK_ALLOW_LOCAL", False)
# Slack, webhook and email deliveries: tries in all, and the first backoff (doubled at each try).
AUTOMATIONS_DELIVERY_MAX_TRIES = env_int("AUTOMATIONS_DELIVERY_MAX_TRIES", 5)
AUTOMATIONS_RETRY_BASE_SECONDS = env_int("AUTOMATIONS_RETRY_BASE_SECONDS", 30)
# Scheduled automations, after-scan triggers and lost work are picked up every minute.
CELERY_BEAT_SCHEDULE["automations-tick"] = {"task": "automations.tasks.tick", "schedule": 60.0}

# --- Privacy ------------------------------------------------------------------------------------
# Version of the privacy and cookie policy: a new one makes every browser's cookie banner ask again.
PRIVACY_POLICY_VERSION = "2026-11-01"
# Analytics: PostHog, loaded in the browser only after the person accepts analytics; off when unset.
POSTHOG_KEY = env_str("POSTHOG_KEY")
POSTHOG_HOST = env_str("POSTHOG_HOST", "https://eu.i.posthog.com").rstrip("/")
if POSTHOG_KEY:
    if not POSTHOG_HOST.startswith(("https://", "http://")):
        raise ImproperlyConfigured("POSTHOG_HOST must be a URL, e.g. https://eu.i.posthog.com")
    # The browser talks to PostHog's host, and to nothing else: the script itself is served from STATIC_URL.
    SECURE_CSP["connect-src"] = [*SECURE_CSP["connect-src"], POSTHOG_HOST]
# The contact page's messages go to this address (through the email backend above).
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "support@cloustral.localhost")
# Data exports: built into this directory (shared by web and worker processes), delivered by a link
# that works this many hours; the file is then deleted.
EXPORT_DIR = Path(env_str("EXPORT_DIR", str(DATA_DIR / "exports")))
EXPORT_LINK_MAX_AGE_HOURS = env_int("EXPORT_LINK_MAX_AGE_HOURS", 72)
EXPORT_SOFT_TIME_LIMIT = 2 * 3600
# The privacy policy promises 30 days between a deletion request and the purge: not an env variable.
ACCOUNT_DELETION_GRACE_DAYS = 30
ACCOUNT_RATE_LIMITS.update(
    {
        # Contact messages per client address, and per sender address (key).
        "privacy_contact": env_str("RATE_LIMIT_CONTACT", "5/h/ip,3/h/key"),
        # Consent records and analytics events sent by browsers.
        "privacy_beacon": env_str("RATE_LIMIT_PRIVACY_BEACON", "120/m/ip"),
        # "Send me the link to cancel my account's deletion" per address, and per account address.
        "privacy_restore_link": env_str("RATE_LIMIT_RESTORE_LINK", "10/h/ip,3/h/key"),
    }
)
CELERY_BEAT_SCHEDULE.update(
    {
        # Accounts whose grace period is over are purged (a tombstone stays).
        "privacy-purge-deleted-accounts": {"task": "privacy.tasks.purge_due_accounts", "schedule": 3600.0},
        # Export files past their link's expiry are deleted.
        "privacy-expire-exports": {"task": "privacy.tasks.expire_exports", "schedule": 900.0},
        # Contact messages support has not received yet are sent again.
        "privacy-retry-contact-deliveries": {"task": "privacy.tasks.retry_contact_deliveries", "schedule": 600.0},
    }
)
