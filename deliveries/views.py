"""Pages for deliveries: upload, list, detail with report, status for polling, downloads.

Every view that shows one delivery starts with `_get_delivery_for_user`, which goes through
`Delivery.objects.for_user()` and answers 404 for anything outside the user's scope.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
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
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliveries import selectors
from deliveries.forms import DeliveryFilterForm, DeliveryUploadForm, OutstandingFilterForm
from deliveries.models import DataContract, Delivery, DeliveryStatus, ExpectedDelivery
from deliveries.services import retry
from deliveries.services.intake import delivery_create, delivery_find_same_file
from deliveries.uploads import (
    HashingUploadHandler,
    UploadRefused,
    may_upload,
    prepare_upload,
    upload_url_for,
)
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.links import link_former
from flisportal.lib.periods import local_time_text
from flisportal.lib.roles import Role, user_role
from routes.models import Kommune, Route, User

PAGE_SIZE = 50
# After validation nobody works on the delivery in this process, but it still moves: the page
# follows it (follow.js) until the recipient has fetched it or it has stopped.
AWAITING_STATES = (DeliveryStatus.VALID, DeliveryStatus.SENT, DeliveryStatus.DISTRIBUTED)
REPORT_PAGE_SIZE = 100


def _get_delivery_for_user(request: HttpRequest, delivery_uuid: uuid.UUID) -> Delivery:
    # get(), not first(): first() orders by the model's newest-first ordering, and with the
    # index for that order SQLite then walked the whole index looking for the uuid (53 ms
    # instead of under 1 ms at 100,000 deliveries; benchmarks/load.py).
    try:
        return (
            Delivery.objects.for_user(request.user)
            .select_related(
                "it_system__vendor",
                "data_area",
                "kommune",
                "endpoint",
                "contract",
                "uploaded_by",
                "replaces",
                "route",
            )
            .get(uuid=delivery_uuid)
        )
    except Delivery.DoesNotExist:
        raise Http404(_("Leverancen findes ikke, eller du har ikke adgang til den.")) from None


def _may_retry(user: Any, delivery: Delivery) -> bool:
    """Administrators and the person who uploaded the delivery may send a failed one again."""
    return user_role(user) == Role.ADMINISTRATOR or (
        delivery.uploaded_by_id is not None and delivery.uploaded_by_id == user.pk
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page. The streaming handler must be installed before anything reads the
    body, which CSRF middleware would do; so CSRF is checked inside, after the swap."""
    request.upload_handlers = [HashingUploadHandler(request)]
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not may_upload(user):
        raise Http404(_("Kun leverandører og administratorer kan uploade."))
    replaces = None
    corrected = request.GET.get("rettelse") or request.POST.get("rettelse")
    if corrected:
        try:
            replaces = _get_delivery_for_user(request, uuid.UUID(corrected))
        except ValueError:
            raise Http404 from None
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
        delivery = _try_create(request, form, user, replaces) if form.is_valid() else None
        if delivery is not None:
            url = reverse("deliveries:detail", args=[delivery.uuid])
            if _wants_json(request):
                return JsonResponse({"redirect": url})
            return redirect(url)
        if _wants_json(request):
            return JsonResponse({"errors": form.error_list()}, status=400)
        status = 400
    else:
        initial: dict[str, Any] = {}
        expected_pk = request.GET.get("forventet")
        if replaces is not None:
            initial = _initial_for(replaces.route, replaces.period)
        elif expected_pk:
            expected = _get_expected_for_user(request, expected_pk)
            initial = _initial_for(expected.route, expected.period)
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
            "contracts": contracts,
            "max_bytes": settings.MAX_UPLOAD_BYTES,
        },
        status=status,
    )


def _get_expected_for_user(request: HttpRequest, expected_pk: str) -> ExpectedDelivery:
    """A period still owed, by the id in the link from the start page and the list of
    outstanding periods; 404 for one outside the user's routes, or an id that is no number."""
    try:
        return (
            ExpectedDelivery.objects.for_user(request.user)
            .select_related("route")
            .get(pk=int(expected_pk))
        )
    except (ValueError, ExpectedDelivery.DoesNotExist):
        raise Http404 from None


def _initial_for(route: Route, period: str) -> dict[str, Any]:
    """The upload form filled in for one route and period (a correction, a period owed)."""
    return {
        "it_system": route.sender_system_id,
        "data_area": route.data_area_id,
        "kommune": route.kommune_id,
        "period": period,
        "environment": route.endpoint_id,
    }


