"""The bulk order's preview and confirmation, the bulk status change page, and the
databehandleraftale warning and override on a route's page: administrators only (404 for
anyone else, as every registry page), POSTs CSRF-protected, query counts fixed."""

import pytest
from django.test import Client
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from routes.models import Kommune, Route, RouteEvent, RouteStatus
from tests import factories

pytestmark = pytest.mark.django_db

BULK_ORDER = "routes:route_bulk_order"
BULK_TRANSITION = "routes:route_bulk_transition"


def order_data(personale, system_a, flis_system, exttest, codes="101, 147, 751"):
    return {
        "data_area": personale.pk,
        "sender_system": system_a.pk,
        "recipient_systems": [flis_system.pk],
        "endpoint": exttest.pk,
        "kommune_codes": codes,
        "region": "",
        "order_reference": "",
        "ordered_on": "",
        "note": "Tre kommuner.",
    }


@pytest.fixture
def data(personale, system_a, flis_system, exttest):
    return order_data(personale, system_a, flis_system, exttest)


# --- bulk order: preview, confirm ---------------------------------------------------------------


def test_the_preview_lists_what_will_be_created_and_skipped_and_creates_nothing(
    admin_client, ordered_route, signed_agreement, data
):
    page = admin_client.post(reverse(BULK_ORDER), data)
    html = page.content.decode()
    assert "Massebestilling: gennemse og bekræft" in html
    assert "<strong>2</strong> oprettes" in html and "<strong>1</strong> springes over" in html
    assert "Har allerede en rute med status «bestilt»." in html
    # Warned per row, with where to record the agreement.
    assert "<strong>2</strong> uden underskrevet databehandleraftale" in html
    assert "mellem Frederiksberg Kommune og Leverandør A" in html
    assert reverse("admin:routes_processingagreement_add") in html
    assert "Bekræft: opret 2 ruter" in html
    assert Route.objects.count() == 1


