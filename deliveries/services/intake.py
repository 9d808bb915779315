"""Intake: an uploaded extract becomes a stored file and a delivery with its first event.

`delivery_upload` is the one entry point: the upload page calls it, and a batch upload or an
API would call it the same way, with domain values (an `IncomingFile` on local disk, a route, a
period, a user). It checks the rules in a fixed order and refuses with `IntakeRefused`, whose
Danish message a form shows as it is; only then does `delivery_create` store and record.

The file is stored through the storage API first and the rows are written in one short
transaction afterwards, so nothing is stored unregistered and no I/O happens inside it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from deliveries import access
from deliveries.lifecycle.states import INITIAL, PASSED_ON
from deliveries.lifecycle.transitions import delivery_event_record
from deliveries.messages import text
from deliveries.models import Delivery, delivery_upload_to
from deliveries.services import VALIDATE_JOB
from flisportal.lib.periods import is_period, local_time_text
from flisportal.lib.queues import VALIDATION, enqueue_on_commit
from routes.models import Route, User


@dataclass(frozen=True)
class IncomingFile:
    """The CSV that is to become a delivery's file, on local disk and already checked as a file
    (type, size, a zip unpacked) by whoever received it.

    Intake takes the file over: it ends up in storage (local storage moves it into place rather
    than copying it) or is deleted, whatever the outcome. A caller that wants to keep the
    original hands over a copy.
    """

    path: Path
    original_name: str
    size: int
    sha256: str


class Refusal(enum.StrEnum):
    """Which rule refused an upload, so a form can show the message by the field it concerns."""

    ROUTE = "route"  # the user may not upload to the route (scope, status, agreement)
    PERIOD = "period"
    CORRECTION = "correction"  # `replaces` names a delivery of another route or period
    SAME_FILE = "same_file"  # the same bytes were delivered before and that was not confirmed
    # another file for the route and period has passed validation, and that was not confirmed
    DELIVERED = "delivered"


class IntakeRefused(Exception):
    """The upload may not become a delivery; `message` says why in Danish. `earlier` is the
    delivery the refusal is about, when there is one (a page links to it)."""

    def __init__(self, message: str, *, reason: Refusal, earlier: Delivery | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.earlier = earlier


class LocalFile(File):
    """A file on local disk that storage may move into place instead of copying
    (FileSystemStorage moves anything with `temporary_file_path()`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.open("rb"), name=path.name)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def delivery_find_passed_on(*, route: Route, period: str) -> Delivery | None:
    """The newest delivery for this route and period that has passed validation and is going,
    or has gone, to the recipients."""
    return (
        Delivery.objects.filter(route=route, period=period, status__in=PASSED_ON)
        .order_by("-uploaded_at")
        .first()
    )


def delivery_find_same_file(*, route: Route, period: str, sha256: str) -> Delivery | None:
    """An earlier delivery of exactly these bytes for this route and period, if any."""
    return (
        Delivery.objects.filter(route=route, period=period, sha256=sha256)
        .order_by("-uploaded_at")
        .first()
    )


def delivery_upload(
    *,
    file: IncomingFile,
    route: Route,
    period: str,
    user: User,
    redelivery_confirmed: bool = False,
    replaces: Delivery | None = None,
) -> Delivery:
    """Checks that `user` may deliver `file` for `route` and `period`, then stores and records
    it (`delivery_create`). Raises IntakeRefused, with nothing stored, when a rule says no.

    The checks, in this order: the user may upload to the route (`deliveries.access`: scope,
    established, signed databehandleraftale); the period is a month 'YYYY-MM' that the route can
    carry (`Route.period_refusal`); a correction replaces a delivery of the same route and
    period; exactly these bytes were not delivered for the route and period before, and no other
    file for them has passed validation, unless the redelivery is confirmed. The delivery is
    marked as a confirmed redelivery only where there was something to confirm.
    """
    try:
        earlier = _check_upload(
            file=file,
            route=route,
            period=period,
            user=user,
            redelivery_confirmed=redelivery_confirmed,
            replaces=replaces,
        )
        return delivery_create(
            file=file,
            route=route,
            period=period,
            user=user,
            redelivery_confirmed=redelivery_confirmed and earlier is not None,
            replaces=replaces,
            same_file_rule=True,
        )
    finally:
        # Refused, or failed before storing: the file was handed over, so it goes.
        file.path.unlink(missing_ok=True)


