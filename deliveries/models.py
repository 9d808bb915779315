"""Deliveries: an uploaded extract, its status history, the data contract it was checked against
and the validation report.

Rules about one delivery (may it move to that status, is a worker busy with it) are methods
here; the statuses themselves, which may follow which and their named groups are in
`deliveries.lifecycle.states`. Workflows that store files, validate or push live in
`deliveries.services`. Scoping by user lives only in `DeliveryQuerySet.for_user()`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deliveries.lifecycle.states import (
    NOT_YET_VALIDATED,
    PROBLEM,
    STOPPED_NOT_BY_ROWS,
    WORKING,
    DeliveryStatus,
    can_transition,
    got_through,
)
from deliveries.messages import render
from flisportal.lib.periods import local_date
from flisportal.lib.sql import constants_in
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    Route,
    ScopedQuerySet,
    SftpUser,
    User,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


class DataContractQuerySet(models.QuerySet["DataContract"]):
    def active(self) -> DataContractQuerySet:
        return self.filter(is_active=True)


class DataContract(models.Model):
    """One version of a data area's contract: a Frictionless Table Schema plus the CSV dialect
    and the portal's own rules (kommune column, CPR columns, cross-field rules), stored as the
    JSON document it was loaded from."""

    data_area = models.ForeignKey(
        DataArea, verbose_name=_("dataområde"), on_delete=models.PROTECT, related_name="contracts"
    )
    version = models.CharField(_("version"), max_length=40)
    document = models.JSONField(_("kontrakt (JSON)"))
    is_illustrative = models.BooleanField(
        _("illustrativ"),
        default=True,
        help_text=_(
            "Illustrativ – ikke KOMBITs format, indtil den officielle bilagspakke er indlæst."
        ),
    )
    is_active = models.BooleanField(_("aktiv"), default=False)
    loaded_at = models.DateTimeField(_("indlæst"), default=timezone.now)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("indlæst af"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("kilde"), max_length=255, blank=True)

    objects = DataContractQuerySet.as_manager()

    class Meta:
        ordering = ["data_area", "-loaded_at"]
        verbose_name = _("datakontrakt")
        verbose_name_plural = _("datakontrakter")
        constraints = [
            models.UniqueConstraint(
                fields=["data_area", "version"], name="contract_unique_version"
            ),
            # Uploads are checked against "the" contract of the area: never two at once.
            models.UniqueConstraint(
                fields=["data_area"], condition=Q(is_active=True), name="contract_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.data_area} {self.version}"

    @property
    def fields(self) -> list[dict[str, Any]]:
        return list(self.document["schema"]["fields"])

    @property
    def title(self) -> str:
        return str(self.document.get("title", ""))


class DeliveryQuerySet(ScopedQuerySet["Delivery"]):
    """Administrators see all; vendor staff their vendor's; consultants their kommuner's."""

    def for_vendor(self, vendor_id: int) -> Self:
        # A subquery, not a join: the newest-first list then reads the `delivery_newest` index
        # in order and stops after a page, where the join sorted all of a vendor's deliveries
        # (5,000 after five years for one vendor in twenty: 8 ms; benchmarks/load.py).
        return self.filter(it_system__in=ITSystem.objects.filter(vendor_id=vendor_id))

    def for_consultant(self, user: User) -> Self:
        return self.filter(kommune__consultants=user)

    def unsettled_problems(self) -> Self:
        """Deliveries that stopped without reaching the recipient (rejected, refused, failed)
        and are not settled: no delivery uploaded later for the same route and period got
        through (`got_through`). A later failure settles nothing, so each failure stays until
        a success follows it. One NOT EXISTS per row, a probe of the partial index
        `delivery_got_through` (route, period, uploaded_at of the successes only): no query per
        row, whatever the history."""
        # The statuses are written into the SQL (`constants_in`), as the partial indexes
        # `delivery_got_through` and `delivery_problems_newest` say them: bound as parameters,
        # SQLite used neither and read every try of each failure's period from the table.
        later_success = Delivery.objects.filter(
            got_through(written=constants_in),
            Q(uploaded_at__gt=OuterRef("uploaded_at"))
            | Q(uploaded_at=OuterRef("uploaded_at"), pk__gt=OuterRef("pk")),
            route=OuterRef("route"),
            period=OuterRef("period"),
        )
        return self.filter(status__in=constants_in(PROBLEM)).filter(~Exists(later_success))


# Encodings as people name them (the validator records Python's codec names).
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (med BOM)", "cp1252": "Windows-1252"}


def delivery_upload_to(instance: Delivery, filename: str) -> str:
    # The user's file name is metadata only: the stored name says what the file is, and the
    # uuid (SendersFileId) keeps it unique.
    return (
        f"deliveries/{instance.data_area.code}/{instance.period}/"
        f"{instance.kommune.code}_{instance.uuid}.csv"
    )


class Delivery(models.Model):
    """One extract for one kommune, data area and period, uploaded for one route."""

    uuid = models.UUIDField(_("SendersFileId"), default=uuid.uuid4, unique=True, editable=False)
    route = models.ForeignKey(
        Route, verbose_name=_("rute"), on_delete=models.PROTECT, related_name="deliveries"
    )
    # Copied from the route when the delivery is made: lists filter and scope on them
    # without joining through the route, and the delivery keeps what it was sent as.
    it_system = models.ForeignKey(
        ITSystem, verbose_name=_("it-system"), on_delete=models.PROTECT, related_name="deliveries"
    )
    data_area = models.ForeignKey(
        DataArea, verbose_name=_("dataområde"), on_delete=models.PROTECT, related_name="deliveries"
    )
    kommune = models.ForeignKey(
        Kommune, verbose_name=_("kommune"), on_delete=models.PROTECT, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("miljø"), on_delete=models.PROTECT, related_name="deliveries"
    )
    period = models.CharField(_("periode"), max_length=7, db_index=True)  # YYYY-MM
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED
    )
    status_changed_at = models.DateTimeField(_("status ændret"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploadet af"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploadet"), default=timezone.now)
    original_filename = models.CharField(_("oprindeligt filnavn"), max_length=255)
    file = models.FileField(_("fil"), upload_to=delivery_upload_to, max_length=255)
    size = models.BigIntegerField(_("størrelse (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # What reached the recipients, written by the push before it sends. `file` stays the
    # upload as it came; a file in another encoding than the contract's `sendEncoding` is sent
    # as the converted copy `sent_file` (empty when the upload itself was sent). Size and
    # SHA-256 are those of the bytes sent: the trigger's SizeInBytes and the Hent side's check
    # are on them.
    sent_file = models.FileField(_("afsendt fil"), max_length=255, blank=True)
    sent_encoding = models.CharField(_("afsendt tegnsæt"), max_length=20, blank=True)
    sent_size = models.BigIntegerField(_("afsendt størrelse (bytes)"), null=True, blank=True)
    sent_sha256 = models.CharField(_("afsendt SHA-256"), max_length=64, blank=True)
    contract = models.ForeignKey(
        DataContract,
        verbose_name=_("kontrakt"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("erstatter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="corrections",
    )
    redelivery_confirmed = models.BooleanField(_("genlevering bekræftet"), default=False)
    # Validation progress and outcome.
    encoding = models.CharField(_("tegnsæt"), max_length=20, blank=True)
    rows_total = models.BigIntegerField(_("rækker i alt (anslået)"), null=True, blank=True)
    rows_checked = models.BigIntegerField(_("rækker kontrolleret"), default=0)
    progress_percent = models.PositiveSmallIntegerField(_("fremdrift (%)"), default=0)
    error_count = models.BigIntegerField(_("fejl i alt"), default=0)
    errors_by_rule = models.JSONField(_("fejl pr. regel"), default=dict, blank=True)
    errors_by_column = models.JSONField(_("fejl pr. kolonne"), default=dict, blank=True)
    # What the report says that is no error (empty lines skipped), each as `stored_as` writes a
    # text: {"message", "message_code", "message_params"}.
    validation_notices = models.JSONField(_("bemærkninger"), default=list, blank=True)
    validated_at = models.DateTimeField(_("valideret"), null=True, blank=True)
    # Push to the Serviceplatform. The wire name and TransactionId are made on the first try and
    # kept, so a retry overwrites its own leftover upload and the platform sees one transfer.
    wire_name = models.CharField(_("filnavn på Serviceplatformen"), max_length=255, blank=True)
    transaction_id = models.UUIDField(_("TransactionId"), null=True, blank=True)
    push_attempts = models.PositiveIntegerField(_("afsendelsesforsøg"), default=0)
    last_error = models.TextField(_("seneste fejl"), blank=True)
    # The code and parameters of `last_error` in deliveries.messages (the page shows it in the
    # reader's language from these; the Danish text above is what logs and the audit read).
    last_error_code = models.CharField(_("seneste fejl (kode)"), max_length=60, blank=True)
    last_error_params = models.JSONField(_("seneste fejl (parametre)"), default=dict, blank=True)
    next_attempt_at = models.DateTimeField(_("næste forsøg"), null=True, blank=True)
    # Written by a worker while it validates or pushes, and by the reconciler when it
    # re-enqueues: a working state counts as stuck only when this is old, so a long push of a
    # large file is not taken from a worker that is still moving bytes.
    heartbeat_at = models.DateTimeField(_("sidst set i arbejde"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sendt"), null=True, blank=True)
    # The technical receipt.
    file_transfer_uuid = models.CharField(_("FileTransferUUID"), max_length=36, blank=True)
    receipt_at = models.DateTimeField(_("kvittering modtaget"), null=True, blank=True)
    receipt_errors = models.JSONField(_("fejl i kvitteringen"), default=list, blank=True)
    receipt_overdue_at = models.DateTimeField(_("kvittering savnet siden"), null=True, blank=True)
    # Retention (deliveries.retention): when the stored extract was deleted. The row, its
    # report summary and its receipt stay; only the file (and values quoted from it) go.
    file_deleted_at = models.DateTimeField(_("fil slettet"), null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        verbose_name = _("leverance")
        verbose_name_plural = _("leverancer")
        indexes = [
            # The reconciler looks for deliveries stuck in one working state since long ago.
            models.Index(fields=["status", "status_changed_at"], name="delivery_status_since"),
            # Re-delivery check: the same bytes for the same route and period.
            models.Index(fields=["route", "period", "sha256"], name="delivery_same_file"),
            # Lists show the newest first, 50 at a time: with these the first page reads 50 index
            # entries instead of sorting every delivery in scope (≈100,000 after five years:
            # 73 → 18 ms for an administrator's list; benchmarks/load.py). One per scope:
            # everything (administrators, the admin), a vendor's systems, a kommune.
            models.Index(fields=["-uploaded_at", "-id"], name="delivery_newest"),
            models.Index(fields=["it_system", "-uploaded_at", "-id"], name="delivery_sys_newest"),
            models.Index(fields=["kommune", "-uploaded_at", "-id"], name="delivery_kom_newest"),
            # The coverage dashboard's newest delivery per kommune and data area: one seek per
            # cell, however many years of deliveries lie behind it.
            models.Index(
                fields=["kommune", "data_area", "-uploaded_at", "-id"], name="delivery_cell_newest"
            ),
            # A delivery page lists the corrections of its delivery. Almost no delivery replaces
            # another, so SQLite's statistics make a plain index on `replaces` look useless and
            # it scanned every delivery instead (40 ms at 100,000); a partial index holds only
            # the few that do (→ under 1 ms).
            models.Index(
                fields=["replaces"],
                condition=models.Q(replaces__isnull=False),
                name="delivery_corrections",
            ),
            # Driftsstatus: each endpoint's newest push, a seek instead of sorting every
            # delivery ever sent there.
            models.Index(fields=["endpoint", "-sent_at"], name="delivery_endpoint_sent"),
            # «Kræver handling» asks, for each recent failure, whether a later delivery for the
            # same route and period got through (`unsettled_problems`). Through
            # `delivery_same_file` that read every try of the period from the table (≈17 at a
            # million deliveries); this holds only the ones that got through, so the answer is
            # one probe of the index (benchmarks/load.py).
            models.Index(
                fields=["route", "period", "uploaded_at"],
                condition=got_through(),
                name="delivery_got_through",
            ),
            # …and the recent failures themselves are walked newest first in an index that holds
            # only failures and the columns that question needs: no table row is read for the
            # failures that turn out settled (at a million deliveries, ≈28,000 in 30 days:
            # ≈960 → ≈60–90 ms on a busy machine, benchmarks/load.py).
            models.Index(
                fields=["status_changed_at", "route", "period", "uploaded_at"],
                condition=models.Q(status__in=PROBLEM),
                name="delivery_problems_newest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.data_area} · {self.kommune} · {self.period}"

    def can_move_to(self, status: str) -> bool:
        return can_transition(self.status, status)

    @property
    def is_working(self) -> bool:
        return self.status in WORKING

    @property
    def was_converted(self) -> bool:
        """Sent as a copy converted to another encoding, not as uploaded."""
        return bool(self.sent_file)

    @property
    def wire_size(self) -> int:
        """The size of the bytes that go (or went) to the platform."""
        return self.sent_size if self.sent_size is not None else self.size

    @property
    def wire_sha256(self) -> str:
        """The SHA-256 the Hent side expects of the fetched file: the bytes that were sent
        (deliveries pushed before the sent hash was recorded were sent as uploaded)."""
        return self.sent_sha256 or self.sha256

    @property
    def conversion_text(self) -> str:
        """What the push did to the file's encoding, for the delivery page."""
        return _("Konverteret fra %(source)s til %(target)s før afsendelse") % {
            "source": ENCODING_NAMES.get(self.encoding, self.encoding),
            "target": ENCODING_NAMES.get(self.sent_encoding, self.sent_encoding),
        }

    @property
    def notice_texts(self) -> list[str]:
        """The report's notices in the reader's language."""
        return [
            render(n.get("message_code", ""), n.get("message_params", {}), fallback=n["message"])
            for n in self.validation_notices
        ]

    @property
    def push_failed(self) -> bool:
        """Failed after a clean validation, i.e. while (or before) being pushed: a retry sends
        it again instead of validating it again."""
        return (
            self.status == DeliveryStatus.FAILED
            and self.validated_at is not None
            and not self.error_count
        )

    @property
    def error_count_note(self) -> str:
        """Why a list shows «–» in its «Fejl» column instead of `error_count`, or "" where the
        count says something (rejected with its errors; passed with 0, on its way or
        delivered). Here the count is 0 whatever went wrong, and «0» beside «afvist af
        Serviceplatformen» or «fejlet» read as "turned down with no errors". Asks the status
        only, so a list that reads the status needs no more columns for it
        (templates/deliveries/_error_count.html, deliveries/rows.py)."""
        if self.status in STOPPED_NOT_BY_ROWS:
            return str(_("Ikke stoppet af fejl i rækkerne – årsagen står på leverancens side"))
        if self.status in NOT_YET_VALIDATED:
            return str(_("Tælles, når valideringen er færdig"))
        return ""

    @property
    def receipt_missing(self) -> bool:
        """Sent, and the reconciler has flagged that no receipt came in time."""
        return self.status == DeliveryStatus.SENT and self.receipt_overdue_at is not None

    @property
    def status_badge(self) -> str:
        """Bootstrap colour for the status badge."""
        return {
            DeliveryStatus.VALID: "success",
            DeliveryStatus.FETCHED: "success",
            DeliveryStatus.DISTRIBUTED: "success",
            DeliveryStatus.SENT: "info",
            DeliveryStatus.REJECTED: "danger",
            DeliveryStatus.REFUSED: "danger",
            DeliveryStatus.FAILED: "danger",
        }.get(DeliveryStatus(self.status), "secondary")

    @property
    def status_label(self) -> str:
        """The status in words; cheaper than get_status_display() in a list of fifty."""
        return str(DeliveryStatus(self.status).label)

    @property
    def last_error_text(self) -> str:
        """The last try's error in the reader's language (the stored Danish text without a
        code); empty when there is none."""
        if not self.last_error:
            return ""
        return render(self.last_error_code, self.last_error_params, fallback=self.last_error)


