"""The two-factor roles setting is read from the environment, and a misspelt role stops
start-up with a message instead of silently requiring nothing of that role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _roles(value: str) -> subprocess.CompletedProcess[str]:
    code = "from django.conf import settings; print(','.join(settings.FLISPORTAL_TWO_FACTOR_ROLES))"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "flisportal.settings",
            "FLISPORTAL_TWO_FACTOR_ROLES": value,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_roles_are_read_from_the_environment():
    result = _roles("administrator,vendor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "administrator,vendor"


def test_an_unknown_role_stops_start_up_and_names_it():
    result = _roles("administrator,leverandør")
    assert result.returncode != 0
    assert "FLISPORTAL_TWO_FACTOR_ROLES may name only" in result.stderr
    assert "leverandør" in result.stderr
