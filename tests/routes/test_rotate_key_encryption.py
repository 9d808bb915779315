"""`manage.py rotate_key_encryption`: every stored private key re-encrypted with the newest
Fernet key, so the older ones can be taken out of FLISPORTAL_KEY_ENCRYPTION_KEYS."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from routes import services
from routes.keys import decrypt_private_key
from routes.models import KeyState, SftpKey

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def run(*args: str) -> str:
    out = StringIO()
    call_command("rotate_key_encryption", *args, stdout=out)
    return out.getvalue()


def stored(key: SftpKey) -> bytes:
    return bytes(SftpKey.objects.get(pk=key.pk).encrypted_private_key)


def test_after_the_command_the_old_fernet_key_can_be_removed(sftp_user_a, settings):
    # Rule: after one run every private key decrypts with the newest Fernet key alone.
    settings.KEY_ENCRYPTION_KEYS = [OLD]
    key = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    clear = decrypt_private_key(stored(key))
    settings.KEY_ENCRYPTION_KEYS = [NEW, OLD]

    assert run().startswith("1 private nøgler krypteret igen")

    settings.KEY_ENCRYPTION_KEYS = [NEW]
    assert decrypt_private_key(stored(key)) == clear


def test_without_the_command_the_old_fernet_key_cannot_be_removed(sftp_user_a, settings):
    # The other half of the rule above: dropping the old key unrotated loses the private key.
    settings.KEY_ENCRYPTION_KEYS = [OLD]
    key = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    settings.KEY_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(ImproperlyConfigured):
        decrypt_private_key(stored(key))


def test_a_second_run_is_harmless_and_erased_keys_are_skipped(sftp_user_a, settings):
    # Rule: safe to run again; a retired key has no private half to re-encrypt.
    settings.KEY_ENCRYPTION_KEYS = [NEW, OLD]
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    services.sftp_key_rotate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    services.sftp_key_confirm_rotation(sftp_user=sftp_user_a, actor=None)
    active = sftp_user_a.keys.get(state=KeyState.ACTIVE)
    clear = decrypt_private_key(stored(active))

    first, second = run(), run()
    assert first == second
    assert "1 private nøgler krypteret igen" in first
    assert "1 udfasede nøgler uden privat del sprunget over" in first
    assert decrypt_private_key(stored(active)) == clear
    assert stored(sftp_user_a.keys.get(state=KeyState.RETIRED)) == b""


def test_dry_run_writes_nothing(sftp_user_a, settings):
    settings.KEY_ENCRYPTION_KEYS = [NEW, OLD]
    key = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    before = stored(key)
    assert run("--dry-run").startswith("1 private nøgler ville blive krypteret igen")
    assert stored(key) == before


def test_a_key_no_fernet_key_decrypts_stops_the_run_before_any_write(
    sftp_user_a, sftp_user_b, settings
):
    # Rule: a key already lost (its Fernet key removed too early) is named, and nothing is
    # rewritten, so the operator can put the missing key back and run again.
    settings.KEY_ENCRYPTION_KEYS = [OLD]
    lost = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    settings.KEY_ENCRYPTION_KEYS = [NEW]
    kept = services.sftp_key_generate(sftp_user=sftp_user_b, algorithm="ed25519", actor=None)
    before = stored(kept)

    with pytest.raises(CommandError, match=f"id {lost.pk}.*Sæt den Fernet-nøgle"):
        run()
    assert stored(kept) == before


def test_a_key_retired_during_the_run_stays_erased(sftp_user_a, sftp_user_b, settings, monkeypatch):
    # Rule: the re-encryption writes only over the token it read, so a key retired while it
    # runs keeps its erased private half instead of getting the stale token back.
    settings.KEY_ENCRYPTION_KEYS = [NEW, OLD]
    first = services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    second = services.sftp_key_generate(sftp_user=sftp_user_b, algorithm="ed25519", actor=None)
    reencrypt = services.reencrypt_private_key

    def retire_second_meanwhile(token: bytes) -> bytes:
        SftpKey.objects.filter(pk=second.pk).update(
            state=KeyState.RETIRED, encrypted_private_key=b""
        )
        return reencrypt(token)

    monkeypatch.setattr(services, "reencrypt_private_key", retire_second_meanwhile)
    output = run()
    assert "1 private nøgler krypteret igen" in output
    assert "1 blev ændret undervejs og er sprunget over: kør kommandoen igen" in output
    assert stored(second) == b""
    assert stored(first) != b""
