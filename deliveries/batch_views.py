"""Samlet upload: many extracts in one go, a preview to check and fix, then one delivery each.

The pages: the upload (files or zips, streamed to disk by `BatchUploadHandler`), the preview
(what each file was found to be and what stands in its way), a row's own page to set its route
and period, and the progress of the deliveries made, polled as JSON. Each view starts with an
access helper (`uploader_or_404`, `batch_or_404`, `batch_file_or_404`); the workflows are
`deliveries.services.batch`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliveries import access, selectors
from deliveries.batch_forms import BatchEnvironmentForm, BatchFileForm
from deliveries.models import UploadBatch, UploadBatchFile
from deliveries.services.batch import (
    BatchSendRunning,
    Received,
    upload_batch_file_change,
    upload_batch_file_drop,
    upload_batch_send_start,
    upload_batch_stage,
)
from deliveries.uploads import (
    BATCH_FIELD,
    BatchLimitExceeded,
    BatchUploadHandler,
    UploadRefused,
    batch_too_large_message,
    extract_csv_members,
    prepare_upload,
    too_many_files_message,
)
from flisportal.lib.queues import QueueUnavailable
from routes.models import User


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def batch_upload(request: HttpRequest) -> HttpResponse:
    """The batch upload page. As on the single upload page, the streaming handler is installed
    before anything reads the body, so CSRF is checked inside, after the swap; and who may
    upload is decided before a byte is written."""
    access.uploader_or_404(request)
    request.upload_handlers = [BatchUploadHandler(request)]
    return _batch_upload(request)


@csrf_protect
def _batch_upload(request: HttpRequest) -> HttpResponse:
    user = access.uploader_or_404(request)
    # Bound on every POST: a batch without the (optional) environment has no other fields.
    form = BatchEnvironmentForm(request.POST if request.method == "POST" else None, user=user)
    errors: list[str] = []
    if request.method == "POST":
        errors = _received_errors(request)
        if not errors and form.is_valid():
            try:
                received = _unpack(request.FILES.getlist(BATCH_FIELD))
            except BatchLimitExceeded as refusal:
                errors = [refusal.message]
            else:
                batch = upload_batch_stage(
                    user=user, received=received, endpoint=form.cleaned_data["environment"]
                )
                url = reverse("deliveries:batch", args=[batch.uuid])
                return JsonResponse({"redirect": url}) if _wants_json(request) else redirect(url)
        errors = errors or [str(e) for field in form.errors.values() for e in field]
        if _wants_json(request):
            return JsonResponse({"errors": errors}, status=400)
    return render(
        request,
        "deliveries/batch_upload.html",
        {
            "form": form,
            "errors": errors,
            "max_files": settings.BATCH_MAX_FILES,
            "max_bytes": settings.BATCH_MAX_BYTES,
            "max_file_bytes": settings.MAX_UPLOAD_BYTES,
            "too_many": too_many_files_message(settings.BATCH_MAX_FILES),
            "too_large": batch_too_large_message(settings.BATCH_MAX_BYTES),
        },
        status=400 if errors else 200,
    )


def _received_errors(request: HttpRequest) -> list[str]:
    handler = next((h for h in request.upload_handlers if isinstance(h, BatchUploadHandler)), None)
    if handler is not None and handler.refusal:
        return [handler.refusal]
    if not request.FILES.getlist(BATCH_FIELD):
        return [_("Vælg mindst én fil (.csv eller .zip) at uploade.")]
    return []


def _unpack(files: list[UploadedFile]) -> list[Received]:
    """Each uploaded file checked as the single upload checks it (`prepare_upload`), and each
    zip unpacked member by member with the same protections (`extract_csv_members`); a file
    refused is a row with its reason, and the others go on. The batch's limits count the CSV
    files and their bytes as unpacked, one running total for all: past either, the batch is
    refused whole (BatchLimitExceeded) and nothing unpacked is kept."""
    received: list[Received] = []
    total = 0
    try:
        for uploaded in files:
            if len(received) >= settings.BATCH_MAX_FILES:
                raise BatchLimitExceeded(too_many_files_message(settings.BATCH_MAX_FILES))
            for item in _unpack_one(
                uploaded,
                files_left=settings.BATCH_MAX_FILES - len(received),
                bytes_left=settings.BATCH_MAX_BYTES - total,
            ):
                received.append(item)
                total += item.file.size if item.file is not None else 0
    except BatchLimitExceeded:
        for item in received:
            if item.file is not None:
                item.file.path.unlink(missing_ok=True)
        raise
    return received


def _unpack_one(uploaded: UploadedFile, *, files_left: int, bytes_left: int) -> list[Received]:
    name = os.path.basename(uploaded.name or "")
    try:
        if name.lower().endswith(".zip"):
            members = extract_csv_members(
                Path(uploaded.temporary_file_path()),  # type: ignore[attr-defined]
                max_files=files_left,
                max_bytes=settings.MAX_UPLOAD_BYTES,
                max_total=bytes_left,
                max_ratio=settings.ZIP_MAX_RATIO,
            )
            return [Received(m.name, m.file, m.refusal) for m in members]
        incoming = prepare_upload(
            uploaded, max_bytes=settings.MAX_UPLOAD_BYTES, max_ratio=settings.ZIP_MAX_RATIO
        )
    except BatchLimitExceeded:
        raise
    except UploadRefused as refusal:
        return [Received(name=name, refusal=refusal.message)]
    if incoming.size > bytes_left:
        incoming.path.unlink(missing_ok=True)
        raise BatchLimitExceeded(batch_too_large_message(settings.BATCH_MAX_BYTES))
    return [Received(name=name, file=incoming)]


@login_required
@require_GET
def batch_preview(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """What each file was found to be, what stands in its way, and the button that sends the
    rows that are ready."""
    batch = access.batch_or_404(request, batch_uuid)
    user = request.user
    assert isinstance(user, User)
    lines = selectors.batch_lines(batch, user)
    return render(
        request,
        "deliveries/batch_preview.html",
        {
            "batch": batch,
            "lines": lines,
            "ready": sum(1 for line in lines if line.ready),
            "blocked": sum(1 for line in lines if line.problems and line.row.is_pending),
            "sent": sum(1 for line in lines if line.row.delivery_id is not None),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def batch_file(request: HttpRequest, batch_uuid: uuid.UUID, pk: int) -> HttpResponse:
    """One row of the preview set by hand: its route and period."""
    row = access.batch_file_or_404(request, batch_uuid, pk)
    user = request.user
    assert isinstance(user, User)
    if not row.is_staged:
        messages.info(request, _("Filen er allerede sendt eller blev ikke modtaget."))
        return redirect("deliveries:batch", batch_uuid=batch_uuid)
    initial: dict[str, Any] = {
        "route": row.route_id,
        "period": row.period,
        "redelivery_confirmed": row.redelivery_confirmed,
    }
    if row.batch.send_under_way(timezone.now()):
        return _busy_sending(request, batch_uuid)
    form = BatchFileForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            upload_batch_file_change(
                row=row,
                route=form.cleaned_data["route"],
                period=form.cleaned_data["period"],
                redelivery_confirmed=form.cleaned_data["redelivery_confirmed"],
            )
        except BatchSendRunning:  # «Send» was pressed in another tab meanwhile
            return _busy_sending(request, batch_uuid)
        messages.success(request, _("%(name)s er rettet.") % {"name": row.original_name})
        return redirect("deliveries:batch", batch_uuid=batch_uuid)
    return render(
        request,
        "deliveries/batch_file.html",
        {"batch": row.batch, "row": row, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def batch_file_drop(request: HttpRequest, batch_uuid: uuid.UUID, pk: int) -> HttpResponse:
    """Leaves a row out of the batch («Fjern»), or takes it back in («Tag med»)."""
    row = access.batch_file_or_404(request, batch_uuid, pk)
    if row.is_pending or row.dropped:
        try:
            upload_batch_file_drop(row=row, dropped=request.POST.get("dropped") == "1")
        except BatchSendRunning:
            return _busy_sending(request, batch_uuid)
    return redirect("deliveries:batch", batch_uuid=batch_uuid)


def _busy_sending(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """A row cannot change while its batch is being sent: the send reads each row as it gets
    to it, so a change now might or might not be what is sent."""
    messages.warning(
        request,
        _(
            "Filerne er ved at blive sendt, så en række kan ikke rettes eller fjernes imens. "
            "Vent, til afsendelsen er færdig; rækker, der ikke blev sendt, kan du rette og "
            "sende bagefter."
        ),
    )
    return redirect("deliveries:batch_progress", batch_uuid=batch_uuid)


@login_required
@require_POST
def batch_confirm(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """«Send»: puts the sending of the ready rows on the queue and shows its progress. The
    files go through intake in a worker, one by one (`upload_batch_send`): a batch of large
    files takes minutes, past the web worker's timeout."""
    batch = access.batch_or_404(request, batch_uuid)
    try:
        upload_batch_send_start(batch=batch)
    except BatchSendRunning:
        messages.info(request, _("Filerne er allerede ved at blive sendt. Følg dem herunder."))
    except QueueUnavailable:
        messages.error(
            request,
            _(
                "Filerne blev ikke sendt: portalens jobkø svarer ikke lige nu. Intet er ændret, "
                "og alle filer er gemt. Tryk «Send» igen om lidt; sker det igen, så kontakt "
                "supporten."
            ),
        )
        return redirect("deliveries:batch", batch_uuid=batch.uuid)
    return redirect("deliveries:batch_progress", batch_uuid=batch.uuid)


