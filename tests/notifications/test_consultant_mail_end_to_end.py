"""End to end, with the parts production has: a vendor uploads a file through the page, a real
`rqworker` process (on the test's Redis) rejects it and sends the mail over SMTP to a real
server on 127.0.0.1. The consultant who chose "afvist ved validering: straks" gets it at once,
linking to the delivery page; the one who chose the daily digest gets it in the digest when
the digest job runs, and not before."""

from __future__ import annotations

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.models import Delivery
from flisportal.notifications import jobs as notification_jobs
from flisportal.notifications.models import EventChoice, NotificationPreference
from tests import factories
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.smtp import Mailbox, smtp_server
from tests.helpers.workers import run_burst_worker, worker_env

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BASE = "https://flis.example.dk"
AT_ONCE = "straks@kk.dk"
IN_DIGEST = "opsamling@kk.dk"


def run_worker_mailing_to(mailbox: Mailbox, redis_url: str, *queues: str) -> None:
    """A real burst worker whose mail goes to `mailbox` over SMTP, as a production worker's
    goes to the relay (clear text is allowed for this loopback server only)."""
    env = worker_env(redis_url) | {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mailbox.port),
        "FLISPORTAL_EMAIL_ALLOW_PLAINTEXT": "true",
        "PORTAL_BASE_URL": BASE,
    }
    result = run_burst_worker(env, *queues)
    assert result.returncode == 0, result.stderr


def test_rejected_upload_reaches_the_consultants_at_once_and_in_the_digest(
    client, vendor_a_user, upload_route, kommune_kbh, private_media, clean_redis, redis_url
):
    for username, address, choice in (
        ("straks", AT_ONCE, EventChoice.IMMEDIATE),
        ("opsamling", IN_DIGEST, EventChoice.DIGEST),
    ):
        person = factories.consultant(kommune_kbh, username=username, email=address)
        NotificationPreference.objects.create(user=person, rejected=choice)
    client.force_login(vendor_a_user)
    content = dagtilbud_csv(dagtilbud_row(3, startdato="2023-02-30"), rows_ok=4).encode()
    upload = SimpleUploadedFile("udtraek.csv", content, content_type="text/csv")
    response = client.post(
        reverse("deliveries:upload"),
        {"route": upload_route.pk, "period": "2026-10", "file": upload},
    )
    assert response.status_code == 302

    with smtp_server() as mailbox:
        run_worker_mailing_to(mailbox, redis_url, "validation", "default")
        delivery = Delivery.objects.get()
        link = f"{BASE}{reverse('deliveries:detail', args=[delivery.uuid])}"
        [mail] = mailbox.wait_for(AT_ONCE)
        assert mail.subject == "Leverance afvist: Dagtilbud, Københavns Kommune, 2026-10"
        assert link in mail.text()
        assert f'href="{link}"' in mail.html()
        # The digest consultant's notice waits for the digest.
        assert mailbox.to(IN_DIGEST) == []

        django_rq.get_queue("default").enqueue(notification_jobs.send_digests)
        run_worker_mailing_to(mailbox, redis_url, "default")
        [digest] = mailbox.wait_for(IN_DIGEST)
        assert digest.subject == "FLIS-portalen: 1 besked"
        assert "Leverance afvist: Dagtilbud, Københavns Kommune, 2026-10" in digest.text()
        assert link in digest.text()
        # Once each: the immediate consultant is not in the digest, nobody got it twice.
        assert len(mailbox.to(AT_ONCE)) == 1
        assert len(mailbox.messages) == 2
