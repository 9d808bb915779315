"""Kommune consultants choose, per event of their kommuner, no mail, an immediate mail or the
daily digest; without a choice they get overdue, rejected and refused at their general cadence.
Each event is triggered here through the code that really makes it (the scanner, the
validator, the lifecycle, the route lifecycle), so a hook that forgets the consultants fails."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import time_machine
from django.urls import reverse

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.services.expected import expected_deliveries_scan
from deliveries.services.notify import notify_delivery_status
from flisportal.notifications.models import (
    Cadence,
    ConsultantEvent,
    EventChoice,
    MailStatus,
    NotificationPreference,
    OutgoingMail,
)
from flisportal.notifications.services import kommune_consultants
from routes.models import RouteStatus, User
from routes.notify import notify_route_change
from routes.services import route_transition
from tests import factories
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.clock import local
from tests.helpers.lifecycle import DISTRIBUTED, walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus
E = ConsultantEvent
ADDRESS = "konsulent@kk.dk"
BASE = "https://flis.example.dk"


@pytest.fixture
def consultant(consultant_user, settings) -> User:
    settings.PORTAL_BASE_URL = BASE
    consultant_user.email = ADDRESS
    consultant_user.save()
    return consultant_user


@pytest.fixture
def trigger(owing_route, make_delivery, vendor_a_user) -> Callable[[str], str]:
    """Makes one event happen for København through the portal's own code; returns the path
    of the page the mail must link to."""

    def delivery(content: str = "x"):
        return make_delivery(owing_route, vendor_a_user, content)

    def overdue() -> str:
        with time_machine.travel(local(2026, 11, 11, 0, 5), tick=False):
            expected_deliveries_scan()
        return reverse("deliveries:kommune_history", args=[owing_route.kommune.code])

    def rejected() -> str:
        bad = delivery(dagtilbud_csv(dagtilbud_row(1, pladstype="halv")))
        assert validate_delivery(bad.pk) == S.REJECTED
        return reverse("deliveries:detail", args=[bad.uuid])

    def refused() -> str:
        failed = delivery()
        walk_to(failed, S.VALIDATING, S.VALID, S.PUSHING, S.FAILED)
        return reverse("deliveries:detail", args=[failed.uuid])

    def fetched() -> str:
        done = delivery()
        walk_to(done, *DISTRIBUTED, S.FETCHED)
        return reverse("deliveries:detail", args=[done.uuid])

    def route_changed() -> str:
        route_transition(route=owing_route, new_status=RouteStatus.RETIRED, actor=None)
        return reverse("routes:route_detail", args=[owing_route.pk])

    steps = {
        E.OVERDUE: overdue,
        E.REJECTED: rejected,
        E.REFUSED: refused,
        E.FETCHED: fetched,
        E.ROUTE_CHANGED: route_changed,
    }
    return lambda event: steps[E(event)]()


def mails_to(address: str) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(to=address).order_by("pk"))


def choose(user: User, **choices: str) -> None:
    NotificationPreference.objects.update_or_create(user=user, defaults=choices)


@pytest.mark.parametrize("event", list(E))
@pytest.mark.parametrize("choice", list(EventChoice))
def test_each_event_reaches_the_consultant_as_chosen(consultant, trigger, event, choice):
    # Rule: the consultant's choice for the event decides: no mail, at once, or the digest.
    choose(consultant, **{event.value: choice})
    path = trigger(event)
    mails = mails_to(ADDRESS)
    if choice == EventChoice.OFF:
        assert mails == []
        return
    [mail] = mails
    expected = MailStatus.DIGEST if choice == EventChoice.DIGEST else MailStatus.PENDING
    assert mail.status == expected
    # Every mail links to the page that shows the event, on the portal's own address.
    assert f"{BASE}{path}" in mail.body_text
    assert f'href="{BASE}{path}"' in mail.body_html


@pytest.mark.parametrize("event", list(E))
@pytest.mark.parametrize("cadence", list(Cadence))
def test_without_a_choice_what_needs_acting_on_comes_at_the_general_cadence(
    consultant, trigger, event, cadence
):
    # Rule: not chosen = overdue, rejected and refused at the person's general cadence; fetched
    # and route changes not at all.
    choose(consultant, cadence=cadence)
    trigger(event)
    statuses = [m.status for m in mails_to(ADDRESS)]
    if event in (E.FETCHED, E.ROUTE_CHANGED):
        assert statuses == []
    else:
        assert statuses == [MailStatus.DIGEST if cadence == Cadence.DIGEST else MailStatus.PENDING]


def test_a_consultant_who_never_opened_the_page_has_no_row_and_still_hears(consultant, trigger):
    # Rule: no NotificationPreference row at all behaves as "not chosen", immediately.
    assert not NotificationPreference.objects.exists()
    trigger(E.REJECTED)
    assert [m.status for m in mails_to(ADDRESS)] == [MailStatus.PENDING]


@pytest.mark.parametrize("event", list(E))
def test_a_consultant_of_another_kommune_hears_nothing(consultant, kommune_aarhus, trigger, event):
    # Rule: a consultant is mailed only about their own kommuner, whatever they chose.
    aarhus = factories.consultant(kommune_aarhus, username="aarhus", email="k@aarhus.dk")
    choose(aarhus, **{e.value: EventChoice.IMMEDIATE for e in E})
    trigger(event)
    assert mails_to("k@aarhus.dk") == []


def test_inactive_addressless_and_non_consultants_are_never_chosen(
    kommune_kbh, vendor_a, admin_user
):
    # Rule: only active people with an address who act as consultants of the kommune.
    everything = {e.value: EventChoice.IMMEDIATE for e in E}
    wanted = factories.consultant(kommune_kbh, username="ja", email="ja@kk.dk")
    inactive = factories.consultant(kommune_kbh, username="gammel", email="g@kk.dk")
    inactive.is_active = False
    inactive.save()
    addressless = factories.consultant(kommune_kbh, username="uden")
    vendor_staff = factories.vendor_staff(vendor_a, "lev", email="lev@a.dk")
    vendor_staff.kommuner.add(kommune_kbh)
    admin_user.email = "admin@flis.dk"
    admin_user.save()
    admin_user.kommuner.add(kommune_kbh)
    for user in (wanted, inactive, addressless, vendor_staff, admin_user):
        choose(user, **everything)
    for event in E:
        assert [r.email for r in kommune_consultants(kommune_kbh.pk, event)] == ["ja@kk.dk"]


def test_a_notice_is_made_once_per_key_and_address(consultant, trigger, owing_route):
    # Rule: a hook that runs twice (a retried job, two scanners) makes no second mail.
    choose(consultant, route_changed=EventChoice.IMMEDIATE)
    trigger(E.REJECTED)
    rejected = owing_route.deliveries.get()
    notify_delivery_status(delivery_id=rejected.pk, old=S.VALIDATING, new=S.REJECTED)
    trigger(E.ROUTE_CHANGED)
    notify_route_change(route=owing_route, old=RouteStatus.ESTABLISHED, new=RouteStatus.RETIRED)
    assert sorted(m.kind for m in mails_to(ADDRESS)) == ["route_changed", "validation_failed"]


def test_the_route_mail_says_what_changed(consultant, trigger):
    # Rule: the subject names the new state, area and kommune, as the page's example says.
    choose(consultant, route_changed=EventChoice.IMMEDIATE)
    trigger(E.ROUTE_CHANGED)
    [mail] = mails_to(ADDRESS)
    assert mail.subject == "Rute nedlagt: Dagtilbud, Københavns Kommune"
    assert "fra «etableret» til «nedlagt»" in mail.body_text
