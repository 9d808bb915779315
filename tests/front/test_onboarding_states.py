"""The onboarding checklist shows each task's real state (mangler, udkast, anmodet, bestilt,
afvist …, one mapping) and links every task not done to the page where its reader does it: the
admin for administrators, the SFTP user page, the route order form filled in, the upload page
with the route chosen. A rejected order shows as afvist, with its reason and what to do."""

from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.urls import reverse

from flisportal.front.onboarding import TaskState, onboarding_checklist
from routes import services
from routes.models import AgreementStatus, DataArea, RouteStatus
from tests import factories
from tests.helpers.clock import local

pytestmark = pytest.mark.django_db


def task(checklist, key):
    return {t.key: t for t in checklist.tasks}[key]


def checklist_for(user, vendor, kommune):
    return onboarding_checklist(vendor=vendor, kommune=kommune, user=user)


# --- 1. the agreement -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (AgreementStatus.DRAFT, TaskState.DRAFT),
        (AgreementStatus.TERMINATED, TaskState.TERMINATED),
        (AgreementStatus.SIGNED, TaskState.DONE),
    ],
)
def test_agreement_states(admin_user, vendor_a, kommune_kbh, status, state):
    agreement = factories.agreement(vendor_a, kommune_kbh, status=status)
    found = task(checklist_for(admin_user, vendor_a, kommune_kbh), "agreement")
    assert found.state == state
    if state == TaskState.DONE:
        assert found.link is None
    else:
        assert found.link.url == reverse(
            "admin:routes_processingagreement_change", args=[agreement.pk]
        )


def test_a_missing_agreement_links_administrators_to_the_admin_filled_in(
    admin_user, vendor_a_user, vendor_a, kommune_kbh, client
):
    found = task(checklist_for(admin_user, vendor_a, kommune_kbh), "agreement")
    assert (found.state, found.state.label) == (TaskState.TODO, "Mangler")
    query = parse_qs(urlsplit(found.link.url).query)
    assert query == {"vendor": [str(vendor_a.pk)], "kommune": [str(kommune_kbh.pk)]}
    client.force_login(admin_user)
    assert client.get(found.link.url).status_code == 200
    # Vendor staff cannot use the admin: no link, but who does it.
    for_vendor = task(checklist_for(vendor_a_user, vendor_a, kommune_kbh), "agreement")
    assert for_vendor.link is None
    assert for_vendor.hint == "Udføres af portalens administratorer."


# --- 2. IT-system, SFTP user and key ----------------------------------------------------------


def test_sftp_user_without_key_links_to_its_page_for_those_who_see_it(
    admin_user, vendor_a_user, consultant_user, vendor_a, kommune_kbh, sftp_user_a
):
    page = reverse("routes:sftp_user_detail", args=[sftp_user_a.pk])
    for user in (admin_user, vendor_a_user):
        found = task(checklist_for(user, vendor_a, kommune_kbh), "sftp_user")
        assert found.state == TaskState.NO_KEY
        assert found.details[0].link.url == page
    # Consultants never see SFTP users.
    found = task(checklist_for(consultant_user, vendor_a, kommune_kbh), "sftp_user")
    assert found.details[0].link is None
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    found = task(checklist_for(vendor_a_user, vendor_a, kommune_kbh), "sftp_user")
    assert found.state == TaskState.DONE
    assert found.details[0].link is None


def test_no_system_or_no_sftp_user_links_to_the_admin(admin_user, vendor_a, kommune_kbh):
    found = task(checklist_for(admin_user, vendor_a, kommune_kbh), "sftp_user")
    assert found.link.url == reverse("admin:routes_itsystem_add")
    factories.sender_system("A", vendor=vendor_a)
    found = task(checklist_for(admin_user, vendor_a, kommune_kbh), "sftp_user")
    assert (found.state, found.link.url) == (TaskState.TODO, reverse("admin:routes_sftpuser_add"))


# --- 3, 4, 6. the routes ----------------------------------------------------------------------


@pytest.fixture
def order(order_route):
    return order_route