def test_confirming_creates_the_previewed_routes_and_redirects(admin_client, data):
    preview = admin_client.post(reverse(BULK_ORDER), data)
    digest = preview.context["plan"].digest
    response = admin_client.post(reverse(BULK_ORDER), {**data, "digest": digest, "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("routes:route_orders")
    assert sorted(Route.objects.values_list("kommune__code", flat=True)) == ["101", "147", "751"]
    assert RouteEvent.objects.filter(note="Tre kommuner.").count() == 3


def test_a_plan_changed_since_the_preview_is_shown_again_not_carried_out(
    admin_client, data, make_route, kommune_aarhus, system_a
):
    digest = admin_client.post(reverse(BULK_ORDER), data).context["plan"].digest
    # Meanwhile someone orders Aarhus.
    make_route(kommune=kommune_aarhus, sender_system=system_a)
    response = admin_client.post(reverse(BULK_ORDER), {**data, "digest": digest, "confirm": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Situationen har ændret sig siden forhåndsvisningen." in html
    assert "<strong>2</strong> oprettes" in html
    assert Route.objects.count() == 1


def test_a_tampered_form_is_not_confirmed(admin_client, data, kommune_aarhus):
    digest = admin_client.post(reverse(BULK_ORDER), data).context["plan"].digest
    more = {**data, "kommune_codes": "101, 147, 751, 461", "digest": digest, "confirm": "1"}
    response = admin_client.post(reverse(BULK_ORDER), more)
    assert "Situationen har ændret sig" in response.content.decode()
    assert not Route.objects.exists()


def test_edit_goes_back_to_the_filled_form(admin_client, data):
    response = admin_client.post(reverse(BULK_ORDER), {**data, "edit": "1"})
    assert response.templates[0].name == "routes/bulk_order.html"
    assert response.context["form"]["note"].value() == "Tre kommuner."
    assert not Route.objects.exists()


def test_the_preview_query_count_does_not_grow_with_kommuner(
    admin_client, personale, system_a, flis_system, exttest, django_assert_num_queries
):
    few = order_data(personale, system_a, flis_system, exttest, codes="101 147 151 153 155")
    every = order_data(personale, system_a, flis_system, exttest, codes="")
    every["region"] = "Region Hovedstaden"
    # session, user, the form's choices (data area, sender, recipients, endpoint, kommune codes,
    # region's kommuner), the plan (open routes, agreements)
    with django_assert_num_queries(10):
        admin_client.post(reverse(BULK_ORDER), few)
    with django_assert_num_queries(10):
        page = admin_client.post(reverse(BULK_ORDER), every)
    assert len(page.context["plan"].to_create) == 29


# --- bulk status change -------------------------------------------------------------------------


@pytest.fixture
def orders(make_route, system_a):
    return [
        make_route(kommune=k, sender_system=system_a, status="ordered", order_reference=f"R{k.pk}")
        for k in Kommune.objects.order_by("code")[:3]
    ]


def test_the_list_shows_routes_in_the_chosen_status(admin_client, orders, make_route, system_a):
    make_route(kommune=Kommune.objects.get(code="751"), sender_system=system_a)
    page = admin_client.get(reverse(BULK_TRANSITION))
    html = page.content.decode()
    assert "Samlet statusskift" in html
    assert html.count('name="routes"') == 3  # ordered by default: the request is not listed
    # The usual next step is offered first.
    assert page.context["form"]["new_status"].value() == "established"
    page = admin_client.get(reverse(BULK_TRANSITION), {"status": "requested"})
    assert page.content.decode().count('name="routes"') == 1
    assert page.context["form"]["new_status"].value() == "ordered"


def test_preview_then_confirm_moves_the_selected_routes(admin_client, orders):
    data = {
        "routes": [orders[0].pk, orders[1].pk],
        "new_status": "established",
        "on_date": "2026-11-02",
        "note": "KOMBIT har oprettet ruterne.",
        "order_reference": "",
        "agreement_override": "",
    }
    preview = admin_client.post(reverse(BULK_TRANSITION), data)
    html = preview.content.decode()
    assert "Flyt til «etableret»: gennemse og bekræft" in html
    assert "<strong>2</strong> flyttes" in html
    assert Route.objects.filter(status="established").count() == 0
    digest = preview.context["plan"].digest
    done = admin_client.post(reverse(BULK_TRANSITION), {**data, "digest": digest, "confirm": "1"})
    assert done.status_code == 302
    assert (
        "2 ruter flyttet til «etableret», 0 uændret."
        in admin_client.get(done["Location"]).content.decode()
    )
    for route in orders[:2]:
        route.refresh_from_db()
        assert route.status == "established" and str(route.established_on) == "2026-11-02"
    orders[2].refresh_from_db()
    assert orders[2].status == "ordered"
    assert RouteEvent.objects.filter(note="KOMBIT har oprettet ruterne.").count() == 2


def test_a_status_change_changed_meanwhile_is_shown_again(admin_client, orders, admin_user):
    data = {"routes": [r.pk for r in orders], "new_status": "established", "note": ""}
    digest = admin_client.post(reverse(BULK_TRANSITION), data).context["plan"].digest
    Route.objects.filter(pk=orders[0].pk).update(status=RouteStatus.REJECTED)
    response = admin_client.post(
        reverse(BULK_TRANSITION), {**data, "digest": digest, "confirm": "1"}
    )
    assert "Situationen har ændret sig" in response.content.decode()
    assert not Route.objects.filter(status="established").exists()


def test_nothing_selected_is_said_plainly(admin_client, orders):
    response = admin_client.post(reverse(BULK_TRANSITION), {"new_status": "established"})
    assert "Vælg mindst én rute." in response.content.decode()


def test_the_list_query_count_does_not_grow_with_routes(
    admin_client, make_route, system_a, django_assert_num_queries
):
    kommuner = list(Kommune.objects.order_by("code"))
    for kommune in kommuner[:5]:
        make_route(kommune=kommune, sender_system=system_a, status="ordered")
    # session, user, routes (with agreement and twin as subqueries), filter choices
    # (endpoints, data areas)
    with django_assert_num_queries(5):
        admin_client.get(reverse(BULK_TRANSITION))
    for kommune in kommuner[5:50]:
        make_route(kommune=kommune, sender_system=system_a, status="ordered")
    with django_assert_num_queries(5):
        page = admin_client.get(reverse(BULK_TRANSITION))
    assert page.content.decode().count('name="routes"') == 50


def test_the_preview_query_count_does_not_grow_with_routes(
    admin_client, make_route, system_a, django_assert_num_queries
):
    kommuner = list(Kommune.objects.order_by("code"))
    few = [make_route(kommune=k, sender_system=system_a, status="ordered") for k in kommuner[:5]]
    many = few + [
        make_route(kommune=k, sender_system=system_a, status="ordered") for k in kommuner[5:50]
    ]
    for routes in (few, many):
        data = {"routes": [r.pk for r in routes], "new_status": "established"}
        # session, user, the plan
        with django_assert_num_queries(3):
            page = admin_client.post(reverse(BULK_TRANSITION), data)
        assert len(page.context["plan"].moving) == len(routes)


# --- who may, and how -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["vendor_a_user", "consultant_user"])
def test_only_administrators_reach_the_bulk_pages(client, request, persona, orders, data):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse(BULK_TRANSITION)).status_code == 404
    assert client.get(reverse(BULK_ORDER)).status_code == 404
    transition = {"routes": [orders[0].pk], "new_status": "established", "confirm": "1"}
    assert client.post(reverse(BULK_TRANSITION), transition).status_code == 404
    assert client.post(reverse(BULK_ORDER), {**data, "confirm": "1"}).status_code == 404
    assert Route.objects.count() == 3 and not Route.objects.filter(status="established").exists()


def test_the_bulk_pages_answer_get_and_post_only(admin_client):
    assert admin_client.delete(reverse(BULK_TRANSITION)).status_code == 405
    assert admin_client.put(reverse(BULK_ORDER)).status_code == 405


def test_bulk_posts_need_the_csrf_token(admin_user, orders, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    transition = {"routes": [orders[0].pk], "new_status": "established"}
    assert client.post(reverse(BULK_TRANSITION), transition).status_code == 403
    assert client.post(reverse(BULK_ORDER), data).status_code == 403


# --- the agreement on a route's page ------------------------------------------------------


@pytest.fixture
def production_order(make_route, kommune_kbh, system_a, produktion):
    return make_route(
        kommune=kommune_kbh,
        sender_system=system_a,
        status="ordered",
        endpoint=produktion,
        order_reference="DK-P",
    )


def test_the_route_page_warns_of_a_missing_agreement_and_asks_for_a_reason(
    admin_client, production_order, vendor_a, kommune_kbh
):
    draft = factories.agreement(vendor_a, kommune_kbh, status="draft")
    html = admin_client.get(production_order.get_absolute_url()).content.decode()
    assert "Databehandleraftale mangler." in html
    # The draft is the agreement to finish: linked, not a new one.
    assert reverse("admin:routes_processingagreement_change", args=[draft.pk]) in html
    assert "Begrundelse for at etablere uden underskrevet databehandleraftale" in html


def test_a_signed_agreement_silences_the_page(admin_client, production_order, signed_agreement):
    html = admin_client.get(production_order.get_absolute_url()).content.decode()
    assert "Databehandleraftale mangler." not in html
    assert "Begrundelse for at etablere" not in html


def test_establishing_in_production_from_the_page_needs_a_reason(admin_client, production_order):
    url = reverse("routes:route_transition", args=[production_order.pk])
    refused = admin_client.post(url, {"new_status": "established", "note": ""})
    assert "kan ikke etableres i produktion" in refused.content.decode()
    production_order.refresh_from_db()
    assert production_order.status == "ordered"
    done = admin_client.post(
        url, {"new_status": "established", "note": "", "agreement_override": "Papiraftale."}
    )
    assert done.status_code == 302
    production_order.refresh_from_db()
    assert production_order.status == "established"
    assert production_order.events.get().agreement_override == "Papiraftale."
    assert AuditEntry.objects.filter(action="route.agreement_override").count() == 1
    html = admin_client.get(production_order.get_absolute_url()).content.decode()
    assert "Etableret uden underskrevet databehandleraftale. Begrundelse:" in html


def test_a_single_order_without_an_agreement_warns(
    admin_client, kommune_kbh, personale, system_a, flis_system, exttest
):
    data = {
        "data_area": personale.pk,
        "sender_system": system_a.pk,
        "recipient_systems": [flis_system.pk],
        "endpoint": exttest.pk,
        "sender_authority": kommune_kbh.cvr,
        "recipient_authority": kommune_kbh.cvr,
        "note": "",
    }
    response = admin_client.post(
        reverse("routes:route_order_create", args=["101"]), data, follow=True
    )
    assert "Der er ingen underskrevet databehandleraftale mellem Københavns Kommune" in (
        response.content.decode()
    )
