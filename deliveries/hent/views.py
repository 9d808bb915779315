"""The inbox of Hent-side receipts: list with filters and search, CSV export, one receipt, and
the download of a fetched file.

Every view starts from `Receipt.objects.for_user()` (one receipt through
`deliveries.access.receipt_or_404`); the file download additionally asks
`access.may_download_receipt` (administrators and the consultants of the receipt's kommune only)
and answers 404 otherwise, so existence does not leak. A copy deleted by retention is 404 too.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from deliveries import access
from deliveries.forms import ReceiptFilterForm
from deliveries.models import Receipt, ReceiptQuerySet, ReceiptRead
from deliveries.rows import RECEIPT_ROW_FIELDS, receipt_rows_html
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.links import link_former
from flisportal.lib.pagination import page_values
from flisportal.lib.storage import stored_file_response
from routes.models import User

PAGE_SIZE = 50


def _receipts_for(request: HttpRequest) -> tuple[ReceiptFilterForm, ReceiptQuerySet]:
    form = ReceiptFilterForm(request.GET or None, user=request.user)
    receipts = form.filter(Receipt.objects.for_user(request.user)).select_related(
        "recipient_system", "kommune", "data_area", "sender_system"
    )
    return form, receipts


def _mark_read(receipt: Receipt, user: User) -> None:
    ReceiptRead.objects.get_or_create(receipt=receipt, user=user)


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    form, receipts = _receipts_for(request)
    page = Paginator(receipts.with_read_for(request.user), PAGE_SIZE).get_page(
        request.GET.get("side")
    )
    query = request.GET.copy()
    query.pop("side", None)
    system = form.cleaned_data.get("system") if form.is_valid() else None
    # Each row with its link; the URL is reversed once for the page (benchmarks/load.py).
    receipt_url = link_former("deliveries:receipt", "uuid")
    return render(
        request,
        "deliveries/inbox.html",
        {
            "form": form,
            "page": page,
            # The page's rows as plain values (deliveries/rows.py), read after counting, which
            # then needs none of their joins; a receipt row also holds hashes, ids and the
            # metadata's texts that the inbox does not show.
            "rows_html": receipt_rows_html(page_values(page, RECEIPT_ROW_FIELDS), receipt_url),
            "query": query.urlencode(),
            "system": system,
        },
    )


@login_required
@require_GET
def inbox_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered inbox as CSV (semicolon, UTF-8 with BOM, for Excel). Every text cell is
    neutralised: file names and sender names come from outside the portal."""
    _form, receipts = _receipts_for(request)
    header = [
        _("hentet"),
        _("modtagersystem"),
        _("kommune"),
        _("dataområde"),
        _("periode"),
        _("afsender"),
        _("afsendersystem"),
        _("filnavn"),
        _("størrelse (bytes)"),
        _("SHA-256"),
        _("vurdering"),
        _("begrundelse"),
        "FileTransferUUID",
        "SendersFileId",
    ]
    rows = (
        [
            timezone.localtime(receipt.fetched_at).strftime("%Y-%m-%d %H:%M:%S"),
            receipt.recipient_system.name,
            receipt.kommune or "",
            receipt.data_area or "",
            receipt.period,
            receipt.sender,
            receipt.sender_system.name if receipt.sender_system else "",
            receipt.file_name,
            receipt.size,
            receipt.sha256,
            receipt.get_verdict_display(),
            receipt.verdict_detail_text,
            receipt.filetransfer_uuid,
            receipt.senders_file_id,
        ]
        for receipt in receipts.iterator(chunk_size=2000)
    )
    return csv_download(stamped("indbakke"), header, rows)


@login_required
@require_GET
def receipt_detail(request: HttpRequest, receipt_uuid: uuid.UUID) -> HttpResponse:
    receipt = access.receipt_or_404(request, receipt_uuid)
    assert isinstance(request.user, User)
    _mark_read(receipt, request.user)
    return render(
        request,
        "deliveries/receipt_detail.html",
        {
            "receipt": receipt,
            "may_download": access.may_download_receipt(request.user, receipt),
            "delivery_visible": access.delivery_visible(request.user, receipt.delivery_id),
        },
    )


@login_required
@require_GET
def receipt_download(request: HttpRequest, receipt_uuid: uuid.UUID) -> FileResponse:
    receipt = access.downloadable_receipt_or_404(request, receipt_uuid)
    if receipt.file_deleted_at is not None:
        raise Http404(_("Filen er slettet efter opbevaringsperioden."))
    try:
        response = stored_file_response(
            str(receipt.file.name),
            filename=get_valid_filename(receipt.file_name) or f"{receipt.uuid}.csv",
            content_type="application/octet-stream",
        )
    except FileNotFoundError:
        # Retention deletes the copy before it stamps the row: between the two (or after a
        # run that died there) the row still names it.
        raise Http404(_("Filen er slettet efter opbevaringsperioden.")) from None
    assert isinstance(request.user, User)
    _mark_read(receipt, request.user)
    return response
