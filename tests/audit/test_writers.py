"""Who writes audit rows: delivery events, registry services, admin saves, contract loads,
logins; and the login lockout (django-axes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import Delivery
from deliveries.services.contracts import contract_load
from deliveries.services.reconcile import deliveries_reconcile
from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_verify
from routes import services as route_services
from routes.models import AgreementStatus, Endpoint, ProcessingAgreement, SftpUser

pytestmark = pytest.mark.django_db

S = DeliveryStatus


def test_every_delivery_event_is_an_audit_row(make_delivery, upload_route, vendor_a_user):
    delivery = make_delivery(upload_route, vendor_a_user, "x")
    delivery_transition(delivery_id=delivery.pk, old=S.RECEIVED, new=S.VALIDATING, message="i gang")
    rows = list(AuditEntry.objects.order_by("seq"))
    assert [r.action for r in rows] == ["delivery.create", "delivery.status"]
    create, step = rows
    assert create.actor == vendor_a_user and create.kommune_id == upload_route.kommune_id
    assert create.after["sha256"] == delivery.sha256
    assert step.before == {"status": "received"}
    assert step.after["status"] == "validating" and step.after["message"] == "i gang"
    assert step.actor is None and step.actor_label == "worker"
    assert step.object_id == str(delivery.pk)
    assert audit_verify().ok


def test_the_reconcilers_overdue_receipt_event_is_an_audit_row_too(
    make_delivery, upload_route, vendor_a_user, settings
):
    # Not a status change, but a step on the timeline: it is written with its audit row like
    # every other event.
    delivery = make_delivery(upload_route, vendor_a_user, "x")
    sent_at = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(status=S.SENT, sent_at=sent_at)
    later = sent_at + timedelta(minutes=settings.RECEIPT_OVERDUE_MINUTES + 1)

    assert deliveries_reconcile(now=later).overdue == [delivery.pk]

    event = delivery.events.get(old_status=S.SENT)
    row = AuditEntry.objects.get(action="delivery.event")
    assert row.object_type == "deliveries.delivery" and row.object_id == str(delivery.pk)
    assert row.object_repr == f"{delivery.uuid} ({delivery.period})"
    assert row.before == {"status": "sent"}
    assert row.after["status"] == "sent" and row.after["message"] == event.message
    assert row.after["receipt_overdue_at"] is not None
    assert row.actor is None and row.actor_label == event.actor_label == "reconciler"
    assert row.kommune_id == upload_route.kommune_id and row.at == event.at == later
    # One audit row per event of the delivery, in the same order.
    audited = AuditEntry.objects.filter(object_type="deliveries.delivery", object_id=delivery.pk)
    assert list(audited.order_by("seq").values_list("action", flat=True)) == [
        "delivery.create",
        "delivery.event",
    ]
    assert delivery.events.count() == audited.count()
    assert audit_verify().ok


def test_route_order_and_transition_are_audited(admin_user, kommune_kbh, system_a, flis_system):
    from routes.models import DataArea

    route = route_services.route_order(
        kommune=kommune_kbh,
        data_area=DataArea.objects.get(code="skole"),
        sender_system=system_a,
        recipient_systems=[flis_system],
        endpoint=Endpoint.objects.get(slug="exttest"),
        actor=admin_user,
        order_reference="DK-123",
    )
    rows = list(AuditEntry.objects.order_by("seq"))
    assert [r.action for r in rows] == ["route.order", "route.status"]
    assert rows[0].after["recipient_systems"] == [flis_system.pk]
    assert rows[1].before["status"] == "requested"
    assert rows[1].after["status"] == "ordered" and rows[1].after["order_reference"] == "DK-123"
    assert all(r.kommune_id == kommune_kbh.pk and r.actor == admin_user for r in rows)
    assert rows[0].object_id == str(route.pk)


def test_key_changes_are_audited_without_the_private_key(admin_user, system_a):
    sftp_user = SftpUser.objects.create(
        it_system=system_a, endpoint=Endpoint.objects.get(slug="exttest"), username="A_SFTP"
    )
    key = route_services.sftp_key_generate(
        sftp_user=sftp_user, algorithm="ed25519", actor=admin_user
    )
    new = route_services.sftp_key_rotate(sftp_user=sftp_user, algorithm="ed25519", actor=admin_user)
    route_services.sftp_key_confirm_rotation(sftp_user=sftp_user, actor=admin_user)
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", "object_id"))
    # Made, the new key made (pending), the old one retired, the new one made active.
    assert actions == [
        ("sftp_key.create", str(key.pk)),
        ("sftp_key.create", str(new.pk)),
        ("sftp_key.state", str(key.pk)),
        ("sftp_key.state", str(new.pk)),
    ]
    first = AuditEntry.objects.get(seq=1)
    assert first.after["fingerprint"] == key.fingerprint
    assert "encrypted_private_key" not in first.after
    assert AuditEntry.objects.get(seq=2).after["state"] == "pending"
    assert AuditEntry.objects.get(seq=3).after["state"] == "retired"
    assert AuditEntry.objects.get(seq=4).after["state"] == "active"


def test_admin_saves_of_agreements_and_roles_are_audited(
    client, admin_user, vendor_a, kommune_kbh, consultant_user
):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:routes_processingagreement_add"),
        {"vendor": vendor_a.pk, "kommune": kommune_kbh.pk, "status": "draft"},
    )
    assert response.status_code == 302
    agreement = ProcessingAgreement.objects.get()
    response = client.post(
        reverse("admin:routes_processingagreement_change", args=[agreement.pk]),
        {
            "vendor": vendor_a.pk,
            "kommune": kommune_kbh.pk,
            "status": "signed",
            "signed_on": "2026-11-01",
        },
    )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SIGNED
    created, changed = AuditEntry.objects.filter(object_type="routes.processingagreement").order_by(
        "seq"
    )
    assert created.action == "routes.processingagreement.create" and created.before is None
    assert changed.before["status"] == "draft" and changed.after["status"] == "signed"
    assert changed.kommune_id == kommune_kbh.pk and changed.actor == admin_user

    client.post(
        reverse("admin:routes_processingagreement_delete", args=[agreement.pk]), {"post": "yes"}
    )
    deleted = AuditEntry.objects.order_by("-seq").first()
    assert deleted.action == "routes.processingagreement.delete"
    assert deleted.before["status"] == "signed"


def test_contract_loads_are_audited(admin_user):
    import copy

    from deliveries.models import DataContract

    current = DataContract.objects.filter(data_area__code="skole", is_active=True).first()
    document = copy.deepcopy(current.document)
    document["version"] = "9.9-test"
    contract = contract_load(document=document, user=admin_user, source="t")
    row = AuditEntry.objects.get(action="contract.load")
    assert row.object_id == str(contract.pk)
    assert row.after["version"] == "9.9-test" and row.after["is_active"] is True
    assert "document" not in row.after


# --- logins and lockout -----------------------------------------------------------------------


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_success_and_failure_are_recorded(client, vendor_a_user):
    login(client, "vendor-a", "forkert")
    login(client, "vendor-a", "pw-vendor-a-1234")
    failed, ok = AuditEntry.objects.order_by("seq")
    assert failed.action == "auth.login_failed"
    assert failed.after == {"source": "127.0.0.1", "username": "vendor-a"}
    assert "forkert" not in str(failed.after) + str(failed.before)
    assert ok.action == "auth.login" and ok.actor == vendor_a_user


def test_repeated_failures_lock_the_account_from_that_source(client, vendor_a_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert login(client, "vendor-a", "forkert").status_code == 200
    locked = login(client, "vendor-a", "forkert")
    assert locked.status_code == 429
    assert "Login midlertidigt spærret" in locked.content.decode()
    assert "Prøv igen om 15 minutter" in locked.content.decode()
    # Even the right password is refused while the lock lasts.
    assert login(client, "vendor-a", "pw-vendor-a-1234").status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_demo_login_still_works_while_another_account_is_locked(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.DEBUG = True  # demodata runs in development only
    call_command("demodata", verbosity=0)
    for _ in range(3):
        login(client, "nordlys", "forkert")
    assert login(client, "nordlys", "Demo-Nordlys-2026").status_code == 429
    response = client.post(
        reverse("login"), {"username": "kbh", "password": "Demo-Kbh-2026"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("front:start")
    assert response.wsgi_request.user.username == "kbh"
