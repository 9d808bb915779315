"""The rows of the list pages — deliveries, the inbox, the periods still owed — written in Python.

Fifty rows through the template engine cost a list page two thirds of its time: an
`{% include %}` per row for the badge and ~30,000 variable lookups per view (benchmarks/load.py,
docs/development/benchmarks.md). These functions write the same markup from escaped values,
as the coverage dashboard's `coverage_rows_html` does. Every value a user or a vendor typed goes
through `_text()` (escaped); nothing from the database is marked safe as it is.

A row's badge and its help link keep their one home in a partial (deliveries/_status.html,
_verdict.html, _expected_state.html), shared with the delivery and receipt pages: each partial is
rendered once per distinct value on the page (a list of fifty shows a handful of statuses) and
the result reused for every row with that value.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.template.loader import get_template
from django.utils.formats import number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from deliveries.models import Delivery, ExpectedDelivery, Receipt
from flisportal.lib.periods import date_text, local_time_text


def _once_per_value(template_name: str, name: str) -> Callable[[Any, str], str]:
    """Renders `template_name` with the row object as `name`, once per `key` (the value the
    partial shows: a status, a verdict, a state) and then from memory."""
    template = get_template(template_name)
    rendered: dict[str, str] = {}

    def render(row: Any, key: str) -> str:
        if key not in rendered:
            rendered[key] = template.render({name: row})
        return rendered[key]

    return render


def _text(value: object) -> str:
    """`{{ value }}`: the value as text, escaped. What django.utils.html.escape does, without
    its check for lazy strings on every call (a few hundred calls per page)."""
    return html.escape(str(value))


def _grouped(number: int) -> str:
    """`|intcomma`: 1.234 with the language's thousands separator. Most counts on a list are
    below a thousand, which no separator changes."""
    return str(number) if 0 <= number < 1000 else number_format(number, force_grouping=True)


def delivery_rows_html(rows: Iterable[tuple[Delivery, str]]) -> SafeString:
    """The delivery list's rows: (delivery, its page's URL) each, as the list shows them."""
    status = _once_per_value("deliveries/_status.html", "delivery")
    parts = [
        f'\n    <tr>\n      <td><a href="{_text(url)}">'
        f"{local_time_text(delivery.uploaded_at, seconds=False)}</a></td>\n"
        f"      <td>{_text(delivery.data_area)}</td>\n"
        f"      <td>{_text(delivery.kommune)}</td>\n"
        f"      <td>{_text(delivery.period)}</td>\n"
        f"      <td>{_text(delivery.it_system)}</td>\n"
        f"      <td>{_text(delivery.endpoint.slug)}</td>\n"
        f"      <td>{status(delivery, delivery.status)}</td>\n"
        f'      <td class="text-end">{_grouped(delivery.error_count)}</td>\n    </tr>\n  '
        for delivery, url in rows
    ]
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only


def receipt_rows_html(rows: Iterable[tuple[Receipt, str]]) -> SafeString:
    """The inbox's rows: (receipt annotated with `is_read`, its page's URL) each."""
    verdict = _once_per_value("deliveries/_verdict.html", "receipt")
    new_text = _text(_("ny"))  # outside the f-string, where makemessages sees it
    unread_badge = f'<span class="badge rounded-pill text-bg-primary">{new_text}</span>'
    parts = []
    for receipt, url in rows:
        unread = not receipt.is_read  # type: ignore[attr-defined]  # with_read_for()
        sender = receipt.sender_system.name if receipt.sender_system else receipt.sender
        parts.append(
            f'\n    <tr class="{"fw-semibold receipt-unread" if unread else ""}">\n'
            f"      <td>{unread_badge if unread else ''}</td>\n"
            f'      <td><a href="{_text(url)}">'
            f"{local_time_text(receipt.fetched_at, seconds=False)}</a></td>\n"
            f"      <td>{_text(receipt.recipient_system.name)}</td>\n"
            f"      <td>{_text(receipt.kommune or '–')}</td>\n"
            f"      <td>{_text(receipt.data_area or receipt.infref or '–')}</td>\n"
            f"      <td>{_text(receipt.period or '–')}</td>\n"
            f"      <td>{_text(sender or '–')}</td>\n"
            f'      <td class="text-end"><span title="{_grouped(receipt.size)} bytes">'
            f"{filesizeformat(receipt.size)}</span></td>\n"
            f"      <td>{verdict(receipt, receipt.verdict)}</td>\n    </tr>\n  "
        )
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only


def expected_rows_html(
    rows: Iterable[ExpectedDelivery], *, upload_url: str, show_vendor: bool
) -> SafeString:
    """The periods still owed (deliveries/_outstanding_table.html): with an upload link per row
    when `upload_url` is set, and the system's vendor beside it when `show_vendor`."""
    state = _once_per_value("deliveries/_expected_state.html", "expected")
    upload_text = _text(_("Upload"))
    parts = []
    for expected in rows:
        route = expected.route
        system = route.sender_system
        vendor = system.vendor if show_vendor else None
        vendor_html = f' <span class="text-muted small">· {_text(vendor)}</span>' if vendor else ""
        upload_html = (
            f'<td class="text-end"><a class="btn btn-outline-primary btn-sm text-nowrap" '
            f'href="{_text(upload_url)}?forventet={expected.pk}">{upload_text}'
            f'<span class="visually-hidden"> {_text(route.data_area)} · {_text(route.kommune)}'
            f" · {_text(expected.period)}</span></a></td>"
            if upload_url
            else ""
        )
        parts.append(
            f"\n    <tr>\n      <td>{state(expected, expected.state)}</td>\n"
            f'      <td class="text-nowrap">{date_text(expected.due_date)}</td>\n'
            f"      <td>{_text(expected.period)}</td>\n"
            f"      <td>{_text(route.kommune)}</td>\n"
            f"      <td>{_text(route.data_area)}</td>\n"
            f"      <td>{_text(system)}{vendor_html}</td>\n"
            f"      <td>{_text(route.endpoint.slug)}</td>\n"
            f"      {upload_html}\n    </tr>\n  "
        )
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only
