"""The API's endpoints under /api/v1/.

Each view starts, like a page, with a helper of `deliveries.access` that returns what the
token's user may act on or raises 404; lists start from the same `for_user()` querysets and
filter forms as the pages. An upload goes through the upload page's streaming handler and
checks (`deliveries.uploads`) and then `delivery_upload`, the one way a delivery is made.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deliveries import access, selectors
from deliveries.api.auth import TokenAuthentication, TokenRateThrottle
from deliveries.api.models import ApiToken, IdempotencyKey
from deliveries.api.problems import Problem
from deliveries.api.serializers import (
    CheckSerializer,
    DeliverySerializer,
    DeliverySummarySerializer,
    ExpectedSerializer,
    FileCheckSerializer,
    IssueSerializer,
    ReceiptSerializer,
    RouteSerializer,
    UploadSerializer,
    paged,
)
from deliveries.forms import DeliveryFilterForm, OutstandingFilterForm, ReceiptFilterForm
from deliveries.models import Delivery, DeliveryEvent, Receipt, ReceiptRead
from deliveries.services.check import delivery_check
from deliveries.services.intake import IncomingFile, IntakeRefused, delivery_upload
from deliveries.uploads import HashingUploadHandler, UploadRefused, prepare_upload
from flisportal.audit.services import audit_record
from flisportal.lib.csvexport import csv_download
from flisportal.lib.storage import stored_file_response
from routes.models import Route, User

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
# A claimed key without its delivery this long after the claim belongs to a request that died.
STALE_CLAIM = timedelta(minutes=10)


class Pages(PageNumberPagination):
    page_size = 50


class ApiView(APIView):
    """Token only, per-token rate limit, and texts in the language Accept-Language asks for
    (the pages follow the language switch instead; a program has none)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [TokenRateThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        translation.activate(translation.get_language_from_request(request._request))
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers["Content-Language"] = translation.get_language()
        return response

    @property
    def user(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # IsAuthenticated
        return user

    def page(self, rows: Any, serializer: type[serializers.Serializer], **context: Any) -> Any:
        pages = Pages()
        found: Any = pages.paginate_queryset(rows, self.request, view=self)
        data = serializer(found, many=True, context=context).data
        return pages.get_paginated_response(data)


def filters_of(form: type[forms.Form]) -> list[OpenApiParameter]:
    """A list's query parameters in the schema: its page filter form's fields, and the page."""
    return [
        *(
            OpenApiParameter(name, OpenApiTypes.STR, description=str(field.label))
            for name, field in form.base_fields.items()
        ),
        OpenApiParameter("page", OpenApiTypes.INT, description="Siden, fra 1 (50 rækker)."),
    ]


def _filtered(form: Any, rows: Any) -> Any:
    """The rows a list's filter form keeps. Unlike the page, which shows everything when a
    filter is wrong, the API says so: a program would otherwise take all rows for the few it
    asked for."""
    if form.is_bound and not form.is_valid():
        raise serializers.ValidationError(form.errors)
    return form.filter(rows)


# --- the registry as the user delivers to it ---------------------------------------------------


class RouteList(ApiView):
    @extend_schema(
        responses=paged(RouteSerializer),
        operation_id="routes_list",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT)],
        summary="Dine ruter",
    )
    def get(self, request: Request) -> Response:
        """The established routes of the systems you deliver for, and whether you may upload
        to each now (a signed databehandleraftale)."""
        routes = access.sender_routes(request.user).select_related(
            "kommune", "data_area", "sender_system", "endpoint"
        )
        uploadable = set(access.uploadable_routes(request.user).values_list("pk", flat=True))
        return self.page(
            routes.order_by("kommune__code", "data_area__sort_order", "pk"),
            RouteSerializer,
            uploadable=uploadable,
        )


class ExpectedList(ApiView):
    @extend_schema(
        responses=paged(ExpectedSerializer),
        operation_id="expected_list",
        parameters=filters_of(OutstandingFilterForm),
        summary="Perioder, der mangler",
    )
    def get(self, request: Request) -> Response:
        """The periods your routes still owe, earliest deadline first; filters as on the page
        (data_area, kommune, period, state)."""
        form = OutstandingFilterForm(request.query_params or None, user=request.user)
        rows = _filtered(form, selectors.outstanding_expected(request.user))
        return self.page(rows, ExpectedSerializer)


# --- deliveries ----------------------------------------------------------------------------------


