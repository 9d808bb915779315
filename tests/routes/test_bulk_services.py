"""Bulk orders and bulk status changes in two steps (routes.bulk): the plan says what would be
done to each kommune or route and why some are skipped; the confirmation does exactly that,
through the same services as one by one, or nothing at all if the plan changed meanwhile."""

import pytest
from django.core.exceptions import ValidationError

from flisportal.audit.models import AuditEntry
from routes import bulk, services
from routes.models import AgreementStatus, Kommune, Route, RouteEvent, RouteStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def frederiksberg(db):
    return Kommune.objects.get(code="147")


@pytest.fixture
def choices(kommune_kbh, frederiksberg, kommune_aarhus, personale, system_a, flis_system, exttest):
    return bulk.BulkOrderChoices(
        kommuner=(kommune_kbh, frederiksberg, kommune_aarhus),
        data_area=personale,
        sender_system=system_a,
        recipient_systems=(flis_system,),
        endpoint=exttest,
        order_reference="DK-BULK-1",
        note="Nordlys tager tre kommuner i brug.",
    )


# --- bulk order --------------------------------------------------------------------------------


def test_the_plan_lists_each_kommune_with_what_happens_and_creates_nothing(
    ordered_route, choices, signed_agreement, admin_user
):
    plan = bulk.route_bulk_order_plan(choices=choices, actor=admin_user)
    assert [row.kommune.code for row in plan.to_create] == ["147", "751"]
    [skipped] = plan.skipped
    assert skipped.kommune.code == "101" and skipped.existing == ordered_route
    assert skipped.skip_reason == "Har allerede en rute med status «bestilt»."
    # København has the signed agreement; the two new ones are warned about, each by name.
    assert [row.kommune.code for row in plan.warnings] == ["147", "751"]
    assert "mellem Frederiksberg Kommune og Leverandør A" in plan.warnings[0].warning
    assert Route.objects.count() == 1


def test_the_plan_runs_two_queries_however_many_kommuner(
    choices, admin_user, django_assert_num_queries
):
    every = bulk.BulkOrderChoices(**{**choices.__dict__, "kommuner": tuple(Kommune.objects.all())})
    with django_assert_num_queries(2):
        plan = bulk.route_bulk_order_plan(choices=every, actor=admin_user)
    assert len(plan.to_create) == 98


def test_confirming_creates_exactly_the_previewed_routes_with_their_history(
    ordered_route, choices, admin_user
):
    plan = bulk.route_bulk_order_plan(choices=choices, actor=admin_user)
    created = bulk.route_bulk_order_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    assert sorted(r.kommune.code for r in created) == ["147", "751"]
    for route in created:
        route.refresh_from_db()
        assert route.status == RouteStatus.ORDERED
        assert route.sender_authority == route.recipient_authority == route.kommune.cvr
        # The same history rows and audit entries as one order at a time.
        assert [e.new_status for e in route.events.all()] == ["requested", "ordered"]
        assert route.events.first().note == "Nordlys tager tre kommuner i brug."
        assert AuditEntry.objects.filter(action="route.order", object_id=str(route.pk)).exists()
    assert Route.objects.count() == 3


@pytest.mark.parametrize(
    "change",
    [
        "someone_orders_one",
        "agreement_signed",
        "another_note",
        "another_administrator",
        "forged_digest",
    ],
)
def test_a_changed_plan_is_shown_again_and_nothing_is_created(
    request, choices, admin_user, kommune_aarhus, system_a, personale, flis_system, exttest, change
):
    plan = bulk.route_bulk_order_plan(choices=choices, actor=admin_user)
    digest, actor = plan.digest, admin_user
    if change == "someone_orders_one":
        services.route_order(
            kommune=kommune_aarhus,
            data_area=personale,
            sender_system=system_a,
            recipient_systems=[flis_system],
            endpoint=exttest,
            actor=admin_user,
        )
    elif change == "agreement_signed":
        factories.agreement(system_a.vendor, kommune_aarhus)
    elif change == "another_note":
        choices = bulk.BulkOrderChoices(**{**choices.__dict__, "note": "En anden note"})
    elif change == "another_administrator":
        actor = factories.admin("admin2")
    else:
        digest = "0" * 64
    before = Route.objects.count()
    with pytest.raises(bulk.PlanChanged) as changed:
        bulk.route_bulk_order_confirm(choices=choices, digest=digest, actor=actor)
    assert Route.objects.count() == before
    # The new plan comes with the refusal, ready to be previewed and confirmed.
    assert changed.value.plan.digest != digest
    created = bulk.route_bulk_order_confirm(
        choices=choices, digest=changed.value.plan.digest, actor=actor
    )
    assert len(created) == len(changed.value.plan.to_create)


