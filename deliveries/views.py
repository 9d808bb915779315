"""Pages for deliveries: upload, list, detail with report, status for polling, downloads.

Every view starts with one helper of `deliveries.access` that returns what the user may act on
or answers 404 (`delivery_or_404` goes through `Delivery.objects.for_user()`). The upload page
hands the received file to the intake service (`delivery_upload`) and shows its refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliveries import access, selectors
from deliveries.forms import (
    CHECK_BUTTON,
    DeliveryFilterForm,
    DeliveryUploadForm,
    OutstandingFilterForm,
)
from deliveries.lifecycle.states import AWAITING_OTHERS, DeliveryStatus
from deliveries.models import DataContract, Delivery, ValidationIssue
from deliveries.rows import DELIVERY_ROW_FIELDS, EXPECTED_ROW_FIELDS, delivery_rows_html
from deliveries.rules import RuleWords
from deliveries.services import retry
from deliveries.services.check import delivery_check
from deliveries.services.intake import IncomingFile, IntakeRefused, Refusal, delivery_upload
from deliveries.uploads import HashingUploadHandler, UploadRefused, prepare_upload
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.links import link_former
from flisportal.lib.pagination import CappedPaginator, page_values
from flisportal.lib.storage import stored_file_response
from routes.models import Route, User

PAGE_SIZE = 50
REPORT_PAGE_SIZE = 100


# The form field an intake refusal is shown by; the others concern the whole form.
REFUSAL_FIELDS: dict[Refusal, str] = {
    Refusal.PERIOD: "period",
    Refusal.SAME_FILE: "redelivery_confirmed",
    Refusal.DELIVERED: "redelivery_confirmed",
}


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page. The streaming handler must be installed before anything reads the
    body, which CSRF middleware would do; so CSRF is checked inside, after the swap.

    Who may upload is decided first, before anything reads the body: an account without an
    uploading role gets its 404 without a byte of its request written to disk."""
    access.uploader_or_404(request)
    request.upload_handlers = [HashingUploadHandler(request)]
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    user = access.uploader_or_404(request)
    replaces = None
    corrected = request.GET.get("rettelse") or request.POST.get("rettelse")
    if corrected:
        replaces = access.correction_target_or_404(request, corrected)
    checked = None
    if request.method == "POST":
        handler = next(
            (h for h in request.upload_handlers if isinstance(h, HashingUploadHandler)), None
        )
        form = DeliveryUploadForm(
            request.POST,
            request.FILES,
            user=user,
            upload_refusal=handler.refusal if handler else None,
        )
        # The same form either way: «Kontrollér uden at sende» only changes what is made.
        url = None
        if form.is_valid():
            if CHECK_BUTTON in request.POST:
                url = _try_check(form, user)
            else:
                url = _try_upload(form, user, replaces)
        if url is not None:
            if _wants_json(request):
                return JsonResponse({"redirect": url})
            return redirect(url)
        if _wants_json(request):
            return JsonResponse(
                {"errors": form.error_list(), "earlier": _earlier_link(form.earlier)}, status=400
            )
        status = 400
    else:
        initial: dict[str, Any] = {}
        expected_pk = request.GET.get("forventet")
        checked_uuid = request.GET.get(CHECK_BUTTON)
        if replaces is not None:
            initial = _initial_for(replaces.route, replaces.period)
        elif checked_uuid:
            # «Send denne fil» on a check's page: the same route and period; the file itself
            # was deleted once checked, so it is chosen again.
            checked = access.file_check_named_or_404(request, checked_uuid)
            initial = _initial_for(checked.route, checked.period)
        elif expected_pk:
            expected = access.expected_or_404(request, expected_pk)
            initial = _initial_for(expected.route, expected.period)
        elif route_pk := request.GET.get("rute"):
            # The onboarding checklist's «Upload en testfil»: the route chosen, the period not.
            initial = {"route": access.upload_route_or_404(request, route_pk).pk}
        form = DeliveryUploadForm(user=user, initial=initial)
        status = 200
    contracts = (
        DataContract.objects.active().select_related("data_area").order_by("data_area__sort_order")
    )
    return render(
        request,
        "deliveries/upload.html",
        {
            "form": form,
            "replaces": replaces,
            "checked": checked,
            "contracts": contracts,
            "max_bytes": settings.MAX_UPLOAD_BYTES,
        },
        status=status,
    )


