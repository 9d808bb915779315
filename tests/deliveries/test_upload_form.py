"""The upload form: one choice among the user's established routes (grouped by kommune, the
server checking the choice), a period written ÅÅÅÅ-MM within what the route can carry, and a
redelivery that must be confirmed, with a link to what was delivered before."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.forms import DeliveryUploadForm
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, ExpectedDelivery
from flisportal.lib.periods import COPENHAGEN
from routes.models import Kommune, Route
from tests import factories
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db
URL = reverse("deliveries:upload")
# Mid-December 2026 in Denmark: the running period is 2026-12.
MID_DECEMBER = datetime(2026, 12, 15, 12, tzinfo=COPENHAGEN)


@pytest.fixture
def vendor_client(client, vendor_a_user, upload_route, private_media):
    client.force_login(vendor_a_user)
    return client


def form_data(route: Route, content: bytes, *, period: str = "2026-10", **extra):
    return {
        "route": route.pk,
        "period": period,
        "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
        **extra,
    }


def offered(form: DeliveryUploadForm) -> dict[str, list[str]]:
    """The route choices as {kommune: [option labels]}."""
    return {
        group: [label for _pk, label in options]
        for group, options in form.fields["route"].choices[1:]
    }


def test_only_the_users_deliverable_routes_are_offered_grouped_by_kommune(
    vendor_a_user, upload_route, system_a, system_b, kommune_aarhus, vendor_a, vendor_b
):
    aarhus = factories.route(sender_system=system_a, kommune=kommune_aarhus, data_area="skole")
    # Not offered: another vendor's system, a route only ordered, a kommune where only the
    # other vendor has a signed agreement.
    factories.agreement(vendor_a, kommune_aarhus)
    factories.route(sender_system=system_b, data_area="skole")
    factories.route(sender_system=system_a, data_area="personale", status="ordered")
    odense = factories.kommune("461")
    factories.agreement(vendor_b, odense)
    factories.route(sender_system=system_a, kommune=odense, data_area="oekonomi")

    form = DeliveryUploadForm(user=vendor_a_user)

    assert offered(form) == {
        str(upload_route.kommune): [f"Dagtilbud · {system_a} · {upload_route.endpoint}"],
        str(aarhus.kommune): [f"Skole · {system_a} · {aarhus.endpoint}"],
    }


def test_a_route_of_another_vendor_is_refused_by_the_server(
    client, vendor_b_user, upload_route, private_media
):
    # Rule: the server checks the choice; a posted route the user may not deliver on is refused.
    client.force_login(vendor_b_user)
    response = client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 400
    assert "Vælg en af dine etablerede ruter" in response.context["form"].errors["route"][0]
    assert not Delivery.objects.exists()


def test_an_owed_period_prefills_the_route_and_period(vendor_client, owing_route):
    # Rule: the start page's Upload button (`?forventet=<id>`) still fills in the form.
    expected = ExpectedDelivery.objects.create(
        route=owing_route, period="2026-10", due_at=MID_DECEMBER, overdue_at=MID_DECEMBER
    )
    page = vendor_client.get(URL, {"forventet": expected.pk})
    body = page.content.decode()
    assert f'<option value="{owing_route.pk}" selected>' in body
    assert 'value="2026-10"' in body


def test_the_period_help_says_how_it_is_written_here_and_in_the_file(vendor_client, upload_route):
    body = vendor_client.get(URL).content.decode()
    assert "Skriv perioden som ÅÅÅÅ-MM; i filen står den som ÅÅÅÅMM, fx 202611." in body


@pytest.mark.parametrize(
    ("period", "said"),
    [
        ("2031-01", "Perioden 2031-01 er ikke begyndt endnu"),
        ("1999-01", "Vælg en periode fra 2026-08 til og med 2026-12"),
        ("202610", "Skriv perioden som ÅÅÅÅ-MM, fx 2026-10 (fik «202610»)"),
    ],
)
def test_an_impossible_period_is_refused_at_the_form_with_the_allowed_range(
    client, vendor_a_user, owing_route, private_media, period, said
):
    # Rule: the form bounds the period to the route's first month (established 1 September
    # 2026: August) up to the running month, before the file is unpacked or stored.
    with time_machine.travel(MID_DECEMBER, tick=False):
        client.force_login(vendor_a_user)  # a session of the clock the request is made at
        response = client.post(
            URL, form_data(owing_route, dagtilbud_csv(rows_ok=1).encode(), period=period)
        )
    assert response.status_code == 400
    assert said in response.context["form"].errors["period"][0]
    assert not Delivery.objects.exists()
    assert not [p for p in private_media.rglob("*") if p.is_file()]


def test_a_second_file_for_a_fetched_period_asks_for_confirmation_and_links_the_first(
    vendor_client, vendor_a_user, upload_route, make_delivery, private_media
):
    first = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.FETCHED)

    response = vendor_client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=2).encode()))

    assert response.status_code == 400
    said = response.context["form"].errors["redelivery_confirmed"][0]
    assert "er der allerede leveret en anden fil, «udtraek-1.csv»" in said
    assert f'href="{reverse("deliveries:detail", args=[first.uuid])}"' in response.content.decode()
    assert Delivery.objects.count() == 1

    confirmed = vendor_client.post(
        URL,
        form_data(upload_route, dagtilbud_csv(rows_ok=2).encode(), redelivery_confirmed="on"),
    )
    assert confirmed.status_code == 302
    assert Delivery.objects.exclude(pk=first.pk).get().redelivery_confirmed


def test_the_upload_script_gets_the_link_to_the_earlier_delivery(
    vendor_client, vendor_a_user, upload_route, make_delivery, private_media
):
    first = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.DISTRIBUTED)
    response = vendor_client.post(
        URL,
        form_data(upload_route, dagtilbud_csv(rows_ok=2).encode()),
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 400
    assert response.json()["earlier"] == {
        "href": reverse("deliveries:detail", args=[first.uuid]),
        "text": "Se den tidligere leverance",
    }


def test_a_route_established_later_is_not_owed_earlier_periods(vendor_a_user, upload_route):
    # The bounds come from the route: established 20 November 2026, its first month is October.
    upload_route.established_on = date(2026, 11, 20)
    assert upload_route.deliverable_periods(now=MID_DECEMBER) == ("2026-10", "2026-12")
    upload_route.established_on = None
    # Without a recorded establishment date only the running month bounds it.
    assert upload_route.deliverable_periods(now=MID_DECEMBER) == (None, "2026-12")


def test_the_form_itself_bounds_the_period_before_intake_is_asked(vendor_a_user, owing_route):
    # Rule: the form refuses a period the route cannot carry on its own, so the view never
    # unpacks or hands over the file for it (intake asks the same rule again).
    with time_machine.travel(MID_DECEMBER, tick=False):
        data = {"route": owing_route.pk, "period": "2031-01"}
        files = {"file": SimpleUploadedFile("udtraek.csv", b"x", content_type="text/csv")}
        form = DeliveryUploadForm(data, files, user=vendor_a_user)
        assert not form.is_valid()
    assert form.errors["period"] == [
        "Perioden 2031-01 er ikke begyndt endnu, så der kan ikke være data for den. Vælg en "
        "periode til og med 2026-12."
    ]


def test_a_vendors_490_routes_are_listed_in_a_fixed_number_of_queries(
    client, vendor_a_user, vendor_a, system_a, django_assert_num_queries
):
    # Every kommune × every data area, as a large vendor has it: the labels come from one
    # joined query, not one per route (session, user, routes, contracts).
    factories.routes_everywhere(system_a)
    for kommune in Kommune.objects.all():
        factories.agreement(vendor_a, kommune)
    client.force_login(vendor_a_user)
    with django_assert_num_queries(4):
        page = client.get(URL)
    groups = offered(page.context["form"])
    assert len(groups) == 98 and sum(len(labels) for labels in groups.values()) == 490


@pytest.mark.parametrize(("language", "prompt"), [("da", "Vælg rute"), ("en", "Select a route")])
def test_the_route_choice_starts_with_what_to_do(vendor_client, settings, language, prompt):
    """Rule: the route list's empty first option says «Vælg rute» (in the reader's language),
    not Django's «---------»."""
    vendor_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = vendor_client.get(URL).content.decode()
    assert f'<option value="" selected>{prompt}</option>' in page
    assert "---------" not in page
