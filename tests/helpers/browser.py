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
# Debian ships Chromium's language packs apart (chromium-l10n); without da.pak the browser falls
# back to English whatever language it is asked for.
DANISH_PACK = Path("/usr/lib/chromium/locales/da.pak")
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
    """Debian's Chromium, headless, without the background traffic a test does not want, and
    in Danish, as the portal's users run it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    if not DANISH_PACK.exists():
        pytest.fail(
            f"{DANISH_PACK} is missing, so Chromium would show date fields in English: "
            "`make test` installs Debian's chromium-l10n package."
        )
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        env=danish_environment(),
        headless=True,
    )


def danish_environment() -> dict[str, str]:
    """This process's environment with Danish as the language, for the browser process.

    A context's `locale="da-DK"` sets only what pages read (navigator.language, Intl, the
    Accept-Language header); how Chromium draws a date field (dd.mm.åååå or mm/dd/yyyy) follows
    the browser's own UI language. On Linux that comes from LANGUAGE/LC_ALL/LC_MESSAGES/LANG:
    `--lang` is ignored there. The inherited locale variables are dropped so that a developer's
    LC_ALL or LANGUAGE cannot win over Danish."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LC_") and name not in ("LANG", "LANGUAGE")
    }
    return {**inherited, "LANG": "da_DK.UTF-8", "LANGUAGE": "da"}


def date_field_text(page: Any, selector: str) -> str:
    """What the date field `selector` shows, as Chromium draws it: its placeholder
    («dd.mm.åååå») when empty, else its date in the browser's format («30.11.2026»).

    The field's parts live in a shadow tree that scripts cannot read; Chromium's accessibility
    tree (over the DevTools protocol) has them, as the text a screen reader would speak."""
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": 0})
        found = cdp.send(
            "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
        )
        if not found["nodeId"]:
            pytest.fail(f"no element {selector!r} on {page.url}")
        described = cdp.send("DOM.describeNode", {"nodeId": found["nodeId"]})
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    by_id = {node["nodeId"]: node for node in nodes}
    backend_id = described["node"]["backendNodeId"]
    field = next((n for n in nodes if n.get("backendDOMNodeId") == backend_id), None)
    if field is None:
        pytest.fail(f"{selector!r} is not in the page's accessibility tree")
    return "".join(_static_texts(field, by_id))


def _static_texts(node: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    """The visible texts under `node` in reading order (depth first, as childIds are ordered)."""
    if node.get("role", {}).get("value") == "StaticText":
        return [node.get("name", {}).get("value", "")]
    texts: list[str] = []
    for child_id in node.get("childIds", []):
        if child_id in by_id:
            texts += _static_texts(by_id[child_id], by_id)
    return texts


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
