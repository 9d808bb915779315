"""SFTP keys: generation (RSA 4096 by default, Ed25519), encryption at rest, upload with its
refusals, rotation and its confirmation, and the key pages."""

import importlib
import secrets
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from flisportal.audit.models import AuditEntry
from routes import services, views
from routes.keys import decrypt_private_key, fingerprint_of, generate_key_pair
from routes.models import KeyState, SftpKey

pytestmark = pytest.mark.django_db


def stored_bytes(key: SftpKey) -> bytes:
    return bytes(SftpKey.objects.get(pk=key.pk).encrypted_private_key)


# --- generation and encryption at rest --------------------------------------------------------


def test_generated_ed25519_key_is_stored_encrypted_and_round_trips(sftp_user_a, admin_user):
    key = services.sftp_key_generate(
        sftp_user=sftp_user_a, algorithm="ed25519", expires_at=None, actor=admin_user
    )
    assert key.state == KeyState.ACTIVE
    assert key.public_key.startswith("ssh-ed25519 AAAA")
    assert key.public_key.endswith(" A_SFTP@exttest")
    assert key.fingerprint == fingerprint_of(key.public_key)
    assert key.fingerprint.startswith("SHA256:")
    assert key.created_by == admin_user

    token = stored_bytes(key)
    assert b"PRIVATE KEY" not in token
    assert b"openssh-key-v1" not in token
    private_pem = decrypt_private_key(token)
    assert private_pem.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert private_pem not in token
    private = serialization.load_ssh_private_key(private_pem, password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert key.public_key.startswith(public.decode())


def test_rsa_4096_is_the_default(sftp_user_a):
    key = services.sftp_key_generate(sftp_user=sftp_user_a, actor=None)
    assert key.algorithm == "rsa"
    assert key.public_key.startswith("ssh-rsa AAAA")
    private = serialization.load_ssh_private_key(decrypt_private_key(stored_bytes(key)), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 4096


def test_a_second_first_key_is_refused(sftp_user_a):
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    with pytest.raises(ValidationError, match="allerede en aktiv nøgle"):
        services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    assert sftp_user_a.keys.count() == 1


def test_expiry_must_be_in_the_future(sftp_user_a):
    with pytest.raises(ValidationError, match="fremtiden"):
        services.sftp_key_generate(
            sftp_user=sftp_user_a,
            algorithm="ed25519",
            expires_at=timezone.now() - timedelta(days=1),
            actor=None,
        )


# --- rotation -----------------------------------------------------------------------------


def test_rotated_key_waits_for_registration_and_the_old_one_stays_active(sftp_user_a, admin_user):
    # Rule: a rotated-in key is pending until someone confirms KOMBIT has registered it; until
    # then the old key is the active one that push and fetch log in with.
    old = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    new = services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)
    old.refresh_from_db()
    assert (old.state, new.state) == (KeyState.ACTIVE, KeyState.PENDING)
    assert old.fingerprint != new.fingerprint
    with pytest.raises(ValidationError, match="afventer allerede registrering"):
        services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)

    confirmed = services.sftp_key_confirm_rotation(sftp_user=sftp_user_a, actor=admin_user)
    old.refresh_from_db()
    assert confirmed == new
    assert old.state == KeyState.RETIRED and old.retired_at is not None
    assert sftp_user_a.keys.get(state=KeyState.ACTIVE) == new
    with pytest.raises(ValidationError, match="ingen nøglerotation"):
        services.sftp_key_confirm_rotation(sftp_user=sftp_user_a, actor=admin_user)
    # The next rotation can start again.
    services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)


