"""The databehandleraftale rule at ordering and establishing (routes.services): ordering without
a signed agreement warns; establishing on a production endpoint without one is refused unless an
administrator gives a reason, which is kept on the history row and in the audit log; exttest
and the stand-in carry test data, so there establishing is allowed with a warning."""

import pytest
from django.core.exceptions import ValidationError

from flisportal.audit.models import AuditEntry
from routes import services
from routes.models import AgreementStatus, RouteEvent, RouteStatus
from routes.services import AgreementVerdict, agreement_verdict
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("new_status", "production", "signed", "override", "verdict"),
    [
        # Signed: nothing to say, anywhere.
        (RouteStatus.ESTABLISHED, True, True, "", AgreementVerdict.OK),
        # Ordering warns, in production too: data flows only once the route is established.
        (RouteStatus.ORDERED, True, False, "", AgreementVerdict.WARN),
        (RouteStatus.ORDERED, False, False, "", AgreementVerdict.WARN),
        # Establishing on exttest or the stand-in: test data, allowed with a warning.
        (RouteStatus.ESTABLISHED, False, False, "", AgreementVerdict.WARN),
        # Establishing in production: refused, unless a reason is given.
        (RouteStatus.ESTABLISHED, True, False, "", AgreementVerdict.REFUSE),
        (RouteStatus.ESTABLISHED, True, False, "   ", AgreementVerdict.REFUSE),
        (RouteStatus.ESTABLISHED, True, False, "Aftalen er på vej", AgreementVerdict.OVERRIDE),
        # Retiring or rejecting sends no data: the rule does not speak.
        (RouteStatus.RETIRED, True, False, "", AgreementVerdict.OK),
        (RouteStatus.REJECTED, True, False, "", AgreementVerdict.OK),
    ],
)
def test_the_rule_in_one_function(new_status, production, signed, override, verdict):
    assert (
        agreement_verdict(
            new_status=new_status, production=production, signed=signed, override=override
        )
        == verdict
    )


def test_production_is_the_endpoints_named_in_the_setting(settings, produktion, exttest, lokal):
    # PRODUCTION_ENDPOINTS decides, not DEBUG: one installation serves exttest and production.
    assert produktion.is_production
    assert not exttest.is_production and not lokal.is_production
    settings.PRODUCTION_ENDPOINTS = ["exttest"]
    assert exttest.is_production and not produktion.is_production


@pytest.fixture
def production_order(make_route, kommune_kbh, system_a, produktion):
    return make_route(
        kommune=kommune_kbh,
        sender_system=system_a,
        status=RouteStatus.ORDERED,
        endpoint=produktion,
        order_reference="DK-P1",
    )


def test_establishing_in_production_without_an_agreement_is_refused(production_order, admin_user):
    with pytest.raises(ValidationError) as refused:
        services.route_transition(
            route=production_order, new_status=RouteStatus.ESTABLISHED, actor=admin_user
        )
    message = refused.value.message_dict["agreement_override"][0]
    assert (
        "ingen underskrevet databehandleraftale mellem Københavns Kommune og Leverandør A"
        in message
    )
    assert "Registrér den underskrevne aftale" in message
    production_order.refresh_from_db()
    assert production_order.status == RouteStatus.ORDERED
    assert not RouteEvent.objects.filter(route=production_order).exists()


def test_a_draft_agreement_is_no_agreement(production_order, vendor_a, kommune_kbh, admin_user):
    factories.agreement(vendor_a, kommune_kbh, status=AgreementStatus.DRAFT)
    with pytest.raises(ValidationError):
        services.route_transition(
            route=production_order, new_status=RouteStatus.ESTABLISHED, actor=admin_user
        )


def test_a_signed_agreement_lets_production_be_established(
    production_order, signed_agreement, admin_user
):
    services.route_transition(
        route=production_order, new_status=RouteStatus.ESTABLISHED, actor=admin_user
    )
    production_order.refresh_from_db()
    assert production_order.status == RouteStatus.ESTABLISHED
    # Nothing was overridden, so nothing is recorded as such.
    assert production_order.events.get().agreement_override == ""
    assert not AuditEntry.objects.filter(action="route.agreement_override").exists()


def test_an_administrators_override_is_kept_on_the_history_and_audited(
    production_order, admin_user
):
    services.route_transition(
        route=production_order,
        new_status=RouteStatus.ESTABLISHED,
        actor=admin_user,
        note="KOMBIT har oprettet ruten.",
        agreement_override="Aftalen er underskrevet på papir; registreres i morgen.",
    )
    production_order.refresh_from_db()
    assert production_order.status == RouteStatus.ESTABLISHED
    event = production_order.events.get()
    assert event.note == "KOMBIT har oprettet ruten."
    assert event.agreement_override == "Aftalen er underskrevet på papir; registreres i morgen."
    entry = AuditEntry.objects.get(action="route.agreement_override")
    assert entry.actor_id == admin_user.pk
    assert entry.object_id == str(production_order.pk)
    assert entry.after["agreement_override"] == event.agreement_override
    assert AuditEntry.objects.filter(action="route.status", object_id=entry.object_id).exists()


def test_outside_production_establishing_is_allowed_without_an_agreement(
    make_route, kommune_kbh, system_a, admin_user
):
    route = make_route(
        kommune=kommune_kbh, sender_system=system_a, status=RouteStatus.ORDERED, order_reference="X"
    )
    # An override given where none is needed is not recorded as one.
    services.route_transition(
        route=route, new_status=RouteStatus.ESTABLISHED, actor=admin_user, agreement_override="?"
    )
    route.refresh_from_db()
    assert route.status == RouteStatus.ESTABLISHED
    assert route.events.get().agreement_override == ""
    assert not AuditEntry.objects.filter(action="route.agreement_override").exists()