def route_and_period_check(*, user: User, route: Route, period: str) -> None:
    """The rules any file handed in for a route and period must pass, whether it is to become
    a delivery (`delivery_upload`) or only be checked against the contract
    (`deliveries.services.check`): the user may upload to the route (`deliveries.access`:
    scope, established, signed databehandleraftale) and the period is a month 'YYYY-MM' the
    route can carry (`Route.period_refusal`).
    Raises IntakeRefused for the first one broken. One function, so a check can never accept
    what an upload would refuse, nor the other way round."""
    refusal = access.upload_refusal(user, route)
    if refusal is not None:
        raise IntakeRefused(refusal, reason=Refusal.ROUTE)
    if not is_period(period):
        raise IntakeRefused(
            _("Skriv perioden som ÅÅÅÅ-MM, fx 2026-10 (fik «%(value)s»).") % {"value": period},
            reason=Refusal.PERIOD,
        )
    outside = route.period_refusal(period, now=timezone.now())
    if outside is not None:
        raise IntakeRefused(outside, reason=Refusal.PERIOD)


def _check_upload(
    *,
    file: IncomingFile,
    route: Route,
    period: str,
    user: User,
    redelivery_confirmed: bool,
    replaces: Delivery | None,
) -> Delivery | None:
    """Raises IntakeRefused for the first rule the upload breaks; else returns the earlier
    delivery that made this a redelivery (the same bytes, or another file for the period that
    passed validation), if any: the redelivery was then confirmed."""
    route_and_period_check(user=user, route=route, period=period)
    if replaces is not None:
        # A correction takes the place of one delivery in the route's month: pointing it at
        # another kommune's, area's or month's delivery would mark the wrong one as corrected.
        if replaces.route_id != route.pk:
            raise IntakeRefused(
                _(
                    "En rettelse skal uploades til samme rute som leverancen, den retter "
                    "(%(route)s på %(endpoint)s)."
                )
                % {"route": replaces.route, "endpoint": replaces.route.endpoint},
                reason=Refusal.CORRECTION,
            )
        if replaces.period != period:
            raise IntakeRefused(
                _(
                    "En rettelse skal gælde samme periode som leverancen, den retter "
                    "(%(period)s, ikke %(chosen)s)."
                )
                % {"period": replaces.period, "chosen": period},
                reason=Refusal.CORRECTION,
            )
    earlier = delivery_find_same_file(route=route, period=period, sha256=file.sha256)
    if earlier is not None and not redelivery_confirmed:
        raise _same_file_refused(earlier)
    if earlier is None and replaces is None:
        # A correction names the delivery it replaces; any other new file for a period that
        # is already delivered is most often the wrong period chosen, or a file sent twice.
        earlier = delivery_find_passed_on(route=route, period=period)
        if earlier is not None and not redelivery_confirmed:
            raise _passed_on_refused(earlier)
    return earlier


def _earlier_params(earlier: Delivery) -> dict[str, str]:
    return {
        "period": earlier.period,
        "area": str(earlier.data_area),
        "kommune": earlier.kommune.name,
        "name": earlier.original_filename,
        "when": local_time_text(earlier.uploaded_at, seconds=False),
        "status": earlier.get_status_display(),
    }


def _same_file_refused(earlier: Delivery) -> IntakeRefused:
    return IntakeRefused(
        _(
            "Filen er ikke sendt: præcis den samme fil blev uploadet for %(area)s, %(kommune)s, "
            "periode %(period)s den %(when)s (status: %(status)s). Skal den sendes en gang til, "
            "så sæt flueben i «Genlevering» og upload den igen."
        )
        % _earlier_params(earlier),
        reason=Refusal.SAME_FILE,
        earlier=earlier,
    )


