"""`{% expected_rows rows upload_url %}`: the rows of the periods still owed, written by
`deliveries.rows.expected_rows_html`. A tag because their table is a partial that two pages
include (the list of outstanding periods and the start pages' overview); the tag lets both keep
including it as they do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.utils.safestring import SafeString

from deliveries.models import ExpectedDelivery
from deliveries.rows import expected_row_values, expected_rows_html
from flisportal.lib.roles import Role

register = template.Library()


@register.simple_tag(takes_context=True)
def expected_rows(
    context: dict[str, Any],
    rows: Iterable[ExpectedDelivery | Mapping[str, Any]],
    upload_url: str | None,
) -> SafeString:
    """`rows`: the list's values (EXPECTED_ROW_FIELDS), or ExpectedDelivery objects as the start
    pages' overview holds them."""
    values = (
        expected_row_values(row) if isinstance(row, ExpectedDelivery) else row for row in rows
    )
    # Vendor staff see only their own systems: naming the vendor beside each would say nothing.
    return expected_rows_html(
        values, upload_url=upload_url or "", show_vendor=context.get("role") != Role.VENDOR
    )
