"""The stand-in's own record: what it decided for each trigger file."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PlatformOutcome(models.TextChoices):
    DISTRIBUTED = "distributed", _("distribueret")
    # Written ahead of the distribution and finalised to DISTRIBUTED once the last file and the
    # receipt are in place; a row left in this state was cut off by a crash, and the stand-in
    # completes it on its next start (deliveries/serviceplatform/routing.py).
    DISTRIBUTING = "distributing", _("under distribution")
    REFUSED = "refused", _("afvist")
    # A SendersFileId already distributed for the sender: answered with the first receipt.
    DUPLICATE = "duplicate", _("dublet (første kvittering sendt igen)")


class PlatformDecision(models.Model):
    """One trigger file the Serviceplatform stand-in acted on, and what it decided.

    Written by the stand-in only (`manage.py serviceplatform`); administrators read them in the
    admin to see why a delivery was distributed or refused."""

    at = models.DateTimeField(_("tidspunkt"), default=timezone.now, db_index=True)
    endpoint = models.ForeignKey(
        "routes.Endpoint",
        verbose_name=_("endpoint"),
        on_delete=models.PROTECT,
        related_name="platform_decisions",
    )
    sender_username = models.CharField(_("afsender (SFTP-bruger)"), max_length=255)
    trigger_name = models.CharField(_("triggerfil"), max_length=300)
    file_name = models.CharField(_("filnavn"), max_length=300, blank=True)
    senders_file_id = models.CharField(_("SendersFileId"), max_length=255, blank=True)
    file_transfer_uuid = models.CharField(_("FileTransferUUID"), max_length=36)
    outcome = models.CharField(_("udfald"), max_length=12, choices=PlatformOutcome.choices)
    error_codes = models.JSONField(_("fejlkoder"), default=list, blank=True)
    recipients = models.JSONField(_("modtagere (SFTP-brugere)"), default=list, blank=True)
    message = models.TextField(_("besked"), blank=True)
    # The receipt exactly as written, so a duplicate can be answered with the same bytes.
    receipt_xml = models.TextField(_("kvittering (XML)"))
    # While the outcome is DISTRIBUTING: what a restart needs to complete the distribution
    # with the same FileTransferUUID — the metadata file's bytes, the kept copy of the data file
    # (its name in the stand-in root's .staging/), and the recipients already served.
    metadata_xml = models.TextField(_("metadatafil (XML)"), blank=True)
    staged_name = models.CharField(_("mellemlagret kopi"), max_length=64, blank=True)
    recipients_placed = models.JSONField(
        _("modtagere der har fået filen"), default=list, blank=True
    )

    class Meta:
        # The table it had when the stand-in lived in the deliveries app (state-only move).
        db_table = "deliveries_platformdecision"
        ordering = ["-at", "-pk"]
        verbose_name = _("Serviceplatform-afgørelse")
        verbose_name_plural = _("Serviceplatform-afgørelser")
        constraints = [
            # The platform distributes a sender's SendersFileId once; a second distribution
            # would hand the recipient the same extract twice. A distribution in progress
            # counts: it is written before the first file is placed, so a second one (another
            # stand-in process on the same database) fails here before placing anything.
            models.UniqueConstraint(
                fields=["endpoint", "sender_username", "senders_file_id"],
                condition=Q(outcome__in=["distributed", "distributing"]) & ~Q(senders_file_id=""),
                name="platformdecision_one_distribution_per_file_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.trigger_name}: {self.get_outcome_display()}"


class RegisteredKey(models.Model):
    """A public key registered with the stand-in for one of its SFTP users: what KOMBIT's
    Administrationsmodul holds on the real platform.

    The stand-in accepts a login only for these keys. It never reads the portal's SftpKey
    state: a key the portal has made (or confirmed) is not thereby known to KOMBIT, and a
    stand-in that trusted the portal's table would hide exactly that mistake. Rows are added
    when the stand-in first meets a user (its key of the day, as at onboarding) and after that
    only by an explicit registration: the admin, or `manage.py serviceplatform_register_key`."""

    endpoint = models.ForeignKey(
        "routes.Endpoint",
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="standin_registered_keys",
    )
    username = models.CharField(_("SFTP-bruger"), max_length=255)
    public_key = models.TextField(_("offentlig nøgle (OpenSSH)"))
    fingerprint = models.CharField(_("fingeraftryk (SHA256)"), max_length=100)
    registered_at = models.DateTimeField(_("registreret"), default=timezone.now)

    class Meta:
        ordering = ["endpoint", "username", "-registered_at"]
        verbose_name = _("registreret nøgle (stand-in)")
        verbose_name_plural = _("registrerede nøgler (stand-in)")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "username", "fingerprint"],
                name="standin_registeredkey_once_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.username}: {self.fingerprint}"
