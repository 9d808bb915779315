"""FLISPORTAL_STORAGE_BACKEND=S3Storage is configured from the environment, and a missing bucket
stops start-up with a message instead of failing at the first upload."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
S3 = "storages.backends.s3.S3Storage"


def settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.STORAGES['default']))"
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "flisportal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_s3_storage_takes_its_options_from_the_environment():
    result = settings_of(
        FLISPORTAL_STORAGE_BACKEND=S3,
        FLISPORTAL_S3_BUCKET="flis-udtraek",
        FLISPORTAL_S3_ENDPOINT_URL="https://s3.example.dk",
        FLISPORTAL_S3_PREFIX="prod",
    )
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)
    assert storage["BACKEND"] == S3
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "flis-udtraek"
    assert options["endpoint_url"] == "https://s3.example.dk"
    assert options["location"] == "prod"
    assert options["default_acl"] == "private"
    assert options["file_overwrite"] is False
    assert "access_key" not in options and "secret_key" not in options


def test_s3_storage_without_a_bucket_stops_start_up():
    result = settings_of(FLISPORTAL_STORAGE_BACKEND=S3)
    assert result.returncode != 0
    assert "FLISPORTAL_S3_BUCKET" in result.stderr
