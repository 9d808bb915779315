"""A push over several connections (Endpoint.parallel_connections) to the real stand-in
(deliveries/serviceplatform/), which takes writes at offsets from parallel sessions.

The rules held here: the file arrives byte for byte and is distributed once; the trigger is
written only after every part is written and the size checked; one part failing fails the
push like a single-connection failure (retried, no trigger), and the retry sends it whole; the
option is off unless an administrator sets it, and cannot be set for KOMBIT's endpoints.
"""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ValidationError

from deliveries import protocol, sftp
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.services.push import delivery_push
from routes.models import Endpoint
from tests.helpers.pushing import sender_out
from tests.helpers.standin import home

pytestmark = pytest.mark.redis

S = DeliveryStatus
CONTENT_SIZE = 4 * sftp.CHUNK_SIZE + 4321


@pytest.fixture
def parallel(world, monkeypatch):
    """The stand-in's endpoint set to three connections, with parts small enough that a
    4 MiB file is split into three."""
    monkeypatch.setattr(sftp, "MIN_PART_SIZE", sftp.CHUNK_SIZE)
    Endpoint.objects.filter(pk=world.endpoint.pk).update(parallel_connections=3)


@pytest.fixture
def logins(monkeypatch) -> list[str]:
    """Counts the push's SFTP logins."""
    made: list[str] = []
    real = sftp.open_for_endpoint

    def counting(**kwargs):
        made.append(kwargs["sftp_user"].username)
        return real(**kwargs)

    monkeypatch.setattr(sftp, "open_for_endpoint", counting)
    return made


def test_push_over_three_connections_arrives_byte_exact_and_is_distributed_once(
    world, pushable, standin, parallel, logins, monkeypatch
):
    content = os.urandom(CONTENT_SIZE)
    delivery = pushable(content)
    seen_at_trigger: list[bytes] = []
    real_upload = sftp.SftpConnection.upload

    def upload(self, source, remote_path, **kwargs):
        # Only the trigger goes through upload(): the data file went in parts.
        assert remote_path.endswith(protocol.TRIGGER_SUFFIX)
        data_file = sender_out(standin, world) / remote_path.rsplit("/", 1)[1]
        seen_at_trigger.append(data_file.with_suffix("").read_bytes())
        return real_upload(self, source, remote_path, **kwargs)

    monkeypatch.setattr(sftp.SftpConnection, "upload", upload)

    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    delivery.refresh_from_db()
    assert len(logins) == 3  # the first connection and one for each further part
    # When the trigger was written, the whole data file was already there.
    assert seen_at_trigger == [content]
    inbox = home(standin, world.flis) / "IN"
    assert (inbox / delivery.wire_name).read_bytes() == content
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED


def test_one_part_cut_fails_the_push_without_a_trigger_and_the_retry_sends_it_whole(
    world, pushable, standin, parallel, cutting_proxy
):
    content = os.urandom(CONTENT_SIZE)
    delivery = pushable(content)
    # The first connection (which also writes the first part) goes away after 512 KiB.
    cutting_proxy.cut_after(512 * 1024)

    assert delivery_push(delivery_id=delivery.pk) == S.VALID
    assert cutting_proxy.cuts == 1
    delivery.refresh_from_db()
    assert delivery.push_attempts == 1
    assert "afbrudt" in delivery.last_error
    standin.wait_sessions_closed()
    out = sender_out(standin, world)
    assert not (out / f"{delivery.wire_name}{protocol.TRIGGER_SUFFIX}").exists()
    assert not PlatformDecision.objects.exists()

    # The scheduled retry (run here directly) writes every part again and then the trigger.
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    inbox = home(standin, world.flis) / "IN"
    assert (inbox / delivery.wire_name).read_bytes() == content
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED


def test_a_small_file_goes_over_one_connection_even_when_more_are_allowed(
    world, pushable, standin, logins
):
    Endpoint.objects.filter(pk=world.endpoint.pk).update(parallel_connections=4)
    delivery = pushable(b"a;b\n1;2\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    assert len(logins) == 1


@pytest.mark.django_db
def test_one_connection_by_default_and_for_kombits_endpoints():
    # The reference data's endpoints are KOMBIT's (routes/migrations/0002_reference_data.py).
    kombit = list(Endpoint.objects.filter(host__endswith="serviceplatformen.dk"))
    assert kombit and all(endpoint.parallel_connections == 1 for endpoint in kombit)
    assert Endpoint(slug="ny", name="Ny", host="sftp.example.org").parallel_connections == 1

    endpoint = kombit[0]
    endpoint.parallel_connections = 2
    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()
    assert "KOMBIT har ikke givet lov" in str(refused.value.message_dict["parallel_connections"])

    other = Endpoint(
        slug="egen", name="Egen server", host="sftp.example.org", parallel_connections=2
    )
    other.full_clean()  # another operator's server may allow it
    other.parallel_connections = 9
    with pytest.raises(ValidationError):
        other.full_clean()
