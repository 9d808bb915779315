"""SSH key pairs for SFTP users: generate, load, fingerprint, and encrypt at rest.

Private keys are kept as Fernet tokens made with FLISPORTAL_KEY_ENCRYPTION_KEYS; the clear
text exists only in memory while a key is created or used for a connection.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _

SUPPORTED_PRIVATE = (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


@dataclass(frozen=True)
class KeyPair:
    algorithm: str  # "rsa" or "ed25519"
    # Unencrypted OpenSSH PEM; keep in memory only. Out of the repr, so a log line, a traceback
    # or Django's error page that shows the pair does not show the key.
    private_openssh: bytes = field(repr=False)
    public_openssh: str  # "ssh-rsa AAAA… comment"
    fingerprint: str  # "SHA256:…"


def fingerprint_of(public_openssh: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line, as `ssh-keygen -l` prints it."""
    parts = public_openssh.split()
    if len(parts) < 2:
        raise ValidationError(_("Den offentlige nøgle skal have formen 'type base64 [kommentar]'."))
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValidationError(_("Den offentlige nøgle er ikke gyldig base64.")) from None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def parse_public_key(text: str) -> str:
    """Validate an OpenSSH public key line and return it normalised (type, base64, comment)."""
    text = (text or "").strip()
    try:
        key = serialization.load_ssh_public_key(text.encode())
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm):
        raise ValidationError(
            _(
                "Den offentlige nøgle kan ikke læses. Indsæt hele linjen i OpenSSH-format "
                "(fx 'ssh-ed25519 AAAA…')."
            )
        ) from None
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise ValidationError(_("Kun RSA- og Ed25519-nøgler understøttes."))
    return text


def _pair_from_private(private: object, comment: str) -> KeyPair:
    if isinstance(private, rsa.RSAPrivateKey):
        algorithm = "rsa"
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        algorithm = "ed25519"
    else:
        raise ValidationError(_("Kun RSA- og Ed25519-nøgler understøttes."))
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    if comment:
        public = f"{public} {comment}"
    return KeyPair(algorithm, private_pem, public, fingerprint_of(public))


def generate_key_pair(algorithm: str = "rsa", *, comment: str = "") -> KeyPair:
    """A new key pair: RSA 4096 by default (what KOMBIT's clients use), or Ed25519."""
    if algorithm == "rsa":
        private: object = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    elif algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key algorithm {algorithm!r}")
    return _pair_from_private(private, comment)


def load_private_key(
    data: bytes, *, passphrase: str | None = None, expected_public: str | None = None
) -> KeyPair:
    """Read an uploaded private key (OpenSSH or PEM), refusing what does not parse, a wrong
    passphrase, or a key that does not match the stated public key."""
    password = passphrase.encode() if passphrase else None
    private = None
    for loader in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            private = loader(data, password=password)
            break
        except TypeError:
            # Encrypted key without a passphrase, or a passphrase for an unencrypted key.
            raise ValidationError(
                _("Nøglen er krypteret: angiv dens adgangsfrase.")
                if password is None
                else _("Nøglen er ikke krypteret: lad adgangsfrasen være tom.")
            ) from None
        except UnsupportedAlgorithm:
            raise ValidationError(_("Kun RSA- og Ed25519-nøgler understøttes.")) from None
        except ValueError as exc:
            text = str(exc).lower()
            # PEM says so; an OpenSSH key decrypted with the wrong passphrase fails the check
            # integers that open its private section ("broken checksum").
            if "password" in text or "decrypt" in text or (password and "checksum" in text):
                raise ValidationError(_("Adgangsfrasen passer ikke til nøglen.")) from None
            continue
    if private is None:
        raise ValidationError(_("Filen er ikke en privat nøgle i OpenSSH- eller PEM-format."))
    pair = _pair_from_private(private, "")
    if expected_public is not None:
        if fingerprint_of(parse_public_key(expected_public)) != pair.fingerprint:
            raise ValidationError(
                _("Den private nøgle passer ikke til den angivne offentlige nøgle.")
            )
    return pair


def _fernet() -> MultiFernet:
    keys = settings.KEY_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FLISPORTAL_KEY_ENCRYPTION_KEYS is not set.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_private_key(private_openssh: bytes) -> bytes:
    return _fernet().encrypt(private_openssh)


def decrypt_private_key(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(bytes(token))
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored private key cannot be decrypted with FLISPORTAL_KEY_ENCRYPTION_KEYS: "
            "was the key changed without keeping the old one in the list?"
        ) from None


def private_key_token_readable(token: bytes) -> bool:
    """Whether a stored token decrypts with one of FLISPORTAL_KEY_ENCRYPTION_KEYS."""
    try:
        _fernet().decrypt(bytes(token))
    except InvalidToken:
        return False
    return True


def reencrypt_private_key(token: bytes) -> bytes:
    """The same private key as a token made with the newest (first) Fernet key, so the older
    keys can be dropped from FLISPORTAL_KEY_ENCRYPTION_KEYS."""
    try:
        return _fernet().rotate(bytes(token))
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored private key cannot be decrypted with FLISPORTAL_KEY_ENCRYPTION_KEYS, so it "
            "cannot be re-encrypted: put back the key it was encrypted with."
        ) from None
