"""Mail the portal sends: each person's choice of immediate mails or a daily digest, and every
outgoing mail as a row (queued, sent, failed with its attempts and last error), so a failed
send is retried by a worker and visible to administrators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise  # a lazy gettext string (stubs only)


class Cadence(models.TextChoices):
    IMMEDIATE = "immediate", _("straks")
    DIGEST = "digest", _("daglig opsamling")


class ConsultantEvent(models.TextChoices):
    """What a kommune consultant may choose to hear of, for their own kommuner. The names are
    the subscription's, not a delivery's statuses: the deliveries and routes apps map their
    changes onto them."""

    OVERDUE = "overdue", _("frist overskredet")
    REJECTED = "rejected", _("afvist ved validering")
    REFUSED = "refused", _("ikke modtaget af Serviceplatformen")
    FETCHED = "fetched", _("hentet af modtageren")
    ROUTE_CHANGED = "route_changed", _("ruteændringer")


class EventChoice(models.TextChoices):
    OFF = "off", _("ingen mail")
    IMMEDIATE = "immediate", _("straks")
    DIGEST = "digest", _("daglig opsamling")


# A consultant who never chose still hears of what needs someone to act (a missing, rejected or
# refused extract for their kommune); news that is only good news or paperwork waits for a choice.
CONSULTANT_DEFAULT_ON = frozenset(
    {ConsultantEvent.OVERDUE, ConsultantEvent.REJECTED, ConsultantEvent.REFUSED}
)


def _event_field(label: _StrOrPromise) -> models.CharField:
    # Blank: not chosen yet, so the default of CONSULTANT_DEFAULT_ON applies (and can change).
    return models.CharField(label, max_length=10, blank=True, choices=EventChoice.choices)


class NotificationPreference(models.Model):
    """How one person wants the portal's mails. No row means immediate mails, and for a
    consultant the defaults of CONSULTANT_DEFAULT_ON."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("bruger"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    cadence = models.CharField(
        _("levering"), max_length=10, choices=Cadence.choices, default=Cadence.IMMEDIATE
    )
    # A kommune consultant's choice per event, for all of their kommuner (field name = the
    # ConsultantEvent value).
    overdue = _event_field(_("frist overskredet"))
    rejected = _event_field(_("afvist ved validering"))
    refused = _event_field(_("ikke modtaget af Serviceplatformen"))
    fetched = _event_field(_("hentet af modtageren"))
    route_changed = _event_field(_("ruteændringer"))

    class Meta:
        verbose_name = _("notifikationsvalg")
        verbose_name_plural = _("notifikationsvalg")

    def __str__(self) -> str:
        return f"{self.user}: {self.get_cadence_display()}"

    def event_choice(self, event: str) -> str:
        """What this person chose for a consultant event: off, immediate or digest. Not chosen
        yet: the events of CONSULTANT_DEFAULT_ON come at the person's general cadence, the rest
        not at all."""
        chosen: str = getattr(self, ConsultantEvent(event).value)
        if chosen:
            return chosen
        return self.cadence if event in CONSULTANT_DEFAULT_ON else EventChoice.OFF


class NotificationKommuneChoice(models.Model):
    """A consultant's choice for one event of one of their kommuner, overriding the general
    choice on NotificationPreference (a shared team that wants Aarhus at once and the others in
    the digest). No row: the general choice applies. A row for a kommune the person no longer
    covers is harmless, since only a kommune's own consultants are asked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("bruger"),
        on_delete=models.CASCADE,
        related_name="notification_kommune_choices",
    )
    # By name: the mail app knows a consultant has kommuner (the user model's), not the
    # registry's code.
    kommune = models.ForeignKey(
        "routes.Kommune", verbose_name=_("kommune"), on_delete=models.CASCADE, related_name="+"
    )
    event = models.CharField(_("hændelse"), max_length=20, choices=ConsultantEvent.choices)
    choice = models.CharField(_("valg"), max_length=10, choices=EventChoice.choices)

    class Meta:
        verbose_name = _("notifikationsvalg for en kommune")
        verbose_name_plural = _("notifikationsvalg for kommuner")
        constraints = [
            # Also the index the recipients' lookup uses (user, kommune, event).
            models.UniqueConstraint(
                fields=["user", "kommune", "event"], name="notificationkommunechoice_one_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}, {self.kommune_id}, {self.event}: {self.choice}"


class MailStatus(models.TextChoices):
    # Waiting for the daily digest of its recipient.
    DIGEST = "digest", _("venter på daglig opsamling")
    # Included in a digest mail (see `digest`); never sent on its own.
    DIGESTED = "digested", _("sendt i opsamling")
    PENDING = "pending", _("i kø")
    SENDING = "sending", _("sendes")
    SENT = "sent", _("sendt")
    FAILED = "failed", _("fejlet (opgivet)")


class OutgoingMail(models.Model):
    """One mail to one address, rendered when it was decided (in Danish)."""

    kind = models.CharField(_("slags"), max_length=40, db_index=True)
    to = models.EmailField(_("modtager"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("bruger"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("emne"), max_length=255)
    body_text = models.TextField(_("tekst"))
    body_html = models.TextField(_("HTML"), blank=True)
    # What the mail is about, e.g. "overdue:42": the same notice is never made twice for the
    # same address (a job that runs twice, two scanners at once).
    key = models.CharField(_("nøgle"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MailStatus.choices, default=MailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("forsøg"), default=0)
    last_error = models.TextField(_("seneste fejl"), blank=True)
    created_at = models.DateTimeField(_("oprettet"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("seneste forsøg"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sendt"), null=True, blank=True)
    digest = models.ForeignKey(
        "self",
        verbose_name=_("sendt i opsamling"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("udgående mail")
        verbose_name_plural = _("udgående mails")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "to"], condition=~Q(key=""), name="outgoingmail_one_per_key"
            )
        ]
        indexes = [
            # The digest job reads the waiting rows per recipient.
            models.Index(
                fields=["to", "created_at"],
                condition=Q(status="digest"),
                name="outgoingmail_waiting_digest",
            )
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
