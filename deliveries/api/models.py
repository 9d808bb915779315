"""The API's own rows: a person's access tokens, and the idempotency keys of their uploads."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        """Tokens that still open the API: not revoked and not expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A token a person made on their own page, for a vendor system to call the API as them.

    Only a SHA-256 digest of the secret is kept: the token is shown once and cannot be read
    back. `key_id` is the public part of the token, by which it is found before the digest is
    compared in constant time."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("bruger"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("navn"), max_length=100)
    key_id = models.CharField(_("nøgle-id"), max_length=16, unique=True)
    digest = models.CharField(_("SHA-256 af nøglen"), max_length=64)
    created_at = models.DateTimeField(_("oprettet"), default=timezone.now)
    expires_at = models.DateTimeField(_("udløber"))
    last_used_at = models.DateTimeField(_("sidst brugt"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("tilbagekaldt"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API-nøgle")
        verbose_name_plural = _("API-nøgler")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class IdempotencyKey(models.Model):
    """An upload's `Idempotency-Key`: claimed before the upload is handed to intake, and
    holding the delivery it made once it did. A retried request with the same key and the same
    content gets that delivery back instead of a second one.

    `fingerprint` is a SHA-256 of what the request asked for (the file's SHA-256, the route,
    the period and the options), so the same key with another file is told apart."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    delivery = models.ForeignKey(
        "deliveries.Delivery", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One key per person: two processes claiming the same key at once cannot both win.
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_user_key")
        ]
        indexes = [
            # The nightly retention run deletes keys by their age alone
            # (API_IDEMPOTENCY_KEEP_HOURS): a seek on this, not a scan of every key ever sent.
            models.Index(fields=["created_at"], name="api_idempotency_created")
        ]

    def __str__(self) -> str:
        return self.key