def reject(route, admin_user, note):
    with time_machine.travel(local(2026, 10, 5, 10, 0), tick=False):
        services.route_transition(
            route=route, new_status=RouteStatus.REJECTED, actor=admin_user, note=note
        )


def test_a_rejected_exttest_order_shows_as_rejected_with_reason_and_what_to_do(
    admin_user, vendor_a_user, vendor_a, kommune_kbh, system_a, personale, exttest, order
):
    route = order(exttest, at=local(2026, 10, 1, 10, 0))
    reject(route, admin_user, "Forkert modtagersystem")
    checklist = checklist_for(admin_user, vendor_a, kommune_kbh)
    found = task(checklist, "established_exttest")
    assert (found.state, found.state.label, found.state.sign) == (TaskState.REJECTED, "Afvist", "✘")
    [line] = found.details
    assert line.text == "Personale: afvist på exttest. Årsag: Forkert modtagersystem"
    assert "bestil ruten igen" in line.advice
    assert line.link.text == "Bestil igen"
    parts = urlsplit(line.link.url)
    assert parts.path == reverse("routes:kommune_routes", args=["101"])
    assert parse_qs(parts.query) == {
        "data_area": [str(personale.pk)],
        "sender_system": [str(system_a.pk)],
        "endpoint": ["exttest"],
    }
    assert task(checklist, "route_ordered").state == TaskState.REJECTED
    # The vendor cannot order: their link shows the rejected route.
    line = task(checklist_for(vendor_a_user, vendor_a, kommune_kbh), "established_exttest").details[
        0
    ]
    assert line.link.url == route.get_absolute_url()


def test_ordered_again_after_rejection_shows_the_new_order_waiting(
    admin_user, vendor_a, kommune_kbh, exttest, order
):
    reject(order(exttest, at=local(2026, 10, 1, 10, 0)), admin_user, "Fejl")
    again = order(exttest, at=local(2026, 10, 20, 9, 0), reference="DK-2")
    with time_machine.travel(local(2026, 11, 3, 8, 0), tick=False):
        checklist = checklist_for(admin_user, vendor_a, kommune_kbh)
    found = task(checklist, "established_exttest")
    assert found.state == TaskState.ORDERED
    assert found.details[0].text == (
        "Personale: bestilt på exttest, reference DK-2, venter siden 20.10.2026 (14 dage)"
    )
    assert found.details[0].link.url == again.get_absolute_url()
    assert task(checklist, "route_ordered").state == TaskState.DONE


def test_requested_established_and_missing_per_environment(
    admin_user, vendor_a, kommune_kbh, system_a, exttest, produktion, make_route, skole
):
    requested = make_route(kommune=kommune_kbh, sender_system=system_a, endpoint=exttest)
    checklist = checklist_for(admin_user, vendor_a, kommune_kbh)
    found = task(checklist, "route_ordered")
    assert (found.state, found.details[0].link.url) == (
        TaskState.REQUESTED,
        requested.get_absolute_url(),
    )
    requested.status = RouteStatus.ESTABLISHED
    requested.save()
    checklist = checklist_for(admin_user, vendor_a, kommune_kbh)
    assert task(checklist, "established_exttest").state == TaskState.DONE
    production = task(checklist, "established_produktion")
    assert production.state == TaskState.TODO
    assert production.details[0].text == "Personale: mangler på produktion"
    assert production.details[0].link.text == "Bestil ruten"
    assert "endpoint=produktion" in production.details[0].link.url


def test_no_route_at_all_links_administrators_to_the_order_form(
    admin_user, consultant_user, vendor_a, kommune_kbh
):
    found = task(checklist_for(admin_user, vendor_a, kommune_kbh), "route_ordered")
    assert found.link.url == reverse("routes:kommune_routes", args=["101"]) + "#bestil"
    found = task(checklist_for(consultant_user, vendor_a, kommune_kbh), "route_ordered")
    assert found.link is None and found.hint


