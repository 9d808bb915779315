"""The rows of the list pages — deliveries, the inbox, the periods still owed — written in Python.

Fifty rows through the template engine cost a list page two thirds of its time: an
`{% include %}` per row for the badge and ~30,000 variable lookups per view (benchmarks/load.py,
docs/development/benchmarks.md). These functions write the same markup from escaped values,
as the coverage dashboard's `coverage_rows_html` does. Every value a user or a vendor typed goes
through `_text()` (escaped); nothing from the database is marked safe as it is.

The rows are plain values (`QuerySet.values()` of the `*_ROW_FIELDS` below), not model objects:
a page of fifty deliveries with their kommune, area, system and endpoint is 250 objects, which
cost more to build than the rest of the rows. Each view reads its page with these fields.

A row's badge and its help link keep their one home in a partial (deliveries/_status.html,
_verdict.html, _expected_state.html), shared with the delivery and receipt pages: each partial is
rendered once per distinct value on the page (a list of fifty shows a handful of statuses) and
the result reused for every row with that value.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import Model
from django.template.defaultfilters import filesizeformat
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from deliveries.models import Delivery, ExpectedDelivery, Receipt
from flisportal.lib.numbers import grouped
from flisportal.lib.periods import date_text, local_time_text
from routes.models import Kommune

Row = Mapping[str, Any]

# What each list reads per row (`.values(*FIELDS)`), as the functions below write it.
DELIVERY_ROW_FIELDS = (
    "uuid",
    "uploaded_at",
    "period",
    "status",
    "error_count",
    "it_system__name",
    "data_area__name",
    "kommune__code",
    "kommune__name",
    "endpoint__slug",
)
RECEIPT_ROW_FIELDS = (
    "uuid",
    "fetched_at",
    "recipient_system__name",
    "kommune__code",
    "kommune__name",
    "data_area__name",
    "infref",
    "period",
    "sender_system__name",
    "sender",
    "size",
    "verdict",
    "is_read",  # ReceiptQuerySet.with_read_for()
)
EXPECTED_ROW_FIELDS = (
    "pk",
    "state",
    "due_at",
    "period",
    "route__kommune__code",
    "route__kommune__name",
    "route__data_area__name",
    "route__sender_system__name",
    "route__sender_system__vendor__name",
    "route__endpoint__slug",
)


def _once_per_value(
    template_name: str, name: str, model: type[Model], field: str
) -> Callable[[str], str]:
    """Renders `template_name` once per value of `field` (a status, a verdict, a state), with
    an unsaved `model` holding that value as `name`, and then from memory."""
    template = get_template(template_name)
    rendered: dict[str, str] = {}

    def render(value: str) -> str:
        if value not in rendered:
            rendered[value] = template.render({name: model(**{field: value})})
        return rendered[value]

    return render


def _kommune_text() -> Callable[[str, str], str]:
    """A kommune as `{{ kommune }}` shows it (Kommune.__str__), escaped, once per kommune."""
    texts: dict[tuple[str, str], str] = {}

    def text(code: str, name: str) -> str:
        if (code, name) not in texts:
            texts[code, name] = _text(Kommune(code=code, name=name))
        return texts[code, name]

    return text


def _local_time(moment: datetime) -> str:
    return local_time_text(moment, seconds=False)


def _text(value: object) -> str:
    """`{{ value }}`: the value as text, escaped. What django.utils.html.escape does, without
    its check for lazy strings on every call (a few hundred calls per page)."""
    return html.escape(str(value))


def _error_count_cell() -> Callable[[str, int], str]:
    """A delivery's «Fejl» cell as deliveries/_error_count.html writes it: «–» with its note
    where the status makes the count say nothing (`Delivery.error_count_note`, asked once per
    status), else the count grouped."""
    dash = _once_per_value("deliveries/_error_count.html", "delivery", Delivery, "status")
    counted: dict[str, bool] = {}

    def cell(status: str, count: int) -> str:
        if status not in counted:
            counted[status] = not Delivery(status=status).error_count_note
        return grouped(count) if counted[status] else dash(status)

    return cell


def delivery_rows_html(rows: Iterable[Row], detail_url: Callable[[Any], str]) -> SafeString:
    """The delivery list's rows (`DELIVERY_ROW_FIELDS`), each dated with a link to its page."""
    status = _once_per_value("deliveries/_status.html", "delivery", Delivery, "status")
    error_count = _error_count_cell()
    kommune = _kommune_text()
    parts = [
        f'\n    <tr>\n      <td><a href="{_text(detail_url(row["uuid"]))}">'
        f"{_local_time(row['uploaded_at'])}</a></td>\n"
        f"      <td>{_text(row['data_area__name'])}</td>\n"
        f"      <td>{kommune(row['kommune__code'], row['kommune__name'])}</td>\n"
        f"      <td>{_text(row['period'])}</td>\n"
        f"      <td>{_text(row['it_system__name'])}</td>\n"
        f"      <td>{_text(row['endpoint__slug'])}</td>\n"
        f"      <td>{status(row['status'])}</td>\n"
        f'      <td class="text-end">{error_count(row["status"], row["error_count"])}</td>\n'
        "    </tr>\n  "
        for row in rows
    ]
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only