class DeliveryList(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        responses=paged(DeliverySummarySerializer),
        operation_id="deliveries_list",
        parameters=filters_of(DeliveryFilterForm),
        summary="Leverancer",
    )
    def get(self, request: Request) -> Response:
        """Your deliveries, newest first; filters and search as on the page (data_area,
        kommune, period, status, it_system, endpoint, q)."""
        form = DeliveryFilterForm(request.query_params or None, user=request.user)
        # Only what a row shows, as on the page: a delivery also holds counters and texts as
        # JSON, which fifty rows would decode for nothing.
        rows = (
            Delivery.objects.for_user(request.user)
            .select_related("data_area", "kommune")
            .only(
                "uuid",
                "uploaded_at",
                "period",
                "status",
                "error_count",
                "data_area__code",
                "kommune__code",
                "kommune__name",
            )
        )
        return self.page(_filtered(form, rows), DeliverySummarySerializer)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Valgfri: samme nøgle og samme indhold giver den første leverance "
                "igen i stedet for en ny.",
            )
        ],
        responses={201: DeliverySerializer, 200: DeliverySerializer},
        summary="Upload en leverance",
    )
    def post(self, request: Request) -> Response:
        """Uploads an extract, as the upload page does. 201 with the new delivery; 200 with
        the first one when a request with the same Idempotency-Key and content came before."""
        user = access.uploader_or_404(request)  # before a byte of the body is read
        key = _idempotency_key(request)
        incoming, fields = _received(request)
        try:
            route = access.route_or_404(request, fields["route"])
            replaces = None
            if fields.get("replaces"):
                replaces = access.correction_target_or_404(request, str(fields["replaces"]))
            claim, earlier = None, None
            if key is not None:
                claim, earlier = _claim(user, key, _fingerprint(incoming, fields, route, replaces))
        except BaseException:
            # Not handed to intake, which would otherwise delete it.
            incoming.path.unlink(missing_ok=True)
            raise
        if earlier is not None:
            incoming.path.unlink(missing_ok=True)
            return self._answer(earlier, status=200, replayed=True)
        try:
            delivery = delivery_upload(
                file=incoming,
                route=route,
                period=fields["period"],
                user=user,
                redelivery_confirmed=fields["redelivery_confirmed"],
                replaces=replaces,
            )
        except IntakeRefused as refusal:
            _release(claim)
            raise Problem(
                status_code=422, code="upload_refused", detail=refusal.message, rule=refusal.reason
            ) from None
        except BaseException:
            _release(claim)
            raise
        _record(delivery, claim, request, key)
        return self._answer(delivery, status=201)

    def _answer(self, delivery: Delivery, *, status: int, replayed: bool = False) -> Response:
        delivery = _with_timeline(self.request, delivery.uuid)
        response = Response(DeliverySerializer(delivery).data, status=status)
        response["Location"] = reverse("api:delivery", args=[delivery.uuid])
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


def _with_timeline(request: Request, delivery_uuid: uuid.UUID) -> Delivery:
    delivery = access.delivery_or_404(request, delivery_uuid)
    prefetch_related_objects(
        [delivery], Prefetch("events", queryset=DeliveryEvent.objects.select_related("actor"))
    )
    return delivery


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isascii():
        raise Problem(
            status_code=400,
            code="idempotency_key_invalid",
            detail=_(
                "Idempotency-Key skal være 1-%(max)d tegn ASCII, fx et UUID, ny for hver "
                "leverance og den samme, når den samme forespørgsel sendes igen."
            )
            % {"max": MAX_IDEMPOTENCY_KEY},
        )
    return key


def _received(
    request: Request, form: type[serializers.Serializer] = UploadSerializer
) -> tuple[IncomingFile, dict[str, Any]]:
    """The uploaded file, streamed to a temp file and checked as the upload page checks it,
    and the other fields. Raises a problem for a file or field that is refused."""
    handler = HashingUploadHandler(request)
    # Installed before anything reads the body: file parts go to a temp file in chunks, never
    # into a web worker's memory, and stop being stored once the size limit is passed.
    request.upload_handlers = [handler]  # type: ignore[attr-defined]
    data = form(data=request.data)
    if handler.refusal:
        raise Problem(
            status_code=413 if handler.too_large else 422,
            code="file_too_large" if handler.too_large else "file_refused",
            detail=handler.refusal,
        )
    data.is_valid(raise_exception=True)
    fields = dict(data.validated_data)
    try:
        incoming = prepare_upload(
            fields.pop("file"),
            max_bytes=settings.MAX_UPLOAD_BYTES,
            max_ratio=settings.ZIP_MAX_RATIO,
        )
    except UploadRefused as refusal:
        raise Problem(status_code=422, code="file_refused", detail=refusal.message) from None
    return incoming, fields


