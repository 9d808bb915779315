"""The rows of the second factor, the password history and the session list.

TOTP devices are django-otp's own (`otp_totp.TOTPDevice`). Recovery codes are a django-otp
device of ours, because django-otp's static tokens are stored in clear text: ours keep only a
SHA-256 of each code (the codes are random with 50 bits each, so an unsalted fast hash cannot be
reversed by guessing, and checking one costs nothing).
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin

# Ten codes of ten characters from an alphabet without look-alikes (no 0/O, 1/I/L).
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_recovery_code(typed: str) -> str:
    """What a person types as a recovery code, as it was generated: spaces and dashes dropped,
    upper case (codes are shown as `ABCDE-FGHJK`)."""
    return "".join(typed.split()).replace("-", "").upper()


class RecoveryCodeDevice(ThrottlingMixin, Device):
    """A user's set of single-use recovery codes, as a django-otp device."""

    # django-otp's own field, with a related name the type checker can follow.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="recovery_code_devices",
        help_text=_("Den bruger, koderne hører til."),
    )

    class Meta:
        verbose_name = _("sæt af gendannelseskoder")
        verbose_name_plural = _("sæt af gendannelseskoder")

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def issue_codes(self) -> list[str]:
        """Replaces the set with new codes and returns them: the only time they exist in clear."""
        codes = [
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
            for _ in range(RECOVERY_CODE_COUNT)
        ]
        with transaction.atomic():
            self.codes.all().delete()
            RecoveryCode.objects.bulk_create(
                RecoveryCode(device=self, code_hash=digest(code)) for code in codes
            )
        return [f"{code[:5]}-{code[5:]}" for code in codes]

    def verify_token(self, token: str) -> bool:
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        # Deleting the row is the use: of two requests with the same code only one deletes it.
        used = self.codes.filter(code_hash=digest(normalise_recovery_code(token))).delete()[0]
        if used:
            self.throttle_reset(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False

    def remaining(self) -> int:
        return self.codes.count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "code_hash"], name="recovery_code_once")
        ]

    def __str__(self) -> str:
        return f"{self.device} · …{self.code_hash[-6:]}"


class SecurityKey(models.Model):
    """A WebAuthn credential (security key or passkey) registered by a user (py_webauthn).

    Only public material is stored: the credential's id, its public key and the signature
    counter, which a cloned key would set back."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security_keys"
    )
    name = models.CharField(max_length=64)
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "pk"]
        verbose_name = _("sikkerhedsnøgle")
        verbose_name_plural = _("sikkerhedsnøgler")

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class PasswordHistory(models.Model):
    """A password hash a user had, so an administrator cannot go back to one of the last
    FLISPORTAL_PASSWORD_HISTORY (flisportal/twofactor/passwords.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password = models.CharField(max_length=128)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = _("tidligere adgangskode")
        verbose_name_plural = _("tidligere adgangskoder")

    def __str__(self) -> str:
        return f"{self.user} · {self.created:%Y-%m-%d}"


class UserSession(models.Model):
    """One logged-in session, so a person can see and end theirs. Django's database sessions
    cannot be looked up by user; this table can. It keeps a hash of the session key, never the
    key itself: reading this table does not let anyone take over a session."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions"
    )
    created = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=45, blank=True)

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = _("session")
        verbose_name_plural = _("sessioner")

    def __str__(self) -> str:
        return f"{self.user} · {self.address} · {self.user_agent[:40]}"


class RoleRequirement(models.Model):
    """An administrator's choice, in the admin, to require a second factor of everyone in a
    role. Administrators always need one; FLISPORTAL_TWO_FACTOR_ROLES is the operator's floor,
    which a row here cannot lower (flisportal/twofactor/policy.py `required_roles`)."""

    class RequirableRole(models.TextChoices):
        # The roles a requirement can be set for: administrators need no row.
        VENDOR = "vendor", _("Leverandør")
        CONSULTANT = "consultant", _("Kommunekonsulent")

    role = models.CharField(_("rolle"), max_length=20, choices=RequirableRole.choices, unique=True)
    required = models.BooleanField(
        _("kræv to-faktor-login"),
        default=False,
        help_text=_(
            "Alle med rollen skal bruge en godkendelsesapp eller sikkerhedsnøgle. Den, der er "
            "logget ind uden, bliver bedt om at oprette en ved næste login."
        ),
    )
    changed_at = models.DateTimeField(_("ændret"), auto_now=True)

    class Meta:
        verbose_name = _("to-faktor-krav for en rolle")
        verbose_name_plural = _("to-faktor-krav pr. rolle")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {'kræves' if self.required else 'frivilligt'}"
