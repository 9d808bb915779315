"""Who may do what to which delivery, said once.

The views, the upload form, the start page and the intake service all ask here: who may upload
and to which routes, who may send a failed delivery again, who may download a fetched file, and
the helpers each view starts with, which return the object or raise 404 (not 403: a user outside
a row's scope must not learn that it exists).

Scoping by user stays in the querysets' `for_user()`; these helpers build on it and add what a
role or a registry row decides on top (a route must be established and have a signed
databehandleraftale before anyone uploads to it).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from deliveries.models import (
    DataContract,
    Delivery,
    ExpectedDelivery,
    FileCheck,
    Receipt,
    UploadBatch,
    UploadBatchFile,
)
from flisportal.lib.roles import Role, user_role
from routes.models import (
    Kommune,
    Route,
    RouteQuerySet,
    User,
)

# The agreement rule has its home in the registry, which also asks it when a route is ordered
# or established; named here too because the upload, push and batch code ask it as access.
from routes.selectors import signed_agreement


class Asker(Protocol):
    """A request as these helpers read it: only who is asking. A page's HttpRequest and the
    API's DRF Request (its user authenticated by token) both are one, so the API is scoped by
    the very helpers the pages use."""

    @property
    def user(self) -> Any: ...


# --- the API ---------------------------------------------------------------------------------


def may_use_api(user: Any) -> bool:
    """Anyone with a role may make API tokens; what a token reaches is the person's own
    scope, asked through the same helpers as their pages."""
    return user_role(user) != Role.NONE


# --- uploading -------------------------------------------------------------------------------


def may_upload(user: Any) -> bool:
    """Vendor staff (for their routes) and administrators upload; nobody else."""
    return user_role(user) in (Role.VENDOR, Role.ADMINISTRATOR)


def upload_url_for(user: Any) -> str:
    """The upload page's address for a user who may upload, else "" (no upload links)."""
    return reverse("deliveries:upload") if may_upload(user) else ""


def batch_upload_url_for(user: Any) -> str:
    """The batch upload page's address («Upload alle i én omgang») for a user who may upload,
    else ""."""
    return reverse("deliveries:batch_upload") if may_upload(user) else ""


def sender_routes(user: Any) -> RouteQuerySet:
    """Established routes of sending systems in the user's scope: their own vendor's (all for
    an administrator). What the upload form offers its systems, areas and endpoints from; an
    upload also needs the signed agreement of `uploadable_routes`."""
    if not may_upload(user):
        return Route.objects.none()
    return Route.objects.for_user(user).established().filter(sender_system__is_sender=True)


def uploadable_routes(user: Any) -> RouteQuerySet:
    """The routes the user may upload to: `sender_routes` where the sending vendor has a signed
    databehandleraftale with the kommune (personal data may not leave before it is signed)."""
    return sender_routes(user).filter(signed_agreement())


def upload_refusal(user: Any, route: Route) -> str | None:
    """Why the user may not upload to `route`, in Danish; None when they may. One query."""
    signed = (
        sender_routes(user)
        .filter(pk=route.pk)
        .annotate(signed=signed_agreement())
        .values_list("signed", flat=True)
        .first()
    )
    if signed is None:
        return _(
            "Du kan ikke uploade til ruten %(route)s på %(endpoint)s: den er ikke en etableret "
            "rute for et afsendersystem, du leverer for."
        ) % {"route": route, "endpoint": route.endpoint}
    if not signed:
        return _(
            "Der er ingen underskrevet databehandleraftale mellem %(vendor)s og "
            "%(kommune)s; der kan ikke leveres, før den er registreret."
        ) % {"vendor": route.sender_system.vendor, "kommune": route.kommune}
    return None


def uploader_or_404(request: Asker) -> User:
    """The request's user when they may upload; 404 for anyone else."""
    if not may_upload(request.user):
        raise Http404(_("Kun leverandører og administratorer kan uploade."))
    assert isinstance(request.user, User)
    return request.user


def batch_or_404(request: HttpRequest, batch_uuid: uuid.UUID) -> UploadBatch:
    """A batch upload of the request's user that has not expired; 404 for anyone else's (an
    administrator's included: staged files are their uploader's until confirmed) and for one
    past its time, whose files the retention run is about to delete."""
    uploader_or_404(request)
    try:
        return UploadBatch.objects.for_user(request.user).get(
            uuid=batch_uuid, expires_at__gt=timezone.now()
        )
    except UploadBatch.DoesNotExist:
        raise Http404(_("Den samlede upload findes ikke, eller den er udløbet.")) from None


def batch_file_or_404(request: HttpRequest, batch_uuid: uuid.UUID, pk: int) -> UploadBatchFile:
    """One file of the user's batch (`batch_or_404`); 404 for a file of another batch."""
    batch = batch_or_404(request, batch_uuid)
    try:
        row = batch.files.select_related("route").get(pk=pk)
    except UploadBatchFile.DoesNotExist:
        raise Http404(_("Filen findes ikke i denne samlede upload.")) from None
    row.batch = batch
    return row


def route_or_404(request: Asker, route_pk: int) -> Route:
    """A route in the user's scope, by its id (the API names routes by id); 404 for one
    outside it. Whether the user may upload to it is `upload_refusal`'s to say."""
    route = (
        Route.objects.for_user(request.user)
        .select_related("sender_system__vendor", "data_area", "kommune", "endpoint")
        .filter(pk=route_pk)
        .first()
    )
    if route is None:
        raise Http404(_("Ruten findes ikke, eller du har ikke adgang til den."))
    return route


# --- one delivery ------------------------------------------------------------------------------


def delivery_or_404(request: Asker, delivery_uuid: uuid.UUID) -> Delivery:
    """The delivery with this uuid if the user may see it, with what its pages show; 404
    otherwise."""
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