def test_confirmed_rotation_erases_the_retired_keys_private_half(sftp_user_a, admin_user):
    # Rule: a retired key keeps its public key and fingerprint for the record, but its
    # encrypted private key is erased: nothing can log in with it any more.
    old = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)
    assert stored_bytes(old) != b""
    public, fingerprint = old.public_key, old.fingerprint

    services.sftp_key_confirm_rotation(sftp_user=sftp_user_a, actor=admin_user)
    old.refresh_from_db()
    assert old.state == KeyState.RETIRED
    assert stored_bytes(old) == b"" and not old.holds_private_key
    assert (old.public_key, old.fingerprint) == (public, fingerprint)
    entry = AuditEntry.objects.filter(action="sftp_key.state", object_id=str(old.pk)).get()
    assert entry.after["private_key_erased"] is True


def test_discarded_rotation_keeps_the_active_key_and_erases_the_new_one(sftp_user_a, admin_user):
    # Rule: a rotation made by mistake can be undone without touching the key in use.
    old = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    new = services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)
    services.sftp_key_discard_rotation(sftp_user=sftp_user_a, actor=admin_user)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (KeyState.ACTIVE, KeyState.RETIRED)
    assert stored_bytes(new) == b"" and stored_bytes(old) != b""
    with pytest.raises(ValidationError, match="ingen ny nøgle at kassere"):
        services.sftp_key_discard_rotation(sftp_user=sftp_user_a, actor=admin_user)


def test_rotation_needs_an_active_key(sftp_user_a):
    with pytest.raises(ValidationError, match="ingen aktiv nøgle"):
        services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)


# --- upload -------------------------------------------------------------------------------


def private_bytes(pair_private, passphrase: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return pair_private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    )


@pytest.fixture
def uploaded():
    """An Ed25519 key as a vendor would have it: encrypted with a passphrase."""
    private = ed25519.Ed25519PrivateKey.generate()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


def test_upload_stores_the_key_without_its_passphrase(sftp_user_a, admin_user, uploaded):
    private, public = uploaded
    key = services.sftp_key_upload(
        sftp_user=sftp_user_a,
        private_key=private_bytes(private, b"hemmelig frase"),
        passphrase="hemmelig frase",
        public_key=public + " leverandoer@eksempel",
        actor=admin_user,
    )
    assert key.origin == "uploaded"
    assert key.public_key == public + " leverandoer@eksempel"
    assert key.fingerprint == fingerprint_of(public)
    clear = decrypt_private_key(stored_bytes(key))
    # Stored unencrypted inside the Fernet token: the portal's key protects it, not the frase.
    loaded = serialization.load_ssh_private_key(clear, password=None)
    assert (
        loaded.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        == public
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("garbage", "ikke en privat nøgle"),
        ("wrong_passphrase", "Adgangsfrasen passer ikke"),
        ("missing_passphrase", "angiv dens adgangsfrase"),
        ("mismatch", "passer ikke til den angivne offentlige nøgle"),
    ],
)
def test_upload_refusals(sftp_user_a, uploaded, case, message):
    private, public = uploaded
    data, passphrase, stated = private_bytes(private, b"rigtig"), "rigtig", public
    if case == "garbage":
        data = b"-----BEGIN OPENSSH PRIVATE KEY-----\nikke en noegle\n"
    elif case == "wrong_passphrase":
        passphrase = "forkert"
    elif case == "missing_passphrase":
        passphrase = ""
    elif case == "mismatch":
        stated = generate_key_pair("ed25519").public_openssh
    with pytest.raises(ValidationError) as error:
        services.sftp_key_upload(
            sftp_user=sftp_user_a,
            private_key=data,
            passphrase=passphrase,
            public_key=stated,
            actor=None,
        )
    assert message in error.value.message_dict["private_key"][0]
    assert not sftp_user_a.keys.exists()


def test_upload_over_an_active_key_is_a_rotation(sftp_user_a, uploaded):
    old = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    private, _ = uploaded
    new = services.sftp_key_upload(
        sftp_user=sftp_user_a, private_key=private_bytes(private), actor=None
    )
    old.refresh_from_db()
    assert (old.state, new.state) == (KeyState.ACTIVE, KeyState.PENDING)


# --- the pages ----------------------------------------------------------------------------


def page_url(sftp_user, name="sftp_user_detail"):
    return reverse(f"routes:{name}", args=[sftp_user.pk])


