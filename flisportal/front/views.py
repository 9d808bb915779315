"""The pages that read several apps: each role's start page, the help page, the onboarding
checklist, the coverage dashboard (+ CSV), Driftsstatus, /healthz and the error pages.

Each view starts with one access helper that returns what the user may see or raises 404 (not
403: a user outside a row's scope must not learn that it exists).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from deliveries.access import batch_upload_url_for, upload_url_for
from deliveries.selectors import StartOverview, start_overview
from flisportal import cron
from flisportal.front import health
from flisportal.front.coverage import (
    CoverageMatrix,
    CoverageTable,
    coverage_matrix,
    coverage_overview_html,
    coverage_rows_html,
    coverage_stamp,
)
from flisportal.front.forms import CoverageFilterForm
from flisportal.front.help import help_page
from flisportal.front.kommune import kommune_page
from flisportal.front.onboarding import onboarding_checklist
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.periods import period_of
from flisportal.lib.roles import Role, user_role
from routes.access import kommune_page_or_404, onboarding_pair_or_404, require_role
from routes.models import User

logger = logging.getLogger(__name__)

START_TEMPLATES = {
    Role.ADMINISTRATOR: "front/start_administrator.html",
    Role.VENDOR: "front/start_vendor.html",
    Role.CONSULTANT: "front/start_consultant.html",
    Role.NONE: "front/start_none.html",
}


# --- start page -------------------------------------------------------------------------------


@login_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    """Everyone lands here after login and sees the start page of their role: what is still
    owed this month and which deliveries need a person, within what the role may see."""
    role = user_role(request.user)
    context = {}
    if role != Role.NONE:
        context = {
            "overview": _start_overview(request.user),
            "upload_url": upload_url_for(request.user),
            "batch_upload_url": batch_upload_url_for(request.user),
        }
    return render(request, START_TEMPLATES[role], context)


def _start_overview(user: User | AnonymousUser) -> StartOverview:
    """The start page's periods owed and deliveries needing a person, from the cache while
    nothing they show has changed. At a million deliveries «Kræver handling» checks ≈28,000
    recent failures for a later success (≈60–400 ms on a busy machine, benchmarks/load.py);
    the key holds `coverage_stamp()`, which every upload, status change, expected-period change
    and route change renews, and the scope (all for administrators, the user for anyone else),
    so a change shows on the next view. The 30-day window's edge moves with the clock: a failure
    leaves the list at most COVERAGE_CACHE_SECONDS late."""
    if not settings.COVERAGE_CACHE_SECONDS:
        return start_overview(user)
    parts = [
        coverage_stamp(),
        get_language(),
        "all" if user_role(user) == Role.ADMINISTRATOR else f"user-{user.pk}",
    ]
    key = "start:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    overview: StartOverview | None = cache.get(key)
    if overview is None:
        overview = start_overview(user)
        cache.set(key, overview, settings.COVERAGE_CACHE_SECONDS)
    return overview


# --- help -------------------------------------------------------------------------------------


@login_required
@require_GET
def help_view(request: HttpRequest) -> HttpResponse:
    """Hjælp: what the portal's statuses, verdicts and codes mean, and the monthly cycle. The
    same page for every role (a user without a role meets the words too, in mails)."""
    return render(request, "front/help.html", {"help": help_page()})


# --- onboarding checklist ---------------------------------------------------------------------


@login_required
@require_GET
def onboarding(request: HttpRequest, vendor_pk: int, code: str) -> HttpResponse:
    """KOMBIT's onboarding tasks for one vendor and kommune: for administrators, that vendor's
    staff and the consultants of the kommune who work with the vendor (routes.access)."""
    vendor, kommune = onboarding_pair_or_404(request, vendor_pk, code)
    checklist = onboarding_checklist(vendor=vendor, kommune=kommune, user=request.user)
    return render(request, "front/onboarding.html", {"checklist": checklist})


# --- coverage ---------------------------------------------------------------------------------


def _coverage(request: HttpRequest) -> tuple[CoverageFilterForm, User, dict[str, Any]]:
    user = require_role(request, Role.ADMINISTRATOR, Role.CONSULTANT)
    form = CoverageFilterForm(request.GET or None, user=user)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {
            "region": form.cleaned_data["region"] or None,
            "vendor": form.cleaned_data["vendor"],
            "area": form.cleaned_data["area"],
            "search": form.cleaned_data["search"],
            "only": form.cleaned_data["only"],
        }
    return form, user, filters


def _coverage_table(*, user: User, filters: dict[str, Any]) -> CoverageTable:
    """The dashboard's table, from the cache while nothing it shows has changed.

    Building it for all 98 kommuner costs ≈25 ms of CPU, reading it from the cache ≈1 ms
    (benchmarks/load.py). The key holds `coverage_stamp()` (the newest delivery, route, their
    events, audit entry and expected-period change), so any change shows on the next view; the
    scope (all for administrators, the user for anyone else: never another user's table); the
    filters; the language; and the month, whose turn changes which period is collected."""
    parts = [
        coverage_stamp(),
        period_of(timezone.now()),
        get_language(),
        "all" if user_role(user) == Role.ADMINISTRATOR else f"user-{user.pk}",
        filters.get("region") or "",
        *(str(getattr(filters.get(name), "pk", "")) for name in ("vendor", "area")),
        filters.get("search") or "",
        filters.get("only") or "",
    ]
    # "v2": tables cached before the overview existed have none.
    key = "coverage:v2:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    table = cache.get(key) if settings.COVERAGE_CACHE_SECONDS else None
    if table is None:
        matrix = coverage_matrix(user=user, **filters)
        html = render_to_string(
            "front/_coverage_table.html",
            {"matrix": matrix, "rows_html": coverage_rows_html(matrix)},
        )
        table = CoverageTable(
            html=mark_safe(html),  # noqa: S308
            kommuner=len(matrix.rows),
            overview=coverage_overview_html(matrix),
        )
        cache.set(key, table, settings.COVERAGE_CACHE_SECONDS)
    return table


@login_required
@require_GET
def coverage(request: HttpRequest) -> HttpResponse:
    """Kommune × data area: who delivers, how far the route has come, the latest delivery."""
    form, user, filters = _coverage(request)
    return render(
        request,
        "front/coverage.html",
        {
            "form": form,
            "table": _coverage_table(user=user, filters=filters),
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_GET
def coverage_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The coverage matrix as CSV, one row per kommune, area and sender system (semicolons and
    a BOM, so Danish Excel opens it as it is)."""
    user, filters = _coverage(request)[1:]
    matrix = coverage_matrix(user=user, **filters)
    header = [
        _("Kommunekode"),
        _("Kommune"),
        _("Region"),
        _("Dataområde"),
        _("InfRef"),
        _("Leverandør"),
        _("It-system"),
        _("Rutestatus"),
        _("Ruter pr. miljø"),
        _("Seneste leverance"),
        _("Leverancestatus"),
        _("Forventet leverance"),
    ]
    return csv_download(stamped("daekning"), header, _coverage_rows(matrix))


def _coverage_rows(matrix: CoverageMatrix) -> Iterator[list[object]]:
    """One row per kommune, area and sender system; a cell without a route is one row too."""
    for cell in matrix.cells():
        delivery = cell.latest_delivery
        tail = [
            delivery.delivered_on.isoformat() if delivery else "",
            delivery.status_label if delivery else "",
            cell.expected_text,
        ]
        head = [
            cell.kommune.code,
            cell.kommune.name,
            cell.kommune.get_region_display(),
            cell.area.name,
            cell.area.infref,
        ]
        if not cell.entries:
            yield [*head, "", "", "", "", *tail]
        for entry in cell.entries:
            best = entry.best
            yield [
                *head,
                entry.vendor.name if entry.vendor else "",
                entry.system.name,
                best.label if best else "",
                ", ".join(f"{b.endpoint.slug}: {b.label}" for b in entry.badges),
                *tail,
            ]


# --- a kommune's own page ---------------------------------------------------------------------


@login_required
@require_GET
def kommune(request: HttpRequest, code: str) -> HttpResponse:
    """One kommune at a glance: its routes, vendors, the last twelve periods per data area
    and its open problems, within what the user may see (routes.access)."""
    found = kommune_page_or_404(request, code)
    role = user_role(request.user)
    return render(
        request,
        "front/kommune.html",
        {
            "page": kommune_page(kommune=found, user=request.user),
            # The pages the role may open about the kommune (their own access rules).
            "show_history": role in (Role.ADMINISTRATOR, Role.CONSULTANT),
            "show_routes": role == Role.ADMINISTRATOR,
        },
    )


# --- Driftsstatus and the health check --------------------------------------------------------


@login_required
@require_GET
def drift_status(request: HttpRequest) -> HttpResponse:
    """Driftsstatus: whether the machinery works, for administrators, with what to do when it
    does not. A Redis that does not answer is shown on the page, not raised."""
    if user_role(request.user) != Role.ADMINISTRATOR:
        raise Http404
    return render(request, "front/drift.html", {"status": health.drift_status()})


@login_required
@require_POST
def drift_run_job(request: HttpRequest) -> HttpResponse:
    """ "Kør nu": puts one periodic job on its queue at once, e.g. the nightly audit check on a
    fresh install, whose page says "Advarsel" until the job has run once."""
    user = require_role(request, Role.ADMINISTRATOR)
    name = request.POST.get("job", "")
    try:
        job = cron.enqueue_now(name, connection=health.redis_connection())
    except redis.RedisError:
        logger.warning("Kør nu: Redis did not answer", exc_info=True)
        messages.error(
            request,
            _("Jobbet kunne ikke sættes i kø, fordi Redis ikke svarer. Start Redis, og prøv igen."),
        )
        return redirect("front:drift")
    if job is None:
        # A page older than the last change to flisportal/cron.py, or a hand-made form.
        messages.error(
            request,
            _("Der er intet periodisk job med det navn. Opdatér siden, og prøv igen."),
        )
        return redirect("front:drift")
    logger.info("%s put the periodic job %s on its queue by hand", user.username, name)
    messages.success(
        request,
        _("Jobbet »%(job)s« er sat i kø. Opdatér siden for at se, hvordan kørslen endte.")
        % {"job": cron.label_of(name)},
    )
    return redirect("front:drift")


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For a load balancer or monitoring, without login: 200 when the database answers a
    trivial query and Redis answers PING, else 503 saying which. No host names, no errors:
    anyone may ask."""
    database = health.database_answers()
    redis = health.redis_answers()
    if database and redis:
        return JsonResponse({"status": "ok"})
    return JsonResponse(
        {
            "status": "fejl",
            "database": "ok" if database else "fejl",
            "redis": "ok" if redis else "fejl",
        },
        status=503,
    )


# --- error pages ------------------------------------------------------------------------------


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("404.html", request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be the reason we are here.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
