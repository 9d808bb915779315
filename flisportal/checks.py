"""System checks for configuration mistakes. Ids are stable: documented in
docs/operations/system-checks.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from flisportal.lib import mail
from flisportal.lib.env import (
    DEVELOPMENT_AUDIT_HMAC_KEY,
    DEVELOPMENT_KEY_ENCRYPTION_KEY,
    DEVELOPMENT_SECRET_KEY,
)
from routes.models import Endpoint


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


@register()
def check_key_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for index, key in enumerate(settings.KEY_ENCRYPTION_KEYS):
        try:
            Fernet(key.encode())
        except ValueError:
            errors.append(
                Error(
                    f"Entry {index + 1} of FLISPORTAL_KEY_ENCRYPTION_KEYS is not a Fernet key.",
                    hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="flisportal.E001",
                )
            )
    if not settings.KEY_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "FLISPORTAL_KEY_ENCRYPTION_KEYS is empty: SFTP private keys cannot be stored.",
                id="flisportal.E001",
            )
        )
    return errors


@register()
def check_no_development_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The development defaults are in the repository for anyone to read: with them, sessions
    can be forged, the stored SFTP private keys decrypted and the audit log's HMAC recomputed.
    Only a length is checked when the secrets are read, so a copied default would pass there."""
    if settings.DEBUG:
        return []
    errors: list[CheckMessage] = []
    secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if DEVELOPMENT_SECRET_KEY in secret_keys:
        errors.append(
            Error(
                "SECRET_KEY is the published development key, and DEBUG is false.",
                hint="Set SECRET_KEY to at least 50 random characters of your own.",
                id="flisportal.E005",
            )
        )
    if DEVELOPMENT_KEY_ENCRYPTION_KEY in settings.KEY_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "FLISPORTAL_KEY_ENCRYPTION_KEYS holds the published development key, and DEBUG "
                "is false: anyone could decrypt the stored SFTP private keys.",
                hint="Make a key of your own, put it first, and generate or upload the SFTP "
                "keys again (docs/operations/settings.md).",
                id="flisportal.E005",
            )
        )
    if settings.AUDIT_HMAC_KEY == DEVELOPMENT_AUDIT_HMAC_KEY:
        errors.append(
            Error(
                "FLISPORTAL_AUDIT_HMAC_KEY is the published development key, and DEBUG is "
                "false: anyone who can write the database could edit the audit log and make "
                "it verify again.",
                hint="Set FLISPORTAL_AUDIT_HMAC_KEY to at least 32 random characters of your "
                "own, kept outside the database (docs/operations/audit-log.md).",
                id="flisportal.E005",
            )
        )
    return errors