def test_vendor_generates_a_key_and_sees_the_public_key_once(client, vendor_a_user, sftp_user_a):
    client.force_login(vendor_a_user)
    page = client.get(page_url(sftp_user_a))
    assert page.status_code == 200
    assert "Dan nøglepar" in page.content.decode()
    assert "Upload eksisterende privat nøgle" not in page.content.decode()  # administrators only

    response = client.post(
        page_url(sftp_user_a, "sftp_key_generate"), {"algorithm": "ed25519", "expires_on": ""}
    )
    assert response.status_code == 302
    key = sftp_user_a.keys.get()
    assert key.algorithm == "ed25519" and key.created_by == vendor_a_user

    first = client.get(response["Location"]).content.decode()
    assert "Ny offentlig nøgle" in first
    assert key.public_key in first
    assert key.fingerprint in first
    assert "PRIVATE KEY" not in first
    assert decrypt_private_key(stored_bytes(key)).decode() not in first
    second = client.get(response["Location"]).content.decode()
    assert "Ny offentlig nøgle" not in second
    assert key.fingerprint in second  # still listed, as fingerprint
    assert "Rotér nøgle" in second


def test_generate_with_expiry_and_rotate_then_confirm(
    client, vendor_a_user, admin_user, sftp_user_a
):
    client.force_login(vendor_a_user)
    expires = (timezone.localdate() + timedelta(days=365)).isoformat()
    client.post(
        page_url(sftp_user_a, "sftp_key_generate"), {"algorithm": "ed25519", "expires_on": expires}
    )
    old = sftp_user_a.keys.get()
    assert timezone.localtime(old.expires_at).date().isoformat() == expires

    response = client.post(page_url(sftp_user_a, "sftp_key_rotate"), {"algorithm": "ed25519"})
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.state == KeyState.ACTIVE
    new = sftp_user_a.keys.get(state=KeyState.PENDING)
    page = client.get(page_url(sftp_user_a)).content.decode()
    assert "afventer registrering" in page
    assert new.public_key in page  # ready to paste into the Administrationsmodul
    # Only an administrator confirms the registration: the vendor is told to ask for it.
    assert "Bekræft registrering på Serviceplatformen" not in page
    assert "bekræfter en administrator" in page
    assert "Rotér nøgle" not in page  # one rotation at a time
    assert client.post(page_url(sftp_user_a, "sftp_key_confirm_rotation")).status_code == 404
    old.refresh_from_db()
    assert old.state == KeyState.ACTIVE

    client.force_login(admin_user)
    assert (
        "Bekræft registrering på Serviceplatformen"
        in client.get(page_url(sftp_user_a)).content.decode()
    )
    response = client.post(page_url(sftp_user_a, "sftp_key_confirm_rotation"))
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (KeyState.RETIRED, KeyState.ACTIVE)
    page = client.get(response["Location"]).content.decode()
    assert "Registreringen er bekræftet" in page
    assert "privat del slettet" in page


def test_vendor_discards_a_pending_key_on_the_page(client, vendor_a_user, sftp_user_a):
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    client.force_login(vendor_a_user)
    response = client.post(page_url(sftp_user_a, "sftp_key_discard_rotation"))
    assert response.status_code == 302
    assert not sftp_user_a.keys.filter(state=KeyState.PENDING).exists()
    page = client.get(response["Location"]).content.decode()
    assert "Den nye nøgle er kasseret" in page
    assert "Rotér nøgle" in page


def test_past_expiry_is_refused_on_the_form(client, vendor_a_user, sftp_user_a):
    client.force_login(vendor_a_user)
    response = client.post(
        page_url(sftp_user_a, "sftp_key_generate"),
        {"algorithm": "ed25519", "expires_on": "2020-01-01"},
    )
    assert response.status_code == 200
    assert "Udløbsdatoen skal ligge i fremtiden." in response.content.decode()
    assert not sftp_user_a.keys.exists()