# --- one check without sending -----------------------------------------------------------------


def file_check_or_404(request: Asker, check_uuid: uuid.UUID) -> FileCheck:
    """The check with this uuid if the user asked for it (`FileCheck.objects.for_user`: a check
    is its maker's own, administrators included), with what its page shows; 404 otherwise,
    so a check's existence does not leak."""
    try:
        return (
            FileCheck.objects.for_user(request.user)
            .select_related(
                "route__sender_system__vendor",
                "route__data_area",
                "route__kommune",
                "route__endpoint",
                "contract",
            )
            .get(uuid=check_uuid)
        )
    except FileCheck.DoesNotExist:
        raise Http404(
            _("Kontrollen findes ikke (længere), eller du har ikke adgang til den.")
        ) from None


def file_check_named_or_404(request: Asker, value: str) -> FileCheck:
    """The check named by the uuid text in the upload page's `kontrol` parameter («Send denne
    fil»); 404 for text that is no uuid or a check that is not the user's."""
    try:
        check_uuid = uuid.UUID(value)
    except ValueError:
        raise Http404 from None
    return file_check_or_404(request, check_uuid)


def correction_target_or_404(request: Asker, value: str) -> Delivery:
    """The delivery a correction replaces, named by the uuid text in the upload page's
    `rettelse` parameter; 404 for text that is no uuid or a delivery the user may not see."""
    try:
        delivery_uuid = uuid.UUID(value)
    except ValueError:
        raise Http404 from None
    return delivery_or_404(request, delivery_uuid)


def may_retry(user: Any, delivery: Delivery) -> bool:
    """Administrators and the person who uploaded the delivery may send a failed one again."""
    return user_role(user) == Role.ADMINISTRATOR or (
        delivery.uploaded_by_id is not None and delivery.uploaded_by_id == user.pk
    )


def retryable_delivery_or_404(request: Asker, delivery_uuid: uuid.UUID) -> Delivery:
    """The delivery if the user may see it and send it again; 404 otherwise, the same answer as
    for a delivery outside the user's scope (nothing to act on here)."""
    delivery = delivery_or_404(request, delivery_uuid)
    if not may_retry(request.user, delivery):
        raise Http404(_("Leverancen findes ikke, eller du har ikke adgang til den."))
    return delivery


def delivery_visible(user: Any, delivery_id: int | None) -> bool:
    """Whether the user may see the delivery with this id (a receipt links to it only then)."""
    return (
        delivery_id is not None and Delivery.objects.for_user(user).filter(pk=delivery_id).exists()
    )


def upload_route_or_404(request: Asker, route_pk: str) -> Route:
    """A route the user may upload on, by the id in a link (the onboarding checklist's test
    delivery); 404 for one outside `sender_routes`, or an id that is no number."""
    try:
        return sender_routes(request.user).get(pk=int(route_pk))
    except (ValueError, Route.DoesNotExist):
        raise Http404 from None


def expected_or_404(request: Asker, expected_pk: str) -> ExpectedDelivery:
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


def history_kommune_or_404(request: HttpRequest, code: str) -> Kommune:
    """The kommune whose delivery history the user may read: consultants their own kommuner,
    administrators all; 404 for anyone else, so the page does not say which kommuner have
    routes."""
    if user_role(request.user) not in (Role.ADMINISTRATOR, Role.CONSULTANT):
        raise Http404
    kommune = Kommune.objects.for_user(request.user).filter(code=code).first()
    if kommune is None:
        raise Http404(_("Kommunen findes ikke, eller du har ikke adgang til den."))
    return kommune


# --- receipts (the Hent side) ----------------------------------------------------------------


def receipt_or_404(request: Asker, receipt_uuid: uuid.UUID) -> Receipt:
    """The receipt with this uuid if the user may see it, with what its page shows; 404
    otherwise."""
    receipt = (
        Receipt.objects.for_user(request.user)
        .select_related(
            "recipient_system",
            "recipient_sftp_user",
            "kommune",
            "data_area",
            "sender_system",
            "delivery",
            "route",
        )
        .filter(uuid=receipt_uuid)
        .first()
    )
    if receipt is None:
        raise Http404(_("Kvitteringen findes ikke, eller du har ikke adgang til den."))
    return receipt


def may_download_receipt(user: Any, receipt: Receipt) -> bool:
    """Fetched files hold personal data: only administrators and the consultants of the
    receipt's kommune may download them (vendor staff see the receipt, not the file)."""
    if not receipt.file:
        return False
    role = user_role(user)
    if role == Role.ADMINISTRATOR:
        return True
    if role == Role.CONSULTANT and receipt.kommune_id is not None:
        assert isinstance(user, User)
        return user.kommuner.filter(pk=receipt.kommune_id).exists()
    return False


def downloadable_receipt_or_404(request: Asker, receipt_uuid: uuid.UUID) -> Receipt:
    """The receipt if the user may download its file; 404 otherwise, like a receipt outside
    the user's scope."""
    receipt = receipt_or_404(request, receipt_uuid)
    if not may_download_receipt(request.user, receipt):
        raise Http404(_("Filen findes ikke, eller du har ikke adgang til den."))
    return receipt


# --- data contracts --------------------------------------------------------------------------


def contract_or_404(request: HttpRequest, area_code: str, version: str) -> DataContract:
    """Any version of any area's contract: every logged-in user may read what a file must
    look like (the views are behind login); an unknown area or version is 404."""
    contract = (
        DataContract.objects.select_related("data_area")
        .filter(data_area__code=area_code, version=version)
        .first()
    )
    if contract is None:
        raise Http404(_("Den version af kontrakten findes ikke."))
    return contract