def _try_create(
    request: HttpRequest, form: DeliveryUploadForm, user: User, replaces: Delivery | None
) -> Delivery | None:
    route = form.route
    assert route is not None
    period = form.cleaned_data["period"]
    try:
        prepared = prepare_upload(
            form.cleaned_data["file"],
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_ratio=settings.ZIP_MAX_RATIO,
        )
    except UploadRefused as refusal:
        form.add_error("file", refusal.message)
        return None
    confirmed = form.cleaned_data["redelivery_confirmed"]
    earlier = delivery_find_same_file(route=route, period=period, sha256=prepared.sha256)
    if earlier is not None and not confirmed:
        prepared.discard()
        form.add_error(
            "redelivery_confirmed",
            _(
                "Præcis den samme fil (SHA-256 %(sha)s…) er allerede leveret for denne rute og "
                "periode den %(when)s (status: %(status)s). Sæt flueben i «Genlevering» og upload "
                "igen, hvis den skal sendes en gang til."
            )
            % {
                "sha": prepared.sha256[:12],
                "when": local_time_text(earlier.uploaded_at, seconds=False),
                "status": earlier.get_status_display(),
            },
        )
        return None
    return delivery_create(
        prepared=prepared,
        route=route,
        period=period,
        user=user,
        redelivery_confirmed=bool(confirmed and earlier is not None),
        replaces=replaces,
    )


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
            "counts": selectors.outstanding_counts(rows),
            "query": query.urlencode(),
            "upload_url": upload_url_for(request.user),
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
    form = DeliveryFilterForm(request.GET or None, user=user)
    # Only what the list shows: a delivery row also holds counters and texts as JSON, which
    # fifty rows would decode for nothing.
    deliveries = (
        Delivery.objects.for_user(request.user)
        .select_related("it_system", "data_area", "kommune", "endpoint")
        .only(
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
    )
    page = Paginator(form.filter(deliveries), PAGE_SIZE).get_page(request.GET.get("side"))
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
            "rows": [(delivery, detail_url(delivery.uuid)) for delivery in page],
            "query": query.urlencode(),
            "may_upload": may_upload(request.user),
        },
    )


@login_required
@require_GET
def delivery_detail(request: HttpRequest, delivery_uuid: uuid.UUID) -> HttpResponse:
    delivery = _get_delivery_for_user(request, delivery_uuid)
    rule = request.GET.get("regel", "")
    issues = delivery.issues.all()
    if rule:
        issues = issues.filter(rule=rule)
    page = Paginator(issues, REPORT_PAGE_SIZE).get_page(request.GET.get("side"))
    return render(
        request,
        "deliveries/delivery_detail.html",
        {
            "delivery": delivery,
            "events": delivery.events.select_related("actor"),
            "page": page,
            "rule": rule,
            "report_query": urlencode({"regel": rule}),
            "rules": sorted(delivery.errors_by_rule.items(), key=lambda kv: -kv[1]),
            "columns": sorted(delivery.errors_by_column.items(), key=lambda kv: -kv[1]),
            "listed": delivery.issues.count(),
            "may_upload": may_upload(request.user),
            "may_retry": delivery.status == DeliveryStatus.FAILED
            and _may_retry(request.user, delivery),
            "pushing_text": _pushing_text(delivery),
            "corrections": delivery.corrections.all(),
            # The Hent side's receipts: the last steps of the timeline.
            "receipts": delivery.receipts.select_related(
                "recipient_system", "recipient_sftp_user"
            ).order_by("fetched_at", "pk"),
            "awaiting": delivery.status in AWAITING_STATES,
        },
    )


@login_required
@require_POST
def delivery_retry(request: HttpRequest, delivery_uuid: uuid.UUID) -> HttpResponse:
    """«Prøv igen» on a failed delivery: pushed (or validated) again by a worker."""
    delivery = _get_delivery_for_user(request, delivery_uuid)
    if not _may_retry(request.user, delivery):
        # Same answer as for a delivery outside the user's scope: nothing to act on here.
        raise Http404(_("Leverancen findes ikke, eller du har ikke adgang til den."))
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
    delivery = _get_delivery_for_user(request, delivery_uuid)
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
    delivery = _get_delivery_for_user(request, delivery_uuid)
    if delivery.file_deleted_at is not None or not delivery.file:
        raise Http404(_("Filen er slettet efter opbevaringsperioden."))
    handle = delivery.file.open("rb")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=delivery.original_filename.rsplit(".", 1)[0] + ".csv"
        if delivery.original_filename
        else f"{delivery.uuid}.csv",
        content_type="text/csv",
    )


@login_required
@require_GET
def delivery_report_csv(request: HttpRequest, delivery_uuid: uuid.UUID) -> StreamingHttpResponse:
    delivery = _get_delivery_for_user(request, delivery_uuid)
    header = [_("række"), _("kolonne"), _("værdi"), _("regel"), _("besked")]
    rows = (
        [issue.row or "", issue.column, issue.value, issue.rule, issue.message_text]
        for issue in delivery.issues.all().iterator()
    )
    return csv_download(f"valideringsrapport-{delivery.uuid}.csv", header, rows)


@login_required
@require_GET
def kommune_history(request: HttpRequest, code: str) -> HttpResponse:
    """Per route of one kommune, each owed period: on time, late by N days, or missing.

    Consultants see their own kommuner and administrators all; anyone else gets 404, so the
    page does not say which kommuner have routes."""
    kommune = _get_kommune_for_history(request, code)
    return render(
        request,
        "deliveries/kommune_history.html",
        {"kommune": kommune, "routes": selectors.kommune_history(kommune=kommune)},
    )


def _get_kommune_for_history(request: HttpRequest, code: str) -> Kommune:
    if user_role(request.user) not in (Role.ADMINISTRATOR, Role.CONSULTANT):
        raise Http404
    kommune = Kommune.objects.for_user(request.user).filter(code=code).first()
    if kommune is None:
        raise Http404(_("Kommunen findes ikke, eller du har ikke adgang til den."))
    return kommune
