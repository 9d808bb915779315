"""The periods still owed (the list of outstanding periods and the start pages) and the
deliveries that need a person, each within what the user may see."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery, ExpectedState
from flisportal.lib.periods import COPENHAGEN
from routes.models import DataArea, Route, RouteStatus, User
from tests import factories
from tests.helpers.lifecycle import walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus
E = ExpectedState
# 12 November: the period being collected is October.
NOW = datetime(2026, 11, 12, 10, 0, tzinfo=COPENHAGEN)


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def route_for(system, kommune, area_code: str, status: str = RouteStatus.ESTABLISHED) -> Route:
    return factories.route(
        sender_system=system, kommune=kommune, data_area=area_code, status=status
    )


def owe(route: Route, period: str, state: str, *, due_day: int = 10) -> ExpectedDelivery:
    """One expected period, due on `due_day` of the month after it."""
    year, month = map(int, period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    due_at = datetime(year, month, due_day + 1, tzinfo=COPENHAGEN)
    return ExpectedDelivery.objects.create(
        route=route,
        period=period,
        due_at=due_at,
        overdue_at=due_at + timedelta(days=2),
        state=state,
    )


@pytest.fixture
def owed(upload_route, system_a, system_b, kommune_kbh, kommune_aarhus):
    """Vendor A's Dagtilbud route for København owes September and October and is waiting for
    nothing else that counts; its Personale route is pending October. Vendor B owes Aarhus."""
    personale = route_for(system_a, kommune_kbh, "personale")
    retired = route_for(system_a, kommune_kbh, "skole", status=RouteStatus.RETIRED)
    aarhus = route_for(system_b, kommune_aarhus, "oekonomi")
    return {
        "september": owe(upload_route, "2026-09", E.OVERDUE),
        "october": owe(upload_route, "2026-10", E.OVERDUE, due_day=9),
        "personale": owe(personale, "2026-10", E.PENDING, due_day=14),
        # Not owed, or not worth a line:
        "met": owe(upload_route, "2026-08", E.MET),
        "next_month": owe(upload_route, "2026-11", E.PENDING),
        "too_old": owe(upload_route, "2025-09", E.OVERDUE),
        "retired": owe(retired, "2026-10", E.OVERDUE),
        "aarhus": owe(aarhus, "2026-10", E.DUE_SOON),
    }


def listed(client, user: User, **query: str):
    client.force_login(user)
    page = client.get(reverse("deliveries:outstanding"), query)
    assert page.status_code == 200
    return page, [expected.pk for expected in page.context["page"]]


def counts_of(page) -> dict[str, int]:
    return {count.state: count.number for count in page.context["counts"]}


def test_owed_periods_earliest_deadline_first(client, owed, vendor_a_user):
    page, rows = listed(client, vendor_a_user)
    assert rows == [owed["september"].pk, owed["october"].pk, owed["personale"].pk]
    assert counts_of(page) == {"overdue": 2, "due_soon": 0, "pending": 1}
    html = page.content.decode()
    assert "Overskredet: <strong>2</strong>" in html
    # Each row offers the upload form filled in for that period.
    assert f'href="{reverse("deliveries:upload")}?forventet={owed["october"].pk}"' in html


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin_user", ["september", "october", "personale", "aarhus"]),
        ("vendor_b_user", ["aarhus"]),
        ("consultant_user", ["september", "october", "personale"]),
    ],
)
def test_each_user_sees_only_their_routes_periods(client, owed, request, who, expected):
    user = request.getfixturevalue(who)
    page, rows = listed(client, user)
    assert sorted(rows) == sorted(owed[name].pk for name in expected)
    assert sum(counts_of(page).values()) == len(expected)


def test_a_user_without_a_role_sees_nothing(client, owed):
    page, rows = listed(client, User.objects.create_user("ingen", password="pw-ingen-1234"))
    assert rows == []
    assert "Intet udestående matcher." in page.content.decode()


def test_consultants_get_no_upload_links(client, owed, consultant_user):
    page, _ = listed(client, consultant_user)
    assert "?forventet=" not in page.content.decode()


def test_filters(client, owed, admin_user, kommune_aarhus):
    _, rows = listed(client, admin_user, state="pending")
    assert rows == [owed["personale"].pk]
    _, rows = listed(client, admin_user, kommune=str(kommune_aarhus.pk))
    assert rows == [owed["aarhus"].pk]
    _, rows = listed(client, admin_user, period="2026-09")
    assert rows == [owed["september"].pk]
    _, rows = listed(client, admin_user, data_area=str(DataArea.objects.get(code="personale").pk))
    assert rows == [owed["personale"].pk]


def test_csv_export_is_filtered_and_scoped(client, owed, vendor_a_user, upload_route):
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:outstanding_csv"), {"state": "overdue"})
    assert response["Content-Disposition"].startswith('attachment; filename="udestaaende-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0][:3] == ["Tilstand", "Frist", "Periode"]
    where = ["101", "Københavns Kommune", "Dagtilbud", "Leverandør A", "System A", "lokal"]
    assert rows[1:] == [
        ["overskredet", "2026-10-10", "2026-09", *where],
        ["overskredet", "2026-11-09", "2026-10", *where],
    ]


def test_upload_form_is_filled_in_for_an_owed_period(client, owed, vendor_a_user, upload_route):
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:upload"), {"forventet": owed["october"].pk})
    assert page.status_code == 200
    assert page.context["form"].initial == {
        "route": upload_route.pk,
        "period": "2026-10",
    }


@pytest.mark.parametrize("value", ["aarhus", "not-a-number"])
def test_upload_form_for_another_vendors_period_or_nonsense_is_404(
    client, owed, vendor_a_user, value
):
    client.force_login(vendor_a_user)
    forventet = owed[value].pk if value in owed else value
    page = client.get(reverse("deliveries:upload"), {"forventet": forventet})
    assert page.status_code == 404


# --- the start pages ----------------------------------------------------------------------------


def start_page(client, user: User):
    client.force_login(user)
    page = client.get(reverse("front:start"))
    assert page.status_code == 200
    return page


def test_start_page_shows_the_most_urgent_owed_periods(client, owed, vendor_a_user):
    page = start_page(client, vendor_a_user)
    overview = page.context["overview"]
    assert [e.pk for e in overview.urgent] == [
        owed["september"].pk,
        owed["october"].pk,
        owed["personale"].pk,
    ]
    assert overview.outstanding == 3
    html = page.content.decode()
    assert "Se alle 3 udestående" in html
    # Each state's badge leads to its entry on the help page.
    assert 'href="/hjaelp/#forventet-overskredet"' in html


def test_start_page_says_when_nothing_is_owed(client, upload_route, vendor_a_user):
    page = start_page(client, vendor_a_user)
    html = page.content.decode()
    assert "Intet udestående: alle forventede leverancer for perioden er modtaget." in html
    assert "Ingen leverancer kræver handling." in html


def test_deliveries_needing_action(
    client, upload_route, make_delivery, vendor_a_user, vendor_b_user, consultant_user
):
    rejected = make_delivery(upload_route, vendor_a_user, "a", period="2026-10")
    walk_to(rejected, S.VALIDATING, S.REJECTED)
    failed = make_delivery(upload_route, vendor_a_user, "b", period="2026-09")
    walk_to(failed, S.VALIDATING, S.VALID, S.PUSHING, S.FAILED)
    fine = make_delivery(upload_route, vendor_a_user, "c", period="2026-08")
    walk_to(fine, S.VALIDATING, S.VALID)
    with time_machine.travel(NOW - timedelta(days=31), tick=False):
        old = make_delivery(upload_route, vendor_a_user, "d", period="2026-07")
        walk_to(old, S.VALIDATING, S.REJECTED)

    for user in (vendor_a_user, consultant_user):
        problems = start_page(client, user).context["overview"].problems
        assert [d.pk for d in problems] == [failed.pk, rejected.pk]
    assert start_page(client, vendor_b_user).context["overview"].problems == []

    # A newer upload for the same route and period that got through settles the rejected one.
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        answer = make_delivery(upload_route, vendor_a_user, "a2", period="2026-10")
        walk_to(answer, S.VALIDATING, S.VALID, S.PUSHING, S.SENT, S.DISTRIBUTED)
        page = start_page(client, vendor_a_user)
    assert [d.pk for d in page.context["overview"].problems] == [failed.pk]
    html = page.content.decode()
    assert reverse("deliveries:detail", args=[failed.uuid]) in html
    assert reverse("deliveries:detail", args=[rejected.uuid]) not in html
    # A failed push is retried, not corrected: no "upload a corrected file" for it.
    assert "?rettelse=" not in html


def test_a_rejected_extract_offers_its_correction_to_vendor_staff(
    client, upload_route, make_delivery, vendor_a_user, consultant_user
):
    rejected = make_delivery(upload_route, vendor_a_user, "a", period="2026-10")
    walk_to(rejected, S.VALIDATING, S.REJECTED)
    correction = f"{reverse('deliveries:upload')}?rettelse={rejected.uuid}"
    assert correction in start_page(client, vendor_a_user).content.decode()
    html = start_page(client, consultant_user).content.decode()
    assert "?rettelse=" not in html
    # Consultants follow these; acting on them is the vendor's.
    assert "Afviste og fejlede leverancer" in html and "Kræver handling" not in html


@pytest.mark.parametrize("url_name", ["front:start", "deliveries:outstanding"])
def test_query_count_does_not_grow_with_the_periods_owed(
    client, upload_route, system_a, kommune_kbh, vendor_a_user, url_name
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(url_name))
        assert response.status_code == 200
        return len(captured)

    client.force_login(vendor_a_user)
    owe(upload_route, "2026-10", E.OVERDUE)
    few = queries()
    for code in ("oekonomi", "personale", "skole", "voksne_handicappede"):
        route = route_for(system_a, kommune_kbh, code)
        for month in range(1, 11):
            owe(route, f"2026-{month:02d}", E.OVERDUE)
    many = queries()
    assert few == many
