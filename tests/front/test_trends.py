"""Udvikling: how expected periods ended (on time / late / rejected / missing / open, each
defined in flisportal/front/trends.py), the on-time rate per vendor and data area, the rules
that fail most per vendor; scoped per user in page, tables and CSV; SVG charts a screen reader
can name; a fixed number of queries however many months and deliveries.

The clock stands still at 5 December 2026, 12:00 in Copenhagen: the period being collected is
2026-11, and the twelve months shown are 2025-12 … 2026-11."""

from __future__ import annotations

import pytest
import time_machine
from defusedxml import ElementTree as ET
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import DataContract, ValidationIssue
from deliveries.rules import describe_rule
from deliveries.services.rule_failures import rule_failures_add
from flisportal.front import trends_views
from flisportal.front.trends import trend_periods, trends
from flisportal.front.trends_views import cached_trends
from routes.models import Route
from tests import factories
from tests.helpers.clock import local
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

NOW = local(2026, 12, 5, 12, 0)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def kbh_route(upload_route) -> Route:
    """Vendor A's Dagtilbud route for København (due day 10, no grace days)."""
    return upload_route


@pytest.fixture
def aarhus_route(system_b, flis_system) -> Route:
    """Vendor B's Dagtilbud route for Aarhus: outside the København consultant's scope."""
    return factories.route(
        kommune=factories.AARHUS,
        sender_system=system_b,
        data_area="dagtilbud",
        recipients=[flis_system],
    )


def rejected(route: Route, period: str, *issues: tuple[str, str]):
    """A rejected delivery of `route` for `period` with one listed error per (column, rule),
    counted in the failed-rules roll-up as validation counts it (tests/deliveries/
    test_rule_failures.py holds that the real validation path gives the same numbers)."""
    delivery = factories.delivery(route, status=DeliveryStatus.REJECTED, period=period)
    ValidationIssue.objects.bulk_create(
        ValidationIssue(delivery=delivery, position=n, column=column, rule=rule, message="fejl")
        for n, (column, rule) in enumerate(issues)
    )
    rule_failures_add(delivery=delivery, rules=issues)
    return delivery


def counts_of(data, period):
    return next(month.counts for month in data.months if month.period == period)


# --- the outcomes, each by its definition -----------------------------------------------------


def test_met_by_the_end_of_the_due_day_in_copenhagen_is_on_time(admin_user, kbh_route):
    """On time is met before the end of the due day in Denmark: 23:59 on 10 October is on time,
    local midnight starting 11 October is late (22:00 UTC on the 10th, which a UTC reading of
    the day would still call the due day)."""
    factories.expected(kbh_route, "2026-09", met_at=local(2026, 10, 10, 23, 59))
    factories.expected(kbh_route, "2026-08", met_at=local(2026, 9, 11, 0, 0))
    data = trends(user=admin_user)
    assert counts_of(data, "2026-09") == {
        "on_time": 1, "late": 0, "rejected": 0, "missing": 0, "open": 0
    }  # fmt: skip
    assert counts_of(data, "2026-08")["late"] == 1
    assert counts_of(data, "2026-08")["on_time"] == 0


def test_a_later_success_settles_a_rejected_period(admin_user, kbh_route):
    """A rejected file for a period that was delivered afterwards does not make the period
    "rejected": the period counts as on time (or late) by its met time."""
    rejected(kbh_route, "2026-06", ("kommunekode", "pattern"))
    factories.expected(kbh_route, "2026-06", met_at=local(2026, 7, 9, 12, 0))
    rejected(kbh_route, "2026-07", ("kommunekode", "pattern"))
    factories.expected(kbh_route, "2026-07")
    data = trends(user=admin_user)
    assert counts_of(data, "2026-06")["on_time"] == 1
    assert counts_of(data, "2026-06")["rejected"] == 0
    assert counts_of(data, "2026-07")["rejected"] == 1
    assert counts_of(data, "2026-07")["missing"] == 0


