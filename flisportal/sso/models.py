"""Identity providers the portal trusts for logins over OpenID Connect, the link from a
provider's subject to a portal user, and the administrator's mapping from a provider's group
or claim values to a role (docs/operations/sso.md)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from routes.keys import decrypt_private_key
from routes.models import Kommune, Vendor

# `amr` values (RFC 8176) that mean the provider itself asked for more than a password: the
# twofactor middleware then does not ask for a second factor again.
MFA_AMR_VALUES = frozenset({"mfa", "otp", "hwk", "swk", "sms", "pop", "fpt"})


class IdentityProvider(models.Model):
    """One OpenID Connect provider (Entra ID, OS2faktor, a MitID Erhverv broker)."""

    name = models.CharField(
        _("navn"), max_length=100, help_text=_("Vises på knappen «Log ind med …».")
    )
    slug = models.SlugField(
        _("kort navn"),
        unique=True,
        help_text=_("Indgår i redirect-URI'en: /sso/<kort navn>/callback/."),
    )
    issuer = models.CharField(
        _("udsteder (issuer)"),
        max_length=500,
        validators=[URLValidator(schemes=["https", "http"])],
        help_text=_(
            "Udstederens adresse, som i ID-tokenets «iss»; "
            "/.well-known/openid-configuration hentes herfra."
        ),
    )
    client_id = models.CharField(_("klient-id"), max_length=255)
    client_secret_env = models.CharField(
        _("miljøvariabel med klienthemmelighed"),
        max_length=100,
        blank=True,
        help_text=_("Navnet på en miljøvariabel, der holder klienthemmeligheden."),
    )
    client_secret_encrypted = models.BinaryField(
        _("krypteret klienthemmelighed"), blank=True, default=b"", editable=False
    )
    scopes = models.CharField(_("scopes"), max_length=255, default="openid profile email")
    groups_claim = models.CharField(
        _("claim med grupper"),
        max_length=100,
        default="groups",
        help_text=_("Det claim i ID-tokenet, hvis værdier rolle-tilknytningerne matcher."),
    )
    mfa_acr_values = models.CharField(
        _("acr-værdier der betyder to faktorer"),
        max_length=500,
        blank=True,
        help_text=_("Adskilt med mellemrum; tomt: kun «amr» afgør det."),
    )
    password_login_disabled = models.BooleanField(
        _("ingen adgangskode for udbyderens brugere"),
        default=False,
        help_text=_("Brugere knyttet til udbyderen kan ikke logge ind med adgangskode."),
    )
    enabled = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("identitetsudbyder")
        verbose_name_plural = _("identitetsudbydere")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def client_secret(self) -> str:
        """The secret from the named environment variable, else the stored encrypted one."""
        if self.client_secret_env:
            value = os.environ.get(self.client_secret_env)
            if not value:
                raise ImproperlyConfigured(
                    f"Identity provider {self.slug}: the environment variable "
                    f"{self.client_secret_env} is not set."
                )
            return value
        if self.client_secret_encrypted:
            return decrypt_private_key(bytes(self.client_secret_encrypted)).decode()
        return ""

    def mfa_acr_list(self) -> set[str]:
        return set(self.mfa_acr_values.split())

    def provider_did_mfa(self, claims: dict) -> bool:
        """Whether the ID token says the provider asked for a second factor: an `amr` value
        from MFA_AMR_VALUES, or an `acr` the administrator listed for this provider."""
        amr = claims.get("amr") or []
        if isinstance(amr, str):
            amr = [amr]
        if MFA_AMR_VALUES.intersection(amr):
            return True
        return str(claims.get("acr", "")) in self.mfa_acr_list()

    def group_values(self, claims: dict) -> set[str]:
        """The values of the configured groups claim, as strings (a list, or one value)."""
        value = claims.get(self.groups_claim)
        if value is None:
            return set()
        if isinstance(value, list | tuple):
            return {str(item) for item in value}
        return {str(value)}


class SsoLink(models.Model):
    """A portal user is the person a provider names by `sub` under its issuer; e-mail alone is
    never trusted to match (a reused address would hand one person another's account)."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.PROTECT, related_name="links", verbose_name=_("udbyder")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sso_links",
        verbose_name=_("bruger"),
    )
    issuer = models.CharField(_("udsteder"), max_length=500)
    subject = models.CharField(_("subject (sub)"), max_length=255)
    # What the mappings granted at the last login, so that a role they no longer give is taken
    # away again, while a role an administrator gave by hand is left alone.
    granted = models.JSONField(_("tildelt af tilknytninger"), default=dict, blank=True)
    created_at = models.DateTimeField(_("oprettet"), auto_now_add=True)
    last_login_at = models.DateTimeField(_("seneste login"), null=True, blank=True)

    class Meta:
        verbose_name = _("SSO-kobling")
        verbose_name_plural = _("SSO-koblinger")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_link_issuer_subject")
        ]

    def __str__(self) -> str:
        return f"{self.provider} · {self.subject}"


class RoleMapping(models.Model):
    """A provider's group or claim value that gives a role in the portal."""

    class Grant(models.TextChoices):
        ADMINISTRATOR = "administrator", _("Administrator")
        VENDOR = "vendor", _("Leverandørmedarbejder")
        CONSULTANT = "consultant", _("Kommunekonsulent")

    provider = models.ForeignKey(
        IdentityProvider,
        on_delete=models.CASCADE,
        related_name="mappings",
        verbose_name=_("udbyder"),
    )
    value = models.CharField(
        _("gruppe- eller claim-værdi"),
        max_length=255,
        help_text=_("Fx en gruppes objekt-id i Entra ID."),
    )
    role = models.CharField(_("rolle"), max_length=20, choices=Grant.choices)
    vendor = models.ForeignKey(
        Vendor, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("leverandør")
    )
    kommune = models.ForeignKey(
        Kommune, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("kommune")
    )

    class Meta:
        verbose_name = _("rolle-tilknytning")
        verbose_name_plural = _("rolle-tilknytninger")
        ordering = ["provider", "value", "pk"]

    def __str__(self) -> str:
        target = self.vendor or self.kommune or ""
        return f"{self.value} → {self.get_role_display()} {target}".strip()

    def clean(self) -> None:
        if self.role == self.Grant.VENDOR and self.vendor_id is None:
            raise ValidationError({"vendor": _("Vælg den leverandør, gruppen giver adgang til.")})
        if self.role == self.Grant.CONSULTANT and self.kommune_id is None:
            raise ValidationError({"kommune": _("Vælg den kommune, gruppen giver adgang til.")})