def _fingerprint(
    incoming: IncomingFile, fields: dict[str, Any], route: Route, replaces: Delivery | None
) -> str:
    """What the request asked for, so a repeat can be told from another upload under the
    same key: the file's bytes (SHA-256 of the CSV), the route, the period and the options."""
    parts = [
        incoming.sha256,
        str(route.pk),
        fields["period"],
        str(fields["redelivery_confirmed"]),
        str(replaces.uuid) if replaces else "",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _claim(user: User, key: str, fingerprint: str) -> tuple[IdempotencyKey | None, Delivery | None]:
    """Claims `key` for this upload, or finds what an earlier request with it made.

    Returns (claim, None) when this request is the first with the key, and (None, delivery)
    for a repeat of a request that made `delivery`. The claim is a row under a unique
    constraint, written before the upload, so two copies of one request sent at once cannot
    both make a delivery: the second is told the key is in use (409) and may ask again."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint), None
    except IntegrityError:
        pass
    earlier = IdempotencyKey.objects.select_related("delivery").get(user=user, key=key)
    if earlier.fingerprint != fingerprint:
        raise Problem(
            status_code=422,
            code="idempotency_key_reused",
            detail=_(
                "Idempotency-Key «%(key)s» er allerede brugt til en anden upload (en anden fil, "
                "rute eller periode). Brug en ny nøgle til en ny leverance."
            )
            % {"key": key},
        )
    if earlier.delivery is not None:
        return None, earlier.delivery
    if earlier.created_at < timezone.now() - STALE_CLAIM and _abandoned(earlier):
        return _claim(user, key, fingerprint)
    raise Problem(
        status_code=409,
        code="idempotency_key_in_use",
        detail=_(
            "En upload med Idempotency-Key «%(key)s» er i gang. Vent et øjeblik, og send "
            "den samme forespørgsel igen."
        )
        % {"key": key},
    )


def _abandoned(claim: IdempotencyKey) -> bool:
    """Takes back a claim whose request died between claiming and recording (a killed web
    worker): the claim is made after the body has arrived, and intake then takes seconds, so
    one older than STALE_CLAIM is no longer running. Conditional on the row being unchanged,
    so of two requests taking it back only one does. Should the dead request have made its
    delivery after all, intake's same-file rule refuses a second one of the same bytes."""
    deleted, _rows = IdempotencyKey.objects.filter(
        pk=claim.pk, delivery__isnull=True, created_at=claim.created_at
    ).delete()
    return deleted > 0


def _release(claim: IdempotencyKey | None) -> None:
    """A refused or failed upload frees its key: nothing was made, so a retry of the same
    request (after the cause is fixed) is a first try."""
    if claim is not None:
        IdempotencyKey.objects.filter(pk=claim.pk, delivery__isnull=True).delete()


def _record(
    delivery: Delivery, claim: IdempotencyKey | None, request: Request, key: str | None
) -> None:
    """The key now names the delivery it made; the audit log says it came through the API,
    with which token (the delivery's own audit rows say who and what)."""
    token = request.auth
    assert isinstance(token, ApiToken)
    with transaction.atomic():
        if claim is not None:
            IdempotencyKey.objects.filter(pk=claim.pk).update(delivery=delivery)
        audit_record(
            action="delivery.upload_api",
            obj=delivery,
            actor=request.user,
            kommune_id=delivery.kommune_id,
            after={"token": token.key_id, "token_name": token.name, "idempotency_key": key or ""},
        )


class DeliveryDetail(ApiView):
    @extend_schema(responses=DeliverySerializer, summary="En leverance: status og tidslinje")
    def get(self, request: Request, delivery_uuid: uuid.UUID) -> Response:
        return Response(DeliverySerializer(_with_timeline(request, delivery_uuid)).data)


class DeliveryReport(ApiView):
    @extend_schema(
        responses=paged(IssueSerializer),
        operation_id="deliveries_report_list",
        parameters=[
            OpenApiParameter("rule", OpenApiTypes.STR, description="Kun én regel."),
            OpenApiParameter("page", OpenApiTypes.INT),
        ],
        summary="Valideringsrapport",
    )
    def get(self, request: Request, delivery_uuid: uuid.UUID) -> Response:
        """The listed errors of the validation report (all are counted in the delivery's
        error_count and errors_by_rule)."""
        delivery = access.delivery_or_404(request, delivery_uuid)
        issues = delivery.issues.all()
        if request.query_params.get("rule"):
            issues = issues.filter(rule=request.query_params["rule"])
        return self.page(issues, IssueSerializer)


class DeliveryReportCsv(ApiView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY}, summary="Rapport som CSV")
    def get(self, request: Request, delivery_uuid: uuid.UUID) -> StreamingHttpResponse:
        delivery = access.delivery_or_404(request, delivery_uuid)
        header = [_("række"), _("kolonne"), _("værdi"), _("regel"), _("besked")]
        rows = (
            [issue.row or "", issue.column, issue.value, issue.rule, issue.message_text]
            for issue in delivery.issues.all().iterator()
        )
        return csv_download(f"valideringsrapport-{delivery.uuid}.csv", header, rows)


