"""Each custom system check fires on its mistake and stays quiet otherwise."""

from flisportal import checks


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