def _initial_for(route: Route, period: str) -> dict[str, Any]:
    """The upload form filled in for one route and period (a correction, a period owed)."""
    return {"route": route.pk, "period": period}


def _earlier_link(earlier: Delivery | None) -> dict[str, str] | None:
    """The link to the delivery a refusal was about, for the upload script to show."""
    if earlier is None:
        return None
    return {
        "href": reverse("deliveries:detail", args=[earlier.uuid]),
        "text": _("Se den tidligere leverance"),
    }


def _received(form: DeliveryUploadForm) -> IncomingFile | None:
    """The file as received (type, size, zip), checked alike for an upload and a check; None
    with the reason on the form."""
    try:
        return prepare_upload(
            form.cleaned_data["file"],
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_ratio=settings.ZIP_MAX_RATIO,
        )
    except UploadRefused as refusal:
        form.add_error("file", refusal.message)
        return None


def _try_upload(form: DeliveryUploadForm, user: User, replaces: Delivery | None) -> str | None:
    """The new delivery's page, or None with the reason on the form: the file as received is
    checked here, the upload's rules by the intake service."""
    route: Route = form.cleaned_data["route"]
    incoming = _received(form)
    if incoming is None:
        return None
    try:
        delivery = delivery_upload(
            file=incoming,
            route=route,
            period=form.cleaned_data["period"],
            user=user,
            redelivery_confirmed=form.cleaned_data["redelivery_confirmed"],
            replaces=replaces,
        )
    except IntakeRefused as refusal:
        form.add_error(REFUSAL_FIELDS.get(refusal.reason), refusal.message)
        form.earlier = refusal.earlier
        return None
    return reverse("deliveries:detail", args=[delivery.uuid])


def _try_check(form: DeliveryUploadForm, user: User) -> str | None:
    """The new check's page, or None with the reason on the form: the same file checks and
    the same rules as an upload up to validation (deliveries.services.check)."""
    route: Route = form.cleaned_data["route"]
    incoming = _received(form)
    if incoming is None:
        return None
    try:
        check = delivery_check(
            user=user, incoming=incoming, route=route, period=form.cleaned_data["period"]
        )
    except IntakeRefused as refusal:
        form.add_error(REFUSAL_FIELDS.get(refusal.reason), refusal.message)
        return None
    return reverse("deliveries:check", args=[check.uuid])


@login_required
@require_GET
def outstanding(request: HttpRequest) -> HttpResponse:
    """The periods the user's routes still owe, earliest deadline first, with filters."""
    form = OutstandingFilterForm(request.GET or None, user=request.user)
    rows = selectors.outstanding_expected(request.user)
    page = Paginator(form.filter(rows), PAGE_SIZE).get_page(request.GET.get("side"))
    query = request.GET.copy()
    query.pop("side", None)
    return render(
        request,
        "deliveries/outstanding.html",
        {
            "form": form,
            "page": page,
            # The page's rows as plain values, not objects: the table is written from them
            # (deliveries/rows.py). Read after counting, which then needs none of their joins.
            "expected_rows": page_values(page, EXPECTED_ROW_FIELDS),
            "counts": selectors.outstanding_counts(rows),
            "query": query.urlencode(),
            "upload_url": access.upload_url_for(request.user),
            "batch_upload_url": access.batch_upload_url_for(request.user),
        },
    )


