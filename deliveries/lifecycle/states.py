"""The words of a delivery's lifecycle: its statuses, which status may follow which, and the
named groups of statuses the rest of the code asks about.

This module imports no model (`deliveries.models` takes its field choices from here), so any
module may use the vocabulary without pulling in the ORM's rows. Writing a status or an event
is `deliveries.lifecycle.transitions`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", _("modtaget")
    VALIDATING = "validating", _("valideres")
    VALID = "valid", _("godkendt")
    REJECTED = "rejected", _("afvist")
    PUSHING = "pushing", _("sendes")
    SENT = "sent", _("sendt")
    DISTRIBUTED = "distributed", _("distribueret")
    REFUSED = "refused", _("afvist af Serviceplatformen")
    FETCHED = "fetched", _("hentet")
    FAILED = "failed", _("fejlet")


S = DeliveryStatus

# DESIGN §4. `validating → received` and `pushing → valid` are the reconciler putting back a
# delivery whose worker died (and `pushing → valid` is also a push waiting for its next try);
# `failed → received/valid` is a person's retry from the delivery page; `failed → distributed/
# refused` is a receipt that arrives after the portal gave up (the platform got the trigger, but
# the answer to its upload was lost): the platform's word wins.
DELIVERY_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.RECEIVED: (S.VALIDATING,),
    S.VALIDATING: (S.VALID, S.REJECTED, S.FAILED, S.RECEIVED),
    S.VALID: (S.PUSHING,),
    S.REJECTED: (),
    S.PUSHING: (S.SENT, S.FAILED, S.VALID),
    # `sent → fetched`: the recipient may fetch before the receipts job has seen the
    # platform's receipt (the stand-in distributes at once).
    S.SENT: (S.DISTRIBUTED, S.REFUSED, S.FETCHED),
    S.DISTRIBUTED: (S.FETCHED,),
    S.REFUSED: (),
    S.FETCHED: (),
    S.FAILED: (S.RECEIVED, S.PUSHING, S.VALID, S.DISTRIBUTED, S.REFUSED),
}

# The status a delivery is created in; its first event comes from no status ("").
INITIAL = S.RECEIVED


def can_transition(old: str, new: str) -> bool:
    return new in DELIVERY_TRANSITIONS.get(old, ())


# --- Named groups of statuses -------------------------------------------------------------------

# Nothing follows these in the table: a corrected or repeated extract is a new delivery.
FINAL = (S.REJECTED, S.REFUSED, S.FETCHED)

# A worker of this portal has the delivery or is about to (validation queued, validating,
# pushing): the delivery page polls its progress while one of these lasts.
WORKING = (S.RECEIVED, S.VALIDATING, S.PUSHING)

# No worker here is busy with it, but something else will still move it (a planned push, the
# platform's receipt, the recipient's fetch): the delivery page follows it and reloads.
AWAITING_OTHERS = (S.VALID, S.SENT, S.DISTRIBUTED)

# Validated and waiting for a push or in one: a technical receipt seen now answers an earlier
# try of this push, and is left for a round after the push has ended.
PUSH_UNDER_WAY = (S.VALID, S.PUSHING)

# A technical receipt may still move these (to distributed or refused): sent ones, and failed
# ones, because a push the portal gave up on may still have reached the platform. Only a failed
# delivery that was pushed can have one; `awaiting_receipt()` below says which.
AWAITING_RECEIPT = (S.SENT, S.FAILED)

# The platform's answer is settled: its receipt is recorded (distributed, refused), or the
# recipient has fetched the file, which it can only after the platform distributed it.
RECEIPT_SETTLED = (S.DISTRIBUTED, S.REFUSED, S.FETCHED)

# The extract has reached its recipient's IN folder (distributed) or has even been fetched: the
# expected period is met, and onboarding's test delivery is done.
REACHED_RECIPIENT = (S.DISTRIBUTED, S.FETCHED)

# A delivery "got through" (`got_through()` below) when it reached its recipient.

# Between the push and the recipient's fetch: a recorded fetch moves these to `fetched` (`sent`
# too, since the recipient may fetch before the receipts job has read the platform's receipt).
AWAITING_FETCH = (S.SENT, S.DISTRIBUTED)

# Stopped without reaching the recipient: a person has to act (a corrected upload, a retry).
PROBLEM = (S.REJECTED, S.REFUSED, S.FAILED)

# Turned down for good, by the portal's validation or by the platform: final, and the file is
# kept only RETENTION_REJECTED_DAYS (a fetched file is kept per data area instead).
TURNED_DOWN = (S.REJECTED, S.REFUSED)

# Passed validation and not turned down: gone, or on its way, to the recipients. A second,
# different file for the same route and period is then a redelivery the uploader must confirm.
PASSED_ON = (S.VALID, S.PUSHING, S.SENT, S.DISTRIBUTED, S.FETCHED)

# The lists' «Fejl» column shows the validator's count only where it says something: a rejected
# delivery's errors, or the 0 of one that passed and is on its way or delivered. In these two
# groups the count is 0 and would mislead (`Delivery.error_count_note` says what shows instead):
# waiting for the validator or in it (also after a retry of a delivery whose validation failed)…
NOT_YET_VALIDATED = (S.RECEIVED, S.VALIDATING)
# …and stopped by something other than errors in its rows: the platform refused it, or the
# push, the validator itself or a missing contract failed it. The reason is on its page.
STOPPED_NOT_BY_ROWS = (S.REFUSED, S.FAILED)

# Where a delivery can stall past a limit, as Driftsstatus counts them: a worker's claim that
# shows no life (validating, pushing), a receipt that does not come, a fetch that does not
# happen.
MAY_STALL = (S.VALIDATING, S.PUSHING, S.SENT, S.DISTRIBUTED)


def quiet_since(since: datetime) -> Q:
    """Deliveries with no sign of life since `since`: neither their status nor their worker's
    heartbeat moved. The reconciler takes these back; the Driftsstatus page counts them."""
    return Q(status_changed_at__lt=since) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=since)
    )


def awaiting_receipt() -> Q:
    """Deliveries whose technical receipt may still come: sent ones, and failed ones that were
    pushed at least once and have none yet (the trigger may have reached the platform although
    the portal gave up, e.g. when the answer to its upload was lost). A delivery that failed in
    validation was never pushed and can have no receipt."""
    return Q(status=S.SENT) | Q(status=S.FAILED, push_attempts__gt=0, receipt_at__isnull=True)


def got_through(written: Callable[[tuple[str, ...]], Any] = tuple) -> Q:
    """Deliveries that got through: their extract reached the recipient (distributed, or even
    fetched). The one definition of it: a later delivery for the same route and period that
    got through settles that period's earlier failures, which then leave *Kræver handling*
    (`DeliveryQuerySet.unsettled_problems`); the expected period is met by the same statuses.

    It is also the condition of the partial index `delivery_got_through`. A query that should
    use that index passes `written=constants_in` (flisportal/lib/sql.py): the statuses written
    into the SQL as the index says them, for SQLite uses a partial index only for a WHERE it
    can match. (This module imports nothing of `flisportal`, so the caller brings it.)"""
    return Q(status__in=written(REACHED_RECIPIENT))
