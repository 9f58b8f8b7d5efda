"""Reading configuration from environment variables.

Every variable OpenNRM reads is declared here once, with its default and its meaning; `docs/configuration.md`
is generated from this table (`manage.py config_table`) and a test keeps the two in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

REPO_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Var:
    name: str
    default: str
    help: str


VARIABLES: tuple[Var, ...] = (
    Var(
        "OPENNRM_INSTANCE_DIR",
        "./instance",
        "Folder for the embedded instance: SQLite database, generated secrets and keyring, uploaded files. Ignored by git.",
    ),
    Var(
        "DATABASE_URL",
        "sqlite:///<instance>/opennrm.sqlite3",
        "Database. `postgres://user:pass@host:5432/name` selects PostgreSQL (production).",
    ),
    Var(
        "OPENNRM_SECRET_KEY",
        "generated into `<instance>/secret_key`",
        "Django secret key (sessions, CSRF). Set it explicitly in production.",
    ),
    Var(
        "OPENNRM_KEYRING_FILE",
        "<instance>/keyring.json",
        "Encryption keyring (AES-256-GCM keys, the active key id, the blind-index key). Generated on first run if missing.",
    ),
    Var(
        "OPENNRM_KEYRING",
        "(unset)",
        "The keyring JSON itself, for secret managers; takes precedence over OPENNRM_KEYRING_FILE. Read-only: `rotate_keys` needs the file.",
    ),
    Var("OPENNRM_COUNTRY", "GE", "ISO code of the country profile of this instance: GE, UA, MD, BY or GB."),
    Var("OPENNRM_DEBUG", "false", "Django debug mode. Never in production."),
    Var(
        "OPENNRM_ALLOWED_HOSTS",
        "localhost,127.0.0.1,[::1]",
        "Comma-separated host names the site answers to.",
    ),
    Var(
        "OPENNRM_CSRF_TRUSTED_ORIGINS",
        "(empty)",
        "Comma-separated origins (scheme://host) trusted for CSRF behind a proxy.",
    ),
    Var(
        "OPENNRM_HTTPS",
        "true",
        "The site is served over HTTPS: secure cookies, HSTS, HTTPS redirect. `make run` sets it to false for plain HTTP on loopback.",
    ),
    Var("OPENNRM_BEHIND_PROXY", "false", "Trust X-Forwarded-Proto from the reverse proxy."),
    Var("OPENNRM_SESSION_MINUTES", "480", "A session expires this many minutes after login."),
    Var("OPENNRM_IDLE_MINUTES", "30", "A session expires after this many minutes without a request."),
    Var(
        "OPENNRM_LOGIN_MAX_FAILURES",
        "5",
        "Failed logins (password or code) allowed per account and per address in the window before further attempts are refused.",
    ),
    Var("OPENNRM_LOGIN_WINDOW_MINUTES", "15", "Window for counting failed logins."),
    Var("OPENNRM_MEDIA_DIR", "<instance>/media", "Folder for encrypted attachments."),
    Var(
        "OPENNRM_MAX_UPLOAD_MB",
        "10",
        "Largest attachment accepted, in megabytes (PDF, JPEG, PNG, plain text).",
    ),
    Var(
        "OPENNRM_SCREENING_DIRS",
        "(empty)",
        "Extra folders (separated by `:`) of screening instrument files a country loads, beside the shipped ones.",
    ),
    Var("OPENNRM_LOG_LEVEL", "INFO", "Log level of the structured (JSON) logs written to standard error."),
    Var(
        "OPENNRM_TIME_ZONE",
        "(from the country profile)",
        "Time zone for display; defaults to the country profile's.",
    ),
    Var(
        "OPENNRM_RELEASE_K",
        "11",
        "k of k-anonymous public releases (as CTDC): no published figure is below k. A coordinator may choose a higher k for a release, never a lower one.",
    ),
    Var("OPENNRM_PORT", "8000", "Port `make run` listens on."),
    Var("OPENNRM_WEB_WORKERS", "2", "Web server worker processes started by `make run`."),
    Var(
        "OPENNRM_COOP_ID",
        "<country>",
        "Identity of this instance towards partner instances (cross-border cooperation); the country code by "
        "default.",
    ),
    Var(
        "OPENNRM_COOP_URL",
        "http://127.0.0.1:8000",
        "Address at which partner instances reach this instance (printed by `coop_keys show`).",
    ),
    Var(
        "OPENNRM_COOP_KEYS_FILE",
        "<instance>/cooperation_keys.json",
        "This instance's Ed25519 signing and X25519 encryption keys; created on first use, owner-only.",
    ),
    Var(
        "OPENNRM_COOP_LINKAGE_SECRET_FILE",
        "<instance>/linkage_secret",
        "The record-linkage secret shared by the regional focal points only (`coop_linkage_secret`).",
    ),
    Var(
        "OPENNRM_COOP_IS_HUB",
        "false",
        "This instance is the regional hub: it accepts statistics submissions.",
    ),
    Var(
        "OPENNRM_COOP_HUB",
        "",
        "Partner code of the regional hub this instance submits its statistics to (empty: none).",
    ),
    Var(
        "OPENNRM_COOP_STATS_MINUTES",
        "1440",
        "How often, in minutes, this instance checks whether statistics are due to the regional hub (a year is "
        "submitted again only when one of its quarters has ended).",
    ),
    Var(
        "OPENNRM_COOP_STATS_K",
        "<OPENNRM_RELEASE_K>",
        "k of the k-anonymous tables submitted to the regional hub: every figure below k is suppressed.",
    ),
    Var(
        "OPENNRM_COOP_STATS_EPSILON",
        "(empty)",
        "Privacy budget ε of each statistics submission to the hub. Set: differentially private counts "
        "(discrete Laplace noise, OpenDP) instead of k-anonymous tables; empty: no differential privacy.",
    ),
    Var(
        "OPENNRM_COOP_CLOCK_SKEW_SECONDS",
        "300",
        "A message dated further in the future than this is refused.",
    ),
    Var(
        "OPENNRM_COOP_MAX_AGE_SECONDS",
        "900",
        "A message older than this is refused (each delivery attempt is sealed afresh, so retries stay fresh).",
    ),
    Var(
        "OPENNRM_COOP_RETRY_SECONDS", "30", "First retry delay of a failed delivery; doubles at each attempt."
    ),
    Var("OPENNRM_COOP_RETRY_MAX_SECONDS", "3600", "Longest delay between two delivery attempts."),
    Var(
        "OPENNRM_COOP_GIVE_UP_DAYS",
        "30",
        "A message that could not be delivered for this many days is marked failed for an administrator.",
    ),
    Var("OPENNRM_COOP_TIMEOUT_SECONDS", "15", "Time allowed for one delivery over HTTP."),
    Var(
        "TEST_DATABASE_URL",
        "(unset)",
        "Tests only: when it points at PostgreSQL, `make test` runs the suite there too.",
    ),
)


def env(name: str, default: str | None = None) -> str:
    """The value of a declared variable (empty string when unset and no default)."""
    if name not in {v.name for v in VARIABLES}:
        raise ImproperlyConfigured(f"{name} is not a declared OpenNRM setting")
    value = os.environ.get(name)
    if value is None or value == "":
        return default if default is not None else ""
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env(name, "true" if default else "false").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_float(name: str) -> float | None:
    """A positive number, or None when the variable is unset or empty."""
    raw = env(name).strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc
    if not value > 0 or value == float("inf"):
        raise ImproperlyConfigured(f"{name} must be a number above 0, not {raw!r}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def instance_dir() -> Path:
    raw = env("OPENNRM_INSTANCE_DIR", str(REPO_DIR / "instance"))
    path = Path(raw)
    if not path.is_absolute():
        path = (REPO_DIR / path).resolve()
    return path