def test_a_sender_that_cannot_send_is_refused_at_the_plan(choices, flis_system, admin_user):
    wrong = bulk.BulkOrderChoices(**{**choices.__dict__, "sender_system": flis_system})
    with pytest.raises(ValidationError) as refused:
        bulk.route_bulk_order_plan(choices=wrong, actor=admin_user)
    assert "er ikke registreret som afsender" in str(refused.value)


# --- bulk status change ------------------------------------------------------------------------


def _transition(route_ids, new_status, **more):
    return bulk.BulkTransitionChoices(route_ids=tuple(route_ids), new_status=new_status, **more)


@pytest.fixture
def three_orders(make_route, system_a, kommune_kbh, kommune_aarhus, frederiksberg):
    return [
        make_route(kommune=k, sender_system=system_a, status=RouteStatus.ORDERED, order_reference=r)
        for k, r in ((kommune_kbh, "DK-1"), (frederiksberg, "DK-2"), (kommune_aarhus, "DK-3"))
    ]


def test_ordered_routes_are_established_together_with_the_same_history(three_orders, admin_user):
    choices = _transition([r.pk for r in three_orders], "established", note="KOMBIT: oprettet.")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    assert len(plan.moving) == 3 and not plan.refused
    moved = bulk.route_bulk_transition_confirm(
        choices=choices, digest=plan.digest, actor=admin_user
    )
    assert len(moved) == 3
    for route in three_orders:
        route.refresh_from_db()
        assert route.status == RouteStatus.ESTABLISHED
        assert route.order_reference.startswith("DK-")  # kept, not overwritten
        event = RouteEvent.objects.get(route=route)
        assert (event.old_status, event.new_status, event.note, event.actor) == (
            "ordered",
            "established",
            "KOMBIT: oprettet.",
            admin_user,
        )
        assert AuditEntry.objects.filter(action="route.status", object_id=str(route.pk)).exists()


def test_requests_are_ordered_with_the_given_reference_where_they_have_none(
    make_route, system_a, kommune_kbh, kommune_aarhus, admin_user
):
    bare = make_route(kommune=kommune_kbh, sender_system=system_a)
    known = make_route(kommune=kommune_aarhus, sender_system=system_a, order_reference="DK-OWN")
    choices = _transition([bare.pk, known.pk], "ordered", order_reference="DK-FÆLLES")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    bare.refresh_from_db()
    known.refresh_from_db()
    assert (bare.status, bare.order_reference) == ("ordered", "DK-FÆLLES")
    assert (known.status, known.order_reference) == ("ordered", "DK-OWN")


def test_routes_that_cannot_take_the_step_are_listed_with_the_reason_and_left_alone(
    make_route, system_a, kommune_kbh, kommune_aarhus, frederiksberg, admin_user
):
    requested = make_route(kommune=kommune_kbh, sender_system=system_a)
    retired = make_route(kommune=frederiksberg, sender_system=system_a, status="retired")
    ordered = make_route(
        kommune=kommune_aarhus, sender_system=system_a, status="ordered", order_reference="R"
    )
    choices = _transition([requested.pk, retired.pk, ordered.pk], "established")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    reasons = {row.route.pk: row.refusal for row in plan.refused}
    assert reasons == {
        requested.pk: "En rute med status «anmodet» kan ikke flyttes til «etableret».",
        retired.pk: "En rute med status «nedlagt» kan ikke flyttes til «etableret».",
    }
    bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    assert Route.objects.get(pk=requested.pk).status == "requested"
    assert Route.objects.get(pk=retired.pk).status == "retired"
    assert Route.objects.get(pk=ordered.pk).status == "established"
    assert RouteEvent.objects.count() == 1


