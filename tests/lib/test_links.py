"""flisportal/lib/links.py: `link_former` builds the same URLs as `reverse()` for each kind of
argument, without walking the resolver per link."""

from __future__ import annotations

import uuid

from django.urls import reverse

from flisportal.lib.links import link_former


def test_an_int_argument():
    form = link_former("routes:route_detail", "int")
    assert [form(pk) for pk in (1, 42, 987654)] == [
        reverse("routes:route_detail", args=[pk]) for pk in (1, 42, 987654)
    ]


def test_a_uuid_argument():
    key = uuid.uuid4()
    assert link_former("deliveries:detail", "uuid")(key) == reverse("deliveries:detail", args=[key])


def test_a_str_argument_is_quoted_as_reverse_quotes_it():
    form = link_former("deliveries:kommune_history", "str")
    for code in ("101", "0101", "æ ø å?&#"):
        assert form(code) == reverse("deliveries:kommune_history", args=[code])
