"""`Route.objects.for_routing`: the one lookup of a route by a file's routing information, used
by the Serviceplatform stand-in when it distributes and by the Hent side when it checks what it
fetched."""

from __future__ import annotations

from routes.models import Route, RouteStatus
from routes.validators import authority_urn


def _lookup(route: Route, **overrides: object) -> list[Route]:
    key: dict[str, object] = {
        "endpoint_id": route.endpoint_id,
        "data_area": route.data_area,
        "sender_system_uuid": route.sender_system.uuid,
        "sender_authority": authority_urn(route.sender_authority),
        "recipient_authority": authority_urn(route.recipient_authority),
    }
    key.update(overrides)
    return list(Route.objects.for_routing(**key))  # type: ignore[arg-type]


def test_finds_the_established_route_by_the_wire_form_of_the_authorities(
    make_route, kommune_kbh, system_a
):
    route = make_route(kommune=kommune_kbh, sender_system=system_a, status=RouteStatus.ESTABLISHED)
    assert _lookup(route) == [route]
    # A bare CVR names the same authority.
    assert _lookup(route, sender_authority=route.sender_authority) == [route]


def test_only_established_routes_carry_files(make_route, kommune_kbh, system_a):
    route = make_route(kommune=kommune_kbh, sender_system=system_a)
    for status in (RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.RETIRED):
        Route.objects.filter(pk=route.pk).update(status=status)
        assert _lookup(route) == [], status


def test_every_part_of_the_key_counts(
    make_route, kommune_kbh, kommune_aarhus, system_a, system_b, produktion, skole
):
    route = make_route(kommune=kommune_kbh, sender_system=system_a, status=RouteStatus.ESTABLISHED)
    assert _lookup(route, endpoint_id=produktion.pk) == []
    assert _lookup(route, data_area=skole) == []
    assert _lookup(route, sender_system_uuid=system_b.uuid) == []
    assert _lookup(route, sender_authority=authority_urn(kommune_aarhus.cvr)) == []
    assert _lookup(route, recipient_authority=authority_urn(kommune_aarhus.cvr)) == []
