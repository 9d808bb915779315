"""The failed-rules roll-up (`RuleFailureMonth`) that *Udvikling*'s «Regler der oftest fejler»
reads instead of the listed errors: validation counts a rejected delivery in the transaction
that stores its issues, the count is safe when two workers count the same key at once, the
admin's delete takes a rejected delivery out, and `rebuild_rule_failures` (the migration, the
load benchmark) gives the same rows. The page built from it must show what counting the
listed errors of the rejected deliveries showed, for every scope and filter.

`make test` runs this on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connections, transaction
from django.db.models import Count, F
from django.urls import reverse

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import Delivery, RuleFailureMonth, ValidationIssue
from deliveries.services import rule_failures, validate
from deliveries.services.rule_failures import rebuild_rule_failures, rule_failures_add
from flisportal.front.trends import failed_rules, trend_periods
from routes.models import DataArea, Route, User, Vendor
from tests import factories
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.clock import local

pytestmark = pytest.mark.django_db

NOW = local(2026, 12, 5, 12, 0)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def aarhus_route(system_b, flis_system, kommune_aarhus) -> Route:
    """Vendor B's Dagtilbud route for Aarhus: another vendor, kommune and region."""
    return factories.route(
        kommune=kommune_aarhus,
        sender_system=system_b,
        data_area="dagtilbud",
        recipients=[flis_system],
    )


def _extract(kommune: str, period: str, *broken: dict[str, str], ok: int = 2) -> str:
    """A Dagtilbud extract for `kommune` and `period` with `ok` valid rows and one row per
    dict of overrides (each breaks the rules its values break)."""
    stamp = {"kommunekode": kommune, "periode": period.replace("-", "")}
    rows = [dagtilbud_row(n, **stamp) for n in range(ok)]
    rows += [dagtilbud_row(100 + n, **stamp, **fields) for n, fields in enumerate(broken)]
    return dagtilbud_csv(*rows)


def _world(make_delivery: Callable[..., Delivery], kbh: Route, aarhus: Route, user: User) -> None:
    """Deliveries validated by the real job: rejected ones breaking overlapping rules in two
    periods, kommuner, vendors and regions, a valid one, and one the validation rejected in
    a month outside the page's window."""
    tries: list[tuple[Route, str, str, list[dict[str, str]]]] = [
        (kbh, factories.KBH, "2026-10", [{"pladstype": "halv"}, {"pladstype": "halv"}]),
        (kbh, factories.KBH, "2026-10", [{"pladstype": "halv"}, {"ejerform": "x"}]),
        (kbh, factories.KBH, "2026-09", [{"ejerform": "x", "pladstype": "y"}]),
        (kbh, factories.KBH, "2026-09", []),
        (aarhus, factories.AARHUS, "2026-10", [{"pladstype": "halv"}] * 3),
        (aarhus, factories.AARHUS, "2026-08", [{"ejerform": "y"}]),
        (kbh, factories.KBH, "2023-01", [{"pladstype": "halv"}]),
    ]
    for route, code, period, broken in tries:
        delivery = make_delivery(
            route, user, _extract(code, period, *broken), period=period, redelivery_confirmed=True
        )
        validate_delivery(delivery.pk)


def _from_issues(
    user: User, periods: list[str], region: str | None, vendor: Vendor | None, area: Any
) -> list[tuple[Any, ...]]:
    """What the page counted before the roll-up: the listed errors of the rejected deliveries
    of the periods in the user's scope, grouped by vendor, area, column and rule."""
    deliveries = Delivery.objects.for_user(user).filter(
        status=DeliveryStatus.REJECTED, period__gte=periods[0], period__lte=periods[-1]
    )
    if region:
        deliveries = deliveries.filter(kommune__region=region)
    if vendor is not None:
        deliveries = deliveries.filter(it_system__vendor=vendor)
    if area is not None:
        deliveries = deliveries.filter(data_area=area)
    rows = (
        ValidationIssue.objects.filter(delivery__in=deliveries)
        .values("column", "rule", v=F("delivery__it_system__vendor__name"))
        .annotate(a=F("delivery__data_area__name"))
        .annotate(deliveries=Count("delivery", distinct=True), errors=Count("pk"))
    )
    return sorted(
        (r["v"], r["a"], r["column"], r["rule"], r["deliveries"], r["errors"]) for r in rows
    )


