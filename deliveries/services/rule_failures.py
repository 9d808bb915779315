"""The monthly roll-up of failed rules (`RuleFailureMonth`), kept in step with the listed
errors of rejected deliveries.

*Udvikling*'s «Regler der oftest fejler» counts, per vendor, data area, column and rule, the
rejected deliveries that broke a rule and the errors they listed. Counted from
`ValidationIssue` that read ≈1.1 million rows at a million deliveries (≈2 s a build); the
roll-up has one row per period, kommune, IT system, data area, column and rule.

Three writers, each inside the transaction that changes what it counts:

- `rule_failures_add` when validation stores a rejected delivery's issues
  (`deliveries.services.validate`): a rejected delivery is final, so it is counted once;
- `rule_failures_remove` when a rejected delivery is deleted (the admin's delete);
- `rebuild_rule_failures` fills the table from the issues in one INSERT … SELECT … GROUP BY
  (the migration that made it, and `benchmarks/load.py` after it seeds raw rows).

Retention blanks the quoted values of issues but keeps their column and rule, so it changes
nothing counted here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, RuleFailureMonth, ValidationIssue


def rule_failures_add(*, delivery: Delivery, rules: Iterable[tuple[str, str]]) -> None:
    """Counts a rejected delivery's listed errors, given as (column, rule) per error: one
    delivery and n errors for each (column, rule) it broke. Call it in the transaction that
    stores the issues and rejects the delivery, once per delivery."""
    _change(delivery, Counter(rules), sign=1)


def rule_failures_remove(*, deliveries: Iterable[Delivery]) -> None:
    """Takes rejected deliveries out of the counts before they are deleted (their issues go
    with them): the reverse of `rule_failures_add`, from their stored issues, read for all of
    them in one query (the admin's list action deletes many at once)."""
    rejected = {d.pk: d for d in deliveries if d.status == DeliveryStatus.REJECTED}
    if not rejected:
        return  # only rejected deliveries were counted
    per_delivery: dict[int, Counter[tuple[str, str]]] = {pk: Counter() for pk in rejected}
    issues = ValidationIssue.objects.filter(delivery_id__in=rejected)
    for delivery_id, column, rule in issues.values_list("delivery_id", "column", "rule"):
        per_delivery[delivery_id][(column, rule)] += 1
    for pk, per_rule in per_delivery.items():
        _change(rejected[pk], per_rule, sign=-1)


def _change(delivery: Delivery, per_rule: Counter[tuple[str, str]], *, sign: int) -> None:
    # In the same order in every worker: two transactions that lock rows of the same keys in
    # different orders (one delivery's errors listed pladstype first, another's ejerform
    # first) could deadlock on PostgreSQL.
    for (column, rule), errors in sorted(per_rule.items()):
        key = {
            "period": delivery.period,
            "kommune_id": delivery.kommune_id,
            "it_system_id": delivery.it_system_id,
            "data_area_id": delivery.data_area_id,
            "column": column,
            "rule": rule,
        }
        rows = RuleFailureMonth.objects.filter(**key)
        increment = {"deliveries": F("deliveries") + sign, "errors": F("errors") + sign * errors}
        # An UPDATE with F() adds to what is stored when it runs, so two workers rejecting
        # deliveries of the same key at once both count. When there is no row yet, both may try
        # to create it: the unique constraint lets one in, and the other (its INSERT waits for
        # the first to commit on PostgreSQL, then fails) updates the row the first one made.
        if rows.update(**increment) or sign < 0:
            continue
        try:
            with transaction.atomic():  # a savepoint: the failed INSERT leaves the rest intact
                RuleFailureMonth.objects.create(**key, deliveries=1, errors=errors)
        except IntegrityError:
            rows.update(**increment)
    if sign < 0:
        RuleFailureMonth.objects.filter(
            period=delivery.period,
            kommune_id=delivery.kommune_id,
            it_system_id=delivery.it_system_id,
            data_area_id=delivery.data_area_id,
            deliveries__lte=0,
        ).delete()


def rebuild_rule_failures(*, using: str | None = None) -> int:
    """Counts the roll-up afresh from the listed errors of every rejected delivery, in one
    INSERT … SELECT … GROUP BY (no rows through Python: ≈1.1 million issues at a million
    deliveries). Returns the number of roll-up rows."""
    alias = using or router.db_for_write(RuleFailureMonth)
    connection = connections[alias]
    q = connection.ops.quote_name
    table = q(RuleFailureMonth._meta.db_table)
    issues = q(ValidationIssue._meta.db_table)
    deliveries = q(Delivery._meta.db_table)
    column = q("column")
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - names from the models, quoted
        cursor.execute(
            f"INSERT INTO {table} (period, kommune_id, it_system_id, data_area_id, {column}, "  # noqa: S608
            "rule, deliveries, errors) "
            f"SELECT d.period, d.kommune_id, d.it_system_id, d.data_area_id, i.{column}, "
            "i.rule, COUNT(DISTINCT i.delivery_id), COUNT(*) "
            f"FROM {issues} i JOIN {deliveries} d ON d.id = i.delivery_id "
            "WHERE d.status = %s "
            f"GROUP BY d.period, d.kommune_id, d.it_system_id, d.data_area_id, i.{column}, i.rule",
            [DeliveryStatus.REJECTED.value],
        )
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        return int(cursor.fetchone()[0])
