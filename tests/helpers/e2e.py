"""The registry and users of the end-to-end browser test (tests/e2e)."""

from __future__ import annotations

from dataclasses import dataclass

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import Kommune, Route, User
from tests import factories
from tests.helpers.standin import add_party

PASSWORD = "pw-e2e-flis-1234"


@dataclass
class E2EWorld:
    vendor_user: User
    consultant: User
    route: Route
    other_delivery: Delivery  # vendor B's, for Aarhus: outside both users' scope
    kommune: Kommune


def make_e2e_world() -> E2EWorld:
    """Vendor A delivers Dagtilbud for København to FLIS on the local stand-in endpoint; vendor B
    has delivered for Aarhus. A consultant works for København. The portal holds the private
    keys of vendor A's and FLIS's SFTP users: it pushes as the one and fetches as the other.
    Both users log in through a browser to a portal in another process, so their passwords are
    hashed as the portal hashes them."""
    kbh = factories.kommune(factories.KBH)
    system_a = factories.sender_system("A")
    system_b = factories.sender_system("B")
    flis = factories.flis_system()
    vendor_a = system_a.vendor
    assert vendor_a is not None
    factories.agreement(vendor_a, kbh)
    route = factories.route(
        sender_system=system_a, kommune=kbh, data_area="dagtilbud", recipients=[flis]
    )
    route_b = factories.route(
        sender_system=system_b, kommune=factories.AARHUS, data_area="dagtilbud"
    )
    add_party(route.endpoint, system_a, "LEV-A_FLIS_SFTP", portal_holds_key=True)
    add_party(route.endpoint, flis, "FLIS_HENT", portal_holds_key=True)
    other = factories.delivery(
        route_b,
        status=DeliveryStatus.REJECTED,
        content=b"vendor B's extract for Aarhus\n",
        file="deliveries/aarhus.csv",
        original_filename="aarhus.csv",
    )
    vendor_user = factories.vendor_staff(
        vendor_a, "leverandoer-a", password=PASSWORD, first_name="Lene", last_name="Lev"
    )
    consultant = factories.consultant(
        kbh, username="konsulent-kbh", password=PASSWORD, first_name="Karin", last_name="Konsulent"
    )
    for user in (vendor_user, consultant):
        factories.portal_password(user, PASSWORD)
    return E2EWorld(vendor_user, consultant, route, other, kbh)


# Samlet upload's browser test: vendor A delivers Dagtilbud and Skole for ten kommuner, and
# Dagtilbud for an eleventh whose file is broken.
BATCH_KOMMUNER = ("101", "147", "151", "153", "155", "157", "159", "161", "163", "165")
BATCH_AREAS = ("dagtilbud", "skole")
BATCH_BROKEN_KOMMUNE = "167"


def add_batch_routes(world: E2EWorld) -> list[Route]:
    """Established routes to FLIS for vendor A for every kommune in BATCH_KOMMUNER and area in
    BATCH_AREAS (København's Dagtilbud route is the world's own), and Dagtilbud for
    BATCH_BROKEN_KOMMUNE, each kommune with a signed databehandleraftale."""
    system = world.route.sender_system
    vendor = system.vendor
    assert vendor is not None
    flis = world.route.recipient_systems.get()
    routes = [world.route]
    for code in (*BATCH_KOMMUNER, BATCH_BROKEN_KOMMUNE):
        kommune = factories.kommune(code)
        if code != world.kommune.code:
            factories.agreement(vendor, kommune)
        areas = ("dagtilbud",) if code == BATCH_BROKEN_KOMMUNE else BATCH_AREAS
        for area in areas:
            if (code, area) == (world.kommune.code, world.route.data_area.code):
                continue
            routes.append(
                factories.route(
                    sender_system=system, kommune=kommune, data_area=area, recipients=[flis]
                )
            )
    return routes