@login_required
@require_GET
def batch_progress(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """The send as it goes (each row as it becomes a delivery or is refused), then the
    deliveries followed through validation, push and fetch."""
    batch = access.batch_or_404(request, batch_uuid)
    user = request.user
    assert isinstance(user, User)
    lines = selectors.batch_lines(batch, user)
    return render(
        request,
        "deliveries/batch_progress.html",
        {
            "batch": batch,
            "lines": lines,
            "progress": _progress(batch, lines),
            "outcome": _send_outcome(batch),
            "stuck_minutes": settings.RECONCILE_STUCK_MINUTES,
        },
    )


@login_required
@require_GET
def batch_status(request: HttpRequest, batch_uuid: uuid.UUID) -> JsonResponse:
    """What the progress page polls: whether the send is under way, each file's delivery
    status (or why it was refused), and the batch's counts."""
    batch = access.batch_or_404(request, batch_uuid)
    user = request.user
    assert isinstance(user, User)
    lines = selectors.batch_lines(batch, user)
    return JsonResponse(
        {
            **_progress(batch, lines),
            "files": [_file_status(line.row) for line in lines if _has_status(line.row)],
        }
    )


def _has_status(row: UploadBatchFile) -> bool:
    """A delivery, or a refusal that stands: not one from an earlier send of a row that the
    send under way has yet to try."""
    if row.delivery is not None:
        return True
    return bool(row.refusal) and not row.dropped and not row.is_queued


def _file_status(row: UploadBatchFile) -> dict[str, Any]:
    if row.delivery is None:
        return {
            "id": row.pk,
            "status": "not_sent",
            "status_label": _("ikke sendt"),
            "badge": "secondary",
            "refusal": row.refusal,
        }
    return {
        "id": row.pk,
        "status": row.delivery.status,
        "status_label": row.delivery.status_label,
        "badge": row.delivery.status_badge,
        "url": reverse("deliveries:detail", args=[row.delivery.uuid]),
    }


def _send_outcome(batch: UploadBatch) -> list[tuple[str, str]]:
    """What the last send made of the files, as (level, text), once it has finished: the
    counts the user used to get as messages after the request."""
    if batch.is_sending or batch.sent_finished_at is None:
        return []
    made, refused = batch.sent_made, batch.sent_refused
    outcome = []
    if made:
        # Not «valideres nu»: the page shows this for as long as it is open, and beside rows
        # that already say «hentet» that read as if the portal were still at it.
        outcome.append(
            (
                "success",
                ngettext(
                    "%(count)d fil er blevet en leverance; rækken viser, hvor langt den er nået.",
                    "%(count)d filer er blevet leverancer; rækkerne viser, hvor langt hver er "
                    "nået.",
                    made,
                )
                % {"count": made},
            )
        )
    if refused:
        outcome.append(
            (
                "warning",
                ngettext(
                    "%(count)d fil blev afvist; rækken siger hvorfor. Ret den og send igen.",
                    "%(count)d filer blev afvist; rækkerne siger hvorfor. Ret dem og send igen.",
                    refused,
                )
                % {"count": refused},
            )
        )
    if not made and not refused:
        outcome.append(("info", _("Ingen filer var klar til at blive sendt.")))
    return outcome


def _progress(batch: UploadBatch, lines: list[selectors.BatchLine]) -> dict[str, Any]:
    statuses = [line.row.delivery.status for line in lines if line.row.delivery is not None]
    settled = sum(1 for status in statuses if selectors.batch_settled(status))
    now = timezone.now()
    stalled = batch.send_stalled(now)
    sending = batch.send_under_way(now)
    return {
        # A file the user removed from the batch is not one still to send: «21 af 22 filer er
        # sendt» beside a row marked «fjernet» read as if one file were missing.
        "total": sum(1 for line in lines if not line.row.dropped),
        "sent": len(statuses),
        "settled": settled,
        # Polled while the send is under way (rows become deliveries) and while any delivery
        # has not settled.
        "working": sending or settled < len(statuses),
        "sending": sending,
        "stalled": stalled,
        "percent": round(100 * settled / len(statuses)) if statuses else 0,
        "waiting": sum(1 for line in lines if line.row.is_pending),
    }
