"""`constants_in`: values written into the SQL, so SQLite can match a partial index's WHERE."""

from __future__ import annotations

import pytest

from flisportal.lib.sql import constants_in


def test_plain_names_are_written_as_string_constants():
    assert constants_in(("distributed", "fetched")).sql == "'distributed', 'fetched'"
    assert constants_in(("distributed",)).params == []


@pytest.mark.parametrize(
    "values",
    [("distributed", "x') OR 1=1 --"), ("it's",), ("a b",), ("",), ()],
    ids=["injection", "quote", "space", "empty", "none"],
)
def test_anything_but_plain_names_is_refused(values):
    """Rule: what is written into the SQL unbound is a plain name, nothing that could end the
    string literal (or an empty IN list)."""
    with pytest.raises(ValueError):
        constants_in(values)
