"""With DEBUG off, the real settings send HSTS, redirect plain HTTP and mark cookies secure.

Those settings are computed when settings.py is imported, so the test runs a separate Django
process with production environment variables and asks it through Django's test client.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not the development default: production refuses that one (flisportal.E005).
FERNET = "KSXZkUjY0WrLZPLL5dwOtBkbuFoU_xUb_erFFUrHlqg="

PROBE = """
import json
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(SERVER_NAME="flis.example.dk")
plain = client.get("/konto/login/")
secure = client.get("/konto/login/", secure=True)
cookie = secure.cookies.get("csrftoken")
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "secure_status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security", ""),
    "csp": secure.get("Content-Security-Policy", ""),
    "frame": secure.get("X-Frame-Options", ""),
    "nosniff": secure.get("X-Content-Type-Options", ""),
    "csrf_cookie_secure": bool(cookie and cookie["secure"]),
}))
"""


def test_production_settings_send_hsts_and_secure_cookies(tmp_path):
    # Its own SQLite in tmp_path, also when the suite runs on PostgreSQL (DATABASE_URL).
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    env = {
        **clean,
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "3Xq!v9-Lm2#Pz8@Rt5&Wc1^Yb7*Hn4$Gd6%Fs0",
        "FLISPORTAL_KEY_ENCRYPTION_KEYS": FERNET,
        # Not the development default either (flisportal.E005).
        "FLISPORTAL_AUDIT_HMAC_KEY": "audit-" + "a" * 10 + "7Rk!2pQ-x9Lm#4Vt8@Zc",
        "ALLOWED_HOSTS": "flis.example.dk",
        "FLISPORTAL_DATA_DIR": str(tmp_path),
        "EMAIL_USE_TLS": "true",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain_status"] == 301
    assert seen["plain_location"].startswith("https://flis.example.dk/")
    assert seen["secure_status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in seen["csp"]
    assert seen["frame"] == "DENY"
    assert seen["nosniff"] == "nosniff"
    assert seen["csrf_cookie_secure"] is True
