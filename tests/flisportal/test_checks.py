"""Each custom system check fires on its mistake and stays quiet otherwise."""

from flisportal import checks
from tests import factories


def ids(messages):
    return [message.id for message in messages]


def test_key_encryption_keys_must_be_fernet_keys(settings):
    assert checks.check_key_encryption_keys() == []
    settings.KEY_ENCRYPTION_KEYS = ["not-a-key"]
    assert ids(checks.check_key_encryption_keys()) == ["flisportal.E001"]
    settings.KEY_ENCRYPTION_KEYS = []
    assert ids(checks.check_key_encryption_keys()) == ["flisportal.E001"]


def test_media_root_must_not_overlap_static(settings, tmp_path):
    assert checks.check_private_media() == []
    settings.MEDIA_ROOT = settings.STATIC_ROOT / "uploads"
    assert ids(checks.check_private_media()) == ["flisportal.E002"]


def test_media_url_must_stay_unset(settings, tmp_path):
    settings.MEDIA_URL = "/media/"
    assert ids(checks.check_private_media()) == ["flisportal.E002"]


def test_xsd_folder_must_hold_the_schemas(settings, tmp_path):
    assert checks.check_xsd_folder() == []
    settings.KOMBIT_XSD_DIR = tmp_path
    assert ids(checks.check_xsd_folder()) == ["flisportal.E003"]


def test_redis_url_must_be_a_redis_url(settings):
    assert checks.check_redis_url() == []
    settings.REDIS_URL = "http://127.0.0.1:6379"
    assert ids(checks.check_redis_url()) == ["flisportal.E004"]


def test_remote_redis_without_tls_warns_in_production(settings):
    settings.DEBUG = False
    settings.REDIS_URL = "redis://redis.example:6379/0"
    assert ids(checks.check_redis_url()) == ["flisportal.W001"]
    settings.REDIS_URL = "rediss://redis.example:6379/0"
    assert checks.check_redis_url() == []


def test_endpoint_with_established_routes_needs_a_pinned_host_key(system_a):
    from routes.keys import generate_key_pair
    from routes.models import Endpoint

    assert checks.check_pinned_host_keys(databases=["default"]) == []
    route = factories.route(sender_system=system_a, endpoint="exttest")
    messages = checks.check_pinned_host_keys(databases=["default"])
    assert ids(messages) == ["flisportal.E010"]
    assert "'exttest'" in messages[0].msg
    # Only run when database checks are asked for.
    assert checks.check_pinned_host_keys() == []
    Endpoint.objects.filter(pk=route.endpoint_id).update(
        host_key=generate_key_pair("ed25519").fingerprint
    )
    assert checks.check_pinned_host_keys(databases=["default"]) == []


def test_stand_in_endpoint_needs_no_pinned_host_key(system_a):
    factories.route(sender_system=system_a, endpoint="lokal")
    assert checks.check_pinned_host_keys(databases=["default"]) == []


def test_published_development_secrets_are_refused_in_production(settings):
    # Rule: the development SECRET_KEY, Fernet key and audit HMAC key are in the repository;
    # with DEBUG off they would let anyone forge sessions, decrypt the stored SFTP keys and
    # recompute the audit log's chain after editing it.
    from flisportal.lib.env import (
        DEVELOPMENT_AUDIT_HMAC_KEY,
        DEVELOPMENT_KEY_ENCRYPTION_KEY,
        DEVELOPMENT_SECRET_KEY,
    )

    settings.DEBUG = True
    settings.SECRET_KEY = DEVELOPMENT_SECRET_KEY
    settings.KEY_ENCRYPTION_KEYS = [DEVELOPMENT_KEY_ENCRYPTION_KEY]
    settings.AUDIT_HMAC_KEY = DEVELOPMENT_AUDIT_HMAC_KEY
    assert checks.check_no_development_secrets() == []  # development: fine
    settings.DEBUG = False
    assert ids(checks.check_no_development_secrets()) == ["flisportal.E005"] * 3
    settings.AUDIT_HMAC_KEY = "an audit key of this installation's own"
    settings.SECRET_KEY = "p" * 50
    # An older entry still decrypts: it is refused as well.
    own_key = "KSXZkUjY0WrLZPLL5dwOtBkbuFoU_xUb_erFFUrHlqg="
    settings.KEY_ENCRYPTION_KEYS = [own_key, DEVELOPMENT_KEY_ENCRYPTION_KEY]
    assert ids(checks.check_no_development_secrets()) == ["flisportal.E005"]
    settings.KEY_ENCRYPTION_KEYS = [own_key]
    assert checks.check_no_development_secrets() == []


