"""A route's order lifecycle through the services: every step a history row, wrong steps
refused in Danish, and one established route per key enforced by the database."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from routes import services
from routes.models import ITSystem, Route, RouteEvent, RouteStatus

pytestmark = pytest.mark.django_db


def test_an_order_starts_requested_with_its_first_history_row(
    kommune_kbh, system_a, flis_system, exttest, personale, admin_user
):
    route = services.route_order(
        kommune=kommune_kbh,
        data_area=personale,
        sender_system=system_a,
        recipient_systems=[flis_system],
        endpoint=exttest,
        actor=admin_user,
        note="Leverandøren har bedt om det.",
    )
    route.refresh_from_db()
    assert route.status == RouteStatus.REQUESTED
    assert route.sender_authority == route.recipient_authority == kommune_kbh.cvr
    assert list(route.recipient_systems.all()) == [flis_system]
    event = route.events.get()
    assert (event.old_status, event.new_status) == ("", RouteStatus.REQUESTED)
    assert event.actor == admin_user
    assert event.note == "Leverandøren har bedt om det."


def test_an_order_with_its_reference_is_ordered_at_once(ordered_route):
    ordered_route.refresh_from_db()
    assert ordered_route.status == RouteStatus.ORDERED
    assert ordered_route.order_reference == "DK-1"
    assert ordered_route.ordered_on is not None
    assert [(e.old_status, e.new_status) for e in ordered_route.events.all()] == [
        ("", "requested"),
        ("requested", "ordered"),
    ]


def test_the_whole_lifecycle_records_who_when_and_why(ordered_route, admin_user):
    services.route_transition(
        route=ordered_route,
        new_status=RouteStatus.ESTABLISHED,
        actor=admin_user,
        note="KOMBIT har bekræftet.",
        on_date=date(2026, 3, 1),
    )
    services.route_transition(
        route=ordered_route,
        new_status=RouteStatus.RETIRED,
        actor=admin_user,
        note="Kommunen skifter leverandør.",
        on_date=date(2026, 9, 30),
    )
    ordered_route.refresh_from_db()
    assert ordered_route.status == RouteStatus.RETIRED
    assert ordered_route.established_on == date(2026, 3, 1)
    assert ordered_route.retired_on == date(2026, 9, 30)
    events = list(ordered_route.events.all())
    assert [e.new_status for e in events] == ["requested", "ordered", "established", "retired"]
    assert events[-1].old_status == "established"
    assert events[-1].note == "Kommunen skifter leverandør."
    assert all(e.actor == admin_user for e in events)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("requested", "established"),
        ("requested", "retired"),
        ("ordered", "retired"),
        ("established", "ordered"),
        ("retired", "established"),
        ("rejected", "ordered"),
    ],
)
def test_steps_outside_the_lifecycle_are_refused_in_danish(
    make_route, kommune_kbh, system_a, admin_user, start, target
):
    route = make_route(kommune=kommune_kbh, sender_system=system_a, status=start)
    with pytest.raises(ValidationError, match="kan ikke flyttes til"):
        services.route_transition(route=route, new_status=target, actor=admin_user)
    route.refresh_from_db()
    assert route.status == start
    assert not route.events.exists()


def test_ordering_needs_the_digitaliseringskatalog_reference(
    make_route, kommune_kbh, system_a, admin_user
):
    route = make_route(kommune=kommune_kbh, sender_system=system_a)
    with pytest.raises(ValidationError) as error:
        services.route_transition(route=route, new_status="ordered", actor=admin_user)
    assert "bestillingsreferencen" in error.value.message_dict["order_reference"][0]
    services.route_transition(
        route=route, new_status="ordered", actor=admin_user, order_reference="DK-77"
    )
    route.refresh_from_db()
    assert (route.status, route.order_reference) == ("ordered", "DK-77")


def test_a_request_can_be_rejected_and_then_nothing_more(ordered_route, admin_user):
    services.route_transition(
        route=ordered_route, new_status="rejected", actor=admin_user, note="Forkert InfRef."
    )
    assert ordered_route.next_statuses() == []
    assert ordered_route.events.last().note == "Forkert InfRef."


def test_a_second_open_order_for_the_same_key_is_refused(
    ordered_route, kommune_kbh, system_a, flis_system, exttest, personale, admin_user
):
    with pytest.raises(ValidationError, match="har allerede en rute"):
        services.route_order(
            kommune=kommune_kbh,
            data_area=personale,
            sender_system=system_a,
            recipient_systems=[flis_system],
            endpoint=exttest,
            actor=admin_user,
        )
    assert Route.objects.count() == 1


def test_a_stale_copy_does_not_overwrite_another_administrators_step(ordered_route, admin_user):
    stale = Route.objects.get(pk=ordered_route.pk)
    services.route_transition(route=ordered_route, new_status="rejected", actor=admin_user)
    with pytest.raises(ValidationError, match="ændret af en anden"):
        services.route_transition(route=stale, new_status="established", actor=admin_user)
    assert Route.objects.get(pk=ordered_route.pk).status == "rejected"
    assert RouteEvent.objects.filter(route=ordered_route).count() == 3


def test_the_database_allows_one_established_route_per_key(make_route, kommune_kbh, system_a):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    # A retired or rejected route with the same key is history, not a conflict.
    make_route(kommune=kommune_kbh, sender_system=system_a, status="retired")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_route(kommune=kommune_kbh, sender_system=system_a, status="established")


def test_establishing_a_duplicate_gives_a_clear_danish_error(
    make_route, kommune_kbh, system_a, admin_user
):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    second = make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    with pytest.raises(ValidationError, match="Der er allerede en etableret rute"):
        services.route_transition(route=second, new_status="established", actor=admin_user)
    second.refresh_from_db()
    assert second.status == "ordered"
    assert not second.events.exists()


def test_model_validation_reports_the_constraint_too(make_route, kommune_kbh, system_a):
    first = make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    copy = Route(
        endpoint=first.endpoint,
        data_area=first.data_area,
        kommune=kommune_kbh,
        sender_system=system_a,
        sender_authority=first.sender_authority,
        recipient_authority=first.recipient_authority,
        status="established",
    )
    with pytest.raises(ValidationError, match="allerede en etableret rute"):
        copy.full_clean()


def test_sender_and_recipients_must_have_those_roles(
    kommune_kbh, kommune_aarhus, system_a, flis_system, exttest, personale, admin_user
):
    common = {"kommune": kommune_kbh, "data_area": personale, "endpoint": exttest}
    with pytest.raises(ValidationError) as error:
        services.route_order(
            **common,
            sender_system=flis_system,
            recipient_systems=[flis_system],
            actor=admin_user,
        )
    assert "ikke registreret som afsender" in error.value.message_dict["sender_system"][0]
    with pytest.raises(ValidationError) as error:
        services.route_order(
            **common, sender_system=system_a, recipient_systems=[system_a], actor=admin_user
        )
    assert "ikke registreret som modtager" in error.value.message_dict["recipient_systems"][0]
    aarhus_lis = ITSystem.objects.create(
        name="Aarhus LIS",
        uuid="11111111-2222-4333-8444-555555555555",
        kommune=kommune_aarhus,
        is_recipient=True,
    )
    with pytest.raises(ValidationError, match="en anden kommunes LIS"):
        services.route_order(
            **common, sender_system=system_a, recipient_systems=[aarhus_lis], actor=admin_user
        )


def test_a_route_may_go_to_flis_and_the_kommunes_own_lis(
    kommune_kbh, system_a, flis_system, exttest, personale, admin_user
):
    kbh_lis = ITSystem.objects.create(
        name="Københavns LIS",
        uuid="22222222-3333-4444-8555-666666666666",
        kommune=kommune_kbh,
        is_recipient=True,
    )
    route = services.route_order(
        kommune=kommune_kbh,
        data_area=personale,
        sender_system=system_a,
        recipient_systems=[flis_system, kbh_lis],
        endpoint=exttest,
        actor=admin_user,
    )
    assert set(route.recipient_systems.all()) == {flis_system, kbh_lis}