def test_the_order_form_opens_filled_in(admin_client, personale, system_a, produktion):
    page = admin_client.get(
        reverse("routes:kommune_routes", args=["101"]),
        {"data_area": personale.pk, "sender_system": system_a.pk, "endpoint": "produktion"},
    )
    form = page.context["form"]
    assert form.initial["data_area"] == personale.pk
    assert form.initial["sender_system"] == system_a.pk
    assert form.initial["endpoint"] == produktion
    # A value that is not one is left out: the form starts as usual.
    page = admin_client.get(
        reverse("routes:kommune_routes", args=["101"]), {"data_area": "x", "endpoint": "nope"}
    )
    assert "data_area" not in page.context["form"].initial
    assert page.context["form"].initial["endpoint"].slug == "exttest"


# --- 5. the test delivery ---------------------------------------------------------------------


def test_test_delivery_links_uploaders_to_the_upload_page_with_the_route_chosen(
    client,
    admin_user,
    vendor_a_user,
    consultant_user,
    vendor_a,
    kommune_kbh,
    system_a,
    exttest,
    make_route,
    signed_agreement,
):
    found = task(checklist_for(vendor_a_user, vendor_a, kommune_kbh), "test_delivery")
    assert found.link is None
    assert found.details[-1].text == "Det kræver først en rute, der er etableret i exttest."
    route = make_route(
        kommune=kommune_kbh, sender_system=system_a, endpoint=exttest, status="established"
    )
    for user in (admin_user, vendor_a_user):
        found = task(checklist_for(user, vendor_a, kommune_kbh), "test_delivery")
        assert found.link.url == reverse("deliveries:upload") + f"?rute={route.pk}"
    assert task(checklist_for(consultant_user, vendor_a, kommune_kbh), "test_delivery").link is None
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:upload"), {"rute": route.pk})
    assert page.context["form"].initial == {"route": route.pk}


def test_upload_page_refuses_a_route_the_user_cannot_upload_on(
    client, vendor_b_user, vendor_a_user, kommune_kbh, system_a, exttest, make_route
):
    route = make_route(
        kommune=kommune_kbh, sender_system=system_a, endpoint=exttest, status="established"
    )
    client.force_login(vendor_b_user)
    assert client.get(reverse("deliveries:upload"), {"rute": route.pk}).status_code == 404
    client.force_login(vendor_a_user)
    assert client.get(reverse("deliveries:upload"), {"rute": "x"}).status_code == 404


# --- the page ---------------------------------------------------------------------------------


def test_page_shows_states_in_words_and_the_links(
    admin_client, vendor_a, kommune_kbh, exttest, order, admin_user
):
    reject(order(exttest, at=local(2026, 10, 1, 10, 0)), admin_user, "Forkert modtagersystem")
    html = admin_client.get(reverse("front:onboarding", args=[vendor_a.pk, "101"])).content.decode()
    assert "✘ Afvist" in html
    assert "Årsag: Forkert modtagersystem" in html
    assert ">Bestil igen</a>" in html
    assert ">Registrér aftalen</a>" in html


def test_page_query_count_stays_fixed_with_rejected_and_ordered_routes(
    admin_client,
    vendor_a,
    kommune_kbh,
    system_a,
    flis_system,
    exttest,
    produktion,
    admin_user,
    django_assert_num_queries,
):
    url = reverse("front:onboarding", args=[vendor_a.pk, "101"])
    # session, user, vendor, kommune, agreement, SFTP users, systems, routes
    with django_assert_num_queries(8):
        admin_client.get(url)
    for area in DataArea.objects.all():
        for endpoint in (exttest, produktion):
            route = services.route_order(
                kommune=kommune_kbh,
                data_area=area,
                sender_system=system_a,
                recipient_systems=[flis_system],
                endpoint=endpoint,
                actor=admin_user,
                order_reference="DK",
            )
            if endpoint == exttest:
                services.route_transition(
                    route=route, new_status=RouteStatus.REJECTED, actor=admin_user, note="Nej"
                )
    with django_assert_num_queries(8):
        html = admin_client.get(url).content.decode()
    assert html.count("Årsag: Nej") == DataArea.objects.count()