def _page(user: User, periods: list[str], **filters: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (group.vendor, f.area, f.column, f.rule, f.deliveries, f.errors)
        for group in failed_rules(user=user, periods=periods, **filters)
        for f in group.failures
    )


def _validated_after_the_reconciler_took_it_back(
    make_delivery: Callable[..., Delivery], route: Route, user: User, monkeypatch: Any
) -> Delivery:
    """A delivery whose validation stored its listed errors after the reconciler had put it
    back to `received` (its worker looked dead): the move to `rejected` lost, so it is not
    rejected though its issues are listed."""
    delivery = make_delivery(
        route,
        user,
        _extract(factories.KBH, "2026-10", {"pladstype": "halv"}),
        redelivery_confirmed=True,
    )
    real = validate.validate_file

    def checked_then_taken_back(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        delivery_transition(delivery_id=delivery.pk, old="validating", new="received")
        return report

    monkeypatch.setattr(validate, "validate_file", checked_then_taken_back)
    validate_delivery(delivery.pk)
    monkeypatch.undo()
    delivery.refresh_from_db()
    return delivery


def test_the_roll_up_shows_what_the_listed_errors_of_rejected_deliveries_say(
    make_delivery,
    upload_route,
    aarhus_route,
    vendor_a_user,
    admin_user,
    consultant_user,
    monkeypatch,
):
    """Rule: the page's failed rules are the same numbers as counting the listed errors of the
    rejected deliveries in scope, for an administrator, a consultant (their kommuner only) and
    every filter — and a delivery with listed errors that is not rejected counts in neither."""
    _world(make_delivery, upload_route, aarhus_route, vendor_a_user)
    taken_back = _validated_after_the_reconciler_took_it_back(
        make_delivery, upload_route, vendor_a_user, monkeypatch
    )
    assert taken_back.status == DeliveryStatus.RECEIVED and taken_back.issues.exists()
    periods = trend_periods(24)
    area = DataArea.objects.get(code="dagtilbud")
    vendor_b = aarhus_route.sender_system.vendor
    assert len(_page(admin_user, periods)) >= 3  # several groups, not an empty match
    for user in (admin_user, consultant_user):
        for filters in (
            {},
            {"region": upload_route.kommune.region},
            {"region": aarhus_route.kommune.region},
            {"vendor": vendor_b},
            {"area": area},
        ):
            expected = _from_issues(user, periods, filters.get("region"), None, None)
            if "vendor" in filters or "area" in filters:
                expected = _from_issues(
                    user, periods, None, filters.get("vendor"), filters.get("area")
                )
            assert _page(user, periods, **filters) == expected, (user, filters)
    assert {row[0] for row in _page(consultant_user, periods)} == {
        upload_route.sender_system.vendor.name
    }


def test_rebuild_from_the_issues_gives_the_rows_validation_counted(
    make_delivery, upload_route, aarhus_route, vendor_a_user
):
    """Rule: `rebuild_rule_failures` (the migration that made the roll-up, the load benchmark
    after seeding) gives the same rows as validation counting one delivery at a time."""
    _world(make_delivery, upload_route, aarhus_route, vendor_a_user)

    def rows() -> list[tuple[Any, ...]]:
        return sorted(
            RuleFailureMonth.objects.values_list(
                "period", "kommune", "it_system", "data_area", "column", "rule"
            ).annotate(d=F("deliveries"), e=F("errors"))
        )

    counted = rows()
    assert len(counted) >= 4
    assert rebuild_rule_failures() == len(counted)
    assert rows() == counted


def test_two_workers_counting_the_same_key_at_once_both_count(upload_route, monkeypatch):
    """Rule: counting is safe when two workers reject deliveries of the same key at once: the
    second finds no row to update, the first creates it before the second does, and the
    second's INSERT fails on the unique key and updates the row instead."""
    first = factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period="2026-10")
    second = factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period="2026-10")
    real_update = type(RuleFailureMonth.objects.all()).update
    raced = {"done": False}

    def update_after_the_other_worker(self: Any, **fields: Any) -> int:
        if not raced["done"]:
            raced["done"] = True
            found = real_update(self, **fields)  # nothing yet: 0 rows
            # The other worker's whole count lands between our UPDATE and our INSERT.
            rule_failures_add(delivery=first, rules=[("pladstype", "enum")] * 2)
            return found
        return real_update(self, **fields)

    monkeypatch.setattr(
        type(RuleFailureMonth.objects.all()), "update", update_after_the_other_worker
    )
    rule_failures_add(delivery=second, rules=[("pladstype", "enum")] * 3)
    row = RuleFailureMonth.objects.get()
    assert (row.deliveries, row.errors) == (2, 5)


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3",
    reason="two writers at once: SQLite locks the whole database (the test above interleaves)",
)
# Committed rows seen by two connections; the data migrations' rows (kommuner, data areas)
# are put back afterwards, or the flush at the end leaves every later test without them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_on_postgresql_both_count(upload_route, monkeypatch):
    """Rule: the same race with two real connections on PostgreSQL: both find no row, both
    INSERT; the second INSERT waits on the unique key until the first commits, fails, and the
    second worker updates the row instead (its savepoint keeps its transaction alive)."""
    deliveries = [
        factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period="2026-10")
        for _ in range(2)
    ]
    queryset = type(RuleFailureMonth.objects.all())
    real_update = queryset.update
    both_looked = threading.Barrier(2)

    def update_then_wait(self: Any, **fields: Any) -> int:
        found = real_update(self, **fields)
        if not found:
            both_looked.wait(10)  # neither inserts before both have found no row
        return found

    monkeypatch.setattr(queryset, "update", update_then_wait)
    errors: list[BaseException] = []

    def worker(delivery: Delivery) -> None:
        try:
            with transaction.atomic():
                rule_failures_add(delivery=delivery, rules=[("pladstype", "enum")] * 2)
                time.sleep(0.3)  # hold the new row uncommitted: the other INSERT waits on it
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    row = RuleFailureMonth.objects.get()
    assert (row.deliveries, row.errors) == (2, 4)