@login_required
@require_GET
def outstanding_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered periods still owed as CSV, for a consultant to pass on or a vendor to plan."""
    form = OutstandingFilterForm(request.GET or None, user=request.user)
    header = [
        _("Tilstand"),
        _("Frist"),
        _("Periode"),
        _("Kommunekode"),
        _("Kommune"),
        _("Dataområde"),
        _("Leverandør"),
        _("It-system"),
        _("Miljø"),
    ]
    rows = (
        [
            expected.get_state_display(),
            expected.due_date.isoformat(),
            expected.period,
            expected.route.kommune.code,
            expected.route.kommune.name,
            expected.route.data_area.name,
            expected.route.sender_system.vendor or "",
            expected.route.sender_system.name,
            expected.route.endpoint.slug,
        ]
        for expected in form.filter(selectors.outstanding_expected(request.user)).iterator(
            chunk_size=2000
        )
    )
    return csv_download(stamped("udestaaende"), header, rows)


@login_required
@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    form, sort, deliveries = _listed_deliveries(request, user)
    # A capped count: the total of a million deliveries is «over 200 pages» (benchmarks/load.py).
    page = CappedPaginator(deliveries, PAGE_SIZE).get_page(request.GET.get("side"))
    query = request.GET.copy()
    query.pop("side", None)
    # Each row with its link; the URL is reversed once for the page (benchmarks/load.py).
    detail_url = link_former("deliveries:detail", "uuid")
    return render(
        request,
        "deliveries/delivery_list.html",
        {
            "form": form,
            "page": page,
            # The page's rows as plain values (deliveries/rows.py), read after counting: the
            # count stays a plain COUNT without the joins of the columns shown.
            "rows_html": delivery_rows_html(page_values(page, DELIVERY_ROW_FIELDS), detail_url),
            "query": query.urlencode(),
            "sort_links": _sort_links(request, sort),
            # Kept by the filter form, so filtering again does not lose the chosen order.
            "sort": "" if sort == DEFAULT_LIST_SORT else sort,
            "may_upload": access.may_upload(request.user),
        },
    )


@login_required
@require_GET
def delivery_list_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The list as CSV: exactly the rows the page's filters, search and order give, all pages."""
    user = request.user
    assert isinstance(user, User)  # login_required
    deliveries = _listed_deliveries(request, user)[2]
    header = [
        _("SendersFileId"),
        _("Uploadet"),
        _("Kommunekode"),
        _("Kommune"),
        _("Dataområde"),
        _("Periode"),
        _("It-system"),
        _("Miljø"),
        _("Status"),
        _("Fejl"),
        _("Oprindeligt filnavn"),
        _("Uploadet af"),
    ]
    rows = (
        [
            delivery.uuid,
            timezone.localtime(delivery.uploaded_at).strftime("%Y-%m-%d %H:%M"),
            delivery.kommune.code,
            delivery.kommune.name,
            delivery.data_area.name,
            delivery.period,
            delivery.it_system.name,
            delivery.endpoint.slug,
            delivery.get_status_display(),
            delivery.error_count,
            delivery.original_filename,
            delivery.uploaded_by.username if delivery.uploaded_by else "",
        ]
        for delivery in deliveries.select_related("uploaded_by")
        .only(*LIST_COLUMNS, "original_filename", "uploaded_by__username")
        .iterator(chunk_size=2000)
    )
    return csv_download(stamped("leverancer"), header, rows)


# The list's sort keys (?sortering=KEY, or -KEY for descending) and the columns they order by.
# Only these are accepted: an unknown key falls back to the default order rather than reaching
# `order_by`. Every order ends with the primary key, so rows that tie keep one stable order
# across pages.
LIST_SORTS: dict[str, tuple[str, ...]] = {
    "dato": ("uploaded_at",),
    "kommune": ("kommune__name",),
    "omraade": ("data_area__name",),
    "periode": ("period",),
    "status": ("status",),
}
DEFAULT_LIST_SORT = "-dato"

# Only what the list shows (the page reads them as values, deliveries/rows.py): a delivery row
# also holds counters and texts as JSON, which the CSV's rows would decode for nothing.
LIST_COLUMNS = DELIVERY_ROW_FIELDS


def _listed_deliveries(
    request: HttpRequest, user: User
) -> tuple[DeliveryFilterForm, str, QuerySet[Delivery]]:
    """The list's form, its sort key and its rows: the user's deliveries (scoped by
    `for_user`), filtered and ordered as asked. The page and its CSV export both read it."""
    form = DeliveryFilterForm(request.GET or None, user=user)
    sort = request.GET.get("sortering", DEFAULT_LIST_SORT)
    if sort.removeprefix("-") not in LIST_SORTS:
        sort = DEFAULT_LIST_SORT
    descending = "-" if sort.startswith("-") else ""
    columns = LIST_SORTS[sort.removeprefix("-")]
    deliveries = (
        Delivery.objects.for_user(user)
        .select_related("it_system", "data_area", "kommune", "endpoint")
        .only(*LIST_COLUMNS)
    )
    ordered = form.filter(deliveries).order_by(
        *(descending + column for column in columns), descending + "pk"
    )
    return form, sort, ordered


def _sort_links(request: HttpRequest, sort: str) -> dict[str, dict[str, str]]:
    """Per sort key, the link that orders by it (the other way round when it already does)
    with every other filter kept, and the arrow showing the current order. The page starts
    over at 1, since the rows move."""
    links = {}
    for key in LIST_SORTS:
        current = sort.removeprefix("-") == key
        query = request.GET.copy()
        query.pop("side", None)
        query["sortering"] = key if sort == f"-{key}" else f"-{key}" if current else key
        arrow = ("▼" if sort.startswith("-") else "▲") if current else ""
        links[key] = {"url": "?" + query.urlencode(), "arrow": arrow}
    return links


