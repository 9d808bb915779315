"""Production settings: `check --deploy` is clean, and a missing secret stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not the development default: production refuses that one (flisportal.E005).
FERNET = "KSXZkUjY0WrLZPLL5dwOtBkbuFoU_xUb_erFFUrHlqg="
AUDIT_KEY = "audit-" + "a" * 10 + "7Rk!2pQ-x9Lm#4Vt8@Zc"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k" * 20 + "3Xq!v9-Lm2#Pz8@Rt5&Wc1^Yb7*Hn4$Gd6%Fs0",
        FLISPORTAL_KEY_ENCRYPTION_KEYS=FERNET,
        FLISPORTAL_AUDIT_HMAC_KEY=AUDIT_KEY,
        ALLOWED_HOSTS="flis.example.dk",
        FLISPORTAL_DATA_DIR=str(tmp_path),
        EMAIL_USE_TLS="true",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_missing_secret_key_stops_start_up(tmp_path):
    result = manage("check", DEBUG="false", FLISPORTAL_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_audit_hmac_key_stops_start_up(tmp_path):
    # Rule: production has no default audit key; without one the chain could not be keyed.
    result = manage(
        "check",
        DEBUG="false",
        SECRET_KEY="s" * 10 + "3Xq!v9-Lm2#Pz8@Rt5&Wc1^Yb7*Hn4$Gd6%Fs0aaaa",
        FLISPORTAL_KEY_ENCRYPTION_KEYS=FERNET,
        FLISPORTAL_DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "FLISPORTAL_AUDIT_HMAC_KEY is not set" in result.stderr


def test_missing_key_encryption_key_is_a_check_error_in_production(tmp_path):
    result = manage(
        "check",
        DEBUG="false",
        SECRET_KEY="s" * 10 + "3Xq!v9-Lm2#Pz8@Rt5&Wc1^Yb7*Hn4$Gd6%Fs0aaaa",
        FLISPORTAL_AUDIT_HMAC_KEY=AUDIT_KEY,
        ALLOWED_HOSTS="flis.example.dk",
        FLISPORTAL_DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "flisportal.E001" in result.stderr