def _passed_on_refused(earlier: Delivery) -> IntakeRefused:
    return IntakeRefused(
        _(
            "Filen er ikke sendt: for %(area)s, %(kommune)s, periode %(period)s er der allerede "
            "leveret en anden fil, «%(name)s», uploadet den %(when)s (status: %(status)s). "
            "Tjek, at du har valgt den rigtige periode. Skal den nye fil sendes alligevel (fx "
            "en ny udgave af udtrækket), så sæt flueben i «Genlevering» og upload den igen."
        )
        % _earlier_params(earlier),
        reason=Refusal.DELIVERED,
        earlier=earlier,
    )


def _same_file_rule_held(delivery: Delivery, *, confirmed: bool) -> bool:
    """Asks the same-file rule again inside the inserting transaction, with the route's row
    locked: two uploads of the same bytes at the same moment both pass the early check, and
    without the lock both would become deliveries and both be pushed. The second waits for the
    first to commit, then sees its row. (SQLite has no row locks; its IMMEDIATE transactions
    take the one write lock at BEGIN, which serialises the same way.) Returns whether the
    delivery is a confirmed redelivery; raises IntakeRefused for an unconfirmed repeat."""
    list(Route.objects.select_for_update().filter(pk=delivery.route_id).values_list("pk"))
    earlier = delivery_find_same_file(
        route=delivery.route, period=delivery.period, sha256=delivery.sha256
    )
    if earlier is not None and not confirmed:
        raise _same_file_refused(earlier)
    # Marked only where it mattered: an upload that was no repeat confirmed nothing.
    return confirmed and earlier is not None


def delivery_create(
    *,
    file: IncomingFile,
    route: Route,
    period: str,
    user: User,
    redelivery_confirmed: bool = False,
    replaces: Delivery | None = None,
    same_file_rule: bool = False,
) -> Delivery:
    """Stores the file through the storage API and records the delivery with its first event.

    Checks nothing but, with `same_file_rule`, the same-file rule once more under a lock (see
    `_same_file_rule_held`): `delivery_upload` is the entry point that asks the rules first
    (tests make deliveries through here for routes the rules would refuse).

    The file is stored first and the rows are written in one short transaction afterwards
    (storage may be an object store: no network I/O inside the transaction). If the rows
    cannot be written, the stored file is removed again, so nothing is stored unregistered.
    Validation is enqueued when the transaction commits.
    """
    delivery = Delivery(
        route=route,
        it_system=route.sender_system,
        data_area=route.data_area,
        kommune=route.kommune,
        endpoint=route.endpoint,
        period=period,
        uploaded_by=user,
        original_filename=file.original_name[:255],
        size=file.size,
        sha256=file.sha256,
        replaces=replaces,
        redelivery_confirmed=redelivery_confirmed,
    )
    content = LocalFile(file.path)
    try:
        stored_name = default_storage.save(delivery_upload_to(delivery, ""), content)
    finally:
        content.close()
        # Moved into place by local storage; copied by any other, and then no longer needed.
        file.path.unlink(missing_ok=True)
    delivery.file.name = stored_name
    try:
        with transaction.atomic():
            if same_file_rule:
                # The flag as given stands when it confirmed another file for the period.
                delivery.redelivery_confirmed = (
                    _same_file_rule_held(delivery, confirmed=redelivery_confirmed)
                    or redelivery_confirmed
                )
            delivery.save()
            code = "event.uploaded"
            if replaces is not None:
                code += "_correction"
            if delivery.redelivery_confirmed:
                code += "_confirmed"
            said = text(
                code,
                name=delivery.original_filename,
                **({"replaces": str(replaces.uuid)} if replaces is not None else {}),
            )
            delivery_event_record(
                delivery=delivery,
                old="",
                new=INITIAL,
                actor=user,
                message=said,
                at=delivery.uploaded_at,
            )
            enqueue_on_commit(VALIDATION, VALIDATE_JOB, delivery.pk)
    except Exception:
        default_storage.delete(stored_name)
        raise
    return delivery
