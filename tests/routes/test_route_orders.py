"""Route orders per myndighed: the administrators' pages to order routes, move them through
their lifecycle and see their history; the bulk order page."""

import pytest
from django.test import Client
from django.urls import reverse

from routes.models import Kommune, Route, RouteEvent, RouteStatus

pytestmark = pytest.mark.django_db


def order_data(personale, system_a, flis_system, exttest, **overrides):
    data = {
        "data_area": personale.pk,
        "sender_system": system_a.pk,
        "recipient_systems": [flis_system.pk],
        "endpoint": exttest.pk,
        "sender_authority": "64942212",
        "recipient_authority": "64942212",
        "order_reference": "",
        "ordered_on": "",
        "note": "Første bestilling.",
    }
    data.update(overrides)
    return data


# --- the landing page: pick a kommune, see open orders ----------------------------------------


def test_landing_lists_open_orders_and_redirects_a_picked_kommune(admin_client, ordered_route):
    page = admin_client.get(reverse("routes:route_orders"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rutebestillinger pr. myndighed" in html
    assert "DK-1" in html and "bestilt" in html
    response = admin_client.get(reverse("routes:route_orders"), {"kommune": "101"})
    assert response["Location"] == reverse("routes:kommune_routes", args=["101"])


def test_landing_query_count_does_not_grow_with_orders(
    admin_client, make_route, system_a, django_assert_num_queries
):
    for kommune in Kommune.objects.all()[:3]:
        make_route(kommune=kommune, sender_system=system_a, status="ordered")
    # session, user, open orders (kommuner for the picker: one more)
    with django_assert_num_queries(4):
        admin_client.get(reverse("routes:route_orders"))
    for kommune in Kommune.objects.all()[3:60]:
        make_route(kommune=kommune, sender_system=system_a, status="requested")
    with django_assert_num_queries(4):
        page = admin_client.get(reverse("routes:route_orders"))
    assert page.content.decode().count("status-badge status-requested") == 57


@pytest.mark.parametrize("page", ["routes:route_orders", "routes:kommune_routes"])
def test_a_status_badge_in_a_link_has_no_underlined_space_after_it(
    admin_client, ordered_route, page
):
    # The badge partial ended in a newline, which inside the link was drawn as an underlined
    # space between the badge and its «?» («bestilt_ ?» in the screenshots).
    args = [ordered_route.kommune.code] if page == "routes:kommune_routes" else []
    html = admin_client.get(reverse(page, args=args)).content.decode()
    badge = '<span class="status-badge status-ordered">bestilt</span>'
    assert f"{badge}</a>" in html


@pytest.mark.parametrize("persona", ["vendor_a_user", "consultant_user"])
def test_only_administrators_see_route_orders(client, request, persona, ordered_route):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("routes:route_orders")).status_code == 404
    assert client.get(reverse("routes:kommune_routes", args=["101"])).status_code == 404
    assert client.get(reverse("routes:route_bulk_order")).status_code == 404


def test_route_orders_need_login(client):
    response = client.get(reverse("routes:route_orders"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- one kommune's routes -----------------------------------------------------------------


def test_kommune_page_groups_routes_by_data_area_and_recipient(
    admin_client, ordered_route, make_route, system_b, skole, lokal
):
    make_route(
        kommune=ordered_route.kommune,
        sender_system=system_b,
        data_area=skole,
        endpoint=lokal,
        status="established",
    )
    page = admin_client.get(reverse("routes:kommune_routes", args=["0101"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ruter for Københavns Kommune" in html
    assert "urn:oio:cvr-nr:64942212" in html
    # Every data area has its section, with or without routes.
    for name in ("Økonomi", "Personale", "Skole", "Dagtilbud", "Voksne og Handicappede"):
        assert name in html
    assert "Modtager: FLIS" in html
    assert html.count("Ingen ruter for dette dataområde.") == 3
    assert "System B" in html and "etableret" in html
    assert 'name="recipient_systems"' in html  # the order form
    assert reverse("front:onboarding", args=[ordered_route.sender_system.vendor_id, "101"]) in html


def test_kommune_page_query_count_is_fixed(
    admin_client,
    make_route,
    system_a,
    system_b,
    kommune_kbh,
    lokal,
    produktion,
    django_assert_num_queries,
):
    make_route(kommune=kommune_kbh, sender_system=system_a)

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert (
                admin_client.get(reverse("routes:kommune_routes", args=["101"])).status_code == 200
            )
        return len(ctx.captured_queries)

    few = count()
    for endpoint in (lokal, produktion):
        for system in (system_a, system_b):
            make_route(kommune=kommune_kbh, sender_system=system, endpoint=endpoint)
    assert count() == few


def test_unknown_or_malformed_kommune_code_is_404(admin_client):
    assert admin_client.get(reverse("routes:kommune_routes", args=["999"])).status_code == 404
    assert admin_client.get(reverse("routes:kommune_routes", args=["1x1"])).status_code == 404


def test_recording_a_new_order(
    admin_client, admin_user, kommune_kbh, personale, system_a, flis_system, exttest
):
    url = reverse("routes:route_order_create", args=["101"])
    response = admin_client.post(
        url, order_data(personale, system_a, flis_system, exttest, order_reference="DK-9")
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("routes:kommune_routes", args=["101"])
    route = Route.objects.get()
    assert (route.kommune, route.status, route.order_reference) == (kommune_kbh, "ordered", "DK-9")
    events = list(route.events.all())
    assert [e.new_status for e in events] == ["requested", "ordered"]
    assert events[0].actor == admin_user and events[0].note == "Første bestilling."
    page = admin_client.get(response["Location"])
    assert "Ruten for Personale er registreret som bestilt." in page.content.decode()


def test_order_form_refuses_a_bad_cvr_on_its_field(
    admin_client, personale, system_a, flis_system, exttest
):
    response = admin_client.post(
        reverse("routes:route_order_create", args=["101"]),
        order_data(personale, system_a, flis_system, exttest, recipient_authority="1234"),
    )
    assert response.status_code == 200
    assert "CVR-nummeret skal være præcis 8 cifre (fik 1234)" in response.content.decode()
    assert response.context["form"].errors["recipient_authority"]
    assert not Route.objects.exists()


def test_order_form_shows_the_duplicate_refusal(
    admin_client, ordered_route, personale, system_a, flis_system, exttest
):
    response = admin_client.post(
        reverse("routes:route_order_create", args=["101"]),
        order_data(personale, system_a, flis_system, exttest),
    )
    assert response.status_code == 200
    assert "har allerede en rute for Personale" in response.content.decode()
    assert Route.objects.count() == 1


def test_order_create_is_post_only_and_for_administrators(
    client, admin_client, vendor_a_user, personale, system_a, flis_system, exttest
):
    url = reverse("routes:route_order_create", args=["101"])
    assert admin_client.get(url).status_code == 405
    client.force_login(vendor_a_user)
    assert (
        client.post(url, order_data(personale, system_a, flis_system, exttest)).status_code == 404
    )
    assert not Route.objects.exists()


def test_posts_need_the_csrf_token(admin_user, personale, system_a, flis_system, exttest):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    response = strict.post(
        reverse("routes:route_order_create", args=["101"]),
        order_data(personale, system_a, flis_system, exttest),
    )
    assert response.status_code == 403
    assert not Route.objects.exists()


# --- a route: lifecycle and history -------------------------------------------------------


def test_route_page_shows_history_and_the_next_steps(admin_client, ordered_route):
    page = admin_client.get(ordered_route.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "Bestilt for København." in html
    assert "anmodet → bestilt" in html
    form = page.context["form"]
    assert [value for value, _ in form.fields["new_status"].choices] == ["established", "rejected"]
    assert "FLISPersonaleAflever_1" in html


def test_moving_a_route_with_a_note(admin_client, admin_user, ordered_route):
    url = reverse("routes:route_transition", args=[ordered_route.pk])
    response = admin_client.post(
        url,
        {
            "new_status": "established",
            "on_date": "2026-03-02",
            "note": "Testet i exttest.",
            "order_reference": "DK-1",
        },
    )
    assert response.status_code == 302
    ordered_route.refresh_from_db()
    assert ordered_route.status == RouteStatus.ESTABLISHED
    assert str(ordered_route.established_on) == "2026-03-02"
    event = ordered_route.events.last()
    assert (event.old_status, event.new_status, event.note, event.actor) == (
        "ordered",
        "established",
        "Testet i exttest.",
        admin_user,
    )
    assert admin_client.get(url).status_code == 405


def test_a_step_that_is_not_allowed_is_refused(admin_client, make_route, kommune_kbh, system_a):
    route = make_route(kommune=kommune_kbh, sender_system=system_a)
    response = admin_client.post(
        reverse("routes:route_transition", args=[route.pk]), {"new_status": "retired"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["new_status"]
    route.refresh_from_db()
    assert route.status == "requested"
    assert not RouteEvent.objects.exists()


def test_establishing_a_duplicate_shows_the_danish_error(
    admin_client, make_route, kommune_kbh, system_a
):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    second = make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    response = admin_client.post(
        reverse("routes:route_transition", args=[second.pk]),
        {"new_status": "established", "order_reference": ""},
    )
    assert response.status_code == 200
    assert "Der er allerede en etableret rute" in response.content.decode()
    second.refresh_from_db()
    assert second.status == "ordered"


def test_consultant_reads_their_kommunes_route_without_the_form(
    client, consultant_user, ordered_route
):
    client.force_login(consultant_user)
    page = client.get(ordered_route.get_absolute_url())
    assert page.status_code == 200
    assert page.context["form"] is None
    response = client.post(
        reverse("routes:route_transition", args=[ordered_route.pk]), {"new_status": "rejected"}
    )
    assert response.status_code == 404
    ordered_route.refresh_from_db()
    assert ordered_route.status == "ordered"


def test_another_vendor_cannot_see_the_route(client, vendor_b_user, vendor_a_user, ordered_route):
    client.force_login(vendor_b_user)
    assert client.get(ordered_route.get_absolute_url()).status_code == 404
    client.force_login(vendor_a_user)
    assert client.get(ordered_route.get_absolute_url()).status_code == 200


# --- bulk order ---------------------------------------------------------------------------


def bulk_data(personale, system_a, flis_system, exttest, **overrides):
    data = {
        "data_area": personale.pk,
        "sender_system": system_a.pk,
        "recipient_systems": [flis_system.pk],
        "endpoint": exttest.pk,
        "kommune_codes": "101, 0147\n751",
        "region": "",
        "order_reference": "",
        "ordered_on": "",
        "note": "Onboarding af tre kommuner.",
    }
    data.update(overrides)
    return data


def preview_and_confirm(client, data):
    """Post the bulk order form, then confirm the previewed plan as the page's button does."""
    preview = client.post(reverse("routes:route_bulk_order"), data)
    assert preview.status_code == 200
    digest = preview.context["plan"].digest
    return client.post(
        reverse("routes:route_bulk_order"), {**data, "digest": digest, "confirm": "1"}
    )


def test_bulk_order_for_many_kommuner(
    admin_client, ordered_route, personale, system_a, flis_system, exttest
):
    assert admin_client.get(reverse("routes:route_bulk_order")).status_code == 200
    response = preview_and_confirm(
        admin_client, bulk_data(personale, system_a, flis_system, exttest)
    )
    assert response.status_code == 302
    html = admin_client.get(response["Location"]).content.decode()
    assert "2 ruter registreret, 1 sprunget over." in html
    codes = sorted(Route.objects.values_list("kommune__code", flat=True))
    assert codes == ["101", "147", "751"]
    assert RouteEvent.objects.filter(note="Onboarding af tre kommuner.").count() == 2


def test_bulk_order_by_region(admin_client, personale, system_a, flis_system, exttest):
    response = preview_and_confirm(
        admin_client,
        bulk_data(
            personale, system_a, flis_system, exttest, kommune_codes="", region="Region Nordjylland"
        ),
    )
    assert response.status_code == 302
    assert (
        Route.objects.count() == Kommune.objects.filter(region="Region Nordjylland").count() == 11
    )


def test_bulk_order_names_each_bad_or_unknown_code(
    admin_client, personale, system_a, flis_system, exttest
):
    response = admin_client.post(
        reverse("routes:route_bulk_order"),
        bulk_data(personale, system_a, flis_system, exttest, kommune_codes="101 10a 1010, 999"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["kommune_codes"]
    assert any("Ikke en kommunekode: 10a, 1010" in e for e in errors)
    assert any("Ingen kommune har koden 999" in e for e in errors)
    assert not Route.objects.exists()


def test_bulk_order_needs_some_kommune_and_the_right_method_and_role(
    client, admin_client, vendor_a_user, personale, system_a, flis_system, exttest
):
    response = admin_client.post(
        reverse("routes:route_bulk_order"),
        bulk_data(personale, system_a, flis_system, exttest, kommune_codes=""),
    )
    assert "Angiv mindst én kommune" in response.content.decode()
    assert admin_client.delete(reverse("routes:route_bulk_order")).status_code == 405
    client.force_login(vendor_a_user)
    response = client.post(
        reverse("routes:route_bulk_order"), bulk_data(personale, system_a, flis_system, exttest)
    )
    assert response.status_code == 404
    assert not Route.objects.exists()


def test_order_forms_show_their_fields_in_the_order_of_the_work(kommune_kbh):
    # Both forms share their common fields (routes.forms._RouteOrderFields); the page still
    # asks what, from whom, to whom and where first, and the order details last.
    from routes.forms import BulkOrderForm, RouteOrderForm

    assert list(RouteOrderForm(kommune=kommune_kbh).fields) == [
        "data_area",
        "sender_system",
        "recipient_systems",
        "endpoint",
        "sender_authority",
        "recipient_authority",
        "order_reference",
        "ordered_on",
        "note",
    ]
    assert list(BulkOrderForm().fields) == [
        "data_area",
        "sender_system",
        "recipient_systems",
        "endpoint",
        "kommune_codes",
        "region",
        "order_reference",
        "ordered_on",
        "note",
    ]
    assert RouteOrderForm(kommune=kommune_kbh).initial["endpoint"].slug == "exttest"
    assert BulkOrderForm().initial["endpoint"].slug == "exttest"
