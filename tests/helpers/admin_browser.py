"""An administrator logging in through a real browser: password, then the authenticator code
the second-factor gate asks administrators for (flisportal/twofactor)."""

from __future__ import annotations

from typing import Any

from tests.helpers.twofactor import authenticator, code_of


def log_in_administrator(page: Any, base_url: str, user: Any, password: str) -> None:
    """Logs `user` (an administrator with `password`) in on `page`, with a new authenticator."""
    device = authenticator(user)
    page.goto(f"{base_url}/konto/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Log ind')")
    page.fill("#id_token", code_of(device))
    page.press("#id_token", "Enter")
    page.wait_for_load_state()
