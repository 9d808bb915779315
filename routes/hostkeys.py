"""Pinned SSH host keys of Serviceplatform endpoints.

An endpoint's `host_key` holds one or more lines, each either
- an OpenSSH known_hosts line (`[host]:port ssh-ed25519 AAAA…`) or a bare key (`ssh-rsa AAAA…`), or
- a SHA256 fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
A server's key is accepted only if it matches one of them. Blank lines and `#` comments are
ignored. Hashed known_hosts host names (`|1|…`) are accepted: the key, not the name, is pinned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

KEY_TYPES = {
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-256",
    "rsa-sha2-512",
}
_FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")


@dataclass(frozen=True)
class PinnedKey:
    fingerprint: str  # always "SHA256:…" without padding
    key_type: str | None  # None when only a fingerprint was pinned


def fingerprint_of_blob(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _parse_line(line: str, number: int) -> PinnedKey:
    if line.startswith("SHA256:"):
        if not _FINGERPRINT_RE.fullmatch(line):
            raise ValidationError(
                _("Linje %(n)s: fingeraftrykket skal være 'SHA256:' fulgt af 43 base64-tegn.")
                % {"n": number}
            )
        return PinnedKey(line.rstrip("="), None)
    fields = line.split()
    # known_hosts: [markers] hostnames keytype base64 [comment]; bare: keytype base64 [comment]
    for index, field in enumerate(fields[:-1]):
        if field in KEY_TYPES:
            try:
                blob = base64.b64decode(fields[index + 1], validate=True)
            except (binascii.Error, ValueError):
                break
            if not blob.startswith(len(field).to_bytes(4, "big") + field.encode()) and not (
                field.startswith("rsa-sha2") and b"ssh-rsa" in blob[:11]
            ):
                raise ValidationError(
                    _("Linje %(n)s: nøglen passer ikke til typen %(type)s.")
                    % {"n": number, "type": field}
                )
            return PinnedKey(fingerprint_of_blob(blob), field)
    raise ValidationError(
        _(
            "Linje %(n)s kan ikke læses som værtsnøgle. Brug en known_hosts-linje "
            "(fx 'sftp.serviceplatformen.dk ssh-rsa AAAA…') eller et fingeraftryk 'SHA256:…'."
        )
        % {"n": number}
    )


def parse_pinned_host_keys(text: str) -> list[PinnedKey]:
    keys = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            keys.append(_parse_line(line, number))
    return keys


def validate_host_key(text: str) -> None:
    """Model/form validator: every line must parse; an empty value is allowed (no pin yet)."""
    parse_pinned_host_keys(text)


def host_key_matches(pinned_text: str, key_blob: bytes) -> bool:
    """Is the server's public key (its SSH wire blob) one of the pinned keys?"""
    presented = fingerprint_of_blob(key_blob)
    return any(key.fingerprint == presented for key in parse_pinned_host_keys(pinned_text))