@register()
def check_mail_tls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Mails name people, deliveries and kommuner: production sends them over TLS unless the
    operator allows plain SMTP in so many words (a relay on this machine)."""
    if settings.EMAIL_BACKEND not in (
        mail.SMTP_BACKEND,
        mail.DJANGO_SMTP_BACKEND,
    ) or not mail.plaintext_refused(
        use_tls=settings.EMAIL_USE_TLS, use_ssl=getattr(settings, "EMAIL_USE_SSL", False)
    ):
        return []
    return [
        Error(
            f"Mail goes to {settings.EMAIL_HOST}:{settings.EMAIL_PORT} without TLS, and DEBUG "
            "is false.",
            hint="Set EMAIL_USE_TLS=true; or, for a relay on this machine or a private network, "
            "FLISPORTAL_EMAIL_ALLOW_PLAINTEXT=true.",
            id="flisportal.E006",
        )
    ]


@register()
def check_private_media(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    media = Path(settings.MEDIA_ROOT)
    static_dirs = [Path(settings.STATIC_ROOT)] + [
        Path(entry[1] if isinstance(entry, tuple) else entry)
        for entry in getattr(settings, "STATICFILES_DIRS", [])
    ]
    errors: list[CheckMessage] = []
    if any(_inside(media, d) or _inside(d, media) for d in static_dirs):
        errors.append(
            Error(
                f"MEDIA_ROOT ({media}) overlaps a static files folder: uploaded extracts "
                "could be served to anyone.",
                hint="Point MEDIA_ROOT at a private folder outside STATIC_ROOT.",
                id="flisportal.E002",
            )
        )
    if settings.MEDIA_URL:
        errors.append(
            Error(
                "MEDIA_URL is set: extracts must only be downloaded through the portal's views.",
                id="flisportal.E002",
            )
        )
    return errors


@register()
def check_xsd_folder(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not (Path(settings.KOMBIT_XSD_DIR) / "SFTPTypes.xsd").is_file():
        return [
            Error(
                f"KOMBIT_XSD_DIR ({settings.KOMBIT_XSD_DIR}) holds no SFTPTypes.xsd.",
                hint="Point KOMBIT_XSD_DIR at the folder with KOMBIT's SFTP schemas.",
                id="flisportal.E003",
            )
        ]
    return []


@register()
def check_redis_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    scheme = urlparse(settings.REDIS_URL).scheme
    if scheme not in {"redis", "rediss", "unix"}:
        return [
            Error(
                f"REDIS_URL={settings.REDIS_URL!r} is not a Redis URL.",
                hint="Use redis://host:port/db, rediss://… or unix:///path.",
                id="flisportal.E004",
            )
        ]
    if (
        not settings.DEBUG
        and scheme == "redis"
        and urlparse(settings.REDIS_URL).hostname
        not in {
            "127.0.0.1",
            "localhost",
            "::1",
        }
    ):
        return [
            Warning(
                "REDIS_URL points at another machine without TLS.",
                hint="Use rediss:// when Redis is not on this machine.",
                id="flisportal.W001",
            )
        ]
    return []


def _redis_database(url: str) -> tuple[str, int | None, str]:
    """Server and database a Redis URL names (unix:// and query-string databases as written)."""
    parts = urlparse(url)
    path = parts.path.strip("/")
    if parts.scheme == "unix":
        return (parts.path, None, parts.query)
    return (parts.hostname or "", parts.port or 6379, path or "0")


@register()
def check_cache_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The cache's `clear()` empties its whole Redis database: sharing the queues' would
    drop every job waiting in them."""
    cache = settings.CACHES.get("default", {})
    if "redis" not in cache.get("BACKEND", "").lower():
        return []
    if _redis_database(cache.get("LOCATION", "")) == _redis_database(settings.REDIS_URL):
        return [
            Warning(
                "CACHE_URL names the same Redis database as REDIS_URL.",
                hint="Give the cache a database of its own (redis://host:6379/1), or unset "
                "CACHE_URL to use the one after REDIS_URL's.",
                id="flisportal.W002",
            )
        ]
    return []


@register(Tags.database)
def check_pinned_host_keys(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """An endpoint that established routes use must have a pinned host key, or the portal
    cannot connect to it safely. The stand-in registers its own key when it starts."""
    if not databases:
        # Database checks run only when asked for (`check --database default`, migrate).
        return []
    try:
        unpinned = list(Endpoint.objects.unpinned_in_use().order_by("slug"))
    except DatabaseError:
        # Not migrated yet: nothing to check.
        return []
    return [
        Error(
            f"Endpoint {endpoint.slug!r} ({endpoint.host}:{endpoint.port}) has established "
            "routes but no pinned host key: the portal will refuse to connect to it.",
            hint="Paste the server's known_hosts line or SHA256 fingerprint into the "
            "endpoint's host key in the admin (ssh-keyscan, checked with KOMBIT).",
            obj=endpoint,
            id="flisportal.E010",
        )
        for endpoint in unpinned
    ]


@register()
def check_forwarded_header_has_proxy_count(
    app_configs: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """A forwarded header is only as honest as the proxies that write it. Without a count of the
    portal's own proxies there is no telling their entries from ones the client wrote, so the
    header is not read at all, and behind a proxy every client would share the proxy's address:
    one stranger could lock out a whole kommune. Naming a header without the count is refused
    rather than left to look as if it worked (as AXES_IP_HEADERS did without django-ipware)."""
    errors: list[CheckMessage] = []
    hint = (
        "Set FLISPORTAL_TRUSTED_PROXY_COUNT to the number of reverse proxies of your own in "
        "front of the portal that append to the header (1 for a single nginx or load balancer); "
        "see docs/operations/deployment.md."
    )
    header = settings.FLISPORTAL_FORWARDED_HEADER
    if header and settings.FLISPORTAL_TRUSTED_PROXY_COUNT == 0:
        errors.append(
            Error(
                f"FLISPORTAL_FORWARDED_HEADER names {header!r}, but "
                "FLISPORTAL_TRUSTED_PROXY_COUNT is 0: the header is not read, and the client "
                "address is the connection's own (behind a proxy: the proxy's, for everyone).",
                hint=hint + " Without a proxy, leave FLISPORTAL_FORWARDED_HEADER empty.",
                id="flisportal.E011",
            )
        )
    legacy = [name for name in settings.LEGACY_AXES_IP_HEADERS if name.upper() != "REMOTE_ADDR"]
    if legacy:
        errors.append(
            Error(
                f"AXES_IP_HEADERS names {', '.join(legacy)}: that setting is no longer read (it "
                "needed django-ipware, which is not installed, so every client had the proxy's "
                "address).",
                hint=hint + " Then remove AXES_IP_HEADERS.",
                id="flisportal.E011",
            )
        )
    return errors


@register()
def check_row_screen(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The validator's row screen is C compiled on this machine (deliveries/screen.c, into
    `FLISPORTAL_DATA_DIR/build`). Without it extracts are still checked, every row the exact
    way, at about a third of the speed: worth knowing, not worth refusing to start."""
    from deliveries import screen

    if screen.kernel() is not None:
        return []
    return [
        Warning(
            "The validator's row screen could not be built: every row of an extract is "
            "checked the slower exact way.",
            hint="Install a C compiler (Debian: apt install gcc libc6-dev), or name one in CC; "
            "the worker's log says what went wrong.",
            id="flisportal.W003",
        )
    ]