class DeliveryEvent(models.Model):
    """One status change of a delivery: the timeline, the audit trail and alerting read these."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    old_status = models.CharField(max_length=12, choices=DeliveryStatus.choices, blank=True)
    new_status = models.CharField(max_length=12, choices=DeliveryStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who acted when no person did, e.g. "worker".
    actor_label = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True)  # in Danish, as written when it happened
    # The message's code and parameters in deliveries.messages; none on rows from before them.
    message_code = models.CharField(max_length=60, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("leverancehændelse")
        verbose_name_plural = _("leverancehændelser")

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.old_status} → {self.new_status}"

    @property
    def message_text(self) -> str:
        """The message in the reader's language; the stored Danish text without a code."""
        return render(self.message_code, self.message_params, fallback=self.message)


class ValidationIssue(models.Model):
    """One listed error of a delivery's validation report (the first 1,000; all are counted on
    the delivery). A row of None means a problem with the file as a whole."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="issues")
    position = models.PositiveIntegerField()
    row = models.BigIntegerField(null=True, blank=True)
    column = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=100, blank=True)
    rule = models.CharField(max_length=40)
    message = models.TextField()  # in Danish, as written when the file was checked
    # The message's code and parameters in deliveries.messages (none for rows from before the
    # codes and for a contract's own message). The value is not repeated in the parameters:
    # it is `value`; up to 1,000 rows a delivery, so the parameters stay few and short.
    message_code = models.CharField(max_length=60, blank=True)
    message_params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["delivery", "position"]
        verbose_name = _("valideringsfejl")
        verbose_name_plural = _("valideringsfejl")
        indexes = [models.Index(fields=["delivery", "rule"], name="issue_delivery_rule")]

    def __str__(self) -> str:
        return f"{self.row}:{self.column} {self.rule}"

    @property
    def message_text(self) -> str:
        """The message in the reader's language; the stored Danish text when there is no code
        (or no longer a catalogue entry for it)."""
        params = {"value": self.value, **self.message_params}
        return render(self.message_code, params, fallback=self.message)


class RuleFailureMonthQuerySet(ScopedQuerySet["RuleFailureMonth"]):
    """Scoped as the deliveries it counts: a vendor's systems, a consultant's kommuner."""

    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(it_system__vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        return self.filter(kommune__consultants=user)


class RuleFailureMonth(models.Model):
    """How often one rule on one column failed in the rejected deliveries of one period,
    kommune, IT system and data area: `deliveries` broke it at least once, `errors` is how many
    errors they listed for it. A roll-up of `ValidationIssue` kept in step by
    `deliveries.services.rule_failures`, so *Udvikling* reads these few rows instead of the
    ≈1 million listed errors of two years."""

    period = models.CharField(max_length=7)  # YYYY-MM
    # CASCADE, not PROTECT: the deliveries counted here already protect these rows; a roll-up
    # left at zero must not keep a registry row from being deleted.
    kommune = models.ForeignKey(Kommune, on_delete=models.CASCADE, related_name="+")
    it_system = models.ForeignKey(ITSystem, on_delete=models.CASCADE, related_name="+")
    data_area = models.ForeignKey(DataArea, on_delete=models.CASCADE, related_name="+")
    column = models.CharField(max_length=100, blank=True)
    rule = models.CharField(max_length=40)
    deliveries = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    objects = RuleFailureMonthQuerySet.as_manager()

    class Meta:
        verbose_name = _("regelfejl pr. måned")
        verbose_name_plural = _("regelfejl pr. måned")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "kommune", "it_system", "data_area", "column", "rule"],
                name="rulefailure_one_per_key",
            )
        ]
        # The page always asks a range of periods (the unique index leads with the period);
        # each filter (region and a consultant's kommuner through the kommune, vendor through
        # the IT system, data area) has an index that starts with it and keeps the range.
        indexes = [
            models.Index(fields=["kommune", "period"], name="rulefailure_kommune"),
            models.Index(fields=["it_system", "period"], name="rulefailure_system"),
            models.Index(fields=["data_area", "period"], name="rulefailure_area"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.column} {self.rule}: {self.deliveries}/{self.errors}"


class ReceiptProblem(models.Model):
    """A file in a sender's IN/ that looks like a technical receipt but cannot be recorded: it
    does not parse, or it belongs to no delivery the portal sent from that SFTP user. The file
    is left where it is (never deleted silently); administrators see these rows in the admin."""

    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("miljø"), on_delete=models.CASCADE, related_name="+"
    )
    sftp_user = models.ForeignKey(
        "routes.SftpUser",
        verbose_name=_("SFTP-bruger"),
        on_delete=models.CASCADE,
        related_name="receipt_problems",
    )
    file_name = models.CharField(_("filnavn"), max_length=300)
    reason = models.TextField(_("årsag"))
    senders_file_id = models.CharField(_("SendersFileId"), max_length=255, blank=True)
    file_transfer_uuid = models.CharField(_("FileTransferUUID"), max_length=255, blank=True)
    # The start of the file as text, so an administrator can see what it was without SFTP.
    content = models.TextField(_("indhold (begyndelsen)"), blank=True)
    first_seen_at = models.DateTimeField(_("først set"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("senest set"), default=timezone.now)
    times_seen = models.PositiveIntegerField(_("set antal gange"), default=1)

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        verbose_name = _("kvittering uden leverance")
        verbose_name_plural = _("kvitteringer uden leverance")
        constraints = [
            # One row per file: the receipts job sees the same kept file every minute.
            models.UniqueConstraint(
                fields=["sftp_user", "file_name"], name="receiptproblem_one_per_file"
            )
        ]

    def __str__(self) -> str:
        return self.file_name


# --- expected deliveries ---


class ExpectedState(models.TextChoices):
    PENDING = "pending", _("afventer")
    DUE_SOON = "due_soon", _("frist nærmer sig")
    OVERDUE = "overdue", _("overskredet")
    MET = "met", _("leveret")


# The states the scanner still has to look at: a period that is neither met nor yet overdue.
OPEN_EXPECTED_STATES = (ExpectedState.PENDING, ExpectedState.DUE_SOON)
# The states of a period still owed, most urgent first: what the start pages and the list of
# outstanding periods show, found through the index `expected_state_period`.
OWED_EXPECTED_STATES = (ExpectedState.OVERDUE, ExpectedState.DUE_SOON, ExpectedState.PENDING)


class ExpectedDeliveryQuerySet(ScopedQuerySet["ExpectedDelivery"]):
    """Administrators see all; consultants their kommuner's; vendor staff their routes'."""

    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(route__sender_system__vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        return self.filter(route__kommune__consultants=user)

    def claim_state(self, *, pk: int, old: str, new: str, **fields: Any) -> bool:
        """Moves one period from `old` to `new` if it is still in `old` (a claim: of racing
        workers exactly one succeeds) and stamps `state_changed_at`, which the coverage
        dashboard's cache watches. Every change of state goes through here."""
        return (
            self.filter(pk=pk, state=old).update(
                state=new, state_changed_at=timezone.now(), **fields
            )
            == 1
        )


