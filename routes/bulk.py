"""The registry's bulk work in two steps: a plan of what would happen to each kommune or route
(and why some are skipped), shown as a preview; then its confirmation.

Nothing is kept between the steps. The preview's form carries the administrator's choices back
with a digest of the plan, keyed with the portal's secret key. Confirming makes the plan again
from those choices, inside the transaction that carries it out, and goes on only if its digest
is the one that was previewed: a route ordered or moved by someone else meanwhile, an agreement
signed or a choice edited in the page is met with the new plan to look at again, never with a
result other than the one previewed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from routes import services
from routes.models import (
    AgreementStatus,
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    User,
)
from routes.selectors import agreement_pk, signed_agreement
from routes.services import AgreementVerdict, agreement_text, agreement_verdict


class PlanChanged(Exception):
    """The plan made again at confirmation differs from the one previewed: show `plan`."""

    def __init__(self, plan: BulkOrderPlan | BulkTransitionPlan) -> None:
        super().__init__("plan changed")
        self.plan = plan


def _digest(kind: str, payload: Any, actor: User | None) -> str:
    # Keyed by SECRET_KEY and bound to the administrator: a digest cannot be made outside the
    # portal, and one administrator's preview is not another's confirmation.
    text = json.dumps(
        {"actor": actor.pk if actor else None, "plan": payload}, default=str, sort_keys=True
    )
    return salted_hmac(f"routes.bulk.{kind}", text).hexdigest()


def _same(previewed: str, plan_digest: str) -> bool:
    return constant_time_compare(previewed or "", plan_digest)


# --- bulk order --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkOrderChoices:
    """What an administrator chose on the bulk order form."""

    kommuner: tuple[Kommune, ...]
    data_area: DataArea
    sender_system: ITSystem
    recipient_systems: tuple[ITSystem, ...]
    endpoint: Endpoint
    order_reference: str = ""
    ordered_on: date | None = None
    note: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "kommuner": [k.pk for k in self.kommuner],
            "data_area": self.data_area.pk,
            "sender_system": self.sender_system.pk,
            "recipient_systems": sorted(s.pk for s in self.recipient_systems),
            "endpoint": self.endpoint.pk,
            "order_reference": self.order_reference.strip(),
            "ordered_on": self.ordered_on,
            "note": self.note,
        }


@dataclass(frozen=True)
class BulkOrderRow:
    kommune: Kommune
    # The open route (requested, ordered or established) that makes this kommune skipped.
    existing: Route | None
    agreement_signed: bool
    agreement_pk: int | None
    warning: str

    @property
    def creates(self) -> bool:
        return self.existing is None

    @property
    def skip_reason(self) -> str:
        if self.existing is None:
            return ""
        return _("Har allerede en rute med status «%(status)s».") % {
            "status": self.existing.get_status_display()
        }


@dataclass(frozen=True)
class BulkOrderPlan:
    choices: BulkOrderChoices
    rows: list[BulkOrderRow]
    digest: str

    @property
    def to_create(self) -> list[BulkOrderRow]:
        return [row for row in self.rows if row.creates]

    @property
    def skipped(self) -> list[BulkOrderRow]:
        return [row for row in self.rows if not row.creates]

    @property
    def warnings(self) -> list[BulkOrderRow]:
        return [row for row in self.to_create if row.warning]


def route_bulk_order_plan(*, choices: BulkOrderChoices, actor: User | None) -> BulkOrderPlan:
    """What ordering `choices` would do for each kommune: a new route, or skipped because an
    open route for the same key exists; with a warning where the vendor has no signed
    databehandleraftale with the kommune. Two queries, however many kommuner.

    Refuses (ValidationError) a sender or recipients that cannot make a route at all."""
    for kommune in choices.kommuner:
        services.check_route_parties(
            kommune=kommune,
            sender_system=choices.sender_system,
            recipient_systems=choices.recipient_systems,
        )
    cvrs = [k.cvr for k in choices.kommuner]
    # A bulk order makes each kommune both sender and recipient authority (as route_order).
    open_routes = {
        route.sender_authority: route
        for route in Route.objects.filter(
            endpoint=choices.endpoint,
            data_area=choices.data_area,
            sender_system=choices.sender_system,
            sender_authority__in=cvrs,
            status__in=services.OPEN_STATUSES,
        ).order_by("-pk")
        if route.sender_authority == route.recipient_authority
    }
    # A system without a vendor has no agreement with anyone.
    agreements = {
        kommune_id: (pk, status)
        for pk, kommune_id, status in ProcessingAgreement.objects.filter(
            vendor=choices.sender_system.vendor, kommune__in=choices.kommuner
        ).values_list("pk", "kommune_id", "status")
    }
    rows = []
    for kommune in choices.kommuner:
        pk, status = agreements.get(kommune.pk, (None, ""))
        signed = status == AgreementStatus.SIGNED
        # A request is an order to be: its missing agreement is worth the ordering's warning.
        verdict = agreement_verdict(
            new_status=RouteStatus.ORDERED,
            production=choices.endpoint.is_production,
            signed=signed,
            override="",
        )
        rows.append(
            BulkOrderRow(
                kommune=kommune,
                existing=open_routes.get(kommune.cvr),
                agreement_signed=signed,
                agreement_pk=pk,
                warning=agreement_text(
                    verdict=verdict,
                    kommune=kommune,
                    vendor_name=services.vendor_name(choices.sender_system),
                ),
            )
        )
    payload = {
        "choices": choices.payload(),
        "rows": [
            [row.kommune.pk, row.existing.pk if row.existing else None, row.agreement_signed]
            for row in rows
        ],
    }
    return BulkOrderPlan(choices=choices, rows=rows, digest=_digest("order", payload, actor))


def route_bulk_order_confirm(
    *, choices: BulkOrderChoices, digest: str, actor: User | None
) -> list[Route]:
    """Carry out the previewed plan: one route per kommune of `to_create`, each through
    `route_order` (its history rows and audit entries as one by one), all in one transaction.

    Raises PlanChanged, creating nothing, when the plan is no longer the one previewed."""
    with transaction.atomic():
        plan = route_bulk_order_plan(choices=choices, actor=actor)
        if not _same(digest, plan.digest):
            raise PlanChanged(plan)
        return [
            services.route_order(
                kommune=row.kommune,
                data_area=choices.data_area,
                sender_system=choices.sender_system,
                recipient_systems=choices.recipient_systems,
                endpoint=choices.endpoint,
                actor=actor,
                note=choices.note,
                order_reference=choices.order_reference.strip(),
                ordered_on=choices.ordered_on,
            )
            for row in plan.to_create
        ]


# --- bulk status change ------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkTransitionChoices:
    """The routes an administrator selected and the step they are to take together."""

    route_ids: tuple[int, ...]
    new_status: str
    order_reference: str = ""
    on_date: date | None = None
    note: str = ""
    agreement_override: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "routes": sorted(self.route_ids),
            "new_status": self.new_status,
            "order_reference": self.order_reference.strip(),
            "on_date": self.on_date,
            "note": self.note,
            "agreement_override": self.agreement_override.strip(),
        }


@dataclass(frozen=True)
class BulkTransitionRow:
    # Annotated with agreement_signed, agreement_pk and established_twin.
    route: Route
    # Why the route is left as it is; empty when it moves.
    refusal: str
    # Said of a route that moves: a missing agreement, or the override it moves on.
    warning: str

    @property
    def moves(self) -> bool:
        return not self.refusal


@dataclass(frozen=True)
class BulkTransitionPlan:
    choices: BulkTransitionChoices
    rows: list[BulkTransitionRow]
    digest: str

    @property
    def new_status_label(self) -> str:
        return str(RouteStatus(self.choices.new_status).label)

    @property
    def moving(self) -> list[BulkTransitionRow]:
        return [row for row in self.rows if row.moves]

    @property
    def refused(self) -> list[BulkTransitionRow]:
        return [row for row in self.rows if not row.moves]

    @property
    def warnings(self) -> list[BulkTransitionRow]:
        return [row for row in self.moving if row.warning]


def _route_key(route: Route) -> tuple[int, int, int, str, str]:
    return (
        route.endpoint_id,
        route.data_area_id,
        route.sender_system_id,
        route.sender_authority,
        route.recipient_authority,
    )


def _transition_refusal(
    route: Route, choices: BulkTransitionChoices, established_keys: set[tuple[Any, ...]]
) -> str:
    """Why `route` cannot take the step, in the words route_transition would refuse it with."""
    new_status = RouteStatus(choices.new_status)
    if not route.can_move_to(new_status):
        return _("En rute med status «%(old)s» kan ikke flyttes til «%(new)s».") % {
            "old": route.get_status_display(),
            "new": new_status.label,
        }
    if new_status == RouteStatus.ORDERED and not (
        choices.order_reference.strip() or route.order_reference
    ):
        return _(
            "Ruten har ingen bestillingsreference. Angiv referencen fra Digitaliseringskataloget."
        )
    if new_status == RouteStatus.ESTABLISHED:
        key = _route_key(route)
        if route.established_twin or key in established_keys:  # type: ignore[attr-defined]
            return _(
                "Der er allerede en etableret rute for samme endpoint, dataområde, "
                "afsendersystem og myndigheder. Nedlæg den først."
            )
        established_keys.add(key)
    return ""


def _transition_rows(
    routes: list[Route], choices: BulkTransitionChoices
) -> list[BulkTransitionRow]:
    established_keys: set[tuple[Any, ...]] = set()
    rows = []
    for route in routes:
        refusal = _transition_refusal(route, choices, established_keys)
        verdict = agreement_verdict(
            new_status=choices.new_status,
            production=route.endpoint.is_production,
            signed=route.agreement_signed,  # type: ignore[attr-defined]
            override=choices.agreement_override,
        )
        text = agreement_text(
            verdict=verdict,
            kommune=route.kommune,
            vendor_name=services.vendor_name(route.sender_system),
        )
        if not refusal and verdict == AgreementVerdict.REFUSE:
            refusal = text
        rows.append(
            BulkTransitionRow(route=route, refusal=refusal, warning="" if refusal else text)
        )
    return rows


def transition_candidates() -> Any:
    """Routes with what the bulk status change shows and decides by: their parties, whether the
    agreement is signed (and which agreement to link to), and whether another route for the same
    key is established already. One query for any number of routes."""
    twin = Route.objects.established().filter(
        endpoint_id=OuterRef("endpoint_id"),
        data_area_id=OuterRef("data_area_id"),
        sender_system_id=OuterRef("sender_system_id"),
        sender_authority=OuterRef("sender_authority"),
        recipient_authority=OuterRef("recipient_authority"),
    )
    return (
        Route.objects.select_related("kommune", "data_area", "sender_system__vendor", "endpoint")
        .annotate(
            agreement_signed=signed_agreement(),
            agreement_pk=agreement_pk(),
            established_twin=Exists(twin.exclude(pk=OuterRef("pk"))),
        )
        .order_by("kommune__code", "data_area__sort_order", "endpoint__slug", "pk")
    )


def route_bulk_transition_plan(
    *, choices: BulkTransitionChoices, actor: User | None
) -> BulkTransitionPlan:
    """What moving the selected routes to `choices.new_status` would do to each: move it, or
    leave it with the reason (a step ROUTE_TRANSITIONS does not allow, a missing order
    reference, an established twin, production without a signed agreement and no override).
    One query, however many routes."""
    routes = list(transition_candidates().filter(pk__in=choices.route_ids))
    rows = _transition_rows(routes, choices)
    payload = {
        "choices": choices.payload(),
        "rows": [
            [
                row.route.pk,
                row.route.status,
                row.route.order_reference,
                row.route.agreement_signed,  # type: ignore[attr-defined]
                row.moves,
            ]
            for row in rows
        ],
    }
    return BulkTransitionPlan(
        choices=choices, rows=rows, digest=_digest("transition", payload, actor)
    )


def route_bulk_transition_confirm(
    *, choices: BulkTransitionChoices, digest: str, actor: User | None
) -> list[Route]:
    """Move every route of the previewed plan that can move, each through `route_transition`
    (the same history row and audit entries as one by one, the same note), all in one
    transaction; the refused ones are left as they are.

    Raises PlanChanged, moving nothing, when the plan is no longer the one previewed."""
    new_status = RouteStatus(choices.new_status)
    with transaction.atomic():
        plan = route_bulk_transition_plan(choices=choices, actor=actor)
        if not _same(digest, plan.digest):
            raise PlanChanged(plan)
        return [
            services.route_transition(
                route=row.route,
                new_status=new_status,
                actor=actor,
                note=choices.note,
                # Only an order takes the reference, and only where the route has none: a
                # reference already recorded from Digitaliseringskataloget is kept.
                order_reference=(
                    choices.order_reference
                    if new_status == RouteStatus.ORDERED and not row.route.order_reference
                    else None
                ),
                on_date=choices.on_date,
                agreement_override=choices.agreement_override,
            )
            for row in plan.moving
        ]
