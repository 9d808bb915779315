"""SMTP that refuses to send in clear text in production, at the moment of sending.

The system check flisportal.E006 says it at start-up, but gunicorn and the workers do not run
system checks: without this a misconfigured production would mail names, deliveries and
kommuner in clear text and only `manage.py check` would have complained. Every mail the portal
sends (its outbox, Django's own password mails) goes through the configured backend, so the
refusal lives there.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
SMTP_BACKEND = "flisportal.lib.mail.SmtpBackend"


class PlaintextMailRefused(Exception):
    """Raised instead of connecting: the mail stays in the outbox with this as its error."""


def plaintext_refused(*, use_tls: bool, use_ssl: bool) -> bool:
    """Would this SMTP connection carry mail in clear text where that is not allowed?"""
    return not (settings.DEBUG or use_tls or use_ssl or settings.EMAIL_ALLOW_PLAINTEXT)


class SmtpBackend(EmailBackend):
    """Django's SMTP backend, refusing a connection without TLS in production unless
    FLISPORTAL_EMAIL_ALLOW_PLAINTEXT allows it."""

    def open(self) -> Any:
        if self.connection is None and plaintext_refused(
            use_tls=bool(self.use_tls), use_ssl=bool(self.use_ssl)
        ):
            raise PlaintextMailRefused(
                f"Mailen er ikke sendt: SMTP til {self.host}:{self.port} er uden TLS, og det er "
                "ikke tilladt i drift. Sæt EMAIL_USE_TLS=true (eller EMAIL_USE_SSL=true); for en "
                "relay på samme maskine eller et privat net: FLISPORTAL_EMAIL_ALLOW_PLAINTEXT=true."
            )
        return super().open()