def test_generating_when_a_key_exists_shows_why(client, vendor_a_user, sftp_user_a):
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    client.force_login(vendor_a_user)
    response = client.post(page_url(sftp_user_a, "sftp_key_generate"), {"algorithm": "ed25519"})
    assert response.status_code == 200
    assert "allerede en aktiv nøgle" in response.content.decode()


def test_key_actions_are_post_only(client, vendor_a_user, sftp_user_a):
    client.force_login(vendor_a_user)
    for name in (
        "sftp_key_generate",
        "sftp_key_rotate",
        "sftp_key_upload",
        "sftp_key_confirm_rotation",
        "sftp_key_discard_rotation",
    ):
        assert client.get(page_url(sftp_user_a, name)).status_code == 405, name


def test_other_vendor_and_consultant_get_404(client, vendor_b_user, consultant_user, sftp_user_a):
    for user in (vendor_b_user, consultant_user):
        client.force_login(user)
        assert client.get(page_url(sftp_user_a)).status_code == 404
        response = client.post(page_url(sftp_user_a, "sftp_key_generate"), {"algorithm": "ed25519"})
        assert response.status_code == 404
    assert not sftp_user_a.keys.exists()


def test_upload_is_for_administrators_only(
    client, admin_user, vendor_a_user, sftp_user_a, uploaded
):
    private, public = uploaded
    data = {
        "private_key": SimpleUploadedFile("id_ed25519", private_bytes(private, b"frase")),
        "passphrase": "frase",
        "public_key": public,
    }
    client.force_login(vendor_a_user)
    assert client.post(page_url(sftp_user_a, "sftp_key_upload"), data).status_code == 404
    assert not sftp_user_a.keys.exists()

    client.force_login(admin_user)
    data["private_key"] = SimpleUploadedFile("id_ed25519", private_bytes(private, b"frase"))
    page = client.get(page_url(sftp_user_a)).content.decode()
    assert 'enctype="multipart/form-data"' in page
    response = client.post(page_url(sftp_user_a, "sftp_key_upload"), data)
    assert response.status_code == 302
    assert sftp_user_a.keys.get().fingerprint == fingerprint_of(public)


def test_upload_refusal_is_shown_on_the_form(client, admin_user, sftp_user_a, uploaded):
    private, _ = uploaded
    client.force_login(admin_user)
    response = client.post(
        page_url(sftp_user_a, "sftp_key_upload"),
        {
            "private_key": SimpleUploadedFile("id", private_bytes(private, b"frase")),
            "passphrase": "forkert",
        },
    )
    assert response.status_code == 200
    assert response.context["upload_form"].errors["private_key"] == [
        "Adgangsfrasen passer ikke til nøglen."
    ]
    assert "forkert" not in response.content.decode()  # the passphrase is not echoed back
    response = client.post(
        page_url(sftp_user_a, "sftp_key_upload"),
        {"private_key": SimpleUploadedFile("id", b"x"), "public_key": "ssh-rsa ikke-base64"},
    )
    assert "Den offentlige nøgle kan ikke læses" in response.content.decode()


def test_key_post_needs_csrf(vendor_a_user, sftp_user_a):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(vendor_a_user)
    response = strict.post(page_url(sftp_user_a, "sftp_key_generate"), {"algorithm": "ed25519"})
    assert response.status_code == 403
    assert not sftp_user_a.keys.exists()


def test_key_page_query_count_is_fixed(client, admin_user, sftp_user_a, django_assert_num_queries):
    client.force_login(admin_user)
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)
    # session, user, SFTP user (+ system, vendor, endpoint), keys (+ creators), session save
    with django_assert_num_queries(4):
        client.get(page_url(sftp_user_a))
    for _ in range(3):
        services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=admin_user)
        services.sftp_key_confirm_rotation(sftp_user=sftp_user_a, actor=admin_user)
    with django_assert_num_queries(4):
        page = client.get(page_url(sftp_user_a))
    assert page.content.decode().count("SHA256:") == 4


