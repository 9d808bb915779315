"""The onboarding checklist per (vendor, kommune): each task ticked from the data."""

from datetime import date

import pytest
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from flisportal.front.onboarding import TaskState, onboarding_checklist
from routes import services
from routes.models import AgreementStatus, ProcessingAgreement, User
from tests import factories

pytestmark = pytest.mark.django_db


def states(checklist):
    return {task.key: task.state for task in checklist.tasks}


def test_nothing_done_yet(vendor_a, kommune_kbh):
    checklist = onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh)
    assert states(checklist) == {
        "agreement": TaskState.TODO,
        "sftp_user": TaskState.TODO,
        "route_ordered": TaskState.TODO,
        "established_exttest": TaskState.TODO,
        "test_delivery": TaskState.TODO,
        "established_produktion": TaskState.TODO,
    }
    assert checklist.done == 0


def test_each_task_is_ticked_from_the_data(
    vendor_a, kommune_kbh, system_a, sftp_user_a, make_route, exttest, produktion, personale, skole
):
    ProcessingAgreement.objects.create(
        vendor=vendor_a,
        kommune=kommune_kbh,
        status=AgreementStatus.SIGNED,
        signed_on=date(2026, 1, 5),
        document_reference="DBA-1",
    )
    services.sftp_key_generate(sftp_user=sftp_user_a, algorithm="ed25519", actor=None)
    make_route(
        kommune=kommune_kbh,
        sender_system=system_a,
        status="established",
        endpoint=exttest,
        data_area=personale,
        order_reference="DK-1",
    )
    make_route(
        kommune=kommune_kbh,
        sender_system=system_a,
        status="ordered",
        endpoint=produktion,
        data_area=personale,
        order_reference="DK-2",
    )
    make_route(
        kommune=kommune_kbh,
        sender_system=system_a,
        status="requested",
        endpoint=exttest,
        data_area=skole,
    )
    checklist = onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh)
    assert states(checklist) == {
        "agreement": TaskState.DONE,
        "sftp_user": TaskState.DONE,
        # Personale is ordered; Skole is only requested.
        "route_ordered": TaskState.PARTIAL,
        "established_exttest": TaskState.PARTIAL,
        "test_delivery": TaskState.TODO,
        "established_produktion": TaskState.TODO,
    }
    tasks = {task.key: task for task in checklist.tasks}
    assert "underskrevet 05.01.2026" in tasks["agreement"].details[0].text
    assert "DBA-1" in tasks["agreement"].details[0].text
    # Skole is shown as what it is, requested, not as missing.
    [skole_line] = [line for line in tasks["route_ordered"].details if "Skole" in line.text]
    assert skole_line.state == TaskState.REQUESTED
    assert skole_line.text == "Skole: anmodet på exttest, endnu ikke bestilt hos KOMBIT"


def test_a_draft_agreement_or_a_user_without_key_is_not_done(vendor_a, kommune_kbh, sftp_user_a):
    ProcessingAgreement.objects.create(vendor=vendor_a, kommune=kommune_kbh)
    checklist = onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh)
    assert states(checklist)["agreement"] == TaskState.DRAFT
    assert states(checklist)["sftp_user"] == TaskState.NO_KEY
    assert checklist.tasks[1].details[0].state == TaskState.NO_KEY
    assert checklist.done == 0


def test_stand_in_routes_are_shown_but_tick_nothing(
    vendor_a, kommune_kbh, system_a, make_route, lokal
):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established", endpoint=lokal)
    checklist = onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh)
    assert states(checklist)["route_ordered"] == TaskState.TODO
    assert len(checklist.standin_routes) == 1


def test_another_vendors_routes_do_not_count(vendor_a, kommune_kbh, system_b, make_route):
    make_route(kommune=kommune_kbh, sender_system=system_b, status="established")
    assert (
        states(onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh))["established_exttest"]
        == TaskState.TODO
    )


def test_all_areas_established_in_both_environments(
    vendor_a, kommune_kbh, system_a, make_route, exttest, produktion, personale, skole
):
    for area in (personale, skole):
        for endpoint in (exttest, produktion):
            make_route(
                kommune=kommune_kbh,
                sender_system=system_a,
                status="established",
                endpoint=endpoint,
                data_area=area,
                established_on=date(2026, 4, 1),
            )
    result = states(onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh))
    assert result["route_ordered"] == result["established_exttest"] == TaskState.DONE
    assert result["established_produktion"] == TaskState.DONE


def delivery_on(route, status: str, user) -> Delivery:
    return factories.delivery(route, status=status, uploaded_by=user)


@pytest.mark.parametrize("status", [DeliveryStatus.DISTRIBUTED, DeliveryStatus.FETCHED])
def test_test_delivery_is_done_when_one_on_exttest_reached_its_recipient(
    vendor_a, vendor_a_user, kommune_kbh, system_a, make_route, exttest, status
):
    route = make_route(
        kommune=kommune_kbh, sender_system=system_a, status="established", endpoint=exttest
    )
    delivery_on(route, status, vendor_a_user)
    checklist = onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh)
    task = {task.key: task for task in checklist.tasks}["test_delivery"]
    assert task.state == TaskState.DONE
    assert [line.text for line in task.details] == [
        "Personale: en leverance er nået frem til modtageren"
    ]