@pytest.mark.parametrize("how", ["delete page", "list action"])
def test_the_admins_delete_takes_a_rejected_delivery_out_of_the_counts(
    client, make_delivery, upload_route, aarhus_route, vendor_a_user, admin_user, how
):
    """Rule: the roll-up stays true when an administrator deletes a rejected delivery in the
    admin, from its delete page or with the list's action (its listed errors go with it): the
    page shows what the remaining issues say."""
    _world(make_delivery, upload_route, aarhus_route, vendor_a_user)
    periods = trend_periods(24)
    gone = Delivery.objects.filter(kommune__code=factories.AARHUS, period="2026-10").get()
    assert gone.status == DeliveryStatus.REJECTED
    client.force_login(admin_user)
    if how == "delete page":
        url = reverse("admin:deliveries_delivery_delete", args=[gone.pk])
        response = client.post(url, {"post": "yes"})
    else:
        url = reverse("admin:deliveries_delivery_changelist")
        action = {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"}
        response = client.post(url, action)
    assert response.status_code == 302
    assert not Delivery.objects.filter(pk=gone.pk).exists()
    assert _page(admin_user, periods) == _from_issues(admin_user, periods, None, None, None)
    # No row left at zero for the key that only the deleted delivery had.
    assert not RuleFailureMonth.objects.filter(deliveries=0).exists()
    assert not RuleFailureMonth.objects.filter(
        kommune__code=factories.AARHUS, period="2026-10"
    ).exists()


def test_only_rejected_deliveries_are_taken_out(upload_route):
    """Rule: a delivery that was never rejected was never counted, so deleting it changes
    nothing (its listed errors, if any, were not in the roll-up)."""
    counted = factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period="2026-10")
    rule_failures_add(delivery=counted, rules=[("pladstype", "enum")])
    other = factories.delivery(upload_route, status=DeliveryStatus.RECEIVED, period="2026-10")
    ValidationIssue.objects.create(
        delivery=other, position=0, column="pladstype", rule="enum", message="fejl"
    )
    rule_failures.rule_failures_remove(deliveries=[other])
    row = RuleFailureMonth.objects.get()
    assert (row.deliveries, row.errors) == (1, 1)
