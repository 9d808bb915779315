"""A consultant of several kommuner chooses per kommune and event, overriding the general
choice: «Aarhus at once, the others in the digest». No row for a kommune and event: the
general choice, as before. Mails are made through the validator itself, so a hook that forgets
the kommune's choice fails here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
import time_machine

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.services.expected import expected_deliveries_scan
from flisportal.notifications.models import (
    Cadence,
    ConsultantEvent,
    EventChoice,
    MailStatus,
    NotificationKommuneChoice,
    NotificationPreference,
    OutgoingMail,
)
from flisportal.notifications.services import digests_send, kommune_consultants
from routes.models import Kommune, Route, RouteStatus, User
from routes.services import route_transition
from tests import factories
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.clock import local

pytestmark = pytest.mark.django_db

E = ConsultantEvent
ADDRESS = "team@lis.dk"


@pytest.fixture
def aarhus_route(system_a, flis_system, kommune_aarhus) -> Route:
    return factories.route(
        kommune=kommune_aarhus,
        sender_system=system_a,
        data_area="dagtilbud",
        recipients=[flis_system],
    )


@pytest.fixture
def team(kommune_kbh, kommune_aarhus) -> User:
    """A shared LIS team that covers København and Aarhus."""
    return factories.consultant(kommune_kbh, kommune_aarhus, username="team", email=ADDRESS)


@pytest.fixture
def reject(make_delivery, vendor_a_user) -> Callable[[Route], None]:
    """A rejected extract on `route`, through the validation job."""

    def run(route: Route) -> None:
        bad = make_delivery(route, vendor_a_user, dagtilbud_csv(dagtilbud_row(1, pladstype="halv")))
        assert validate_delivery(bad.pk) == DeliveryStatus.REJECTED

    return run


def kommune_choice(user: User, kommune: Kommune, event: str, choice: str) -> None:
    NotificationKommuneChoice.objects.create(user=user, kommune=kommune, event=event, choice=choice)


def statuses() -> list[str]:
    return list(OutgoingMail.objects.filter(to=ADDRESS).values_list("status", flat=True))


def test_a_kommune_choice_overrides_the_general_one_for_that_kommune_only(
    team, kommune_aarhus, upload_route, aarhus_route, reject
):
    # Rule: Aarhus «straks» over a general «ingen mail»: Aarhus's rejection is mailed at once,
    # København's (no choice of its own) follows the general choice and is not mailed.
    NotificationPreference.objects.create(user=team, rejected=EventChoice.OFF)
    kommune_choice(team, kommune_aarhus, E.REJECTED, EventChoice.IMMEDIATE)
    reject(upload_route)
    assert statuses() == []
    reject(aarhus_route)
    assert statuses() == [MailStatus.PENDING]
    assert "Aarhus" in OutgoingMail.objects.get(to=ADDRESS).subject


def test_a_kommune_choice_of_the_digest_lands_in_the_digest(
    team, kommune_aarhus, upload_route, aarhus_route, reject
):
    # Rule: Aarhus «daglig opsamling» while the rest come at once: Aarhus's notice waits for
    # the digest and goes out in it; København's is sent on its own.
    NotificationPreference.objects.create(user=team, cadence=Cadence.IMMEDIATE)
    kommune_choice(team, kommune_aarhus, E.REJECTED, EventChoice.DIGEST)
    reject(aarhus_route)
    reject(upload_route)
    aarhus, kbh = OutgoingMail.objects.filter(to=ADDRESS).order_by("pk")
    assert (aarhus.status, kbh.status) == (MailStatus.DIGEST, MailStatus.PENDING)
    assert digests_send() == 1
    aarhus.refresh_from_db()
    assert aarhus.status == MailStatus.DIGESTED
    assert aarhus.digest is not None and aarhus.digest.to == ADDRESS


def test_a_kommune_choice_of_no_mail_silences_only_that_kommune(team, kommune_kbh, kommune_aarhus):
    # Rule: «only my own kommune's rejections»: «ingen mail» for Aarhus, default for København.
    kommune_choice(team, kommune_aarhus, E.REJECTED, EventChoice.OFF)
    assert [r.email for r in kommune_consultants(kommune_aarhus.pk, E.REJECTED)] == []
    [kbh] = kommune_consultants(kommune_kbh.pk, E.REJECTED)
    assert (kbh.email, kbh.cadence) == (ADDRESS, EventChoice.IMMEDIATE)
    # The choice is for one event: Aarhus's overdue periods still follow the default.
    assert [r.email for r in kommune_consultants(kommune_aarhus.pk, E.OVERDUE)] == [ADDRESS]


def test_overdue_periods_and_route_changes_follow_their_routes_kommune(
    team, kommune_aarhus, owing_route, aarhus_route
):
    # Rule: for an overdue period and a route change, the route's kommune decides: Aarhus
    # «straks» over a general «ingen mail» mails Aarhus's news and not København's.
    NotificationPreference.objects.create(user=team, overdue="off", route_changed="off")
    kommune_choice(team, kommune_aarhus, E.OVERDUE, EventChoice.IMMEDIATE)
    kommune_choice(team, kommune_aarhus, E.ROUTE_CHANGED, EventChoice.IMMEDIATE)
    aarhus_route.established_on = date(2026, 9, 1)
    aarhus_route.save()
    with time_machine.travel(local(2026, 11, 11, 0, 5), tick=False):
        expected_deliveries_scan()
    for route in (owing_route, aarhus_route):
        route_transition(route=route, new_status=RouteStatus.RETIRED, actor=None)
    mails = OutgoingMail.objects.filter(to=ADDRESS)
    assert {m.kind for m in mails} == {"overdue", "route_changed"}
    assert all("Aarhus" in m.subject for m in mails)
    assert not any("København" in m.subject for m in mails)


@pytest.mark.parametrize("people", [1, 8])
def test_the_recipients_take_one_query_however_many_have_kommune_choices(
    kommune_aarhus, django_assert_num_queries, people
):
    # Rule: the kommune's choices are read with the people, not a query per recipient.
    for n in range(people):
        user = factories.consultant(kommune_aarhus, username=f"k{n}", email=f"k{n}@aarhus.dk")
        kommune_choice(user, kommune_aarhus, E.FETCHED, EventChoice.DIGEST)
    with django_assert_num_queries(1):
        recipients = kommune_consultants(kommune_aarhus.pk, E.FETCHED)
    assert [r.cadence for r in recipients] == [EventChoice.DIGEST] * people