# --- secrets stay out of reprs, error pages and wasted work ------------------------------------


def test_refused_rotation_generates_no_key(sftp_user_a, monkeypatch):
    # Rule: a rotation that will be refused is refused before an RSA-4096 pair is generated
    # (a second of CPU for each click).
    def no_generation(*args, **kwargs):
        raise AssertionError("a refused rotation generated a key pair")

    with monkeypatch.context() as patch:
        patch.setattr(services, "generate_key_pair", no_generation)
        with pytest.raises(ValidationError, match="ingen aktiv nøgle"):
            services.sftp_key_rotate(sftp_user=sftp_user_a, actor=None)
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    monkeypatch.setattr(services, "generate_key_pair", no_generation)
    with pytest.raises(ValidationError, match="afventer allerede registrering"):
        services.sftp_key_rotate(sftp_user=sftp_user_a, actor=None)


def test_reprs_hold_no_private_key(sftp_user_a):
    # Rule: nothing secret in a repr, so a log line or a traceback cannot carry a private key.
    from deliveries.services.sftp_login import sftp_login_as

    pair = generate_key_pair("ed25519")
    assert b"PRIVATE KEY" in pair.private_openssh
    assert "PRIVATE KEY" not in repr(pair)
    assert pair.fingerprint in repr(pair)
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    login = sftp_login_as(sftp_user=sftp_user_a)
    assert b"PRIVATE KEY" in login.private_key
    assert "PRIVATE KEY" not in repr(login)


def test_upload_error_report_shows_no_passphrase_or_key(
    rf, admin_user, sftp_user_a, uploaded, monkeypatch
):
    # Rule: the error report (the mail to ADMINS and the error log in production) lists neither
    # the uploaded key's passphrase nor key material from the view's or the service's frames.
    def broken_store(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_store_key", broken_store)
    private, public = uploaded
    # Made at run time: the HTML report quotes this test's source lines.
    passphrase = f"frase-{secrets.token_hex(8)}"
    request = rf.post(
        page_url(sftp_user_a, "sftp_key_upload"),
        {
            "private_key": SimpleUploadedFile("id", private_bytes(private, passphrase.encode())),
            "passphrase": passphrase,
            "public_key": public,
        },
    )
    request.user = admin_user
    with pytest.raises(RuntimeError) as raised:
        views.sftp_key_upload(request, sftp_user_a.pk)
    # From the view's frame on: this test's own frame holds the passphrase by design.
    reporter = ExceptionReporter(request, raised.type, raised.value, raised.tb.tb_next)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "disk full" in report and "passphrase" in report
        assert passphrase not in report
        assert "PRIVATE KEY" not in report


# --- keys stored before the pending state ---------------------------------------------------


def test_migration_puts_an_unconfirmed_rotation_back_on_the_old_key(sftp_user_a, sftp_user_b):
    # Rule: a rotation left unconfirmed under the old scheme (new key active, old key
    # "previous") becomes what it would be now: the old key active, the new one pending; and
    # retired keys lose their private half.
    migration = importlib.import_module("routes.migrations.0006_key_pending_state")
    old = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    SftpKey.objects.filter(pk=old.pk).update(state="previous")
    new = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    retired = services.sftp_key_generate(sftp_user=sftp_user_b, algorithm="ed25519", actor=None)
    SftpKey.objects.filter(pk=retired.pk).update(state="retired")
    untouched = services.sftp_key_generate(sftp_user=sftp_user_b, algorithm="ed25519", actor=None)

    migration.pending_instead_of_previous(apps, None)

    states = dict(SftpKey.objects.values_list("pk", "state"))
    assert states == {
        old.pk: KeyState.ACTIVE,
        new.pk: KeyState.PENDING,
        retired.pk: KeyState.RETIRED,
        untouched.pk: KeyState.ACTIVE,
    }
    assert stored_bytes(retired) == b""
    assert stored_bytes(old) != b"" and stored_bytes(new) != b""
