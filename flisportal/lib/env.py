"""Small readers for settings taken from the environment.

Each helper raises ImproperlyConfigured with the variable's name and what was wrong, so a bad
value stops the portal at start-up with a message an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on", "ja"}
_FALSE = {"0", "false", "no", "off", "nej", ""}


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    return (os.environ if environ is None else environ).get(name)


def env_str(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use one of true/false, 1/0, yes/no, on/off."
    )


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(
            f"{name}={number} is below the smallest allowed value {minimum}."
        )
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the largest allowed value {maximum}.")
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


# The development defaults, published in this repository: fine on a laptop, an open door in
# production. flisportal.checks refuses them when DEBUG is off (flisportal.E005).
DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-0f3a9c2e7b1d4a6f8e5c3b2a1d0e9f8a7b6c5d4e3f2a1b0c"  # noqa: S105
DEVELOPMENT_KEY_ENCRYPTION_KEY = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTAwMDA="
# With it anyone could recompute the audit log's HMAC chain after editing a row.
DEVELOPMENT_AUDIT_HMAC_KEY = "dev-only-audit-hmac-key-6d1e0b9a4c7f2e8d5b3a1c0f9e8d7c6b"


def env_secret(
    name: str,
    *,
    debug: bool,
    dev_default: str,
    min_length: int = 32,
    environ: Mapping[str, str] | None = None,
) -> str:
    """A secret that has a development default only while DEBUG is on.

    In production (DEBUG off) a missing or short secret stops start-up, instead of failing on
    the first request that needs it.
    """
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        if debug:
            return dev_default
        raise ImproperlyConfigured(
            f"{name} is not set. With DEBUG=false it must be given in the environment "
            f"(at least {min_length} characters)."
        )
    value = value.strip()
    if len(value) < min_length:
        raise ImproperlyConfigured(f"{name} is too short: use at least {min_length} characters.")
    return value


def env_path(name: str, default: Path, *, environ: Mapping[str, str] | None = None) -> Path:
    value = _raw(name, environ)
    path = Path(value).expanduser() if value else default
    if not path.is_absolute():
        raise ImproperlyConfigured(f"{name}={value!r} must be an absolute path.")
    return path


def env_database(
    name: str, default_sqlite: Path, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Database settings from a URL; SQLite in WAL mode when nothing is given."""
    value = _raw(name, environ)
    if not value:
        return sqlite_database(default_sqlite)
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(value, conn_max_age=60))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} is not a database URL this portal knows: {exc}"
        ) from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        return sqlite_database(Path(config["NAME"]))
    if engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{name} names the engine {engine!r}; use sqlite:///path or postgres://…"
        )
    return config


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets the web server read while a worker writes; IMMEDIATE takes the write lock
            # at BEGIN so two writers queue on busy_timeout instead of failing mid-transaction.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(path.with_name(path.stem + "-test.sqlite3"))},
    }


def redis_url_with_timeouts(url: str, seconds: int) -> str:
    """`url` with socket timeouts for connecting and for each reply, unless it sets its own
    (redis-py reads them from the query string). Without them a Redis that accepts and never
    answers hangs every request that enqueues a job until the web server kills the worker;
    with them the enqueue fails in `seconds`, which the portal logs and the reconciler repairs.
    RQ workers raise the reply timeout above their blocking wait themselves."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name in ("socket_connect_timeout", "socket_timeout"):
        query.setdefault(name, str(seconds))
    return urlunsplit(parts._replace(query=urlencode(query)))


def cache_url_default(redis_url: str) -> str:
    """The cache's own database on REDIS_URL's server: the one after the queues' (0 → 1),
    so that clearing the cache (`cache.clear()` empties its database) never empties a
    queue."""
    parts = urlsplit(redis_url)
    if parts.scheme not in {"redis", "rediss"}:
        return redis_url  # unix:// and the like name their database in the query string
    path = parts.path.strip("/")
    database = int(path) if path.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{(database + 1) % 16}"))


def env_cache(
    name: str, redis_url: str, seconds: int, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The default cache from a URL: Redis (redis:// or rediss://, shared by every process
    on every host), or `locmem://` for one process's own memory. Unset: REDIS_URL's server,
    the database after the queues' (`cache_url_default`); so does an empty value."""
    url = env_str(name, "", environ=environ) or cache_url_default(redis_url)
    scheme = urlsplit(url).scheme
    if scheme == "locmem":
        return {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 200},
        }
    if scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"{name}={url!r} is neither a Redis URL (redis://host:port/db, rediss://…, "
            "unix:///path) nor locmem://."
        )
    return {
        "BACKEND": "flisportal.lib.cache.TolerantRedisCache",
        "LOCATION": redis_url_with_timeouts(url, seconds),
        "KEY_PREFIX": "flisportal",
    }
