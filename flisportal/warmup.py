"""What a web process does once when it starts, so that its first visitors do not pay for it.

Without it the first request a gunicorn worker serves imports every view module behind the
URLconf (≈1 s), and the first view of each page compiles its templates (≈50–100 ms for the
coverage dashboard with its form). With four workers that is sixteen slow first views of a
page after every restart, each landing on whoever comes first (benchmarks/load.py measured
them as the dashboard's p95 at one user).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import cast

from django.apps import apps
from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.urls import get_resolver

log = logging.getLogger(__name__)

# The form templates of the template pack the portal's forms use (crispy-bootstrap5): every
# filter bar and form on the portal's pages renders some of them.
FORM_PACK_PREFIX = "bootstrap5/"


def portal_templates() -> list[str]:
    """The names of the portal's own templates (templates/ and the templates/ of each app in
    this project) and of the form pack's, relative to their template folder."""
    names: set[str] = set()
    folders = cast(list[str | Path], settings.TEMPLATES[0]["DIRS"])
    roots = [Path(folder) for folder in folders]
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(settings.BASE_DIR) or config.label == "crispy_bootstrap5":
            roots.append(path / "templates")
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*.html"):
            name = path.relative_to(root).as_posix()
            if root.parent.name == "crispy_bootstrap5" and not name.startswith(FORM_PACK_PREFIX):
                continue
            names.add(name)
    return sorted(names)


def warm_up() -> float:
    """Imports the view modules behind every URL and compiles the portal's templates into the
    template engine's cache (Django's cached loader, on unless a test turns it off). Returns
    the seconds it took. A template that fails to compile is logged and left for its page to
    report as it would have."""
    started = time.perf_counter()
    get_resolver().url_patterns  # noqa: B018 – imports the URLconf and every view module
    engine = engines["django"]
    for name in portal_templates():
        try:
            engine.get_template(name)
        except (TemplateDoesNotExist, TemplateSyntaxError) as error:
            log.warning("Template %s did not compile at start: %s", name, error)
    return time.perf_counter() - started
