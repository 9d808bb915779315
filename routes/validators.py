"""Validators for the identifiers KOMBIT's registry uses. Each message names what is wrong."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from routes.keys import parse_public_key

_CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AUTHORITY_PREFIX = "urn:oio:cvr-nr:"


def validate_cvr(value: str) -> None:
    """A CVR number is 8 digits whose weighted sum is divisible by 11 (CVR's own check)."""
    if not re.fullmatch(r"\d{8}", value or ""):
        raise ValidationError(
            _("CVR-nummeret skal være præcis 8 cifre (fik %(value)s)."),
            code="cvr_format",
            params={"value": value},
        )
    if sum(int(d) * w for d, w in zip(value, _CVR_WEIGHTS, strict=True)) % 11:
        raise ValidationError(
            _("%(value)s er ikke et gyldigt CVR-nummer (kontrolcifferet passer ikke)."),
            code="cvr_checksum",
            params={"value": value},
        )


def normalize_kommune_code(value: str | int) -> str:
    """'0101', '101' and 101 are the same kommune: the canonical form is three digits."""
    text = str(value).strip()
    if re.fullmatch(r"0?\d{3}", text):
        return text[-3:]
    raise ValidationError(
        _("Kommunekoden skal være tre cifre, evt. med et foranstillet 0 (fx 101 eller 0101)."),
        code="kommune_code",
    )


def validate_kommune_code(value: str) -> None:
    if not re.fullmatch(r"\d{3}", value or ""):
        raise ValidationError(
            _("Kommunekoden skal være tre cifre (fik %(value)s)."),
            code="kommune_code",
            params={"value": value},
        )


def validate_lower_uuid(value: str) -> None:
    """KOMBIT writes IT-system UUIDs in lower case; the platform compares them as text."""
    if not _UUID_RE.fullmatch(value or ""):
        hint = _(" Brug små bogstaver.") if _UUID_RE.fullmatch((value or "").lower()) else ""
        raise ValidationError(
            _("%(value)s er ikke et UUID på formen xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.%(hint)s"),
            code="uuid",
            params={"value": value, "hint": hint},
        )


def validate_public_key(value: str) -> None:
    """An OpenSSH public key line of a type the Serviceplatform takes (RSA or Ed25519)."""
    parse_public_key(value)


def authority_urn(cvr: str) -> str:
    return f"{AUTHORITY_PREFIX}{cvr}"


def cvr_from_authority(urn: str) -> str:
    if not urn.startswith(AUTHORITY_PREFIX):
        raise ValidationError(_("Myndigheden skal skrives urn:oio:cvr-nr:<CVR>."), code="authority")
    cvr = urn[len(AUTHORITY_PREFIX) :]
    validate_cvr(cvr)
    return cvr
