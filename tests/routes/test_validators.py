"""Bad identifiers are refused with a message that names the field and says why."""

import pytest
from django.core.exceptions import ValidationError

from routes.forms import BulkOrderForm, KeyUploadForm, parse_kommune_codes
from routes.keys import generate_key_pair
from routes.models import Endpoint, ITSystem, Kommune, SftpKey, SftpUser, Vendor

pytestmark = pytest.mark.django_db


def errors_of(instance, exclude=()):
    with pytest.raises(ValidationError) as error:
        instance.full_clean(exclude=list(exclude))
    return error.value.message_dict


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3F2C1D2E-1111-4222-8333-444455556666", "Brug små bogstaver."),
        ("3f2c1d2e11114222833344445555666", "er ikke et UUID på formen"),
        ("not-a-uuid", "er ikke et UUID på formen"),
    ],
)
def test_it_system_uuid(value, message):
    system = ITSystem(name="X", uuid=value, is_sender=True)
    errors = errors_of(system)
    assert list(errors) == ["uuid"]
    assert message in errors["uuid"][0]
    assert value in errors["uuid"][0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1234567", "præcis 8 cifre (fik 1234567)"),
        ("2913000A", "præcis 8 cifre"),
        ("29130001", "kontrolcifferet passer ikke"),
    ],
)
def test_vendor_cvr(value, message):
    errors = errors_of(Vendor(name="X", cvr=value))
    assert list(errors) == ["cvr"]
    assert message in errors["cvr"][0]


@pytest.mark.parametrize("value", ["1", "1010", "10a"])
def test_kommune_code_on_the_model(value):
    errors = errors_of(
        Kommune(code=value, cvr="64942212", name="X", region="Region Hovedstaden"), exclude=["cvr"]
    )
    assert "Kommunekoden skal være tre cifre" in errors["code"][0]


def test_kommune_codes_in_the_bulk_form_name_each_bad_one():
    with pytest.raises(ValidationError) as error:
        parse_kommune_codes("101 abc 12345 998")
    messages = error.value.messages
    assert "Ikke en kommunekode: abc, 12345." in messages[0]
    assert messages[1] == "Ingen kommune har koden 998."
    assert [k.code for k in parse_kommune_codes("0101,147;\n751 101")] == ["101", "147", "751"]
    form = BulkOrderForm({"kommune_codes": "xx"})
    assert not form.is_valid()
    assert "Ikke en kommunekode: xx" in form.errors["kommune_codes"][0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("SHA256:kort", "Linje 1: fingeraftrykket skal være 'SHA256:' fulgt af 43 base64-tegn."),
        ("# ok\nsftp.serviceplatformen.dk ssh-rsa ikke!base64", "Linje 2 kan ikke læses"),
        ("ssh-ed25519 AAAAB3NzaC1yc2E=", "Linje 1: nøglen passer ikke til typen ssh-ed25519."),
    ],
)
def test_endpoint_host_key(value, message):
    endpoint = Endpoint(slug="ny", name="Ny", host="sftp.example", port=22, host_key=value)
    errors = errors_of(endpoint)
    assert list(errors) == ["host_key"]
    assert errors["host_key"][0].startswith(message)


def test_endpoint_host_key_accepts_known_hosts_lines_fingerprints_and_blank():
    pair = generate_key_pair("ed25519")
    for value in ("", f"[127.0.0.1]:2222 {pair.public_openssh}", pair.fingerprint):
        Endpoint(slug="ny", name="Ny", host="h", port=22, host_key=value).full_clean()


@pytest.mark.parametrize(
    "value",
    [
        "ssh-rsa",
        "ssh-rsa ikke-base64!",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ],
)
def test_public_key_on_the_model_and_the_upload_form(value, system_a):
    sftp_user = SftpUser.objects.create(
        it_system=system_a, endpoint=Endpoint.objects.get(slug="lokal"), username="U"
    )
    key = SftpKey(
        sftp_user=sftp_user,
        algorithm="rsa",
        public_key=value,
        fingerprint="SHA256:x",
        encrypted_private_key=b"x",
    )
    errors = errors_of(key)
    assert list(errors) == ["public_key"]
    assert "Den offentlige nøgle kan ikke læses" in errors["public_key"][0]
    form = KeyUploadForm({"public_key": value})
    assert not form.is_valid()
    assert "Den offentlige nøgle kan ikke læses" in form.errors["public_key"][0]


def test_an_ecdsa_public_key_is_refused_with_the_reason():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    form = KeyUploadForm({"public_key": public})
    assert not form.is_valid()
    assert form.errors["public_key"] == ["Kun RSA- og Ed25519-nøgler understøttes."]


def test_sftp_user_name_is_at_most_255_characters(system_a):
    user = SftpUser(
        it_system=system_a, endpoint=Endpoint.objects.get(slug="lokal"), username="x" * 256
    )
    assert "username" in errors_of(user)
