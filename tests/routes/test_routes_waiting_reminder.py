"""The reminder of routes waiting in «bestilt»: one mail to administrators listing every route
waiting FLISPORTAL_ORDERED_REMINDER_DAYS days or more, made when one reaches a reminder step
(14, 28, … days) since the last reminder, each route with a link to its page."""

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from flisportal import cron
from flisportal.notifications import services as mail_services
from flisportal.notifications.models import MailStatus, OutgoingMail
from routes import services
from routes.jobs import remind_routes_waiting
from routes.models import RouteStatus
from routes.notify import ORDERED_REMINDER_KIND, notify_routes_waiting
from tests import factories
from tests.helpers.clock import local

pytestmark = pytest.mark.django_db

ORDERED_AT = local(2026, 10, 20, 9, 30)


@pytest.fixture
def admins(admin_user):
    admin_user.email = "admin@flisportal.dk"
    admin_user.save()
    return [admin_user]


@pytest.fixture
def order(order_route):
    """Orders through the services, at ORDERED_AT unless told otherwise."""

    def make(*, at=ORDERED_AT, **fields):
        return order_route(at=at, **fields)

    return make


def run_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return notify_routes_waiting()


def sent() -> list:
    """What the worker does with each queued mail (the tests' transactions never commit)."""
    for pk in (
        OutgoingMail.objects.filter(status=MailStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        mail_services.mail_send(mail_id=pk)
    return mail.outbox


def test_due_on_the_fourteenth_day_not_the_evening_before(admins, order):
    order()
    assert run_at(local(2026, 11, 2, 23, 59)) == 0
    assert run_at(local(2026, 11, 3, 0, 1)) == 1


@override_settings(ORDERED_REMINDER_DAYS=3)
def test_the_setting_sets_the_wait(admins, order):
    order()
    assert run_at(local(2026, 10, 22, 12, 0)) == 0
    assert run_at(local(2026, 10, 23, 0, 1)) == 1


def test_each_route_is_reminded_once_per_step(admins, order):
    order()
    assert run_at(local(2026, 11, 3, 6, 35)) == 1
    # «Kør nu» the same day, and the following days: nothing new.
    assert run_at(local(2026, 11, 3, 14, 0)) == 0
    assert run_at(local(2026, 11, 4, 6, 35)) == 0
    assert run_at(local(2026, 11, 16, 6, 35)) == 0
    # 28 days: the next step.
    assert run_at(local(2026, 11, 17, 6, 35)) == 1
    assert OutgoingMail.objects.filter(kind=ORDERED_REMINDER_KIND).count() == 2


def test_a_route_reaching_its_step_later_brings_one_mail_with_all(
    admins, order, skole, kommune_aarhus
):
    first = order()
    assert run_at(local(2026, 11, 3, 6, 35)) == 1
    later = order(at=local(2026, 10, 25, 11, 0), kommune=kommune_aarhus, reference="DK-9")
    assert run_at(local(2026, 11, 8, 6, 35)) == 1
    last = sent()[-1]
    # Both are listed, longest waiting first; only the newly due one is marked new.
    assert last.body.index(f"/ruter/{first.pk}/") < last.body.index(f"/ruter/{later.pk}/")
    listed = [line for line in last.body.splitlines() if line.startswith("- ")]
    assert listed[0].startswith("- 101 ") and "[ny påmindelse]" not in listed[0]
    assert listed[1].startswith("- 751 ") and listed[1].endswith("[ny påmindelse]")


def test_only_administrators_get_it(admins, order, vendor_a_user, consultant_user, admin_user):
    vendor_a_user.email = "a@leverandoer-a.dk"
    vendor_a_user.save()
    consultant_user.email = "konsulent@kk.dk"
    consultant_user.save()
    retired_admin = factories.admin("gammel")
    retired_admin.email = "gammel@flisportal.dk"
    retired_admin.is_active = False
    retired_admin.save()
    order()
    run_at(local(2026, 11, 3, 6, 35))
    assert [message.to for message in sent()] == [["admin@flisportal.dk"]]


def test_only_routes_still_ordered_are_listed(admins, order, admin_user, skole, kommune_aarhus):
    waiting = order()
    established = order(kommune=kommune_aarhus)
    rejected = order(data_area=skole)
    with time_machine.travel(local(2026, 10, 30, 10, 0), tick=False):
        services.route_transition(
            route=established, new_status=RouteStatus.ESTABLISHED, actor=admin_user
        )
        services.route_transition(
            route=rejected, new_status=RouteStatus.REJECTED, actor=admin_user, note="Fejl"
        )
    run_at(local(2026, 11, 3, 6, 35))
    [message] = sent()
    assert f"/ruter/{waiting.pk}/" in message.body
    assert f"/ruter/{established.pk}/" not in message.body
    assert f"/ruter/{rejected.pk}/" not in message.body


def test_nothing_waiting_long_means_no_mail(admins, order, admin_user):
    route = order()
    with time_machine.travel(local(2026, 10, 21, 10, 0), tick=False):
        services.route_transition(route=route, new_status=RouteStatus.ESTABLISHED, actor=admin_user)
    assert run_at(local(2026, 12, 1, 6, 35)) == 0


@override_settings(PORTAL_BASE_URL="https://flis.example.dk")
def test_the_mail_links_each_route_and_says_what_to_do(admins, order):
    route = order()
    run_at(local(2026, 11, 3, 6, 35))
    [message] = sent()
    link = f"https://flis.example.dk/ruter/{route.pk}/"
    assert message.subject == "1 rute har ventet for længe i «bestilt»"
    assert link in message.body
    assert "bestilt 20.10.2026, venter i 14 dage, reference DK-1" in message.body
    assert "Spørg KOMBIT" in message.body
    html = message.alternatives[0][0]
    assert f'href="{link}"' in html


def test_the_job_is_registered_with_a_danish_label(admins, order):
    assert (
        cron.label_of("routes.jobs.remind_routes_waiting")
        == "Påmind om ruter, der venter i «bestilt»"
    )
    order()
    with time_machine.travel(local(2026, 11, 3, 6, 35), tick=False):
        assert remind_routes_waiting() == 1
