"""Pushing deliveries to the real Serviceplatform stand-in on a loopback port: the whole way to
`distributed` through real worker processes, refusal by the platform, a server that is down or
goes away mid-upload (retries, then success), a wrong pinned host key, and missing keys."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from deliveries import jobs, protocol
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import standin_running
from deliveries.services.push import delivery_push
from deliveries.services.technical_receipts import receipts_collect
from routes.keys import encrypt_private_key, generate_key_pair
from routes.models import (
    AgreementStatus,
    Endpoint,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpKey,
)
from tests.factories import dagtilbud_csv
from tests.helpers.pushing import sender_in, sender_out
from tests.helpers.standin import home

pytestmark = pytest.mark.redis

S = DeliveryStatus


def steps(delivery: Delivery) -> list[tuple[str, str]]:
    return [(e.old_status, e.new_status) for e in delivery.events.all()]


def test_upload_goes_valid_pushing_sent_distributed_through_real_workers(
    world, standin, push_route, sender_key, uploader, make_delivery, clean_redis, run_worker, client
):
    content = dagtilbud_csv(rows_ok=50).encode()
    delivery = make_delivery(push_route, uploader, content)

    # One burst worker: the validation job enqueues the push when it ends `valid`.
    result = run_worker("validation", "sftp")
    assert result.returncode == 0, result.stderr
    delivery.refresh_from_db()
    assert delivery.status == S.SENT, delivery.events.last().message
    assert delivery.push_attempts == 1
    assert delivery.sent_at is not None
    short_id = delivery.uuid.hex[:8]
    assert delivery.wire_name == f"LEV-A_FLIS_SFTP_DAGTILBUD_0101_202610_{short_id}.csv"

    standin.wait_idle()
    django_rq.get_queue("sftp").enqueue(jobs.collect_receipts)
    result = run_worker("sftp")
    assert result.returncode == 0, result.stderr

    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED, delivery.events.last().message
    assert steps(delivery) == [
        ("", "received"),
        ("received", "validating"),
        ("validating", "valid"),
        ("valid", "pushing"),
        ("pushing", "sent"),
        ("sent", "distributed"),
    ]
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert delivery.file_transfer_uuid == decision.file_transfer_uuid
    assert delivery.receipt_errors == []

    # Both recipients of the route hold the file and its metadata, which say what the portal's
    # trigger said: the route's InfRef, the sender system, the authorities, the SendersFileId.
    name = delivery.wire_name
    for party in (world.flis, world.lis):
        inbox = home(standin, party) / "IN"
        assert sorted(p.name for p in inbox.iterdir()) == [name, f"{name}.metadata"]
        assert (inbox / name).read_bytes() == content
        metadata = protocol.parse_file_metadata((inbox / f"{name}.metadata").read_bytes())
        assert metadata.file_transfer_uuid == delivery.file_transfer_uuid
        assert metadata.descriptor.senders_file_id == str(delivery.uuid)
        assert metadata.descriptor.sender == world.sender.username
        assert metadata.descriptor.size_in_bytes == len(content)
        assert metadata.descriptor.recipients == (protocol.ROUTING_RECIPIENT,)
        routing = metadata.routing
        assert routing is not None
        assert routing.infref == push_route.data_area.infref
        assert routing.sender_it_system == world.sender.system.uuid
        assert routing.sender_authority == f"urn:oio:cvr-nr:{world.kommune.cvr}"
        assert routing.recipient_authority == f"urn:oio:cvr-nr:{world.kommune.cvr}"
        assert routing.transaction_id == str(delivery.transaction_id)
        # Danish time in November: UTC+1.
        assert routing.sender_timestamp.utcoffset() == timedelta(hours=1)

    # The receipt was removed once recorded; the platform cleared OUT/ itself.
    assert list(sender_in(standin, world).iterdir()) == []
    assert list(sender_out(standin, world).iterdir()) == []

    client.force_login(uploader)
    body = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert name in body
    assert delivery.file_transfer_uuid in body
    for text in ("sendes", "sendt", "distribueret", "Sendt til", "Teknisk kvittering"):
        assert text in body


def test_route_not_established_at_the_platform_gives_refused_with_the_code(
    world, pushable, push_route, standin, client, uploader, monkeypatch
):
    delivery = pushable(b"kommunekode;periode\n101;202610\n")
    # The platform's register and the portal's can disagree: KOMBIT retired the route, and the
    # portal has not heard yet. The stand-in reads the portal's table, so the route is retired
    # there and the portal's own check is told it is still open: the platform decides, and
    # answers 402.
    Route.objects.filter(pk=push_route.pk).update(status=RouteStatus.RETIRED)
    monkeypatch.setattr("deliveries.services.push._check_still_open", lambda delivery: None)

    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    # The platform leaves a refused data file in OUT/; the receipts round cleans it up.
    assert (sender_out(standin, world) / Delivery.objects.get().wire_name).exists()

    collected = receipts_collect()
    assert (collected.refused, collected.kept, collected.cleaned) == (1, 0, 1)
    delivery.refresh_from_db()
    assert delivery.status == S.REFUSED
    assert [e["code"] for e in delivery.receipt_errors] == [402]
    assert "Ingen etableret rute" in delivery.receipt_errors[0]["description"]
    last = delivery.events.last()
    assert (last.old_status, last.new_status) == ("sent", "refused")
    assert "fejl 402" in last.message
    assert list(sender_out(standin, world).iterdir()) == []
    assert list(sender_in(standin, world).iterdir()) == []
    assert not (home(standin, world.flis) / "IN" / delivery.wire_name).exists()

    client.force_login(uploader)
    body = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "afvist af Serviceplatformen" in body
    assert "<code>402</code>" in body
    # The code and the status each lead to their entry on the help page.
    assert 'href="/hjaelp/#platform-4xx"' in body
    assert 'href="/hjaelp/#status-afvist-af-serviceplatformen"' in body


@pytest.mark.parametrize("closed", ["route_retired", "agreement_terminated"])
def test_a_route_or_agreement_closed_after_upload_stops_the_push_before_any_byte(
    world, pushable, push_route, standin, closed
):
    """Rule: the route must be established and the agreement signed at the moment of sending,
    not only at upload (a push can come days later, after retries or a person's «Prøv igen»)."""
    delivery = pushable(b"kommunekode;periode\n101;202610\n")
    if closed == "route_retired":
        Route.objects.filter(pk=push_route.pk).update(status=RouteStatus.RETIRED)
        said = "ikke længere etableret (status: nedlagt)"
    else:
        ProcessingAgreement.objects.filter(kommune=world.kommune).update(
            status=AgreementStatus.TERMINATED
        )
        said = "ikke længere en underskrevet databehandleraftale"

    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert said in delivery.last_error
    assert delivery.events.last().new_status == S.FAILED
    assert list(sender_out(standin, world).iterdir()) == []

    # Opened again, a person's retry sends it.
    Route.objects.filter(pk=push_route.pk).update(status=RouteStatus.ESTABLISHED)
    ProcessingAgreement.objects.filter(kommune=world.kommune).update(status=AgreementStatus.SIGNED)
    Delivery.objects.filter(pk=delivery.pk).update(status=S.VALID, push_attempts=0)
    assert delivery_push(delivery_id=delivery.pk) == S.SENT


def test_server_down_is_retried_with_backoff_and_succeeds_when_it_returns(
    world, push_route, sender_key, uploader, private_media, clean_redis, run_worker, settings,
    tmp_path,
):  # fmt: skip
    from tests.helpers.net import free_port
    from tests.helpers.pushing import delivery_of

    settings.SFTP_RETRY_BASE_DELAY = 1
    port = free_port()
    root = tmp_path / "platform"
    with standin_running(root=root, port=port):
        pass  # registers host key and port on the endpoint, then stops: the server is down
    delivery = delivery_of(push_route, uploader, private_media, content=b"a;b\n1;2\n")

    assert delivery_push(delivery_id=delivery.pk) == S.VALID
    delivery.refresh_from_db()
    assert delivery.push_attempts == 1
    assert "afvist" in delivery.last_error  # "Forbindelsen til … blev afvist"
    assert delivery.next_attempt_at > timezone.now() - timedelta(seconds=1)
    event = delivery.events.last()
    assert (event.old_status, event.new_status) == ("pushing", "valid")
    assert event.message.startswith("Forsøg 1 af 6 mislykkedes: Forbindelsen til 127.0.0.1:")
    assert "Næste forsøg omkring" in event.message
    # The retry waits in RQ's scheduler, not in the queue.
    queue = django_rq.get_queue("sftp")
    assert queue.count == 0
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1

    with standin_running(root=root, port=port) as runner:
        # Retry delay with base 1 s is at most 1 s; the scheduler moves it once it is due.
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds() + 0.2
        time.sleep(max(0.0, wait))
        result = run_worker("sftp", scheduler=True)
        assert result.returncode == 0, result.stderr
        delivery.refresh_from_db()
        assert delivery.status == S.SENT, delivery.events.last().message
        assert delivery.push_attempts == 2
        assert delivery.last_error == ""
        runner.wait_idle()
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED


def test_server_gone_mid_upload_retry_overwrites_the_partial_file_and_distributes_once(
    world, pushable, standin, cutting_proxy
):
    content = bytes(range(256)) * 16 * 1024  # 4 MiB, so the cut lands mid-file
    delivery = pushable(content)
    cutting_proxy.cut_after(1024 * 1024)

    assert delivery_push(delivery_id=delivery.pk) == S.VALID
    assert cutting_proxy.cuts == 1
    delivery.refresh_from_db()
    assert "afbrudt" in delivery.last_error
    # A partial data file and no trigger: nothing was distributed.
    standin.wait_sessions_closed()
    partial = sender_out(standin, world) / delivery.wire_name
    assert 0 < partial.stat().st_size < len(content)
    assert not PlatformDecision.objects.exists()

    # The scheduled retry (run here directly) reuses the name and overwrites the partial file.
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    delivery.refresh_from_db()
    assert delivery.push_attempts == 2
    inbox = home(standin, world.flis) / "IN"
    assert (inbox / delivery.wire_name).read_bytes() == content
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert decision.senders_file_id == str(delivery.uuid)
    assert steps(delivery) == [("valid", "pushing"), ("pushing", "valid"), ("valid", "pushing"),
                               ("pushing", "sent")]  # fmt: skip


def test_transient_faults_until_the_limit_end_in_failed_with_the_reason(
    world, pushable, standin, settings
):
    settings.SFTP_RETRY_MAX_ATTEMPTS = 2
    delivery = pushable(b"x;y\n")
    Endpoint.objects.filter(pk=world.endpoint.pk).update(port=_closed_port())

    assert delivery_push(delivery_id=delivery.pk) == S.VALID
    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert delivery.push_attempts == 2
    event = delivery.events.last()
    assert (event.old_status, event.new_status) == ("pushing", "failed")
    assert event.message.startswith("Afsendelsen er opgivet efter 2 forsøg. Sidste fejl:")
    assert "Prøv igen" in event.message


def test_wrong_pinned_host_key_fails_at_once_with_a_clear_message(
    world, pushable, standin, run_worker
):
    other = generate_key_pair("ed25519").public_openssh.split()
    Endpoint.objects.filter(pk=world.endpoint.pk).update(
        host_key=f"[127.0.0.1]:{standin.port} {other[0]} {other[1]}"
    )
    delivery = pushable(b"x;y\n")
    django_rq.get_queue("sftp").enqueue(jobs.push_delivery, delivery.pk)

    result = run_worker("sftp")
    assert result.returncode == 0, result.stderr
    delivery.refresh_from_db()
    assert delivery.status == S.FAILED
    assert delivery.push_attempts == 1
    message = delivery.events.last().message
    assert "anden værtsnøgle end den fastlåste" in message
    assert "prøves ikke igen af sig selv" in message
    assert "Prøv igen" in message
    # Not retried, and nothing reached the server (refused before logging in).
    assert ScheduledJobRegistry(queue=django_rq.get_queue("sftp")).count == 0
    assert list(sender_out(standin, world).iterdir()) == []


def test_missing_key_fails_at_once_and_a_retry_after_the_fix_is_sent(
    world, pushable, standin, client, uploader, run_worker
):
    delivery = pushable(b"x;y\n")
    key = SftpKey.objects.get(sftp_user=world.sender.sftp_user)
    SftpKey.objects.filter(pk=key.pk).update(state="retired")

    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert "ingen aktiv SSH-nøgle" in delivery.last_error
    assert delivery.wire_name == ""  # nothing was sent, so no name was taken

    SftpKey.objects.filter(pk=key.pk).update(state="active")
    client.force_login(uploader)
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "Prøv igen" in page and "ingen aktiv SSH-nøgle" in page
    response = client.post(reverse("deliveries:retry", args=[delivery.uuid]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == S.VALID
    assert delivery.push_attempts == 0
    retry = delivery.events.last()
    assert (retry.old_status, retry.new_status, retry.actor) == ("failed", "valid", uploader)

    assert run_worker("sftp").returncode == 0
    delivery.refresh_from_db()
    assert delivery.status == S.SENT


def test_sender_without_sftp_user_fails_with_what_to_do(world, pushable):
    delivery = pushable(b"x;y\n")
    world.sender.sftp_user.keys.all().delete()
    world.sender.sftp_user.delete()
    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert "har ingen SFTP-bruger på miljøet" in delivery.last_error
    assert "administrator" in delivery.last_error


def test_push_only_claims_valid_deliveries_once(world, pushable):
    delivery = pushable(b"x;y\n", status=S.SENT)
    assert delivery_push(delivery_id=delivery.pk) is None
    assert delivery_push(delivery_id=uuid.uuid4().int % 10_000_000) is None
    assert not delivery.events.exists()


def _closed_port() -> int:
    from tests.helpers.net import free_port

    return free_port()  # bound and released at once: nothing listens there


def test_key_the_platform_does_not_know_fails_at_once(world, pushable, standin):
    # The portal holds a key pair whose public half was never registered at the platform.
    stranger = generate_key_pair("ed25519").private_openssh
    SftpKey.objects.filter(sftp_user=world.sender.sftp_user).update(
        encrypted_private_key=encrypt_private_key(stranger)
    )
    delivery = pushable(b"x;y\n")
    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert delivery.push_attempts == 1
    assert f"afviste login for SFTP-brugeren {world.sender.username}" in delivery.last_error
    assert "prøves ikke igen af sig selv" in delivery.events.last().message