class ExpectedDelivery(models.Model):
    """One period's extract that an established route owes, with its deadline stored in a
    column so the scanner finds the rows that need a look by an index (healthchecks'
    `alert_after`)."""

    route = models.ForeignKey(
        Route, verbose_name=_("rute"), on_delete=models.CASCADE, related_name="expected"
    )
    period = models.CharField(_("periode"), max_length=7)  # YYYY-MM, the month of the data
    due_at = models.DateTimeField(_("frist"))
    # due_at plus the grace days (in Danish calendar days): overdue from this instant.
    overdue_at = models.DateTimeField(_("overskredet fra"))
    state = models.CharField(
        _("tilstand"), max_length=10, choices=ExpectedState.choices, default=ExpectedState.PENDING
    )
    met_at = models.DateTimeField(_("leveret"), null=True, blank=True)
    met_by = models.ForeignKey(
        Delivery,
        verbose_name=_("leveret med"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    due_soon_alerted_at = models.DateTimeField(
        _("varslet (frist nærmer sig)"), null=True, blank=True
    )
    overdue_alerted_at = models.DateTimeField(_("varslet (overskredet)"), null=True, blank=True)
    created_at = models.DateTimeField(_("oprettet"), default=timezone.now)
    # Set with every change of `state`: the coverage dashboard's cache looks at the newest.
    state_changed_at = models.DateTimeField(_("tilstand ændret"), default=timezone.now)

    objects = ExpectedDeliveryQuerySet.as_manager()

    # Bootstrap's colour of each state, wherever a state is shown.
    STATE_BADGES: ClassVar[dict[str, str]] = {
        ExpectedState.PENDING: "secondary",
        ExpectedState.DUE_SOON: "warning",
        ExpectedState.OVERDUE: "danger",
        ExpectedState.MET: "success",
    }

    class Meta:
        ordering = ["route", "-period"]
        verbose_name = _("forventet leverance")
        verbose_name_plural = _("forventede leverancer")
        constraints = [
            models.UniqueConstraint(fields=["route", "period"], name="expected_one_per_period")
        ]
        indexes = [
            # The scanner polls exactly these rows ordered by deadline; met and overdue rows
            # (most of the table after a year) stay out of the index.
            models.Index(
                fields=["due_at"],
                condition=Q(state__in=["pending", "due_soon"]),
                name="expected_open_by_due",
            ),
            # The newest change, read on every view of the coverage dashboard.
            models.Index(fields=["state_changed_at"], name="expected_changed"),
            # The periods still owed (start pages, the outstanding list): a seek per state
            # and a range of periods reaches the few rows that are not met, never the years of
            # met ones.
            models.Index(fields=["state", "period"], name="expected_state_period"),
        ]

    def __str__(self) -> str:
        return f"{self.route} · {self.period}"

    @property
    def due_date(self) -> date:
        """The due day itself (the last day on which delivery is on time)."""
        return local_date(self.due_at) - timedelta(days=1)

    def state_at(self, now: datetime, *, due_soon: timedelta) -> str:
        """What this period should be in at `now`, for a period not yet met."""
        if self.state == ExpectedState.MET:
            return self.state
        if now >= self.overdue_at:
            return ExpectedState.OVERDUE
        if now >= self.due_at - due_soon:
            return ExpectedState.DUE_SOON
        return ExpectedState.PENDING

    def days_late(self) -> int | None:
        """Whole Danish calendar days after the due day the period was met (0: on time);
        None while not met."""
        if self.met_at is None:
            return None
        met_day = local_date(self.met_at)
        return max(0, (met_day - self.due_date).days)

    @property
    def state_badge(self) -> str:
        return self.STATE_BADGES[ExpectedState(self.state)]


# --- Hent-side receipts ---


class ReceiptVerdict(models.TextChoices):
    OK = "ok", _("i orden")
    SIZE_MISMATCH = "size_mismatch", _("forkert størrelse")
    CHECKSUM_MISMATCH = "checksum_mismatch", _("forkert kontrolsum")
    UNKNOWN_ROUTE = "unknown_route", _("ukendt afsender eller rute")
    MALFORMED_METADATA = "malformed_metadata", _("ulæselig metadatafil")


class ReceiptQuerySet(ScopedQuerySet["Receipt"]):
    """Administrators see all; consultants their kommuner's receipts; vendor staff the
    receipts of their own vendor's deliveries (never files of other senders)."""

    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(delivery__it_system__vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        return self.filter(kommune__consultants=user)

    def with_read_for(self, user: User | AnonymousUser) -> ReceiptQuerySet:
        """Annotates `is_read` for this user in the same query (no query per row)."""
        if not user.is_authenticated:
            return self.annotate(is_read=models.Value(False))
        return self.annotate(
            is_read=models.Exists(
                ReceiptRead.objects.filter(receipt=models.OuterRef("pk"), user_id=user.pk)
            )
        )


class Receipt(models.Model):
    """One extract a recipient system fetched from its IN/ folder, with what the checks found.

    Files that fail a check are kept too (`is_quarantined`): nothing leaves IN/ unrecorded.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The platform's id of the transfer. A metadata file with a `Trigger` root has none, and an
    # unreadable one says nothing: then a stable id is derived (`uuid_derived`) from what the
    # file does say, so that fetching the same file again finds this row.
    filetransfer_uuid = models.CharField(_("FileTransferUUID"), max_length=36)
    uuid_derived = models.BooleanField(_("afledt id"), default=False)
    recipient_sftp_user = models.ForeignKey(
        SftpUser,
        verbose_name=_("modtager (SFTP-bruger)"),
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    recipient_system = models.ForeignKey(
        ITSystem,
        verbose_name=_("modtagersystem"),
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    file_name = models.CharField(_("filnavn"), max_length=255)
    declared_size = models.BigIntegerField(_("størrelse ifølge metadata"), null=True, blank=True)
    size = models.BigIntegerField(_("hentet størrelse (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    sender = models.CharField(_("afsender (SFTP-bruger)"), max_length=255, blank=True)
    senders_file_id = models.CharField(_("SendersFileId"), max_length=255, blank=True)
    sender_system = models.ForeignKey(
        ITSystem,
        verbose_name=_("afsendersystem"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sent_receipts",
    )
    sender_system_uuid = models.CharField(_("SenderIt-system"), max_length=36, blank=True)
    sender_authority = models.CharField(_("SenderAuthority"), max_length=40, blank=True)
    recipient_authority = models.CharField(_("RecipientAuthority"), max_length=40, blank=True)
    infref = models.CharField(_("InfRef"), max_length=255, blank=True)
    data_area = models.ForeignKey(
        DataArea,
        verbose_name=_("dataområde"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    kommune = models.ForeignKey(
        Kommune,
        verbose_name=_("kommune"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    period = models.CharField(_("periode"), max_length=7, blank=True)  # YYYY-MM when known
    route = models.ForeignKey(
        Route,
        verbose_name=_("rute"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    # Null for files from senders outside this portal.
    delivery = models.ForeignKey(
        Delivery,
        verbose_name=_("leverance"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    fetched_at = models.DateTimeField(_("hentet"), default=timezone.now)
    verdict = models.CharField(_("vurdering"), max_length=20, choices=ReceiptVerdict.choices)
    verdict_detail = models.TextField(_("begrundelse"), blank=True)
    # The code and parameters of `verdict_detail` in deliveries.messages, for the page to show
    # it in the reader's language (`verdict_detail_text`; the pages and the CSV export read it).
    verdict_detail_code = models.CharField(_("begrundelse (kode)"), max_length=60, blank=True)
    verdict_detail_params = models.JSONField(_("begrundelse (parametre)"), default=dict, blank=True)
    file = models.FileField(_("fil"), max_length=255, blank=True)
    # Retention (deliveries.retention): when the stored copy was deleted. The name in `file`
    # stays, like the rest of the row; only the copy goes.
    file_deleted_at = models.DateTimeField(_("fil slettet"), null=True, blank=True)
    metadata_xml = models.TextField(_("metadatafil"), blank=True)
    read_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ReceiptRead", related_name="read_receipts", blank=True
    )

    objects = ReceiptQuerySet.as_manager()

    class Meta:
        ordering = ["-fetched_at", "-pk"]
        verbose_name = _("kvittering (Hent)")
        verbose_name_plural = _("kvitteringer (Hent)")
        constraints = [
            # The idempotency key: a file fetched again after a crash between recording and
            # removing it from IN/ finds this row instead of making a second one. Per recipient
            # system, because the platform hands FLIS and a kommune's LIS the same transfer.
            models.UniqueConstraint(
                fields=["recipient_system", "filetransfer_uuid"],
                name="receipt_one_per_transfer_and_recipient",
            )
        ]
        indexes = [
            # The unfiltered inbox (administrators), newest first: without it every page sorts
            # the whole table.
            models.Index(fields=["-fetched_at", "-id"], name="receipt_newest"),
            # The inbox: one recipient system's receipts, newest first.
            models.Index(fields=["recipient_system", "-fetched_at"], name="receipt_inbox"),
            # Consultants' inboxes are scoped by kommune.
            models.Index(fields=["kommune", "-fetched_at"], name="receipt_kommune"),
            models.Index(fields=["verdict", "-fetched_at"], name="receipt_verdict"),
            # The nightly orphan sweep asks, per storage folder, which of its files a receipt
            # names (`file IN (…)`): without it one full scan per user and month.
            models.Index(fields=["file"], name="receipt_file"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.recipient_system_id}"

    @property
    def is_quarantined(self) -> bool:
        return self.verdict != ReceiptVerdict.OK

    @property
    def verdict_badge(self) -> str:
        return "success" if self.verdict == ReceiptVerdict.OK else "danger"

    @property
    def verdict_label(self) -> str:
        """The verdict in words; cheaper than get_verdict_display() in a list of fifty."""
        return str(ReceiptVerdict(self.verdict).label)

    @property
    def verdict_detail_text(self) -> str:
        """Why the file was quarantined, in the reader's language; the stored Danish text
        without a code."""
        return render(
            self.verdict_detail_code, self.verdict_detail_params, fallback=self.verdict_detail
        )


class ReceiptRead(models.Model):
    """A user has opened or downloaded a receipt: the inbox's unread marker reads these."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("læst kvittering")
        verbose_name_plural = _("læste kvitteringer")
        constraints = [
            models.UniqueConstraint(fields=["receipt", "user"], name="receiptread_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.receipt_id}"


class FileCheckStatus(models.TextChoices):
    """A check without sending has no lifecycle of a delivery's: it is checked once, then
    only read until it expires. Not a DeliveryStatus, so nothing that counts deliveries by
    status can count a check."""

    CHECKING = "checking", _("kontrolleres")
    VALID = "valid", _("ingen fejl")
    INVALID = "invalid", _("fejl fundet")
    FAILED = "failed", _("kunne ikke kontrolleres")


class FileCheckQuerySet(models.QuerySet["FileCheck"]):
    def for_user(self, user: User | AnonymousUser) -> Self:
        """Only the person who asked for a check sees it: it is their draft, never sent and
        no one else's business, and administrators have the deliveries for support. (Not a
        ScopedQuerySet: that would show every check to administrators and to the vendor's
        colleagues.)"""
        if not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)

    def expired(self, *, now: datetime) -> Self:
        return self.filter(expires_at__lte=now)


def file_check_upload_to(instance: FileCheck, filename: str) -> str:
    # A tree of its own, apart from deliveries/: nothing that sweeps or counts delivered files
    # looks here, and the file lives only until the check has run.
    return f"checks/{instance.uuid}.csv"


class FileCheck(models.Model):
    """A file checked against its data area's contract without becoming a delivery: the
    report is kept for FILE_CHECK_KEEP_HOURS, the file only until it has been checked. Never
    pushed, and not counted anywhere deliveries are (lists, owed periods, coverage, the
    same-file rule)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("kontrolleret af"),
        on_delete=models.CASCADE,
        related_name="file_checks",
    )
    # CASCADE, unlike a delivery's PROTECT: a check is a draft that expires within days and
    # must not keep a route from being removed.
    route = models.ForeignKey(
        Route, verbose_name=_("rute"), on_delete=models.CASCADE, related_name="file_checks"
    )
    period = models.CharField(_("periode"), max_length=7)  # YYYY-MM
    original_filename = models.CharField(_("oprindeligt filnavn"), max_length=255)
    size = models.BigIntegerField(_("størrelse (bytes)"))
    sha256 = models.CharField("SHA-256", max_length=64)
    # Empty once checked: the report is all that is kept (see deliveries.services.check).
    file = models.FileField(_("fil"), upload_to=file_check_upload_to, max_length=255, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=FileCheckStatus.choices,
        default=FileCheckStatus.CHECKING,
    )
    contract = models.ForeignKey(
        DataContract,
        verbose_name=_("kontrolleret mod kontrakt"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The report in the shape a delivery keeps it (counts on the row, listed issues as
    # ValidationIssue fields): see deliveries.services.check.file_check_report.
    report = models.JSONField(_("rapport"), default=dict, blank=True)
    created_at = models.DateTimeField(_("oprettet"), default=timezone.now)
    # Set by the job that claims the check (deliveries.services.check.file_check_run).
    started_at = models.DateTimeField(_("kontrol startet"), null=True, blank=True)
    # Written now and then while the worker reads the file: a sign of life, so the reconciler
    # tells a long check of a large file from one whose worker died (deliveries_reconcile).
    heartbeat_at = models.DateTimeField(_("seneste livstegn"), null=True, blank=True)
    checked_at = models.DateTimeField(_("kontrolleret"), null=True, blank=True)
    expires_at = models.DateTimeField(_("slettes"))

    objects = FileCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("kontrol uden afsendelse")
        verbose_name_plural = _("kontroller uden afsendelse")
        indexes = [
            # Retention deletes the expired ones every night: a seek, not a scan.
            models.Index(fields=["expires_at"], name="filecheck_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.period})"

    @property
    def is_working(self) -> bool:
        return self.status == FileCheckStatus.CHECKING

    @property
    def has_report(self) -> bool:
        """Checked against a contract (valid or not); a failed check has only its problem."""
        return "error_count" in self.report

    @property
    def error_count(self) -> int:
        return int(self.report.get("error_count", 0))

    @property
    def rows_checked(self) -> int:
        return int(self.report.get("rows_checked", 0))

    @property
    def issues(self) -> list[ValidationIssue]:
        """The listed issues as (unsaved) ValidationIssue rows, so they are shown, translated
        and exported exactly as a delivery's are."""
        return [ValidationIssue(**fields) for fields in self.report.get("issues", [])]

    @property
    def notice_texts(self) -> list[str]:
        """The report's notices (empty lines skipped) in the reader's language."""
        return [
            render(n.get("message_code", ""), n.get("message_params", {}), fallback=n["message"])
            for n in self.report.get("notices", [])
        ]

    @property
    def problem_text(self) -> str:
        """Why a failed check could not run, in the reader's language."""
        return render(
            self.report.get("problem_code", ""),
            self.report.get("problem_params", {}),
            fallback=self.report.get("problem", ""),
        )


class UploadBatchQuerySet(models.QuerySet["UploadBatch"]):
    def for_user(self, user: User | AnonymousUser) -> UploadBatchQuerySet:
        """A batch is its uploader's alone, administrators' included: it holds files nobody
        has confirmed yet, so no colleague may send (or see) them."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(uploaded_by_id=user.pk)


def send_stalled_before(now: datetime) -> datetime:
    """A batch's send last heard from before this has stalled (RECONCILE_STUCK_MINUTES)."""
    return now - timedelta(minutes=settings.RECONCILE_STUCK_MINUTES)


class UploadBatch(models.Model):
    """Many extracts uploaded at once ("Samlet upload"), staged on local disk until the user
    has checked the preview and confirmed; each file then becomes its own delivery through
    intake. Deleted (files and rows) by the retention run once `expires_at` has passed."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        User, verbose_name=_("uploadet af"), on_delete=models.CASCADE, related_name="batches"
    )
    created_at = models.DateTimeField(_("uploadet"), default=timezone.now)
    expires_at = models.DateTimeField(_("slettes"), db_index=True)
    confirmed_at = models.DateTimeField(_("bekræftet"), null=True, blank=True)
    # A «Send» is one RQ job (`upload_batch_send`); these say whether one is under way. The
    # POST claims the batch by a conditional update that sets the token, so a double click
    # enqueues one job; the job touches `sending_seen_at` after each file and clears both when
    # it is done. A claim not touched for RECONCILE_STUCK_MINUTES belongs to a worker that
    # died: the user may press «Send» again (`UploadBatch.send_stalled`).
    sending_token = models.UUIDField(null=True, blank=True, editable=False)
    sending_seen_at = models.DateTimeField(null=True, blank=True)
    # What the last send made of the files, shown on the progress page once it has finished.
    sent_made = models.PositiveIntegerField(default=0)
    sent_refused = models.PositiveIntegerField(default=0)
    sent_finished_at = models.DateTimeField(null=True, blank=True)

    objects = UploadBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("samlet upload")
        verbose_name_plural = _("samlede uploads")

    def __str__(self) -> str:
        return f"{self.uuid}"

    @property
    def is_sending(self) -> bool:
        """A send has been claimed and has not finished (it may have stalled)."""
        return self.sending_token is not None

    def send_stalled(self, now: datetime) -> bool:
        """A send is claimed but its job has not been heard from for RECONCILE_STUCK_MINUTES:
        its worker was killed (or Redis lost the job), and another «Send» may take over."""
        return self.is_sending and (
            self.sending_seen_at is None or self.sending_seen_at < send_stalled_before(now)
        )

    def send_under_way(self, now: datetime) -> bool:
        """A send holds the batch and is alive: no other send, and no change to its rows."""
        return self.is_sending and not self.send_stalled(now)

    @staticmethod
    def free_q(now: datetime, *, prefix: str = "") -> Q:
        """The batches no live send holds (`send_under_way` false), as a filter: the claim
        of a new send and each change to a row are conditional updates on it. `prefix` is
        the path to the batch from the filtered model ("batch__")."""
        return Q(**{f"{prefix}sending_token__isnull": True}) | Q(
            **{f"{prefix}sending_seen_at__lt": send_stalled_before(now)}
        )


class UploadBatchFile(models.Model):
    """One file of a batch: what detection found (or the user chose), and what became of it.

    `staged_name` is the file's name in the batch's folder while it waits; it is emptied when
    the file has become a delivery (intake took it) or could not be staged at all
    (`refusal` says why)."""

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveIntegerField(_("nr."))
    original_name = models.CharField(_("filnavn"), max_length=255)
    staged_name = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(_("størrelse"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    # What the content (or the name) said; kept to explain a missing route.
    kommune = models.ForeignKey(
        Kommune, verbose_name=_("myndighed"), null=True, blank=True, on_delete=models.SET_NULL
    )
    data_area = models.ForeignKey(
        DataArea, verbose_name=_("dataområde"), null=True, blank=True, on_delete=models.SET_NULL
    )
    period = models.CharField(_("periode"), max_length=7, blank=True)
    route = models.ForeignKey(
        Route, verbose_name=_("rute"), null=True, blank=True, on_delete=models.SET_NULL
    )
    # What detection could not settle, as codes of deliveries.detection.Problem: the texts
    # are made when the preview is shown, in the reader's language.
    problems = models.JSONField(_("problemer"), default=list, blank=True)
    redelivery_confirmed = models.BooleanField(_("genlevering"), default=False)
    dropped = models.BooleanField(_("fjernet"), default=False)
    # Why the file was not staged or did not become a delivery, in the uploader's language.
    refusal = models.TextField(_("afvist"), blank=True)
    delivery = models.ForeignKey(
        Delivery,
        verbose_name=_("leverance"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The send (its claim's token) that last tried the row and refused it: while a send is
    # under way, a refusal from an earlier one is not yet this send's answer.
    send_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["batch", "position"]
        verbose_name = _("fil i samlet upload")
        verbose_name_plural = _("filer i samlet upload")

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_staged(self) -> bool:
        return bool(self.staged_name)

    @property
    def is_pending(self) -> bool:
        """Waiting to be sent: staged, kept, and not yet a delivery."""
        return self.is_staged and not self.dropped and self.delivery_id is None

    @property
    def is_queued(self) -> bool:
        """Waiting for the send under way: pending with a route and a period (what the send
        job takes), and not yet tried by this send."""
        return (
            self.batch.is_sending
            and self.is_pending
            and self.route_id is not None
            and bool(self.period)
            and self.send_token != self.batch.sending_token
        )
