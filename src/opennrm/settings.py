"""Django settings. Configuration comes only from environment variables, declared in `opennrm.conf`."""

from __future__ import annotations

import os
from datetime import timedelta

import dj_database_url
from csp.constants import NONCE, SELF

from opennrm import instance
from opennrm.conf import REPO_DIR, env, env_bool, env_float, env_int, env_list, instance_dir


def _profile_time_zone(country: str) -> str:
    # Profiles are plain data files: reading one does not need Django set up. An unknown country is reported
    # at start-up by CoreConfig.ready().
    from opennrm.core.profiles import UnknownProfileError, get_profile

    try:
        return get_profile(country).time_zone
    except UnknownProfileError:
        return "UTC"


BASE_DIR = REPO_DIR
PACKAGE_DIR = REPO_DIR / "src" / "opennrm"
INSTANCE_DIR = instance.ensure_dir(instance_dir())

DEBUG = env_bool("OPENNRM_DEBUG", False)
SECRET_KEY = env("OPENNRM_SECRET_KEY") or instance.secret_key(INSTANCE_DIR)
ALLOWED_HOSTS = env_list("OPENNRM_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("OPENNRM_CSRF_TRUSTED_ORIGINS", "")

OPENNRM_COUNTRY = env("OPENNRM_COUNTRY", "GE").upper()
OPENNRM_KEYRING_FILE = env("OPENNRM_KEYRING_FILE", str(INSTANCE_DIR / "keyring.json"))
OPENNRM_KEYRING_JSON = env("OPENNRM_KEYRING")
OPENNRM_LOGIN_MAX_FAILURES = env_int("OPENNRM_LOGIN_MAX_FAILURES", 5)
OPENNRM_LOGIN_WINDOW = timedelta(minutes=env_int("OPENNRM_LOGIN_WINDOW_MINUTES", 15))
OPENNRM_IDLE_TIMEOUT = timedelta(minutes=env_int("OPENNRM_IDLE_MINUTES", 30))
OPENNRM_MAX_UPLOAD_BYTES = env_int("OPENNRM_MAX_UPLOAD_MB", 10) * 1_000_000
OPENNRM_SCREENING_DIRS = [p for p in env("OPENNRM_SCREENING_DIRS").split(":") if p]
OPENNRM_RELEASE_K = env_int("OPENNRM_RELEASE_K", 11)

# Cross-border cooperation (DESIGN §5)
OPENNRM_COOP_ID = env("OPENNRM_COOP_ID") or env("OPENNRM_COUNTRY", "GE").upper()
OPENNRM_COOP_URL = env("OPENNRM_COOP_URL", "http://127.0.0.1:8000").rstrip("/")
OPENNRM_COOP_KEYS_FILE = env("OPENNRM_COOP_KEYS_FILE", str(INSTANCE_DIR / "cooperation_keys.json"))
OPENNRM_COOP_LINKAGE_SECRET_FILE = env(
    "OPENNRM_COOP_LINKAGE_SECRET_FILE", str(INSTANCE_DIR / "linkage_secret")
)
OPENNRM_COOP_IS_HUB = env_bool("OPENNRM_COOP_IS_HUB", False)
OPENNRM_COOP_HUB = env("OPENNRM_COOP_HUB", "").upper()
OPENNRM_COOP_STATS_MINUTES = env_int("OPENNRM_COOP_STATS_MINUTES", 1440)
OPENNRM_COOP_STATS_K = env_int("OPENNRM_COOP_STATS_K", OPENNRM_RELEASE_K)
OPENNRM_COOP_STATS_EPSILON = env_float("OPENNRM_COOP_STATS_EPSILON")
OPENNRM_COOP_CLOCK_SKEW_SECONDS = env_int("OPENNRM_COOP_CLOCK_SKEW_SECONDS", 300)
OPENNRM_COOP_MAX_AGE_SECONDS = env_int("OPENNRM_COOP_MAX_AGE_SECONDS", 900)
OPENNRM_COOP_RETRY_SECONDS = env_int("OPENNRM_COOP_RETRY_SECONDS", 30)
OPENNRM_COOP_RETRY_MAX_SECONDS = env_int("OPENNRM_COOP_RETRY_MAX_SECONDS", 3600)
OPENNRM_COOP_GIVE_UP_DAYS = env_int("OPENNRM_COOP_GIVE_UP_DAYS", 30)
OPENNRM_COOP_TIMEOUT_SECONDS = env_int("OPENNRM_COOP_TIMEOUT_SECONDS", 15)
DATA_UPLOAD_MAX_MEMORY_SIZE = OPENNRM_MAX_UPLOAD_BYTES + 1_000_000

INSTALLED_APPS = [
    "opennrm.core",
    "opennrm.accounts",
    "opennrm.cases",
    "opennrm.referrals",
    "opennrm.shelters",
    "opennrm.inspections",
    "opennrm.stats",
    "opennrm.cooperation",
    "opennrm.core.adminsite.OpenNRMAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "opennrm.core.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opennrm.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "opennrm.urls"
WSGI_APPLICATION = "opennrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "opennrm.core.context_processors.platform",
            ],
        },
    },
]

