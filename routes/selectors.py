"""Reads of the registry that are more than one filter: a kommune's routes for the order page
and a vendor's overview.

Each runs a fixed number of queries however much data there is (tests pin the counts). The
pages that also read deliveries (coverage, onboarding) have their reads in `flisportal.front`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Subquery
from django.utils.translation import gettext as _

from routes.models import (
    AgreementStatus,
    DataArea,
    ITSystem,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpKey,
    SftpUser,
    User,
    Vendor,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


# --- databehandleraftaler --------------------------------------------------------------------


def signed_agreement() -> Exists:
    """Per route (an annotation): does the sending vendor have a signed databehandleraftale
    with the route's kommune? Asked at upload, at the moment of sending, and when a route is
    ordered or established."""
    # Per route: the sending system's vendor and the route's kommune. A system without a vendor
    # matches no agreement (vendor_id = NULL is never true), so it cannot deliver.
    return Exists(
        ProcessingAgreement.objects.filter(
            vendor_id=OuterRef("sender_system__vendor_id"),
            kommune_id=OuterRef("kommune_id"),
            status=AgreementStatus.SIGNED,
        )
    )


def agreement_pk() -> Subquery:
    """Per route (an annotation): the id of the agreement between the sending vendor and the
    kommune, whatever its status (a draft to finish), or None: what a warning links to."""
    return Subquery(
        ProcessingAgreement.objects.filter(
            vendor_id=OuterRef("sender_system__vendor_id"), kommune_id=OuterRef("kommune_id")
        ).values("pk")[:1]
    )


# --- route orders per myndighed ---------------------------------------------------------------


@dataclass
class RecipientGroup:
    label: str
    routes: list[Route]


@dataclass
class AreaRoutes:
    area: DataArea
    groups: list[RecipientGroup]


def kommune_routes(
    *, kommune: Kommune, user: User | AnonymousUser | None = None
) -> list[AreaRoutes]:
    """A kommune's routes for the order page and the kommune's own page, by data area and
    then by recipient systems; with `user`, only the routes that user may see.

    Every data area is listed, with or without routes, so gaps show. Three queries."""
    areas = list(DataArea.objects.all())
    scoped = Route.objects.all() if user is None else Route.objects.for_user(user)
    routes = list(
        scoped.filter(kommune=kommune)
        .select_related("sender_system__vendor", "endpoint")
        .with_ordered_since()
        .prefetch_related(Prefetch("recipient_systems", queryset=ITSystem.objects.order_by("name")))
        .order_by("endpoint__slug", "sender_system__name", "pk")
    )
    by_area: dict[int, dict[str, list[Route]]] = defaultdict(lambda: defaultdict(list))
    for route in routes:
        label = " + ".join(s.name for s in route.recipient_systems.all()) or _("ingen modtager")
        by_area[route.data_area_id][label].append(route)
    return [
        AreaRoutes(
            data_area,
            [
                RecipientGroup(label, group)
                for label, group in sorted(by_area[data_area.pk].items())
            ],
        )
        for data_area in areas
    ]


# --- vendor overview --------------------------------------------------------------------------


@dataclass
class DeliveryPermission:
    """Where a vendor may deliver: established routes for one kommune, per data area."""

    kommune: Kommune
    routes_by_area: list[list[Route]]


class KommuneAgreement(NamedTuple):
    """A kommune the vendor works with and its agreement with the vendor, None when there is
    none: the page says «mangler» then, as the kommune page does, instead of an empty cell."""

    kommune: Kommune
    agreement: ProcessingAgreement | None


@dataclass
class VendorOverview:
    vendor: Vendor
    systems: list[ITSystem]
    agreements: list[ProcessingAgreement]
    areas: list[DataArea]
    permissions: list[DeliveryPermission]
    pending_routes: list[Route]
    kommuner: list[KommuneAgreement]  # every kommune the vendor works with (agreement or route)


def vendor_overview(*, vendor: Vendor) -> VendorOverview:
    """A vendor's IT-systems, SFTP users and keys, agreements and the kommuner × areas it may
    deliver for. Seven queries, however many systems, keys and routes."""
    live_keys = SftpKey.objects.exclude(state=KeyState.RETIRED).defer("encrypted_private_key")
    systems = list(
        ITSystem.objects.filter(vendor=vendor)
        .order_by("name")
        .prefetch_related(
            Prefetch(
                "sftp_users",
                queryset=SftpUser.objects.select_related("endpoint")
                .order_by("endpoint__slug")
                .prefetch_related(Prefetch("keys", queryset=live_keys)),
            )
        )
    )
    agreements = list(ProcessingAgreement.objects.filter(vendor=vendor).select_related("kommune"))
    areas = list(DataArea.objects.all())
    routes = list(
        Route.objects.filter(sender_system__vendor=vendor)
        .select_related("kommune", "data_area", "endpoint", "sender_system")
        .with_ordered_since()
        .order_by("kommune__code", "data_area__sort_order", "endpoint__slug")
    )
    established: dict[int, dict[int, list[Route]]] = defaultdict(lambda: defaultdict(list))
    kommuner: dict[int, Kommune] = {a.kommune_id: a.kommune for a in agreements}
    agreement_of = {a.kommune_id: a for a in agreements}  # one per vendor and kommune
    established_kommuner: dict[int, Kommune] = {}
    for route in routes:
        kommuner.setdefault(route.kommune_id, route.kommune)
        if route.status == RouteStatus.ESTABLISHED:
            established[route.kommune_id][route.data_area_id].append(route)
            established_kommuner[route.kommune_id] = route.kommune
    permissions = [
        DeliveryPermission(kommune, [established[kommune.pk][data_area.pk] for data_area in areas])
        for kommune in sorted(established_kommuner.values(), key=lambda k: k.code)
    ]
    return VendorOverview(
        vendor=vendor,
        systems=systems,
        agreements=agreements,
        areas=areas,
        permissions=permissions,
        pending_routes=[
            r for r in routes if r.status in (RouteStatus.REQUESTED, RouteStatus.ORDERED)
        ],
        kommuner=[
            KommuneAgreement(kommune, agreement_of.get(kommune.pk))
            for kommune in sorted(kommuner.values(), key=lambda k: k.code)
        ],
    )
