"""deliveries/sftp.py against the project's own Serviceplatform stand-in (asyncssh).

The push job will talk to the stand-in through this module, with the stand-in endpoint's
`large_writes` on: this proves the stand-in takes the preferred cipher and 255 KiB writes, pins
its host key where the module checks it, and that a full data-file-then-trigger delivery and its
technical receipt go through the module end to end.
"""

from __future__ import annotations

import io
import random
import uuid

import pytest

from deliveries import protocol
from deliveries.sftp import CHUNK_SIZE, SftpError, Timeouts, open_for_endpoint
from routes.models import Endpoint, SftpUser
from tests.helpers.standin import home, route_trigger

FAST = Timeouts(connect=3, banner=5, auth=5, operation=10)


def _fresh(sftp_user: SftpUser) -> SftpUser:
    # The running stand-in records its port and host key on the endpoint row.
    return SftpUser.objects.select_related("endpoint").get(pk=sftp_user.pk)


def test_delivery_through_the_module_reaches_the_recipients(standin, world):
    endpoint = Endpoint.objects.get(pk=world.endpoint.pk)
    assert endpoint.large_writes, "the stand-in endpoint should allow large writes"
    data = random.Random(5).randbytes(3 * CHUNK_SIZE + 17)
    name = f"LEV1_FLISPERSONALE_0101_202610_{uuid.uuid4().hex[:8]}.csv"
    trigger = route_trigger(world, file_name=name, size=len(data))
    sender = _fresh(world.sender.sftp_user)

    with open_for_endpoint(
        sftp_user=sender, private_key=world.sender.private_key, timeouts=FAST
    ) as sftp:
        assert sftp.cipher == "aes128-gcm@openssh.com"
        assert sftp.upload(io.BytesIO(data), f"OUT/{name}", size=len(data)) == len(data)
        assert sftp.remote_size(f"OUT/{name}") == len(data)
        sftp.upload(io.BytesIO(protocol.build_trigger(trigger)), f"OUT/{name}.trigger")
        standin.wait_idle()
        assert f"{name}.sftpreceipt" in sftp.listdir("IN")
        receipt_xml = io.BytesIO()
        sftp.download(f"IN/{name}.sftpreceipt", receipt_xml)
        sftp.remove(f"IN/{name}.sftpreceipt")
        assert f"{name}.sftpreceipt" not in sftp.listdir("IN")

    receipt = protocol.parse_technical_receipt(receipt_xml.getvalue())
    assert receipt.senders_file_id == trigger.descriptor.senders_file_id
    assert receipt.errors == ()
    assert (home(standin, world.flis) / "IN" / name).read_bytes() == data


def test_unknown_key_on_the_standin_is_permanent(standin, world):
    sender = _fresh(world.sender.sftp_user)
    with pytest.raises(SftpError) as caught:
        with open_for_endpoint(
            sftp_user=sender, private_key=world.other.private_key, timeouts=FAST
        ):
            pytest.fail("logged in with another user's key")
    assert caught.value.permanent
