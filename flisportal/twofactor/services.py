"""Enrolling, checking and removing second factors; each step is audit-logged.

The views call these with the user and what they typed; the session marks and the lockout
are the views' part (they need the request)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.audit.services import audit_record
from flisportal.twofactor.models import RecoveryCodeDevice, SecurityKey
from flisportal.twofactor.policy import SOURCE_RECOVERY, SOURCE_TOTP, has_second_factor

AUTHENTICATOR_NAME = "Godkendelsesapp"


def totp_enrolment_start(*, user: Any) -> TOTPDevice:
    """The unconfirmed authenticator a user is setting up: the same one until confirmed, so
    reloading the page does not change the QR code they may already have scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def totp_enrolment_confirm(*, user: Any, token: str) -> list[str] | None:
    """Confirms the authenticator being set up with a code from it; returns the new recovery
    codes (the only time they are shown), or None if the code was wrong."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None or not device.verify_token(token):
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _issue_recovery_codes(user)
        audit_record(
            action="twofactor.enrolled",
            obj=user,
            actor=user,
            after={"device": device.name, "kind": SOURCE_TOTP},
        )
    return codes


def recovery_codes_issue(*, user: Any) -> list[str] | None:
    """Recovery codes for a user's first second factor; None when they have codes already (a
    second authenticator does not replace them)."""
    if RecoveryCodeDevice.objects.filter(user=user).exists():
        return None
    return _issue_recovery_codes(user)


def _issue_recovery_codes(user: Any) -> list[str]:
    device, _created = RecoveryCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Gendannelseskoder", "confirmed": True}
    )
    return device.issue_codes()


def recovery_codes_renew(*, user: Any) -> list[str]:
    """New recovery codes; the old ones stop working."""
    with transaction.atomic():
        codes = _issue_recovery_codes(user)
        audit_record(action="twofactor.recovery_codes_renewed", obj=user, actor=user)
    return codes


def second_factor_check(*, user: Any, token: str, address: str) -> str | None:
    """How the typed code proved the second factor ("totp" or "recovery"), or None. A
    recovery code is used up; its use is audit-logged with the codes left."""
    token = token.strip()
    # A code of digits is the authenticator's; anything else can only be a recovery code. Trying
    # both would count one mistyped code as a failure on both devices' throttles.
    if token.isdigit():
        return _totp_check(user, token, address)
    return _recovery_check(user, token, address)


def _totp_check(user: Any, token: str, address: str) -> str | None:
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(token):
            audit_record(
                action="twofactor.verified",
                obj=user,
                actor=user,
                after={"kind": SOURCE_TOTP, "source": address},
            )
            return SOURCE_TOTP
    return None


def _recovery_check(user: Any, token: str, address: str) -> str | None:
    recovery = RecoveryCodeDevice.objects.filter(user=user).first()
    if recovery is not None and recovery.verify_token(token):
        audit_record(
            action="twofactor.recovery_code_used",
            obj=user,
            actor=user,
            after={"kind": SOURCE_RECOVERY, "codes_left": recovery.remaining(), "source": address},
        )
        return SOURCE_RECOVERY
    return None


def second_factor_failed(*, user: Any, kind: str, address: str) -> None:
    """Records a wrong code (never the code itself: it may be one digit off a good one)."""
    audit_record(
        action="twofactor.failed", obj=user, actor=user, after={"kind": kind, "source": address}
    )


def authenticator_remove(*, user: Any, device_id: int, actor: Any) -> bool:
    """Removes one of the user's authenticators; with the last one go the recovery codes (they
    lead back to an authenticator that no longer exists). False if there was no such device."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=True).first()
        if device is None:
            return False
        device.delete()
        if not has_second_factor(user):
            RecoveryCodeDevice.objects.filter(user=user).delete()
        audit_record(
            action="twofactor.device_removed",
            obj=user,
            actor=actor,
            before={"device": device.name, "kind": SOURCE_TOTP},
        )
    return True


def second_factor_reset(*, user: Any, actor: Any) -> int:
    """An administrator's removal of every authenticator and recovery code of a user who lost
    their phone and their codes: they enrol again at their next login. Returns the number of
    authenticators removed."""
    with transaction.atomic():
        removed, _details = TOTPDevice.objects.filter(user=user).delete()
        keys, _details = SecurityKey.objects.filter(user=user).delete()
        removed += keys
        RecoveryCodeDevice.objects.filter(user=user).delete()
        audit_record(
            action="twofactor.device_removed",
            obj=user,
            actor=actor,
            before={"devices": removed, "kind": SOURCE_TOTP},
            after={"all": True},
        )
    return removed
