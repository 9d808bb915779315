"""The portal as its users meet it: `manage.py` processes (runserver, workers, cron) on the test
database, and Debian's Chromium driven by Playwright. Used by tests/e2e and by the upload
page's browser test. Their fixtures are in tests/fixtures/browser.py.

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


def enter_password(page: Any, url: str, username: str, password: str) -> None:
    """The login page's first step alone: user name and password, then «Log ind». Where the
    portal goes next (start page, second factor, enrolment) is the caller's to check."""
    page.goto(f"{url}/konto/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Log ind')")


def log_in(page: Any, url: str, username: str, password: str, *, device: Any = None) -> None:
    """Logs in through the login page, and with the authenticator `device`'s current code when
    the portal asks for one (administrators: tests.helpers.twofactor.authenticator gives them
    one); ends on the start page."""
    enter_password(page, url, username, password)
    if device is not None:
        page.wait_for_url(f"{url}/konto/2fa/kode/**")
        page.fill("input[name=token]", code_of(device))
        page.click("#code-submit")
    page.locator("h1").filter(has_text="Forside").wait_for()


def csp_complaints(page: Any) -> list[str]:
    """A list that fills with the browser's Content-Security-Policy complaints on `page`. The
    portal sends a strict CSP: any inline script or style, or a script from elsewhere, would
    show up here."""
    complaints: list[str] = []
    page.on(
        "console",
        lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return complaints


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Saves what `page` shows as test-artifacts/<name>.png (the whole page unless `full_page`
    is off: then the screen as the user first sees it), where the docs' screenshots are copied
    from."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