def test_deliveries_that_do_not_count_as_a_test_delivery(
    vendor_a,
    vendor_a_user,
    vendor_b_user,
    kommune_kbh,
    kommune_aarhus,
    system_a,
    system_b,
    make_route,
    exttest,
    produktion,
    lokal,
):
    exttest_route = make_route(
        kommune=kommune_kbh, sender_system=system_a, status="established", endpoint=exttest
    )
    # On exttest, but not (yet) at the recipient.
    for status in (DeliveryStatus.SENT, DeliveryStatus.REFUSED, DeliveryStatus.FAILED):
        delivery_on(exttest_route, status, vendor_a_user)
    # At the recipient, but in production, on the stand-in, for another kommune, or by
    # another vendor.
    for route, user in (
        (make_route(kommune=kommune_kbh, sender_system=system_a, endpoint=produktion), None),
        (make_route(kommune=kommune_kbh, sender_system=system_a, endpoint=lokal), None),
        (make_route(kommune=kommune_aarhus, sender_system=system_a, endpoint=exttest), None),
        (make_route(kommune=kommune_kbh, sender_system=system_b, endpoint=exttest), vendor_b_user),
    ):
        delivery_on(route, DeliveryStatus.FETCHED, user or vendor_a_user)
    assert (
        states(onboarding_checklist(vendor=vendor_a, kommune=kommune_kbh))["test_delivery"]
        == TaskState.TODO
    )


# --- the page -----------------------------------------------------------------------------


def url(vendor, code="101"):
    return reverse("front:onboarding", args=[vendor.pk, code])


@pytest.mark.parametrize("persona", ["admin_user", "vendor_a_user", "consultant_user"])
def test_page_for_admin_the_vendor_and_the_kommunes_consultant(
    client, request, persona, vendor_a, kommune_kbh
):
    # The consultant reads the checklists of vendors their kommune works with: an agreement,
    # even a draft, is enough.
    ProcessingAgreement.objects.create(vendor=vendor_a, kommune=kommune_kbh)
    client.force_login(request.getfixturevalue(persona))
    page = client.get(url(vendor_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ibrugtagning: Leverandør A · Københavns Kommune" in html
    assert "Databehandleraftale underskrevet" in html
    assert "Ingen leverance på exttest er nået frem til modtageren endnu" in html
    assert client.post(url(vendor_a)).status_code == 405


def test_page_refuses_other_vendors_and_other_kommuners_consultants(
    client, vendor_a, kommune_kbh, vendor_b_user, consultant_user
):
    ProcessingAgreement.objects.create(vendor=vendor_a, kommune=kommune_kbh)
    client.force_login(vendor_b_user)
    assert client.get(url(vendor_a)).status_code == 404
    client.force_login(consultant_user)
    assert client.get(url(vendor_a, "751")).status_code == 404
    assert client.get(url(vendor_a, "999")).status_code == 404


def test_consultant_sees_only_vendors_that_work_with_their_kommuner(
    client, consultant_user, vendor_a, kommune_kbh, system_a, vendor_b, system_b, make_route
):
    """Rule (issue #14): a consultant may not walk vendor ids to read any vendor's IT-systems,
    SFTP user names and key state; only vendors with an agreement or a route for one of their
    kommuner, and a vendor that does not exist answers the same 404."""
    client.force_login(consultant_user)
    assert client.get(url(vendor_a)).status_code == 404
    assert client.get(url(vendor_b)).status_code == 404
    make_route(kommune=kommune_kbh, sender_system=system_a, status="requested")
    assert client.get(url(vendor_a)).status_code == 200
    assert client.get(url(vendor_b)).status_code == 404
    assert client.get(reverse("front:onboarding", args=[999999, "101"])).status_code == 404


def test_vendor_staff_see_their_own_vendor_for_any_kommune_only(
    client, vendor_a_user, vendor_a, vendor_b, kommune_kbh, kommune_aarhus
):
    # Onboarding starts before an agreement or a route exists: staff may open it for any
    # kommune, but never another vendor's, and a user without a role sees none.
    client.force_login(vendor_a_user)
    assert client.get(url(vendor_a, "751")).status_code == 200
    assert client.get(url(vendor_b)).status_code == 404
    client.force_login(User.objects.create_user("nobody"))
    assert client.get(url(vendor_a)).status_code == 404


def test_page_query_count_is_fixed(
    client,
    admin_user,
    vendor_a,
    kommune_kbh,
    system_a,
    sftp_user_a,
    make_route,
    exttest,
    produktion,
    django_assert_num_queries,
):
    from routes.models import DataArea

    client.force_login(admin_user)
    # session, user, vendor, kommune, agreement, SFTP users, systems, routes
    with django_assert_num_queries(8):
        client.get(url(vendor_a))
    for area in DataArea.objects.all():
        for endpoint in (exttest, produktion):
            route = make_route(
                kommune=kommune_kbh,
                sender_system=system_a,
                status="established",
                endpoint=endpoint,
                data_area=area,
            )
            delivery_on(route, DeliveryStatus.FETCHED, admin_user)
    with django_assert_num_queries(8):
        page = client.get(url(vendor_a))
    html = page.content.decode()
    assert html.count("etableret") >= 10
    assert html.count("en leverance er nået frem til modtageren") == DataArea.objects.count()