_sqlite_path = INSTANCE_DIR / "opennrm.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(env("DATABASE_URL", f"sqlite:///{_sqlite_path}"), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: a transaction takes the write lock when it starts, so concurrent writers queue
        # instead of failing half-way (and the audit hash chain cannot fork).
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file (not memory) so browser tests' live server thread sees the same data; one per process so
    # parallel test runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(INSTANCE_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("ka", "ქართული"),
    ("uk", "Українська"),
    ("ru", "Русский"),
    ("ro", "Română"),
]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("OPENNRM_TIME_ZONE") or _profile_time_zone(OPENNRM_COUNTRY)

STATIC_URL = "/static/"
STATIC_ROOT = instance.ensure_dir(INSTANCE_DIR / "static")
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env("OPENNRM_MEDIA_DIR", str(INSTANCE_DIR / "media"))
MEDIA_URL = "/media-not-served/"  # attachments are only served through access-checked views
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Sessions and cookies
HTTPS = env_bool("OPENNRM_HTTPS", True)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("OPENNRM_SESSION_MINUTES", 480) * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
if env_bool("OPENNRM_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: everything from this origin, no inline script without a nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# Background tasks: Django's tasks framework with the database-backed worker (`manage.py db_worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "opennrm.accounts.api_auth.HashedTokenAuthentication",
        "opennrm.accounts.api_auth.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "opennrm.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenNRM API",
    "DESCRIPTION": "REST API of OpenNRM. Authenticate with `Authorization: Token <token>`; every endpoint is "
    "scoped to what the token's user may see, and anything else answers 404.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "opennrm.cases.choices.CaseStatus",
        "ReferralStatusEnum": "opennrm.referrals.models.ReferralStatus",
        "TraffickingEventTypeEnum": "opennrm.cases.choices.EventType",
        "SupportPlanTypeEnum": "opennrm.cases.choices.SUPPORT_PLAN_TYPES",
        "ClosureReasonEnum": "opennrm.cases.choices.ClosureReason",
        "DocumentTypeEnum": "opennrm.cases.choices.DocumentType",
        "ShelterCategoryEnum": "opennrm.shelters.models.Category",
        "AgencyKindEnum": "opennrm.accounts.models.AgencyKind",
        "TransnationalStatusEnum": "opennrm.cooperation.models.TransnationalStatus",
        "TransnationalUpdateKindEnum": "opennrm.cooperation.models.UpdateKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "opennrm.core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "opennrm.core.logging.JsonFormatter"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["stderr"], "level": env("OPENNRM_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's request logger prints the full path with query string, which may carry a search term.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": [], "propagate": False},
        # PDF rendering logs every step at INFO: keep only its warnings.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
