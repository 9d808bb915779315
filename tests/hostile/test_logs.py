"""The logs of a whole run (upload → validate → push → receipt, through real worker processes
and the stand-in) carry no private key material and none of the CPR-like values of the file.

Everything that logs is captured: this process at DEBUG (web views, the stand-in, paramiko and
the receipts round) and the worker processes' stdout and stderr.
"""

from __future__ import annotations

import base64
import logging
import re

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries import jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.services.technical_receipts import receipts_collect
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.redis


def key_fragments(pem: bytes) -> list[str]:
    """The PEM body, and every 24-character piece of it and of its decoded bytes re-encoded
    (so a key logged in another wrapping or base64 alignment is still found)."""
    text = pem.decode()
    body = "".join(line for line in text.splitlines() if line and "PRIVATE KEY" not in line)
    raw = base64.b64decode(body)
    pieces = [body[i : i + 24] for i in range(0, len(body) - 24, 24)]
    pieces += [raw.hex()[i : i + 32] for i in range(0, len(raw.hex()) - 32, 32)]
    return pieces


def test_a_full_run_logs_no_key_material_and_no_cpr_values(
    world, standin, push_route, sender_key, uploader, private_media, clean_redis, run_worker,
    client, caplog, django_capture_on_commit_callbacks, monkeypatch,
):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")  # the worker processes log everything too
    cprs = [f"0101{n:06d}"[:10] for n in range(204000, 204005)]
    rows = [dagtilbud_row(i, cpr_barn=cpr) for i, cpr in enumerate(cprs)]
    # One row with an error whose value is a CPR number: the report shows it (to the vendor,
    # on the page), but no log line may carry it.
    rows.append(dagtilbud_row(9, cpr_barn="3112209999", pladstype="ukendt"))
    content = dagtilbud_csv(*rows).encode()
    client.force_login(uploader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("deliveries:upload"),
            {
                "route": push_route.pk,
                "period": "2026-10",
                "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
            },
        )
    assert response.status_code == 302
    outputs = [run_worker("validation", "sftp")]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.REJECTED
    # A clean file as well, so the push and receipt steps run and log.
    good = dagtilbud_csv(*[dagtilbud_row(i, cpr_barn=cpr) for i, cpr in enumerate(cprs)])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("deliveries:upload"),
            {
                "route": push_route.pk,
                "period": "2026-10",
                "file": SimpleUploadedFile("god.csv", good.encode(), content_type="text/csv"),
            },
        )
    outputs.append(run_worker("validation", "sftp"))
    standin.wait_idle()
    django_rq.get_queue("sftp").enqueue(jobs.collect_receipts)
    outputs.append(run_worker("sftp"))
    receipts_collect()
    assert Delivery.objects.get(original_filename="god.csv").status == DeliveryStatus.DISTRIBUTED
    client.get(reverse("deliveries:detail", args=[delivery.uuid]))

    captured = "\n".join(
        [caplog.text, *(r.getMessage() for r in caplog.records)]
        + [o.stdout + o.stderr for o in outputs]
    )
    assert "validate_delivery" in captured  # the workers' logs were really captured
    assert "PRIVATE KEY" not in captured
    for piece in key_fragments(world.sender.private_key):
        assert piece not in captured
    for cpr in [*cprs, "3112209999"]:
        assert cpr not in captured
        assert re.sub(r"(\d{6})(\d{4})", r"\1-\2", cpr) not in captured
