"""Small pieces of SQL the ORM does not write the way a query planner needs."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.expressions import RawSQL


def constants_in(values: Iterable[str]) -> RawSQL:
    """For `field__in=`: the values written into the SQL as constants instead of bound as
    parameters. SQLite uses a partial index only where the query's WHERE says what the index's
    WHERE says, and a bound parameter could be anything: with `status IN (%s, %s)` it cannot
    use an index made for `status IN ('distributed', 'fetched')`. Write the values in the
    index's order. Only plain names (the code's own choices, never user input) are accepted:
    nothing that could end the string literal."""
    values = tuple(values)
    if not values or not all(value.isidentifier() for value in values):
        raise ValueError(f"not plain names: {values!r}")
    literal = ", ".join(f"'{value}'" for value in values)
    return RawSQL(literal, [])  # noqa: S611 – plain names checked above, nothing from a user
