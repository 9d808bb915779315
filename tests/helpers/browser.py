"""The portal as its users meet it: `manage.py` processes (runserver, workers, cron) on the test
database, and Debian's Chromium driven by Playwright. Used by tests/e2e and by the upload
page's browser test.

The browser is the system's `/usr/bin/chromium`: Playwright never downloads one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.processes import ROOT
from tests.helpers.twofactor import code_of

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Portal:
    url: str
    logs: Path

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def start_manage(args: list[str], env: dict[str, str], log: Path | None) -> subprocess.Popen:
    """`manage.py *args` as a process of its own, its output to `log` (or nowhere)."""
    handle = log.open("wb") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            handle.close()  # type: ignore[union-attr]  # the child keeps its own copy


def wait_for_http(url: str, process: subprocess.Popen, log: Path | None = None) -> None:
    """Returns once `url` answers 200; fails the test if the server stops or never answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(errors="replace") if log else ""
            pytest.fail(f"the web server stopped:\n{said}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the web server did not answer on {url}")


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, without the background traffic a test does not want."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        headless=True,
    )


def log_in(page: Any, url: str, username: str, password: str, *, device: Any = None) -> None:
    """Logs in through the login page, and with the authenticator `device`'s current code when
    the portal asks for one (administrators); ends on the start page."""
    page.goto(f"{url}/konto/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Log ind')")
    if device is not None:
        page.wait_for_url(f"{url}/konto/2fa/kode/**")
        page.fill("input[name=token]", code_of(device))
        page.click("#code-submit")
    page.locator("h1").filter(has_text="Forside").wait_for()
