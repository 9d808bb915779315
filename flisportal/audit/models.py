"""The audit log: an append-only hash chain of who changed what, when, before and after.

Each row stores an HMAC-SHA256 (keyed with FLISPORTAL_AUDIT_HMAC_KEY, which is not in the
database) of its own content plus the previous row's hash, so a row changed or deleted in the
database breaks the chain at that point, and whoever lacks the key cannot recompute the rest.
`AuditCheckpoint` remembers the last verified head; `AuditHeadExport` records each head copied
out of the database (log stream and heads file), against which rows cut off the end are found.
Rows written before the chain was keyed keep their plain SHA-256: `AuditKeyStart` says where.
On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on all four tables (migration 0003).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flisportal.lib.periods import local_time_text
from flisportal.lib.roles import Role, user_role

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> Self:
        """Administrators see everything; consultants the entries about their kommuner."""
        role = user_role(user)
        if role == Role.ADMINISTRATOR:
            return self.all()
        if role == Role.CONSULTANT:
            return self.filter(kommune__consultants=user)
        return self.none()

    def actions(self) -> list[str]:
        """The distinct actions among these entries, sorted: the Revisionslog's filter list."""
        return list(self.order_by("action").values_list("action", flat=True).distinct())


class AuditEntry(models.Model):
    # Position in the chain: 1, 2, 3 … with no gaps (a gap is a deleted row). Not the pk,
    # because a rolled-back insert leaves a gap in PostgreSQL's id sequence.
    seq = models.PositiveBigIntegerField(_("nr."), unique=True)
    at = models.DateTimeField(_("tidspunkt"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("udført af"),
        null=True,
        blank=True,
        # Not SET_NULL: the actor's id is part of the hashed content, so clearing it would break
        # the chain (and PostgreSQL refuses the UPDATE). A person who leaves is deactivated.
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Who acted, as text: kept when the user is deleted, and names workers ("baggrundsjob").
    actor_label = models.CharField(_("aktør"), max_length=150, blank=True)
    action = models.CharField(_("handling"), max_length=60, db_index=True)
    object_type = models.CharField(_("objekttype"), max_length=60, blank=True)
    object_id = models.CharField(_("objekt-id"), max_length=64, blank=True)
    object_repr = models.CharField(_("objekt"), max_length=255, blank=True)
    # The kommune the entry is about, if any: consultants see their kommuners' entries.
    kommune = models.ForeignKey(
        "routes.Kommune",
        verbose_name=_("kommune"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    before = models.JSONField(_("før"), null=True, blank=True)
    after = models.JSONField(_("efter"), null=True, blank=True)
    prev_hash = models.CharField(_("forrige hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("revisionspost")
        verbose_name_plural = _("revisionslog")
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_repr}"


class AuditCheckpoint(models.Model):
    """The newest head the verifier saw intact. A chain shorter than this, or with another
    hash at this position, lost rows at its end (which the links alone cannot show)."""

    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("revisionskontrolpunkt")
        verbose_name_plural = _("revisionskontrolpunkter")

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class AuditKeyStart(models.Model):
    """Where the keyed chain begins. Rows before `first_keyed_seq` were written while the chain
    was a plain SHA-256 and are verified that way; every later row must carry an HMAC. Written
    once, by migration 0002, only on a database that already held rows: on a new one there is
    no such row and every row is keyed. Not re-keying the old rows is deliberate: a re-keyed
    row would vouch for content that nothing vouched for when it was written. The first keyed
    row's HMAC covers the last plain row's hash, so the old rows cannot be edited either
    without breaking the keyed link after them."""

    first_keyed_seq = models.PositiveBigIntegerField()
    legacy_head_hash = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("start på nøglet revisionskæde")
        verbose_name_plural = _("start på nøglet revisionskæde")

    def __str__(self) -> str:
        return f"nøglet fra #{self.first_keyed_seq}"


class AuditHeadExport(models.Model):
    """A head of the chain copied out of the database (the daily export). Kept here only so
    Driftsstatus can say when the last one went out: the evidence is the copy outside."""

    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    exported_at = models.DateTimeField(default=timezone.now)
    destination = models.CharField(max_length=500)

    class Meta:
        ordering = ["-exported_at"]
        verbose_name = _("eksporteret hoved")
        verbose_name_plural = _("eksporterede hoveder")

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class LoginFailureTally(models.Model):
    """Failed logins of one tried user name from one address within one window, counted here
    instead of one audit row each: whoever guesses passwords decides how many failures there
    are, and the audit log (append-only) must not grow at their pace. The first failure of a
    window is an audit row at once; the count of the rest is one row once the window has closed
    (flisportal/audit/login_failures.py), and then this tally is deleted.

    Not an audit row itself: it is updated and deleted, which audit rows never are."""

    # The client's address (flisportal/lib/clientaddr.py); IPv6 text is at most 45 characters.
    source = models.CharField(max_length=64)
    # As shown (hidden characters written as codes, bounded); empty for "further user names"
    # once an address has tried more than its share in a window.
    username = models.CharField(max_length=150, blank=True)
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "username", "window_start"], name="login_failure_tally_once"
            )
        ]

    def __str__(self) -> str:
        window = local_time_text(self.window_start, seconds=False)
        return f"{self.source} {self.username} {window} ×{self.failures}"