def test_rejected_before_the_deadline_is_left_out_of_the_rate(admin_user, kbh_route):
    """November's file was rejected on 3 December, before the deadline of 10 December: the
    month shows it as rejected, but the rate leaves it out until the deadline has passed."""
    rejected(kbh_route, "2026-11", ("kommunekode", "pattern"))
    factories.expected(kbh_route, "2026-11", state="pending")
    data = trends(user=admin_user)
    assert counts_of(data, "2026-11")["rejected"] == 1
    [vendor_a] = data.by_vendor
    assert (vendor_a.points[-1].decided, vendor_a.points[-1].rate) == (0, None)
    with time_machine.travel(local(2026, 12, 11, 0, 0), tick=False):
        [vendor_a] = trends(user=admin_user).by_vendor
    assert (vendor_a.points[-1].decided, vendor_a.points[-1].rate) == (1, 0.0)


def test_refused_by_the_platform_counts_as_rejected(admin_user, kbh_route):
    factories.delivery(kbh_route, status=DeliveryStatus.REFUSED, period="2026-05")
    factories.expected(kbh_route, "2026-05")
    assert counts_of(trends(user=admin_user), "2026-05")["rejected"] == 1


def test_missing_only_once_the_grace_days_have_passed(admin_user, kbh_route):
    """Not met and nothing turned down: open until the deadline with its grace days has passed,
    missing from that instant (grace days 2: due 10 November, overdue from 13 November 00:00)."""
    kbh_route.grace_days_override = 2
    kbh_route.save()
    factories.expected(kbh_route, "2026-10")
    with time_machine.travel(local(2026, 11, 12, 23, 59), tick=False):
        assert counts_of(trends(user=admin_user), "2026-10")["open"] == 1
    with time_machine.travel(local(2026, 11, 13, 0, 0), tick=False):
        assert counts_of(trends(user=admin_user), "2026-10")["missing"] == 1


def test_the_months_end_with_the_period_collected_in_copenhagen():
    """Half past midnight on 1 December in Copenhagen is still 30 November in UTC: the window
    already ends with November's period, collected in December."""
    with time_machine.travel(local(2026, 12, 1, 0, 30), tick=False):
        periods = trend_periods(12)
    assert periods[0] == "2025-12" and periods[-1] == "2026-11"
    assert len(trend_periods(24)) == 24


def test_on_time_rate_per_vendor_and_area_leaves_open_periods_out(
    admin_user, kbh_route, aarhus_route
):
    factories.expected(kbh_route, "2026-09", met_at=local(2026, 10, 1, 9, 0))
    factories.expected(aarhus_route, "2026-09", met_at=local(2026, 10, 20, 9, 0))
    factories.expected(aarhus_route, "2026-10", met_at=local(2026, 11, 2, 9, 0))
    factories.expected(aarhus_route, "2026-11")  # open: due 10 December
    data = trends(user=admin_user)
    rates = {
        series.name: {p.period: (p.on_time, p.decided) for p in series.points if p.decided}
        for series in data.by_vendor
    }
    assert rates == {
        "Leverandør A": {"2026-09": (1, 1)},
        "Leverandør B": {"2026-09": (0, 1), "2026-10": (1, 1)},
    }
    [dagtilbud] = data.by_area
    assert dagtilbud.name == "Dagtilbud"
    september = next(p for p in dagtilbud.points if p.period == "2026-09")
    assert (september.on_time, september.decided, september.rate) == (1, 2, 0.5)
    november = dagtilbud.points[-1]
    assert (november.period, november.rate) == ("2026-11", None)


def test_failed_rules_per_vendor_in_words(admin_user, kbh_route, aarhus_route):
    """Counted in rejected deliveries that broke the rule at least once; described with the
    area's active contract by deliveries.rules.describe_rule."""
    rejected(kbh_route, "2026-10", ("kommunekode", "pattern"), ("kommunekode", "pattern"))
    rejected(kbh_route, "2026-09", ("kommunekode", "pattern"), ("", "header"))
    rejected(aarhus_route, "2026-10", ("pasningstilbud", "enum"))
    rejected(kbh_route, "2024-01", ("cpr_barn", "required"))  # outside the twelve months
    data = trends(user=admin_user)
    [vendor_a, vendor_b] = data.rules
    assert vendor_a.vendor == "Leverandør A"
    failures = [(f.column, f.rule, f.deliveries, f.errors) for f in vendor_a.failures]
    assert failures == [("kommunekode", "pattern", 2, 3), ("", "header", 1, 1)]
    contract = DataContract.objects.get(data_area__code="dagtilbud", is_active=True).document
    words = describe_rule(contract, column="kommunekode", rule="pattern")
    assert vendor_a.failures[0].words == words and words
    assert [f.rule for f in vendor_b.failures] == ["enum"]