def receipt_rows_html(rows: Iterable[Row], receipt_url: Callable[[Any], str]) -> SafeString:
    """The inbox's rows (`RECEIPT_ROW_FIELDS`), each dated with a link to the receipt's page;
    unread ones in bold with a «ny» badge. What a receipt may lack (a kommune or area the
    metadata did not name, a sender outside the registry) reads «–» or the raw text."""
    verdict = _once_per_value("deliveries/_verdict.html", "receipt", Receipt, "verdict")
    kommune = _kommune_text()
    new_text = _text(_("ny"))  # outside the f-string, where makemessages sees it
    unread_badge = f'<span class="badge rounded-pill text-bg-primary">{new_text}</span>'
    parts = []
    for row in rows:
        unread = not row["is_read"]
        if row["kommune__code"] is not None:
            kommune_html = kommune(row["kommune__code"], row["kommune__name"])
        else:
            kommune_html = "–"
        area = row["data_area__name"]
        area = area if area is not None else row["infref"] or "–"
        sender = row["sender_system__name"]
        sender = sender if sender is not None else row["sender"] or "–"
        parts.append(
            f'\n    <tr class="{"fw-semibold receipt-unread" if unread else ""}">\n'
            f"      <td>{unread_badge if unread else ''}</td>\n"
            f'      <td><a href="{_text(receipt_url(row["uuid"]))}">'
            f"{_local_time(row['fetched_at'])}</a></td>\n"
            f"      <td>{_text(row['recipient_system__name'])}</td>\n"
            f"      <td>{kommune_html}</td>\n"
            f"      <td>{_text(area)}</td>\n"
            f"      <td>{_text(row['period'] or '–')}</td>\n"
            f"      <td>{_text(sender)}</td>\n"
            f'      <td class="text-end"><span title="{grouped(row["size"])} bytes">'
            f"{filesizeformat(row['size'])}</span></td>\n"
            f"      <td>{verdict(row['verdict'])}</td>\n    </tr>\n  "
        )
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only


def expected_row_values(expected: ExpectedDelivery) -> dict[str, Any]:
    """An owed period read as an object (the start pages' overview) as the row values
    `expected_rows_html` takes (`EXPECTED_ROW_FIELDS`)."""
    route = expected.route
    system = route.sender_system
    return {
        "pk": expected.pk,
        "state": expected.state,
        "due_at": expected.due_at,
        "period": expected.period,
        "route__kommune__code": route.kommune.code,
        "route__kommune__name": route.kommune.name,
        "route__data_area__name": route.data_area.name,
        "route__sender_system__name": system.name,
        "route__sender_system__vendor__name": system.vendor.name if system.vendor else None,
        "route__endpoint__slug": route.endpoint.slug,
    }


def expected_rows_html(rows: Iterable[Row], *, upload_url: str, show_vendor: bool) -> SafeString:
    """The periods still owed (`EXPECTED_ROW_FIELDS`; deliveries/_outstanding_table.html): with
    an upload link per row when `upload_url` is set, and the system's vendor beside it when
    `show_vendor`."""
    state = _once_per_value(
        "deliveries/_expected_state.html", "expected", ExpectedDelivery, "state"
    )
    kommune = _kommune_text()
    # Periods of one month share their deadline: the model's rule for the due day, once each.
    due_dates: dict[datetime, str] = {}
    upload_text = _text(_("Upload"))
    parts = []
    for row in rows:
        due_at = row["due_at"]
        if due_at not in due_dates:
            due_dates[due_at] = date_text(ExpectedDelivery(due_at=due_at).due_date)
        kommune_html = kommune(row["route__kommune__code"], row["route__kommune__name"])
        area_html = _text(row["route__data_area__name"])
        vendor = row["route__sender_system__vendor__name"] if show_vendor else None
        vendor_html = (
            f' <span class="text-muted small">· {_text(vendor)}</span>'
            if vendor is not None
            else ""
        )
        upload_html = (
            f'<td class="text-end"><a class="btn btn-outline-primary btn-sm text-nowrap" '
            f'href="{_text(upload_url)}?forventet={row["pk"]}">{upload_text}'
            f'<span class="visually-hidden"> {area_html} · {kommune_html}'
            f" · {_text(row['period'])}</span></a></td>"
            if upload_url
            else ""
        )
        parts.append(
            f"\n    <tr>\n      <td>{state(row['state'])}</td>\n"
            f'      <td class="text-nowrap">{due_dates[due_at]}</td>\n'
            f"      <td>{_text(row['period'])}</td>\n"
            f"      <td>{kommune_html}</td>\n"
            f"      <td>{area_html}</td>\n"
            f"      <td>{_text(row['route__sender_system__name'])}{vendor_html}</td>\n"
            f"      <td>{_text(row['route__endpoint__slug'])}</td>\n"
            f"      {upload_html}\n    </tr>\n  "
        )
    return mark_safe("".join(parts))  # noqa: S308 – built from escaped values only
