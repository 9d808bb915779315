from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from flisportal.lib.roles import Role, user_role

# The menus every page draws, by role. They name no user and no request: the same role and
# language get the same HTML, so each process writes them once (≈25 {% url %} and ~30
# translations a page otherwise; benchmarks/load.py) — a handful of roles and two languages.
MENU_TEMPLATES = ("flisportal/_nav.html", "flisportal/_user_menu.html")


@lru_cache(maxsize=64)
def _menu_html(template: str, role: Role, language: str, prefix: str, urlconf: str | None) -> str:
    # The language, script prefix and URLconf the links and words depend on are in the key;
    # the template is rendered under the language already active for the request.
    return render_to_string(template, {"role": role, "Role": Role})


def _menu(template: str, role: Role) -> Callable[[], SafeString]:
    # Called by the template only where it draws the menu (a logged-in page), so a page without
    # it pays nothing.
    def html() -> SafeString:
        key = (template, role, get_language(), get_script_prefix(), get_urlconf())
        return SafeString(_menu_html(*key))

    return html


def portal(request: HttpRequest) -> dict[str, Any]:
    """The current user's role, for navigation by role, and the role's menus."""
    role = user_role(request.user)
    return {
        "role": role,
        "Role": Role,
        "main_menu": _menu(MENU_TEMPLATES[0], role),
        "user_menu": _menu(MENU_TEMPLATES[1], role),
    }