@login_required
@require_GET
def delivery_detail(request: HttpRequest, delivery_uuid: uuid.UUID) -> HttpResponse:
    delivery = access.delivery_or_404(request, delivery_uuid)
    rule = request.GET.get("regel", "")
    issues = delivery.issues.all()
    return render(
        request,
        "deliveries/delivery_detail.html",
        {
            "delivery": delivery,
            "events": delivery.events.select_related("actor"),
            **_report_context(
                request,
                issues.filter(rule=rule) if rule else issues,
                listed=issues.count(),
                errors_by_rule=delivery.errors_by_rule,
                errors_by_column=delivery.errors_by_column,
                words=RuleWords(delivery.contract.document if delivery.contract else None),
                # The column each rule's errors were first listed in, to describe the rule in
                # the summary (one query; a rule broken in two columns is described by its first).
                rule_columns=delivery.issues.order_by("position").values_list("rule", "column"),
            ),
            "may_upload": access.may_upload(request.user),
            "may_retry": delivery.status == DeliveryStatus.FAILED
            and access.may_retry(request.user, delivery),
            "pushing_text": _pushing_text(delivery),
            "corrections": delivery.corrections.all(),
            # The Hent side's receipts: the last steps of the timeline.
            "receipts": delivery.receipts.select_related(
                "recipient_system", "recipient_sftp_user"
            ).order_by("fetched_at", "pk"),
            "awaiting": delivery.status in AWAITING_OTHERS,
            "expectation": selectors.delivery_expectation(delivery),
        },
    )


