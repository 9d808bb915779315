"""Udvikling: the trends page and the CSV behind each of its charts.

For administrators (all kommuner, filterable by region, vendor and data area) and kommune
consultants (their kommuner). Vendor staff and users without a role get 404, as on the coverage
dashboard: the page compares vendors, and a vendor's own periods are on Udestående and
Leverancer. Each chart's table and CSV are built from the same rows (`TrendChart.rows`), so the
download holds exactly the numbers the chart draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from flisportal.front import svgcharts
from flisportal.front.coverage import coverage_stamp
from flisportal.front.forms import TrendsFilterForm
from flisportal.front.trends import OUTCOMES, RateSeries, RuleFailure, Trends, trends
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.periods import local_date
from flisportal.lib.roles import Role, user_role
from routes.access import require_role

# Each outcome's colour and pattern: green and solid for on time, and so on to white for open.
FILLS = [
    svgcharts.Fill("on_time", "#2e7d32", "#ffffff", "solid"),
    svgcharts.Fill("late", "#ffe0a3", "#8a5300", "hatch"),
    svgcharts.Fill("rejected", "#f4c7c3", "#a4161a", "cross"),
    svgcharts.Fill("missing", "#cfcfcf", "#222222", "dots"),
    svgcharts.Fill("open", "#ffffff", "#333333", "none"),
]


@dataclass
class TrendChart:
    """One chart of the page with its numbers: the table under it and its CSV."""

    slug: str  # its CSV's name in the URL
    heading: str
    svg: SafeString
    header: list[str]
    rows: list[list[object]]
    parts: list[tuple[str, SafeString]] = field(default_factory=list)  # rules: one per vendor
    # Nothing to draw: no expected period in any month yet (a new installation, or filters
    # that match nothing). The CSV still holds the months with their zeros.
    empty: bool = False


def _filters(request: HttpRequest) -> tuple[TrendsFilterForm, dict[str, Any]]:
    user = require_role(request, Role.ADMINISTRATOR, Role.CONSULTANT)
    form = TrendsFilterForm(request.GET or None, user=user)
    filters: dict[str, Any] = {"user": user}
    if form.is_bound and form.is_valid():
        filters |= {
            "months": form.cleaned_data["months"] or 12,
            "region": form.cleaned_data["region"] or None,
            "vendor": form.cleaned_data["vendor"],
            "area": form.cleaned_data["area"],
        }
    return form, filters


def _cache_key(filters: dict[str, Any]) -> str:
    """What a cached count depends on: the coverage dashboard's change stamp (a new delivery, an
    event, an expected period's new state, a route), the Danish date (every deadline falls on a
    Danish midnight, so an outcome that depends on the clock, open → missing, changes only with
    the date), the language (the rules in words), the scope (all for administrators, the user
    for anyone else) and the filters."""
    user = filters["user"]
    parts = [
        coverage_stamp(),
        local_date(timezone.now()).isoformat(),
        get_language(),
        "all" if user_role(user) == Role.ADMINISTRATOR else f"user-{user.pk}",
        str(filters.get("months") or 12),
        filters.get("region") or "",
        *(str(getattr(filters.get(name), "pk", "")) for name in ("vendor", "area")),
    ]
    return "trends:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def cached_trends(**filters: Any) -> Trends:
    """`trends()`, from the cache while nothing it counts has changed (`_cache_key`).

    Over 24 months of every kommune the reads take ≈100 ms of database time with five years of
    data (the failed rules' COUNT(DISTINCT) most of it), too much for every view."""
    return _counts(_cache_key(filters), filters)


def _counts(key: str, filters: dict[str, Any]) -> Trends:
    data = cache.get(key) if settings.TRENDS_CACHE_SECONDS else None
    if data is None:
        data = trends(**filters)
        cache.set(key, data, settings.TRENDS_CACHE_SECONDS)
    return data


def cached_charts(
    filters: dict[str, Any], query: str
) -> tuple[Trends, list[TrendChart], SafeString]:
    """The counts, the charts and the charts' HTML (the SVGs and the tables under them), from
    the cache under the counts' own key while nothing they show has changed.

    Drawing the charts and rendering their tables (24 months × every vendor is several hundred
    rows) cost ≈40 ms of CPU per view with the counts already cached: at ten users on two
    cores that queued to a p95 of 235 ms (benchmarks/load.py). Kept with the counts, a view
    renders only the page around them. `query` (the page's filters, in the CSV links) is part
    of the key."""
    counts_key = _cache_key(filters)
    key = f"{counts_key}:charts:{hashlib.sha256(query.encode()).hexdigest()}"
    cached = cache.get(key) if settings.TRENDS_CACHE_SECONDS else None
    if cached is None:
        data = _counts(counts_key, filters)
        charts = [build(data) for build in CHARTS.values()]
        html = render_to_string("front/_trend_charts.html", {"charts": charts, "query": query})
        cached = (data, charts, SafeString(html))
        cache.set(key, cached, settings.TRENDS_CACHE_SECONDS)
    return cached


def _percent(on_time: int, decided: int) -> object:
    return round(100 * on_time / decided) if decided else ""


def months_chart(data: Trends) -> TrendChart:
    labels = {key: str(words) for key, words in OUTCOMES.items()}
    rows: list[list[object]] = [
        [month.period, *month.counts.values(), month.total] for month in data.months
    ]
    return TrendChart(
        slug="maaneder",
        heading=_("Forventede leverancer pr. måned"),
        svg=svgcharts.stacked_bars(
            chart_id="trend-months",
            title=_("Forventede leverancer pr. måned"),
            desc=_(
                "Søjler pr. periode, delt i til tiden, for sent, afvist, mangler og åben. "
                "Tallene står i tabellen under diagrammet."
            ),
            fills=FILLS,
            labels=labels,
            columns=[(month.period, month.counts) for month in data.months],
        ),
        header=[_("Periode"), *labels.values(), _("I alt")],
        rows=rows,
        empty=not any(month.total for month in data.months),
    )


def rate_chart(
    slug: str, heading: str, name: str, series: list[RateSeries], periods: list[str]
) -> TrendChart:
    rows: list[list[object]] = [
        [
            line.name,
            point.period,
            point.on_time,
            point.decided,
            _percent(point.on_time, point.decided),
        ]
        for line in series
        for point in line.points
    ]
    return TrendChart(
        slug=slug,
        heading=heading,
        svg=svgcharts.rate_grid(
            chart_id=f"trend-{slug}",
            title=heading,
            desc=_(
                "En række pr. %(name)s og en celle pr. periode med andelen til tiden i procent; "
                "jo mørkere celle, jo større andel. – betyder, at ingen periode er afgjort endnu."
            )
            % {"name": name},
            periods=periods,
            rows=[(line.name, [point.rate for point in line.points]) for line in series],
        ),
        header=[name.capitalize(), _("Periode"), _("Til tiden"), _("Afgjort"), _("Til tiden (%)")],
        rows=rows,
    )


def _rule_label(failure: RuleFailure) -> str:
    """The rule's short name beside its bar: the column (or the file as a whole) and its code."""
    where = failure.column or _("hele filen")
    return f"{where} · {failure.rule}"


def rules_chart(data: Trends) -> TrendChart:
    rows: list[list[object]] = [
        [vendor.vendor, f.area, f.column, f.rule, f.words, f.deliveries, f.errors]
        for vendor in data.rules
        for f in vendor.failures
    ]
    parts = [
        (
            vendor.vendor,
            svgcharts.horizontal_bars(
                chart_id=f"trend-rules-{index}",
                title=_("Regler, der fejler oftest hos %(vendor)s") % {"vendor": vendor.vendor},
                desc=_(
                    "Antal afviste leverancer, der brød hver regel. Reglerne i ord står i tabellen."
                ),
                bars=[(_rule_label(f), f.deliveries, f.words) for f in vendor.top],
            ),
        )
        for index, vendor in enumerate(data.rules)
    ]
    return TrendChart(
        slug="regler",
        heading=_("Valideringsregler, der fejler oftest, pr. leverandør"),
        svg=SafeString(""),
        header=[
            _("Leverandør"),
            _("Dataområde"),
            _("Kolonne"),
            _("Regel"),
            _("Reglen i ord"),
            _("Afviste leverancer"),
            _("Listede fejl"),
        ],
        rows=rows,
        parts=parts,
    )


CHARTS: dict[str, Callable[[Trends], TrendChart]] = {
    "maaneder": months_chart,
    "leverandoerer": lambda data: rate_chart(
        "leverandoerer",
        _("Andel til tiden pr. leverandør (%)"),
        _("leverandør"),
        data.by_vendor,
        data.periods,
    ),
    "dataomraader": lambda data: rate_chart(
        "dataomraader",
        _("Andel til tiden pr. dataområde (%)"),
        _("dataområde"),
        data.by_area,
        data.periods,
    ),
    "regler": rules_chart,
}


@login_required
@require_GET
def trends_page(request: HttpRequest) -> HttpResponse:
    """Udvikling: how the expected deliveries ended, month by month, as charts with their
    numbers under each."""
    form, filters = _filters(request)
    data, charts, charts_html = cached_charts(filters, request.GET.urlencode())
    return render(
        request,
        "front/trends.html",
        {"form": form, "trends": data, "charts": charts, "charts_html": charts_html},
    )


@login_required
@require_GET
def trends_csv(request: HttpRequest, chart: str) -> StreamingHttpResponse:
    """The numbers of one chart, as its table shows them, with the page's filters."""
    if chart not in CHARTS:
        raise Http404
    filters = _filters(request)[1]
    built = CHARTS[chart](cached_trends(**filters))
    return csv_download(stamped(f"udvikling-{chart}"), built.header, built.rows)