class DeliveryFile(ApiView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY}, summary="Den leverede fil")
    def get(self, request: Request, delivery_uuid: uuid.UUID) -> FileResponse:
        delivery = access.delivery_or_404(request, delivery_uuid)
        if delivery.file_deleted_at is not None or not delivery.file:
            raise _file_deleted()
        try:
            # Streamed in blocks from the storage, an object store included (one copy of the
            # file in memory per download would not do for 2 GB extracts).
            return stored_file_response(
                str(delivery.file.name), filename=f"{delivery.uuid}.csv", content_type="text/csv"
            )
        except FileNotFoundError:
            raise _file_deleted() from None


def _file_deleted() -> Problem:
    return Problem(
        status_code=410,
        code="file_deleted",
        detail=_("Filen er slettet efter opbevaringsperioden."),
    )


# --- checking a file without sending it --------------------------------------------------------


class CheckCreate(ApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": CheckSerializer},
        responses={202: FileCheckSerializer},
        summary="Kontrollér en fil uden at sende den",
    )
    def post(self, request: Request) -> Response:
        """Checks an extract against its data area's contract without making a delivery: the
        same refusals as an upload up to validation. 202: the check runs in a worker; poll
        the check's url until `working` is false. The file is deleted once checked."""
        user = access.uploader_or_404(request)
        incoming, fields = _received(request, CheckSerializer)
        try:
            route = access.route_or_404(request, fields["route"])
        except BaseException:
            incoming.path.unlink(missing_ok=True)
            raise
        try:
            check = delivery_check(
                user=user, incoming=incoming, route=route, period=fields["period"]
            )
        except IntakeRefused as refusal:
            raise Problem(
                status_code=422, code="upload_refused", detail=refusal.message, rule=refusal.reason
            ) from None
        check = access.file_check_or_404(request, check.uuid)
        response = Response(FileCheckSerializer(check).data, status=202)
        response["Location"] = reverse("api:check", args=[check.uuid])
        return response


class CheckDetail(ApiView):
    @extend_schema(responses=FileCheckSerializer, summary="En kontrol og dens rapport")
    def get(self, request: Request, check_uuid: uuid.UUID) -> Response:
        return Response(FileCheckSerializer(access.file_check_or_404(request, check_uuid)).data)


# --- the inbox (Hent side) ---------------------------------------------------------------------


class ReceiptList(ApiView):
    @extend_schema(
        responses=paged(ReceiptSerializer),
        operation_id="receipts_list",
        parameters=filters_of(ReceiptFilterForm),
        summary="Indbakken",
    )
    def get(self, request: Request) -> Response:
        """The receipts of fetched files you may see, newest first; filters as on the inbox
        page (system, kommune, data_area, verdict, period, q)."""
        form = ReceiptFilterForm(request.query_params or None, user=request.user)
        rows = _filtered(form, Receipt.objects.for_user(request.user)).select_related(
            "recipient_system", "kommune", "data_area", "delivery"
        )
        visible = set(
            Delivery.objects.for_user(request.user)
            .filter(pk__in=rows.values("delivery"))
            .values_list("pk", flat=True)
        )
        return self.page(rows, ReceiptSerializer, visible_deliveries=visible)


class ReceiptDetail(ApiView):
    @extend_schema(responses=ReceiptSerializer, summary="En kvittering")
    def get(self, request: Request, receipt_uuid: uuid.UUID) -> Response:
        receipt = access.receipt_or_404(request, receipt_uuid)
        ReceiptRead.objects.get_or_create(receipt=receipt, user=self.user)
        visible = (
            {receipt.delivery_id}
            if access.delivery_visible(request.user, receipt.delivery_id)
            else set()
        )
        return Response(ReceiptSerializer(receipt, context={"visible_deliveries": visible}).data)


class ReceiptFile(ApiView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="En hentet fil",
    )
    def get(self, request: Request, receipt_uuid: uuid.UUID) -> FileResponse:
        """Only administrators and the consultants of the receipt's kommune (404 otherwise)."""
        receipt = access.downloadable_receipt_or_404(request, receipt_uuid)
        if receipt.file_deleted_at is not None:
            raise _file_deleted()
        try:
            response = stored_file_response(
                str(receipt.file.name),
                filename=f"{receipt.uuid}.csv",
                content_type="application/octet-stream",
            )
        except FileNotFoundError:
            raise _file_deleted() from None
        ReceiptRead.objects.get_or_create(receipt=receipt, user=self.user)
        return response


class NoSuchEndpoint(ApiView):
    """Any other path under /api/v1/: a 404 problem, not the portal's HTML page (a program
    that mistyped a path gets something it can read)."""

    schema = None  # not an endpoint: left out of the OpenAPI schema

    def _nothing(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise Problem(
            status_code=404,
            code="not_found",
            detail=_("API'et har intet endepunkt med denne adresse. Se dokumentationen: %(url)s")
            % {"url": reverse("api:docs")},
        )

    get = post = put = patch = delete = _nothing
