import pytest
from django.core.management import CommandError, call_command

from flisportal.lib.roles import Role
from routes.keys import decrypt_private_key
from routes.models import (
    ITSystem,
    KeyState,
    ProcessingAgreement,
    Route,
    RouteEvent,
    SftpKey,
    SftpUser,
    User,
    Vendor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def development(settings):
    """demodata runs in development (DEBUG=true, as `make run` starts it); pytest-django turns
    DEBUG off."""
    settings.DEBUG = True


def test_demodata_refuses_production_unless_forced(settings):
    # Rule: the demo users' passwords are published, so they are never created where DEBUG is
    # off unless the operator says so in as many words.
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force-public-passwords"):
        call_command("demodata")
    assert not User.objects.exists()
    call_command("demodata", force_public_passwords=True)
    assert User.objects.get(username="admin").check_password("Demo-Admin-2026")


def test_demodata_creates_every_role_once():
    call_command("demodata")
    call_command("demodata")
    assert Vendor.objects.count() == 2
    assert ITSystem.objects.filter(is_recipient=True, name="FLIS").count() == 1
    roles = {u.username: u.role for u in User.objects.all()}
    assert roles == {
        "admin": Role.ADMINISTRATOR,
        "nordlys": Role.VENDOR,
        "fjordsoft": Role.VENDOR,
        "kbh": Role.CONSULTANT,
        "aarhus": Role.CONSULTANT,
    }
    assert User.objects.get(username="nordlys").check_password("Demo-Nordlys-2026")


def test_demodata_registry_agreements_keys_and_routes_once():
    call_command("demodata")
    snapshot = {
        model: model.objects.count()
        for model in (ProcessingAgreement, SftpUser, SftpKey, Route, RouteEvent)
    }
    call_command("demodata")
    assert {model: model.objects.count() for model in snapshot} == snapshot

    agreements = {
        (a.vendor.name, a.kommune.code, a.status)
        for a in ProcessingAgreement.objects.select_related("vendor", "kommune")
    }
    assert agreements == {
        ("Nordlys Data A/S", "101", "signed"),
        ("Nordlys Data A/S", "147", "signed"),
        ("Fjordsoft ApS", "751", "signed"),
    }

    users = SftpUser.objects.select_related("endpoint", "it_system")
    assert {u.it_system.name for u in users} == {
        "Nordlys Løn",
        "Nordlys Økonomi",
        "Fjordsoft Skole",
        "FLIS",
    }
    assert {u.endpoint.slug for u in users} == {"lokal"}
    for user in users:
        key = user.keys.get(state=KeyState.ACTIVE)
        assert key.algorithm == "ed25519"
        assert b"PRIVATE KEY" not in bytes(key.encrypted_private_key)
        assert decrypt_private_key(key.encrypted_private_key).startswith(b"-----BEGIN OPENSSH")

    established = {
        (r.sender_system.name, r.data_area.code, r.kommune.code)
        for r in Route.objects.filter(endpoint__slug="lokal", status="established").select_related(
            "sender_system", "data_area", "kommune"
        )
    }
    assert established == {
        ("Nordlys Løn", "personale", "101"),
        ("Nordlys Løn", "personale", "147"),
        ("Nordlys Økonomi", "oekonomi", "101"),
        ("Nordlys Økonomi", "oekonomi", "147"),
        ("Fjordsoft Skole", "skole", "751"),
    }
    for route in Route.objects.all():
        assert [s.name for s in route.recipient_systems.all()] == ["FLIS"]
        assert route.events.first().new_status == "requested"
    ordered = Route.objects.get(status="ordered")
    assert (ordered.endpoint.slug, ordered.kommune.code) == ("exttest", "751")
    assert ordered.order_reference