def test_an_order_without_any_reference_stays_requested(
    make_route, system_a, kommune_kbh, admin_user
):
    route = make_route(kommune=kommune_kbh, sender_system=system_a)
    plan = bulk.route_bulk_transition_plan(
        choices=_transition([route.pk], "ordered"), actor=admin_user
    )
    assert "ingen bestillingsreference" in plan.refused[0].refusal


def test_a_second_established_route_for_a_key_is_refused_in_the_plan(
    make_route, system_a, kommune_kbh, admin_user
):
    # One already established, one ordered for the same key, and two ordered twins selected
    # together: the database allows one established route per key, so the plan says so.
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    twin = make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    plan = bulk.route_bulk_transition_plan(
        choices=_transition([twin.pk], "established"), actor=admin_user
    )
    assert "allerede en etableret rute" in plan.refused[0].refusal


def test_twins_in_one_selection_do_not_both_become_established(
    make_route, system_a, kommune_kbh, admin_user
):
    first = make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    second = make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    choices = _transition([first.pk, second.pk], "established")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    assert [row.route.pk for row in plan.moving] == [first.pk]
    assert [row.route.pk for row in plan.refused] == [second.pk]
    bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    assert Route.objects.get(pk=first.pk).status == "established"


def test_bulk_establishing_in_production_honours_the_agreement_rule_per_route(
    make_route, system_a, kommune_kbh, kommune_aarhus, produktion, signed_agreement, admin_user
):
    signed = make_route(
        kommune=kommune_kbh, sender_system=system_a, status="ordered", endpoint=produktion
    )
    unsigned = make_route(
        kommune=kommune_aarhus, sender_system=system_a, status="ordered", endpoint=produktion
    )
    choices = _transition([signed.pk, unsigned.pk], "established")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    assert [row.route.pk for row in plan.moving] == [signed.pk]
    assert "kan ikke etableres i produktion" in plan.refused[0].refusal
    bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    assert Route.objects.get(pk=unsigned.pk).status == "ordered"

    # With a reason both move; only the one without an agreement records the override.
    override = _transition([unsigned.pk], "established", agreement_override="Underskrevet i dag.")
    plan = bulk.route_bulk_transition_plan(choices=override, actor=admin_user)
    assert "med den angivne begrundelse" in plan.moving[0].warning
    bulk.route_bulk_transition_confirm(choices=override, digest=plan.digest, actor=admin_user)
    assert RouteEvent.objects.get(route=unsigned).agreement_override == "Underskrevet i dag."
    assert RouteEvent.objects.get(route=signed).agreement_override == ""
    entry = AuditEntry.objects.get(action="route.agreement_override")
    assert entry.object_id == str(unsigned.pk)


def test_a_status_change_whose_plan_changed_moves_nothing(three_orders, admin_user):
    choices = _transition([r.pk for r in three_orders], "established")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    # Another administrator rejects one of them meanwhile.
    services.route_transition(route=three_orders[0], new_status="rejected", actor=admin_user)
    with pytest.raises(bulk.PlanChanged) as changed:
        bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)
    assert Route.objects.filter(status="established").count() == 0
    assert len(changed.value.plan.moving) == 2
    assert "«afvist»" in changed.value.plan.refused[0].refusal


def test_an_agreement_status_change_changes_the_plan(
    three_orders, vendor_a, kommune_kbh, admin_user
):
    choices = _transition([r.pk for r in three_orders], "established")
    plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    factories.agreement(vendor_a, kommune_kbh, status=AgreementStatus.SIGNED)
    with pytest.raises(bulk.PlanChanged):
        bulk.route_bulk_transition_confirm(choices=choices, digest=plan.digest, actor=admin_user)


def test_the_transition_plan_runs_one_query_however_many_routes(
    system_a, admin_user, django_assert_num_queries
):
    routes = factories.routes_everywhere(system_a, status=RouteStatus.ORDERED)
    choices = _transition([r.pk for r in routes], "established")
    with django_assert_num_queries(1):
        plan = bulk.route_bulk_transition_plan(choices=choices, actor=admin_user)
    assert len(plan.moving) == len(routes) == 490