def test_production_mail_needs_tls_unless_plaintext_is_allowed(settings):
    # Rule: mails name people and deliveries; production sends them over TLS unless the
    # operator allows plain SMTP explicitly (FLISPORTAL_EMAIL_ALLOW_PLAINTEXT).
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_ALLOW_PLAINTEXT = False
    settings.DEBUG = True
    assert checks.check_mail_tls() == []
    settings.DEBUG = False
    assert ids(checks.check_mail_tls()) == ["flisportal.E006"]
    settings.EMAIL_ALLOW_PLAINTEXT = True
    assert checks.check_mail_tls() == []
    settings.EMAIL_ALLOW_PLAINTEXT = False
    settings.EMAIL_USE_TLS = True
    assert checks.check_mail_tls() == []
    # No SMTP, no network: nothing to protect.
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert checks.check_mail_tls() == []


def test_a_forwarded_header_without_a_proxy_count_is_refused(settings):
    # Rule: naming a header without saying how many proxies write it would look configured while
    # every client behind the proxy shared one address.
    assert checks.check_forwarded_header_has_proxy_count() == []
    settings.FLISPORTAL_FORWARDED_HEADER = "X-Forwarded-For"
    messages = checks.check_forwarded_header_has_proxy_count()
    assert ids(messages) == ["flisportal.E011"]
    assert "FLISPORTAL_TRUSTED_PROXY_COUNT is 0" in messages[0].msg
    settings.FLISPORTAL_TRUSTED_PROXY_COUNT = 1
    assert checks.check_forwarded_header_has_proxy_count() == []


def test_the_old_axes_ip_headers_setting_is_refused_when_it_names_a_header(settings):
    # Rule: AXES_IP_HEADERS never worked (no django-ipware); a deployment that still sets it to
    # a header is stopped with a pointer to the proxy count, not left trusting the proxy's address.
    settings.LEGACY_AXES_IP_HEADERS = ["REMOTE_ADDR"]
    assert checks.check_forwarded_header_has_proxy_count() == []
    settings.LEGACY_AXES_IP_HEADERS = ["HTTP_X_FORWARDED_FOR"]
    messages = checks.check_forwarded_header_has_proxy_count()
    assert ids(messages) == ["flisportal.E011"]
    assert "FLISPORTAL_TRUSTED_PROXY_COUNT" in messages[0].hint


def test_a_row_screen_that_cannot_be_built_is_a_warning_and_the_exact_way_checks(
    settings, tmp_path, monkeypatch
):
    """No C compiler: the system check says so, the log says why, and extracts are still
    checked (every row the exact way)."""
    import json

    from deliveries import screen
    from deliveries.datacontracts import CONTRACTS_DIR
    from deliveries.validation import validate_file
    from tests.factories import dagtilbud_csv, dagtilbud_row

    settings.DATA_DIR = tmp_path / "data"
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    screen.kernel.cache_clear()
    try:
        assert [m.id for m in checks.check_row_screen()] == ["flisportal.W003"]
        contract = json.loads((CONTRACTS_DIR / "dagtilbud.json").read_text(encoding="utf-8"))
        assert screen.compile_screen(contract, [], [], kommune_code="101", period="2026-10") is None
        path = tmp_path / "extract.csv"
        path.write_text(dagtilbud_csv(dagtilbud_row(7, kommunekode="751"), rows_ok=3))
        report = validate_file(path, contract, kommune_code="101", period="2026-10")
        assert dict(report.by_rule) == {"kommune": 1}
    finally:
        monkeypatch.undo()
        screen.kernel.cache_clear()
    assert checks.check_row_screen() == []


def test_building_the_row_screen_removes_other_versions_builds_once_they_are_old(
    settings, tmp_path
):
    import os
    import time

    from deliveries import screen

    settings.DATA_DIR = tmp_path
    build = tmp_path / "build"
    build.mkdir()
    # Both ages set from the clock the test runs on: a file's own mtime is the kernel's real
    # time, which lies behind the clock when tests/run_with_clock_moved.py moves it.
    now = time.time()
    old, recent = build / "screen-0000000000000000.so", build / "screen-1111111111111111.so"
    for path, age in ((old, 8 * 86_400), (recent, 86_400)):
        path.write_bytes(b"not a library")
        os.utime(path, (now - age, now - age))
    screen.kernel.cache_clear()
    try:
        assert screen.kernel() is not None
    finally:
        screen.kernel.cache_clear()
    assert not old.exists() and recent.exists()
    assert len(list(build.glob("screen-*.so"))) == 2  # the new build and the recent one


def test_a_damaged_build_of_the_row_screen_is_removed_and_the_exact_way_checks(
    settings, tmp_path, caplog
):
    """A build that cannot be loaded (cut short by a full disk) is not fatal: it is removed
    and reported, the check warns, and the next process builds it again."""
    import os

    from deliveries import screen

    settings.DATA_DIR = tmp_path
    damaged = screen.build_path(os.environ.get("CC", "cc"))
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\x7fELF cut short")
    screen.kernel.cache_clear()
    try:
        assert [m.id for m in checks.check_row_screen()] == ["flisportal.W003"]
        assert not damaged.exists()
        assert "cannot be loaded" in caplog.text
        screen.kernel.cache_clear()
        assert screen.kernel() is not None and damaged.exists()  # built again
    finally:
        screen.kernel.cache_clear()
