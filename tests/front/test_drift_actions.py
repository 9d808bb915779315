"""Driftsstatus's links and buttons: the queue links lead to django-rq's pages, and "Kør nu"
puts a periodic job on its queue at once (administrators only, POST with CSRF). Real Redis."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rq import Queue

from flisportal import cron

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

VERIFY = "flisportal.audit.jobs.verify_audit_chain"


def _queue_links(page: str) -> list[str]:
    return sorted(set(re.findall(r'href="(/admin/rq/[^"]*)"', page)))


def test_every_queue_link_and_the_menus_koeer_answer_for_an_administrator(
    clean_redis, admin_user, client
):
    # Rule: django-rq's URLs come before the admin's catch-all, which answered them with 404.
    Queue("default", connection=clean_redis).enqueue("flisportal.lib.queues.ping")
    client.force_login(admin_user)
    page = client.get(reverse("front:drift")).content.decode()
    links = _queue_links(page)
    # One per queue in the table, and "Køer" in the Drift menu.
    assert len(links) >= 4, links
    assert reverse("django_rq:home") in links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_kor_nu_puts_the_job_on_its_queue(clean_redis, admin_user, client):
    # Rule: "Kør nu" enqueues the registered job on its own queue, recorded like a scheduled run.
    client.force_login(admin_user)
    response = client.post(reverse("front:drift_run_job"), {"job": VERIFY})

    assert response.status_code == 302
    assert response["Location"] == reverse("front:drift")
    jobs = Queue("default", connection=clean_redis).get_jobs()
    assert [job.func_name for job in jobs] == [VERIFY]
    page = client.get(reverse("front:drift"))
    row = next(job for job in page.context["status"].periodic.jobs if job.key == VERIFY)
    assert row.last_enqueued is not None
    assert "Jobbet »Kontrollér revisionsloggen« er sat i kø." in page.content.decode()


def test_kor_nu_uses_the_jobs_own_queue(clean_redis, admin_user, client):
    client.force_login(admin_user)
    client.post(reverse("front:drift_run_job"), {"job": "deliveries.jobs.fetch_all_recipients"})
    assert Queue("default", connection=clean_redis).count == 0
    assert [job.func_name for job in Queue("sftp", connection=clean_redis).get_jobs()] == [
        "deliveries.jobs.fetch_all_recipients"
    ]


def test_kor_nu_needs_csrf(clean_redis, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("front:drift_run_job"), {"job": VERIFY})
    assert response.status_code == 403
    assert Queue("default", connection=clean_redis).count == 0


def test_kor_nu_is_for_administrators_only(clean_redis, client, vendor_a_user, consultant_user):
    for user in (vendor_a_user, consultant_user):
        client.force_login(user)
        assert client.post(reverse("front:drift_run_job"), {"job": VERIFY}).status_code == 404
    assert Queue("default", connection=clean_redis).count == 0


def test_kor_nu_refuses_get_and_unknown_jobs(clean_redis, admin_user, client):
    client.force_login(admin_user)
    assert client.get(reverse("front:drift_run_job"), {"job": VERIFY}).status_code == 405
    # Only registered jobs: the form must not become a way to run any function.
    response = client.post(reverse("front:drift_run_job"), {"job": "os.system"}, follow=True)
    assert "Der er intet periodisk job med det navn." in response.content.decode()
    assert Queue("default", connection=clean_redis).count == 0


def test_every_periodic_job_has_a_danish_label_on_the_page(clean_redis, admin_user, client):
    client.force_login(admin_user)
    page = client.get(reverse("front:drift"))
    rows = page.context["status"].periodic.jobs
    assert {row.key for row in rows} == {
        f"{d['func'].__module__}.{d['func'].__name__}" for d in cron.JOBS
    }
    for row in rows:
        assert row.label == str(cron.LABELS[row.key])
        assert row.label in page.content.decode()
    labels = {row.key: row.label for row in rows}
    assert labels[VERIFY] == "Kontrollér revisionsloggen"
    assert labels["deliveries.jobs.collect_receipts"] == "Hent kvitteringer"
    assert labels["deliveries.jobs.fetch_all_recipients"] == "Hent filer"