def _report_context(
    request: HttpRequest,
    issues: Sequence[ValidationIssue] | QuerySet[ValidationIssue],
    *,
    listed: int,
    errors_by_rule: dict[str, int],
    errors_by_column: dict[str, int],
    words: RuleWords,
    rule_columns: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """What the report partial (deliveries/_report.html) shows beside its counts, for a
    delivery and a check alike: one page of the listed issues (already narrowed to the rule in
    `?regel=`, if any), each with the words of its rule (deliveries.rules), and the errors per
    rule and per column, most first. `rule_columns` are (rule, column) pairs in report order:
    a rule in the summary is described by the first column it was broken in."""
    rule = request.GET.get("regel", "")
    first_column: dict[str, str] = {}
    for name, column in rule_columns:
        first_column.setdefault(name, column)
    page = Paginator(issues, REPORT_PAGE_SIZE).get_page(request.GET.get("side"))
    return {
        "page": page,
        "issues": [(issue, words(issue.column, issue.rule)) for issue in page],
        "rule": rule,
        "rule_words": words(first_column.get(rule, ""), rule) if rule else "",
        "report_query": urlencode({"regel": rule}),
        "rules": [
            (name, count, words(first_column.get(name, ""), name))
            for name, count in sorted(errors_by_rule.items(), key=lambda kv: -kv[1])
        ],
        "columns": sorted(errors_by_column.items(), key=lambda kv: -kv[1]),
        "listed": listed,
    }


@login_required
@require_GET
def file_check_detail(request: HttpRequest, check_uuid: uuid.UUID) -> HttpResponse:
    """A check without sending: the report as a delivery's page shows it, under a banner that
    nothing was sent, with a way to send the file. Refreshes itself while the file is checked
    (a check is short-lived; no polling script of its own)."""
    check = access.file_check_or_404(request, check_uuid)
    rule = request.GET.get("regel", "")
    issues = check.issues
    response = render(
        request,
        "deliveries/file_check.html",
        {
            "check": check,
            **_report_context(
                request,
                [issue for issue in issues if issue.rule == rule] if rule else issues,
                listed=len(issues),
                errors_by_rule=check.report.get("errors_by_rule", {}),
                errors_by_column=check.report.get("errors_by_column", {}),
                words=RuleWords(check.contract.document if check.contract else None),
                rule_columns=[(issue.rule, issue.column) for issue in issues],
            ),
        },
    )
    if check.is_working:
        # The browser reloads the page by itself until the report is there (every browser
        # honours the Refresh header, with or without JavaScript).
        response["Refresh"] = "3"
    return response


@login_required
@require_GET
def file_check_report_csv(request: HttpRequest, check_uuid: uuid.UUID) -> StreamingHttpResponse:
    check = access.file_check_or_404(request, check_uuid)
    return _report_csv(
        f"kontrolrapport-{check.uuid}.csv",
        check.issues,
        words=RuleWords(check.contract.document if check.contract else None),
    )


@login_required
@require_POST
def delivery_retry(request: HttpRequest, delivery_uuid: uuid.UUID) -> HttpResponse:
    """«Prøv igen» on a failed delivery: pushed (or validated) again by a worker."""
    delivery = access.retryable_delivery_or_404(request, delivery_uuid)
    user = request.user
    assert isinstance(user, User)
    outcome = retry.delivery_retry(delivery_id=delivery.pk, user=user)
    if outcome == DeliveryStatus.VALID:
        messages.success(request, _("Leverancen sendes igen til Serviceplatformen."))
    elif outcome == DeliveryStatus.RECEIVED:
        messages.success(request, _("Leverancen valideres igen."))
    else:
        messages.info(
            request, _("Leverancen er ikke fejlet (længere), så der er intet at prøve igen.")
        )
    return redirect("deliveries:detail", delivery_uuid=delivery.uuid)


@login_required
@require_GET
def delivery_status(request: HttpRequest, delivery_uuid: uuid.UUID) -> JsonResponse:
    """What the delivery page polls while a worker is busy."""
    delivery = access.delivery_or_404(request, delivery_uuid)
    expectation = selectors.delivery_expectation(delivery)
    return JsonResponse(
        {
            "status": delivery.status,
            "status_label": delivery.get_status_display(),
            "working": delivery.is_working,
            "rows_checked": delivery.rows_checked,
            "rows_total": delivery.rows_total,
            "progress_percent": delivery.progress_percent,
            "error_count": delivery.error_count,
            "status_text": _pushing_text(delivery),
            # The page shows it while the delivery waits (follow.js), so it moves on as time does.
            "expectation": expectation.text if expectation else "",
            "expectation_overdue": bool(expectation and expectation.overdue),
        }
    )


def _pushing_text(delivery: Delivery) -> str:
    if delivery.status != DeliveryStatus.PUSHING:
        return ""
    return _("Sendes til Serviceplatformen (%(env)s), forsøg %(n)s …") % {
        "env": delivery.endpoint,
        "n": delivery.push_attempts,
    }


@login_required
@require_GET
def delivery_download(request: HttpRequest, delivery_uuid: uuid.UUID) -> FileResponse:
    delivery = access.delivery_or_404(request, delivery_uuid)
    if delivery.file_deleted_at is not None or not delivery.file:
        raise Http404(_("Filen er slettet efter opbevaringsperioden."))
    return stored_file_response(
        str(delivery.file.name),
        filename=delivery.original_filename.rsplit(".", 1)[0] + ".csv"
        if delivery.original_filename
        else f"{delivery.uuid}.csv",
        content_type="text/csv",
    )


@login_required
@require_GET
def delivery_report_csv(request: HttpRequest, delivery_uuid: uuid.UUID) -> StreamingHttpResponse:
    delivery = access.delivery_or_404(request, delivery_uuid)
    return _report_csv(
        f"valideringsrapport-{delivery.uuid}.csv",
        delivery.issues.all().iterator(),
        words=RuleWords(delivery.contract.document if delivery.contract else None),
    )


def _report_csv(
    filename: str, issues: Iterable[ValidationIssue], *, words: RuleWords
) -> StreamingHttpResponse:
    """The listed issues of a report as CSV: a delivery's and a check's are the same file. The
    rule twice: its code for machines (filters, scripts) and its words for people."""
    header = [_("række"), _("kolonne"), _("værdi"), _("regel"), _("beskrivelse"), _("besked")]
    rows = (
        [
            issue.row or "",
            issue.column,
            issue.value,
            issue.rule,
            words(issue.column, issue.rule),
            issue.message_text,
        ]
        for issue in issues
    )
    return csv_download(filename, header, rows)


@login_required
@require_GET
def kommune_history(request: HttpRequest, code: str) -> HttpResponse:
    """Per route of one kommune, each owed period: on time, late by N days, or missing.

    Consultants see their own kommuner and administrators all; anyone else gets 404, so the
    page does not say which kommuner have routes."""
    kommune = access.history_kommune_or_404(request, code)
    return render(
        request,
        "deliveries/kommune_history.html",
        {"kommune": kommune, "routes": selectors.kommune_history(kommune=kommune)},
    )