# --- the page: scope, filters, tables, CSV, SVG -----------------------------------------------


@pytest.fixture
def two_kommuner(kbh_route, aarhus_route):
    factories.expected(kbh_route, "2026-09", met_at=local(2026, 10, 1, 9, 0))
    factories.expected(aarhus_route, "2026-09")
    rejected(aarhus_route, "2026-10", ("pasningstilbud", "enum"))
    factories.expected(aarhus_route, "2026-10")


def test_consultant_never_sees_another_kommunes_numbers(client, consultant_user, two_kommuner):
    client.force_login(consultant_user)
    page = client.get(reverse("front:trends"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Leverandør B" not in html
    data = page.context["trends"]
    assert counts_of(data, "2026-09") == {
        "on_time": 1, "late": 0, "rejected": 0, "missing": 0, "open": 0
    }  # fmt: skip
    assert data.rules == []
    for chart in ("maaneder", "leverandoerer", "dataomraader", "regler"):
        rows = csv_rows(client.get(reverse("front:trends_csv", args=[chart])))
        assert not any("Leverandør B" in cell for row in rows for cell in row), chart
    months = csv_rows(client.get(reverse("front:trends_csv", args=["maaneder"])))
    assert ["2026-09", "1", "0", "0", "0", "0", "1"] in months


def test_administrator_filters_by_region_vendor_and_area(
    client, admin_user, two_kommuner, vendor_b
):
    client.force_login(admin_user)
    everything = client.get(reverse("front:trends")).context["trends"]
    assert counts_of(everything, "2026-09")["missing"] == 1
    region = client.get(reverse("front:trends"), {"region": "Region Hovedstaden"})
    assert counts_of(region.context["trends"], "2026-09")["missing"] == 0
    vendor = client.get(reverse("front:trends"), {"vendor": vendor_b.pk})
    assert counts_of(vendor.context["trends"], "2026-09") == {
        "on_time": 0, "late": 0, "rejected": 0, "missing": 1, "open": 0
    }  # fmt: skip
    assert [r.vendor for r in vendor.context["trends"].rules] == ["Leverandør B"]
    area = client.get(reverse("front:trends"), {"area": "skole"})
    assert area.context["trends"].by_area == []
    assert area.context["trends"].rules == []
    longer = client.get(reverse("front:trends"), {"months": "24"})
    assert longer.context["trends"].periods[0] == "2024-12"
    # The CSV takes the same filters.
    rows = csv_rows(client.get(reverse("front:trends_csv", args=["regler"]), {"area": "skole"}))
    assert rows == [rows[0]]


def test_each_csv_holds_its_charts_numbers(client, admin_user, two_kommuner):
    client.force_login(admin_user)
    response = client.get(reverse("front:trends_csv", args=["leverandoerer"]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="udvikling-leverandoerer-' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["Leverandør", "Periode", "Til tiden", "Afgjort", "Til tiden (%)"]
    assert ["Leverandør A", "2026-09", "1", "1", "100"] in rows
    assert ["Leverandør B", "2026-09", "0", "1", "0"] in rows
    assert ["Leverandør B", "2026-10", "0", "1", "0"] in rows  # the rejected one, still unmet
    assert ["Leverandør A", "2026-10", "0", "0", ""] in rows
    rules = csv_rows(client.get(reverse("front:trends_csv", args=["regler"])))
    assert rules[1][:4] == ["Leverandør B", "Dagtilbud", "pasningstilbud", "enum"]
    assert rules[1][5:] == ["1", "1"]
    # The table under the chart shows the same rows.
    page = client.get(reverse("front:trends"))
    chart = next(c for c in page.context["charts"] if c.slug == "leverandoerer")
    assert [[str(cell) for cell in row] for row in chart.rows] == rows[1:]
    assert client.get(reverse("front:trends_csv", args=["andet"])).status_code == 404


def test_charts_are_well_formed_svg_with_a_title_and_description(client, admin_user, two_kommuner):
    client.force_login(admin_user)
    page = client.get(reverse("front:trends"))
    html = page.content.decode()
    svgs = [html[start : html.index("</svg>", start) + 6] for start in _starts(html, "<svg")]
    assert len(svgs) == 4  # months, vendors, areas, and the rules of vendor B (A has none)
    for markup in svgs:
        root = ET.fromstring(markup)  # raises on markup that is not well-formed
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        # No inline style: the Content-Security-Policy (style-src 'self') would block it.
        assert "style=" not in markup
    months = ET.fromstring(svgs[0])
    assert months.find(f"{SVG}title").text == "Forventede leverancer pr. måned"
    # Each outcome has its own pattern, shown in the legend, so colour is not the only clue.
    patterns = months.findall(f"{SVG}defs/{SVG}pattern")
    assert [p.get("id") for p in patterns] == [
        "trend-months-on_time",
        "trend-months-late",
        "trend-months-rejected",
        "trend-months-missing",
        "trend-months-open",
    ]
    assert "Til tiden" in html and "Sådan tælles det" in html


def test_the_share_on_time_charts_give_their_unit(client, admin_user, two_kommuner):
    # Rule: a number has its unit. The cells of the two share-on-time grids hold bare numbers
    # (100, 75, 50); the heading above them and the chart's title say they are percentages.
    client.force_login(admin_user)
    html = client.get(reverse("front:trends")).content.decode()
    for heading in ("Andel til tiden pr. leverandør (%)", "Andel til tiden pr. dataområde (%)"):
        assert f">{heading}</h2>" in html
        assert f">{heading}</title>" in html


def _starts(html: str, needle: str) -> list[int]:
    found, at = [], html.find(needle)
    while at != -1:
        found.append(at)
        at = html.find(needle, at + 1)
    return found


def test_names_in_charts_are_escaped(client, admin_user, kbh_route, vendor_a):
    vendor_a.name = "<script>alert(1)</script> & Co"
    vendor_a.save()
    factories.expected(kbh_route, "2026-09", met_at=local(2026, 10, 1, 9, 0))
    rejected(kbh_route, "2026-10", ("kommunekode", "pattern"))
    client.force_login(admin_user)
    html = client.get(reverse("front:trends")).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["vendor_a_user", "nobody"])
def test_vendor_staff_and_users_without_role_get_404(client, request, persona, django_user_model):
    user = (
        django_user_model.objects.create_user("nobody")
        if persona == "nobody"
        else request.getfixturevalue(persona)
    )
    client.force_login(user)
    assert client.get(reverse("front:trends")).status_code == 404
    assert client.get(reverse("front:trends_csv", args=["maaneder"])).status_code == 404


def test_no_expected_period_yet_says_so_instead_of_an_empty_chart(client, admin_user):
    """Rule: before any period is expected (a new installation, or filters that match
    nothing), the monthly chart is not drawn as twelve empty columns: the page says there are
    no numbers, and the CSV still lists the months with their zeros."""
    client.force_login(admin_user)
    page = client.get(reverse("front:trends"))
    html = page.content.decode()
    assert 'id="trend-months-title"' not in html
    assert html.count("Ingen tal for de valgte perioder og filtre.") == 4
    rows = csv_rows(client.get(reverse("front:trends_csv", args=["maaneder"])))
    assert len(rows) == 1 + 12 and rows[1][-1] == "0"


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("front:trends"))
    assert response.status_code == 302 and "/konto/login/" in response["Location"]


# --- a fixed number of queries ----------------------------------------------------------------


def _world(routes: list[Route], months: int) -> None:
    """Every route owes `months` periods back from November, every third late, every fifth
    with a rejected file first."""
    for route in routes:
        for back in range(months):
            year, month = divmod(2026 * 12 + 10 - back, 12)
            period = f"{year}-{month + 1:02d}"
            if back % 5 == 0:
                rejected(route, period, ("kommunekode", "pattern"), ("cpr_barn", "required"))
            late = back % 3 == 0
            factories.expected(
                route,
                period,
                met_at=None if back == 0 else local(year, month + 1, 28 if late else 2, 9),
            )


@pytest.mark.parametrize(("persona", "extra"), [("admin_user", 0), ("consultant_user", 1)])
def test_query_count_stays_fixed_with_more_rows(
    client, request, persona, extra, django_assert_num_queries, kbh_route, system_b, flis_system
):
    """Session, user, the change stamp, the expected periods grouped, the failed rules grouped,
    the contracts that word them, the filter form's vendors and data areas; a consultant's role
    costs one more (whether they have kommuner), their scope is a join. The same with 2 or 24
    months of 12 more routes. A second view of the same counts reads them from the cache."""
    client.force_login(request.getfixturevalue(persona))
    _world([kbh_route], 2)
    with django_assert_num_queries(8 + extra):
        assert client.get(reverse("front:trends"), {"months": "24"}).status_code == 200
    more = [
        factories.route(kommune=code, sender_system=system, data_area=area)
        for code in (factories.KBH, factories.AARHUS)
        for system in (kbh_route.sender_system, system_b)
        for area in ("skole", "personale")
    ]
    _world(more, 24)
    with django_assert_num_queries(8 + extra):
        assert client.get(reverse("front:trends"), {"months": "24"}).status_code == 200
    # The CSV of the same filters: session, user, stamp; the counts come from the cache.
    with django_assert_num_queries(3 + extra):
        response = client.get(reverse("front:trends_csv", args=["regler"]), {"months": "24"})
        assert len(csv_rows(response)) > 1


def test_cached_counts_renew_with_a_new_delivery_and_a_new_day(
    client, admin_user, kbh_route, settings
):
    """The cache never shows stale counts: a rejected upload (a new delivery row) renews them at
    once, and so does Danish midnight, when an unmet period past its deadline turns missing."""
    settings.TRENDS_CACHE_SECONDS = 3600
    client.force_login(admin_user)
    factories.expected(kbh_route, "2026-11")  # due 10 December
    page = client.get(reverse("front:trends"))
    assert counts_of(page.context["trends"], "2026-11")["open"] == 1
    rejected(kbh_route, "2026-11", ("kommunekode", "pattern"))
    page = client.get(reverse("front:trends"))
    assert counts_of(page.context["trends"], "2026-11")["rejected"] == 1
    assert page.context["trends"].rules
    # Nothing changes in the database between these two reads (no login either, which would
    # write an audit row): only the day turns.
    other = factories.route(sender_system=kbh_route.sender_system, data_area="skole")
    factories.expected(other, "2026-11")
    with time_machine.travel(local(2026, 12, 10, 23, 59), tick=False):
        assert counts_of(cached_trends(user=admin_user), "2026-11")["open"] == 1
    with time_machine.travel(local(2026, 12, 11, 0, 0), tick=False):
        assert counts_of(cached_trends(user=admin_user), "2026-11")["missing"] == 1


def test_the_charts_are_drawn_once_per_change(client, admin_user, kbh_route, settings, monkeypatch):
    """Rule: the charts and their tables are drawn and rendered once per cache key, like the
    counts, and drawn again as soon as a delivery changes what they show."""
    settings.TRENDS_CACHE_SECONDS = 3600
    drawn = []
    original = trends_views.render_to_string
    monkeypatch.setattr(
        trends_views,
        "render_to_string",
        lambda name, context: drawn.append(name) or original(name, context),
    )
    client.force_login(admin_user)
    factories.expected(kbh_route, "2026-11")
    first = client.get(reverse("front:trends")).content.decode()
    again = client.get(reverse("front:trends")).content.decode()
    assert drawn == ["front/_trend_charts.html"]
    section = 'id="trend-months-title"'
    assert section in first and first[first.index(section) :] == again[again.index(section) :]
    rejected(kbh_route, "2026-11", ("kommunekode", "pattern"))
    page = client.get(reverse("front:trends"))
    assert len(drawn) == 2
    assert counts_of(page.context["trends"], "2026-11")["rejected"] == 1
    # Other filters are another key: their CSV links carry them.
    client.get(reverse("front:trends"), {"months": "24"})
    assert len(drawn) == 3


def test_page_and_charts_in_english(client, admin_user, two_kommuner, settings):
    """The page, its charts' words and the short month names follow the reader's language."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(admin_user)
    html = client.get(reverse("front:trends")).content.decode()
    assert "Trends: deliveries month by month" in html
    assert '<title id="trend-months-title">Expected deliveries per month</title>' in html
    assert ">Nov</text>" in html and ">On time</text>" in html
    assert "Udvikling: leverancer" not in html
