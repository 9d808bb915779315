"""The registry: kommuner, data areas, vendors and their IT-systems, SFTP users and keys,
Serviceplatform endpoints, databehandleraftaler and InfRef routes per myndighed.

Scoping lives in the querysets' `for_user()` methods and nowhere else: views, downloads and
exports all start from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Self, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flisportal.lib.periods import date_text, local_date, period_of, period_shift
from flisportal.lib.roles import Role, user_role
from routes.hostkeys import validate_host_key
from routes.validators import (
    AUTHORITY_PREFIX,
    authority_urn,
    validate_cvr,
    validate_kommune_code,
    validate_lower_uuid,
    validate_public_key,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


_M = TypeVar("_M", bound=models.Model)


class Region(models.TextChoices):
    HOVEDSTADEN = "Region Hovedstaden", _("Region Hovedstaden")
    SJAELLAND = "Region Sjælland", _("Region Sjælland")
    SYDDANMARK = "Region Syddanmark", _("Region Syddanmark")
    MIDTJYLLAND = "Region Midtjylland", _("Region Midtjylland")
    NORDJYLLAND = "Region Nordjylland", _("Region Nordjylland")


class ScopedQuerySet(models.QuerySet[_M]):
    """The one place rows are scoped by user: `Model.objects.for_user(user)`.

    Administrators see every row and a user without a role sees none; each model says what a
    vendor's staff and a kommune's consultants may see by overriding the two hooks below,
    which see nothing unless a model grants it.
    """

    def for_user(self, user: User | AnonymousUser) -> Self:
        role = user_role(user)
        if role == Role.ADMINISTRATOR:
            return self.all()
        if role == Role.VENDOR:
            assert isinstance(user, User) and user.vendor_id is not None
            return self.for_vendor(user.vendor_id)
        if role == Role.CONSULTANT:
            assert isinstance(user, User)
            return self.for_consultant(user)
        return self.none()

    def for_vendor(self, vendor_id: int) -> Self:
        return self.none()

    def for_consultant(self, user: User) -> Self:
        return self.none()


class KommuneQuerySet(ScopedQuerySet["Kommune"]):
    """The kommuner a user works with."""

    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(
            Q(agreements__vendor_id=vendor_id) | Q(routes__sender_system__vendor_id=vendor_id)
        ).distinct()

    def for_consultant(self, user: User) -> Self:
        return self.filter(consultants=user)


class Kommune(models.Model):
    code = models.CharField(
        _("kommunekode"), max_length=3, unique=True, validators=[validate_kommune_code]
    )
    cvr = models.CharField(_("CVR-nummer"), max_length=8, unique=True, validators=[validate_cvr])
    name = models.CharField(_("navn"), max_length=100)
    region = models.CharField(_("region"), max_length=30, choices=Region.choices)

    objects = KommuneQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("kommune")
        verbose_name_plural = _("kommuner")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def short_name(self) -> str:
        """The name without " Kommune", where space is short (the coverage overview):
        "Aarhus", "Bornholms Regionskommune"."""
        return self.name.removesuffix(" Kommune")

    @property
    def authority(self) -> str:
        """The myndighed as the Serviceplatform writes it: urn:oio:cvr-nr:<CVR>."""
        return authority_urn(self.cvr)


class DataArea(models.Model):
    """One of SF1630's five data areas, with the services it is sent and fetched under."""

    code = models.SlugField(_("kode"), max_length=40, unique=True)
    name = models.CharField(_("navn"), max_length=100)
    send_service = models.CharField(_("afleveringsservice"), max_length=100)
    fetch_service = models.CharField(_("hentservice"), max_length=100)
    # SF1630's InfRef values are not public: editable, defaulting to the send-service name.
    infref = models.CharField(_("InfRef"), max_length=255, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("rækkefølge"), default=0)
    # FLIS collects monthly: the extract for a month is due on this day of the following month
    # (Danmarks Statistik wants Voksne og Handicappede by the 14th). A day past the month's end
    # means its last day (31 → 28/29 February).
    due_day = models.PositiveSmallIntegerField(
        _("frist (dag i den følgende måned)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
    )
    # Days after the due date before a missing extract counts as overdue and is alerted.
    grace_days = models.PositiveSmallIntegerField(
        _("henstandsdage"), default=0, validators=[MaxValueValidator(60)]
    )
    # Extracts may hold CPR numbers: the stored file is deleted this many days after the
    # recipient fetched it (the delivery, its report summary and receipts are kept).
    retention_days = models.PositiveSmallIntegerField(
        _("opbevaring efter hentning (dage)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("dataområde")
        verbose_name_plural = _("dataområder")

    def __str__(self) -> str:
        return self.name


class VendorQuerySet(ScopedQuerySet["Vendor"]):
    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(pk=vendor_id)

    def for_consultant(self, user: User) -> Self:
        kommuner = user.kommuner.all()
        return self.filter(
            Q(agreements__kommune__in=kommuner) | Q(it_systems__sent_routes__kommune__in=kommuner)
        ).distinct()


class Vendor(models.Model):
    name = models.CharField(_("navn"), max_length=200)
    cvr = models.CharField(_("CVR-nummer"), max_length=8, unique=True, validators=[validate_cvr])
    contact_name = models.CharField(_("kontaktperson"), max_length=200, blank=True)
    contact_email = models.EmailField(_("kontakt-e-mail"), blank=True)
    contact_phone = models.CharField(_("kontakttelefon"), max_length=40, blank=True)

    objects = VendorQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("leverandør")
        verbose_name_plural = _("leverandører")

    def __str__(self) -> str:
        return self.name


# django-otp ships no types, so django-stubs cannot follow the recovery codes' user field
# (flisportal/twofactor/models.py) back to this model.
class User(AbstractUser):  # type: ignore[django-manager-missing]
    """A person. Vendor staff belong to one vendor; consultants to one or more kommuner;
    administrators are `is_staff`."""

    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("leverandør"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    kommuner = models.ManyToManyField(
        Kommune, verbose_name=_("kommuner"), blank=True, related_name="consultants"
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("bruger")  # type: ignore[assignment]
        verbose_name_plural = _("brugere")  # type: ignore[assignment]

    @property
    def role(self) -> Role:
        return user_role(self)


class ITSystemQuerySet(ScopedQuerySet["ITSystem"]):
    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        kommuner = user.kommuner.all()
        return self.filter(
            Q(kommune__in=kommuner)
            | Q(sent_routes__kommune__in=kommuner)
            | Q(received_routes__kommune__in=kommuner)
        ).distinct()


class ITSystem(models.Model):
    """An IT-system as registered in KOMBIT's Administrationsmodul: a vendor's fagsystem
    (sender), FLIS or a kommune's own LIS (recipients)."""

    name = models.CharField(_("navn"), max_length=200)
    uuid = models.CharField(
        _("UUID i Administrationsmodulet"),
        max_length=36,
        unique=True,
        validators=[validate_lower_uuid],
    )
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("leverandør"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="it_systems",
    )
    kommune = models.ForeignKey(
        Kommune,
        verbose_name=_("kommune (for en kommunes eget LIS)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="it_systems",
    )
    is_sender = models.BooleanField(_("afsender"), default=False)
    is_recipient = models.BooleanField(_("modtager"), default=False)

    objects = ITSystemQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("it-system")
        verbose_name_plural = _("it-systemer")
        constraints = [
            models.CheckConstraint(
                condition=Q(is_sender=True) | Q(is_recipient=True),
                name="itsystem_sender_or_recipient",
                violation_error_message=_("Et it-system skal være afsender, modtager eller begge."),
            )
        ]

    def __str__(self) -> str:
        return self.name


# The upper bound of Endpoint.parallel_connections: past a few, the parts only compete for the
# same CPU (measured: docs/development/benchmarks.md#push).
MAX_PARALLEL_CONNECTIONS = 8
# KOMBIT's Serviceplatform hosts (sftp.serviceplatformen.dk, sftpexttest.serviceplatformen.dk).
KOMBIT_DOMAIN = "serviceplatformen.dk"


def is_kombit_host(host: str) -> bool:
    """True for a host of KOMBIT's Serviceplatform."""
    name = host.strip().rstrip(".").lower()
    return name == KOMBIT_DOMAIN or name.endswith("." + KOMBIT_DOMAIN)


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def unpinned_in_use(self) -> Self:
        """Endpoints that established routes use but that have no pinned host key: the portal
        refuses to connect to them (system check flisportal.E010, the Driftsstatus page). The
        stand-in registers its own key when it starts, so it is never one of them."""
        return self.filter(
            is_standin=False, host_key__regex=r"^\s*$", routes__status=RouteStatus.ESTABLISHED
        ).distinct()


class Endpoint(models.Model):
    """A Serviceplatform SFTP environment with its pinned host key."""

    slug = models.SlugField(_("kode"), max_length=40, unique=True)
    name = models.CharField(_("navn"), max_length=100)
    host = models.CharField(_("vært"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=22)
    # One or more OpenSSH known_hosts lines, or a SHA256 fingerprint. An empty value means
    # the portal refuses to connect (system check flisportal.E010).
    host_key = models.TextField(
        _("fastlåst værtsnøgle"),
        blank=True,
        validators=[validate_host_key],
        help_text=_(
            "Én eller flere known_hosts-linjer (fx 'sftp.serviceplatformen.dk ssh-rsa AAAA…') "
            "eller fingeraftryk 'SHA256:…'."
        ),
    )
    # ~255 KiB SFTP writes roughly double throughput but only some servers accept them.
    large_writes = models.BooleanField(_("store SFTP-skrivninger"), default=False)
    # One file over several connections at once is faster where the client, not the network,
    # is the limit (docs/design/sftp-client.md), but it is several logins and writes at offsets
    # into one file, which a server has to allow. KOMBIT has not said that the Serviceplatform
    # does, so its endpoints stay at 1 (clean() holds that) until KOMBIT says so in writing.
    parallel_connections = models.PositiveSmallIntegerField(
        _("samtidige forbindelser pr. fil"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PARALLEL_CONNECTIONS)],
        help_text=_(
            "Hvor mange SFTP-forbindelser en stor fil sendes over på én gang, hver med sin del "
            "af filen. 1 (standard) er én forbindelse. Sæt kun mere end 1, når serverens ejer "
            "har sagt ja til det: KOMBIT har ikke givet lov på Serviceplatformen, så dens "
            "endpoints skal stå på 1."
        ),
    )
    is_standin = models.BooleanField(_("lokal stand-in"), default=False)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")

    def __str__(self) -> str:
        return self.name

    @property
    def is_production(self) -> bool:
        """Whether routes here carry real personal data (settings.PRODUCTION_ENDPOINTS): the one
        answer to "is this production?" for the databehandleraftale rule. A portal installation
        serves exttest and production side by side, so it is the route's endpoint that decides,
        not DEBUG or the host the portal runs on."""
        return self.slug in settings.PRODUCTION_ENDPOINTS

    def clean(self) -> None:
        super().clean()
        if self.parallel_connections > 1 and is_kombit_host(self.host):
            raise ValidationError(
                {
                    "parallel_connections": _(
                        "KOMBIT har ikke givet lov til at sende én fil over flere forbindelser "
                        "til Serviceplatformen. Sæt feltet til 1; det kan først hæves, når "
                        "KOMBIT skriftligt har sagt ja."
                    )
                }
            )


class SftpUserQuerySet(ScopedQuerySet["SftpUser"]):
    """Keys are the vendor's business: consultants see none."""

    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(it_system__vendor_id=vendor_id)


class SftpUser(models.Model):
    """The SFTP user one IT-system logs in as on one endpoint."""

    it_system = models.ForeignKey(
        ITSystem, verbose_name=_("it-system"), on_delete=models.PROTECT, related_name="sftp_users"
    )
    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("endpoint"), on_delete=models.PROTECT, related_name="sftp_users"
    )
    username = models.CharField(_("brugernavn"), max_length=255)

    objects = SftpUserQuerySet.as_manager()

    class Meta:
        ordering = ["endpoint", "username"]
        verbose_name = _("SFTP-bruger")
        verbose_name_plural = _("SFTP-brugere")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "username"], name="sftpuser_unique_name"),
            models.UniqueConstraint(
                fields=["endpoint", "it_system"], name="sftpuser_one_per_system_and_endpoint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.endpoint.slug})"


class KeyState(models.TextChoices):
    # The one key push and fetch log in with.
    ACTIVE = "active", _("aktiv")
    # A rotated-in key that KOMBIT may not know yet: the platform refuses a login with a key
    # that is not registered in the Administrationsmodul, so the portal keeps logging in with
    # the active key until someone confirms the new one is registered.
    PENDING = "pending", _("afventer registrering")
    RETIRED = "retired", _("udfaset")


class KeyOrigin(models.TextChoices):
    GENERATED = "generated", _("dannet i portalen")
    UPLOADED = "uploaded", _("uploadet af administrator")


# A key this close to its expiry is flagged on the vendor overview.
KEY_EXPIRY_WARNING = timedelta(days=30)


class SftpKey(models.Model):
    """One SSH key pair of an SFTP user. The private half is stored only as a Fernet token."""

    sftp_user = models.ForeignKey(
        SftpUser, verbose_name=_("SFTP-bruger"), on_delete=models.CASCADE, related_name="keys"
    )
    algorithm = models.CharField(_("algoritme"), max_length=20)
    public_key = models.TextField(_("offentlig nøgle (OpenSSH)"), validators=[validate_public_key])
    fingerprint = models.CharField(_("fingeraftryk (SHA256)"), max_length=100)
    # Fernet token of the OpenSSH private key; never shown after creation, erased (empty) when
    # the key is retired.
    encrypted_private_key = models.BinaryField(_("krypteret privat nøgle"), editable=False)
    state = models.CharField(
        _("tilstand"), max_length=10, choices=KeyState.choices, default=KeyState.ACTIVE
    )
    origin = models.CharField(
        _("oprindelse"), max_length=10, choices=KeyOrigin.choices, default=KeyOrigin.GENERATED
    )
    created_by = models.ForeignKey(
        User,
        verbose_name=_("oprettet af"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("oprettet"), default=timezone.now)
    expires_at = models.DateTimeField(_("udløber"), null=True, blank=True)
    retired_at = models.DateTimeField(_("udfaset"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("SSH-nøgle")
        verbose_name_plural = _("SSH-nøgler")
        constraints = [
            models.UniqueConstraint(
                fields=["sftp_user"],
                condition=Q(state="active"),
                name="sftpkey_one_active_per_user",
            ),
            # One rotation at a time: a second pending key would leave it open which one the
            # confirmation means.
            models.UniqueConstraint(
                fields=["sftp_user"],
                condition=Q(state="pending"),
                name="sftpkey_one_pending_per_user",
            ),
        ]

    def __str__(self) -> str:
        return self.fingerprint

    @property
    def holds_private_key(self) -> bool:
        """False once retired: the private half is erased, the public half kept for the record."""
        return bool(self.encrypted_private_key)

    def retire(self, now: datetime | None = None) -> None:
        """Retire the key and erase its private half (not saved here).

        A key that no longer logs in anywhere has no reason to exist in a readable form: a
        leaked database or an old Fernet key must not hand out a key KOMBIT may still
        accept. The public key and fingerprint stay, so the history says which key it was."""
        self.state = KeyState.RETIRED
        self.retired_at = now or timezone.now()
        self.encrypted_private_key = b""

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def expires_soon(self, now: datetime | None = None) -> bool:
        """Expired, or expiring within KEY_EXPIRY_WARNING: time to rotate."""
        return (
            self.expires_at is not None
            and self.expires_at <= (now or timezone.now()) + KEY_EXPIRY_WARNING
        )


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("udkast")
    SIGNED = "signed", _("underskrevet")
    TERMINATED = "terminated", _("opsagt")


class AgreementQuerySet(ScopedQuerySet["ProcessingAgreement"]):
    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        return self.filter(kommune__consultants=user)


class ProcessingAgreement(models.Model):
    """Databehandleraftale between a kommune and a vendor."""

    vendor = models.ForeignKey(
        Vendor, verbose_name=_("leverandør"), on_delete=models.PROTECT, related_name="agreements"
    )
    kommune = models.ForeignKey(
        Kommune, verbose_name=_("kommune"), on_delete=models.PROTECT, related_name="agreements"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    signed_on = models.DateField(_("underskrevet den"), null=True, blank=True)
    ends_on = models.DateField(_("ophører den"), null=True, blank=True)
    document_reference = models.CharField(_("dokumentreference"), max_length=255, blank=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["kommune", "vendor"]
        verbose_name = _("databehandleraftale")
        verbose_name_plural = _("databehandleraftaler")
        constraints = [
            models.UniqueConstraint(fields=["vendor", "kommune"], name="agreement_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.vendor} – {self.kommune}"


class RouteStatus(models.TextChoices):
    REQUESTED = "requested", _("anmodet")
    ORDERED = "ordered", _("bestilt")
    ESTABLISHED = "established", _("etableret")
    RETIRED = "retired", _("nedlagt")
    REJECTED = "rejected", _("afvist")


# Which order states may follow which (KOMBIT's Digitaliseringskatalog lifecycle).
ROUTE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RouteStatus.REQUESTED: (RouteStatus.ORDERED, RouteStatus.REJECTED),
    RouteStatus.ORDERED: (RouteStatus.ESTABLISHED, RouteStatus.REJECTED),
    RouteStatus.ESTABLISHED: (RouteStatus.RETIRED,),
    RouteStatus.RETIRED: (),
    RouteStatus.REJECTED: (),
}


@dataclass(frozen=True)
class OrderedWait:
    """How long a route has waited in `ordered`, in whole calendar days in Denmark (ordered
    yesterday evening is one day, whatever the hour)."""

    since_date: date
    days: int

    @property
    def too_long(self) -> bool:
        """Waited as long as administrators are reminded after (ORDERED_REMINDER_DAYS)."""
        return self.days >= settings.ORDERED_REMINDER_DAYS


class RouteQuerySet(ScopedQuerySet["Route"]):
    def for_vendor(self, vendor_id: int) -> Self:
        return self.filter(sender_system__vendor_id=vendor_id)

    def for_consultant(self, user: User) -> Self:
        return self.filter(kommune__consultants=user)

    def established(self) -> RouteQuerySet:
        return self.filter(status=RouteStatus.ESTABLISHED)

    def with_ordered_since(self) -> Self:
        """Each route with `ordered_since`: when its latest move to `ordered` was recorded (the
        RouteEvent), in the same query as the routes, so a list of any length stays one query.

        The latest, not the first: a route that is ordered again counts from then. Only read
        for routes that are `ordered` now (`Route.ordered_wait`)."""
        ordered_events = RouteEvent.objects.filter(
            route=OuterRef("pk"), new_status=RouteStatus.ORDERED
        ).order_by("-at", "-pk")
        return self.annotate(ordered_since=Subquery(ordered_events.values("at")[:1]))

    def for_routing(
        self,
        *,
        endpoint_id: int,
        data_area: DataArea,
        sender_system_uuid: str,
        sender_authority: str,
        recipient_authority: str,
    ) -> RouteQuerySet:
        """The established routes on an endpoint that a file's SFTPDynamicRoutingInfo names:
        the InfRef's data area, the sender IT-system and the sender and recipient authority
        (as written on the wire, `urn:oio:cvr-nr:<CVR>`; a bare CVR works too).

        The Serviceplatform routes a trigger by this key, and a recipient checks what it
        fetched against the same key (DESIGN §3), so both ask here."""
        return self.established().filter(
            endpoint_id=endpoint_id,
            data_area=data_area,
            sender_system__uuid=sender_system_uuid,
            sender_authority=sender_authority.removeprefix(AUTHORITY_PREFIX),
            recipient_authority=recipient_authority.removeprefix(AUTHORITY_PREFIX),
        )


class Route(models.Model):
    """An InfRef route for one myndighed: what a sender system may deliver, for whom, to which
    recipient systems, on which endpoint."""

    endpoint = models.ForeignKey(
        Endpoint, verbose_name=_("endpoint"), on_delete=models.PROTECT, related_name="routes"
    )
    data_area = models.ForeignKey(
        DataArea, verbose_name=_("dataområde"), on_delete=models.PROTECT, related_name="routes"
    )
    kommune = models.ForeignKey(
        Kommune, verbose_name=_("myndighed"), on_delete=models.PROTECT, related_name="routes"
    )
    sender_system = models.ForeignKey(
        ITSystem,
        verbose_name=_("afsendersystem"),
        on_delete=models.PROTECT,
        related_name="sent_routes",
    )
    sender_authority = models.CharField(
        _("afsendermyndighed (CVR)"), max_length=8, validators=[validate_cvr]
    )
    recipient_authority = models.CharField(
        _("modtagermyndighed (CVR)"), max_length=8, validators=[validate_cvr]
    )
    recipient_systems = models.ManyToManyField(
        ITSystem, verbose_name=_("modtagersystemer"), related_name="received_routes"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=RouteStatus.choices, default=RouteStatus.REQUESTED
    )
    order_reference = models.CharField(
        _("bestillingsreference (Digitaliseringskataloget)"), max_length=100, blank=True
    )
    ordered_on = models.DateField(_("bestilt den"), null=True, blank=True)
    established_on = models.DateField(_("etableret den"), null=True, blank=True)
    retired_on = models.DateField(_("nedlagt den"), null=True, blank=True)
    # Overrides of the data area's due day and grace period for this route only (an agreement
    # with one kommune); empty means the data area's.
    due_day_override = models.PositiveSmallIntegerField(
        _("egen frist (dag i den følgende måned)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
    )
    grace_days_override = models.PositiveSmallIntegerField(
        _("egne henstandsdage"), null=True, blank=True, validators=[MaxValueValidator(60)]
    )
    created_at = models.DateTimeField(_("oprettet"), auto_now_add=True)
    updated_at = models.DateTimeField(_("ændret"), auto_now=True)

    objects = RouteQuerySet.as_manager()

    class Meta:
        ordering = ["kommune", "data_area", "endpoint"]
        verbose_name = _("rute")
        verbose_name_plural = _("ruter")
        constraints = [
            # The platform routes on this key: two established routes for it would be ambiguous.
            models.UniqueConstraint(
                fields=[
                    "endpoint",
                    "data_area",
                    "sender_system",
                    "sender_authority",
                    "recipient_authority",
                ],
                condition=Q(status="established"),
                name="route_one_established_per_key",
                violation_error_message=_(
                    "Der er allerede en etableret rute for dette endpoint, InfRef, "
                    "afsendersystem og disse myndigheder."
                ),
            )
        ]
        indexes = [models.Index(fields=["status", "data_area"], name="route_status_area")]

    def __str__(self) -> str:
        return f"{self.data_area} · {self.kommune} · {self.sender_system}"

    def get_absolute_url(self) -> str:
        return reverse("routes:route_detail", args=[self.pk])

    @property
    def infref(self) -> str:
        return self.data_area.infref

    @property
    def sender_authority_urn(self) -> str:
        return authority_urn(self.sender_authority)

    @property
    def recipient_authority_urn(self) -> str:
        return authority_urn(self.recipient_authority)

    @property
    def due_day(self) -> int:
        return self.due_day_override or self.data_area.due_day

    @property
    def grace_days(self) -> int:
        if self.grace_days_override is not None:
            return self.grace_days_override
        return self.data_area.grace_days

    def can_move_to(self, status: str) -> bool:
        return status in ROUTE_TRANSITIONS[self.status]

    def deliverable_periods(self, *, now: datetime) -> tuple[str | None, str]:
        """The first and the last period an extract may be uploaded for on this route.

        The last is the month running now: its extract is owed from now on (the expected
        deliveries are made for it and the month before), and a later month has no data yet.
        The first is the month before the route was established, the first month whose extract
        is collected over it (established in November, October's extract comes in November).
        A route with no establishment date recorded has no known first period."""
        last = period_of(now)
        if self.established_on is None:
            return None, last
        first = period_shift(f"{self.established_on:%Y-%m}", -1)
        return first, last

    def period_refusal(self, period: str, *, now: datetime) -> str | None:
        """Why an extract for `period` ('YYYY-MM') cannot be uploaded on this route, in Danish
        with the periods it can; None when it can."""
        first, last = self.deliverable_periods(now=now)
        if period > last:
            return gettext(
                "Perioden %(period)s er ikke begyndt endnu, så der kan ikke være data for den. "
                "Vælg en periode til og med %(last)s."
            ) % {"period": period, "last": last}
        if first is not None and period < first:
            return gettext(
                "Perioden %(period)s ligger før ruten blev etableret (%(established)s). Vælg en "
                "periode fra %(first)s til og med %(last)s."
            ) % {
                "period": period,
                "established": date_text(self.established_on) if self.established_on else "?",
                "first": first,
                "last": last,
            }
        return None

    def ordered_wait(self, now: datetime | None = None) -> OrderedWait | None:
        """Since when an `ordered` route has waited to be established, and for how many
        calendar days in Denmark; None for a route in any other state, or one read without
        `RouteQuerySet.with_ordered_since()` (or ordered before the history was kept).

        From the day of the history row that ordered it, or from the order date recorded with
        that step (`ordered_on`) when it is earlier: an administrator who records on the 3rd an
        order placed with KOMBIT on the 1st says it has waited since the 1st, and the route's
        page shows both dates, which must agree."""
        since = getattr(self, "ordered_since", None)
        if self.status != RouteStatus.ORDERED or since is None:
            return None
        since_date = local_date(since)
        if self.ordered_on is not None and self.ordered_on < since_date:
            since_date = self.ordered_on
        days = (local_date(now or timezone.now()) - since_date).days
        return OrderedWait(since_date=since_date, days=max(days, 0))

    @property
    def waiting(self) -> OrderedWait | None:
        """`ordered_wait()` now, for templates."""
        return self.ordered_wait()

    def next_statuses(self) -> list[RouteStatus]:
        """The states this route may move to next, in lifecycle order."""
        return [RouteStatus(s) for s in ROUTE_TRANSITIONS[self.status]]


class RouteEvent(models.Model):
    """One change in a route's order lifecycle: who, when and why."""

    route = models.ForeignKey(
        Route, verbose_name=_("rute"), on_delete=models.CASCADE, related_name="events"
    )
    old_status = models.CharField(
        _("fra status"), max_length=12, choices=RouteStatus.choices, blank=True
    )
    new_status = models.CharField(_("til status"), max_length=12, choices=RouteStatus.choices)
    actor = models.ForeignKey(
        User,
        verbose_name=_("udført af"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    # Why an administrator established a production route without a signed
    # databehandleraftale; empty when the rule was not overridden.
    agreement_override = models.TextField(
        _("begrundelse for manglende databehandleraftale"), blank=True
    )
    at = models.DateTimeField(_("tidspunkt"), default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("rutehændelse")
        verbose_name_plural = _("rutehændelser")

    def __str__(self) -> str:
        return f"{self.route_id}: {self.old_status} → {self.new_status}"
