"""The administrator's own pages in a real browser, as the administrator meets them after logging
in with password and authenticator code: Driftsstatus (its queue links reach django-rq's pages,
not the admin's 404; «Kør nu» puts a periodic job on its queue), Leverancer (the free-text search
and the CSV export of what is filtered), and Revisionslog (a route's status change as a
before/after table in Danish, not a Python dict, with «(tom)» and «(ingen)» instead of blank
cells; its date filters drawn dd.mm.åååå). A consultant who opens another vendor's delivery
meets the portal's Danish 404, even though the portal runs with DEBUG on. Screenshots go to
test-artifacts/ and, by hand, to docs/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from django_rq import get_queue
from playwright.sync_api import expect
from rq.job import Job

from deliveries.lifecycle.states import DeliveryStatus
from routes.models import RouteStatus
from routes.services import route_transition
from tests import factories
from tests.helpers.browser import Portal, date_field_text, log_in, shot
from tests.helpers.e2e import PASSWORD, E2EWorld
from tests.helpers.twofactor import authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SCREEN = {"width": 1366, "height": 768}


@pytest.fixture
def administrator(e2e_world: E2EWorld):
    user = factories.admin("drift-admin")
    user.first_name, user.last_name = "Ada", "Admin"
    user.save(update_fields=["first_name", "last_name"])
    factories.portal_password(user, PASSWORD)
    return user, authenticator(user)


def test_driftsstatus_queue_links_and_run_now(portal: Portal, administrator, browser) -> None:
    user, device = administrator
    context = browser.new_context(locale="da-DK", viewport=SCREEN)
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal.url, user.username, PASSWORD, device=device)

    page.goto(f"{portal.url}/drift/")
    expect(page.locator("h1")).to_contain_text("Driftsstatus")
    # Each queue's name links to its jobs in django-rq: the page must be there, not a 404
    # from the admin's catch-all.
    queue_link = page.locator("#drift-queues ~ * th a").first
    expect(queue_link).to_be_visible()
    with page.expect_navigation() as opened:
        queue_link.click()
    assert opened.value is not None and opened.value.status == 200, page.url
    assert "/admin/rq/" in page.url
    page.goto(f"{portal.url}/drift/")

    # «Kør nu» on the first periodic job: the page says so in Danish, and the job is on its queue.
    first_job = page.locator("#drift-periodic ~ * tbody tr").first
    # The row shows the Danish label, then the function's short name and the queue.
    job_label = first_job.locator("th").evaluate("th => th.firstChild.textContent.trim()")
    job_name = first_job.locator("th .font-monospace").inner_text()
    queue_name = first_job.locator("th div").inner_text().rsplit("·", 1)[-1].strip()
    before = jobs_of(queue_name, job_name)
    first_job.get_by_role("button", name=f"Kør {job_label} nu").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Jobbet »{job_label}« er sat i kø")
    shot(page, "drift")
    assert jobs_of(queue_name, job_name) - before, "«Kør nu» put nothing on the queue"
    context.close()


def jobs_of(queue_name: str, func_name: str) -> set[str]:
    """Ids of the jobs of `func_name` on the queue, running, or run (the worker may be quick)."""
    queue = get_queue(queue_name)
    ids = [
        *queue.job_ids,
        *queue.started_job_registry.get_job_ids(),
        *queue.finished_job_registry.get_job_ids(),
        *queue.failed_job_registry.get_job_ids(),
    ]
    jobs = Job.fetch_many(ids, connection=queue.connection)
    return {job.id for job in jobs if job is not None and job.func_name.endswith(f".{func_name}")}


def test_delivery_search_export_and_audit_log(
    portal: Portal, e2e_world: E2EWorld, administrator, browser, tmp_path
) -> None:
    user, device = administrator
    route = e2e_world.route
    for n in range(6):
        factories.delivery(
            route,
            status=DeliveryStatus.FETCHED,
            period=f"2026-0{n + 1}",
            original_filename=f"dagtilbud-0101-2026-0{n + 1}.csv",
        )
    wanted = factories.delivery(
        route,
        status=DeliveryStatus.REJECTED,
        period="2026-07",
        original_filename="dagtilbud-rettelse-juli.csv",
    )
    # A status change made through the service, as the route page makes it: audit-logged.
    ordered = factories.route(
        sender_system=route.sender_system,
        kommune=route.kommune,
        data_area="skole",
        status=RouteStatus.ORDERED,
        order_reference="INFREF-4711",
    )
    route_transition(route=ordered, new_status=RouteStatus.ESTABLISHED, actor=user, note="OK")

    context = browser.new_context(locale="da-DK", viewport=SCREEN, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal.url, user.username, PASSWORD, device=device)

    page.goto(f"{portal.url}/leverancer/")
    page.fill("#id_q", "rettelse")
    page.get_by_role("button", name="Filtrér").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("afvist")
    shot(page, "leverancer-soeg")
    with page.expect_download() as download:
        page.get_by_role("link", name="Eksportér som CSV").click()
    exported = download.value.path().read_text(encoding="utf-8-sig")
    assert "dagtilbud-rettelse-juli.csv" in exported
    assert "dagtilbud-0101-2026-01.csv" not in exported  # only what is filtered
    assert str(wanted.uuid) in exported or wanted.original_filename in exported

    page.goto(f"{portal.url}/revision/")
    page.select_option("#id_action", "route.status")
    page.get_by_role("button", name="Søg").click()
    change = page.locator(".audit-changes").first
    expect(change).to_contain_text("Status")
    expect(change).to_contain_text("bestilt")
    expect(change).to_contain_text("etableret")
    assert "{'" not in page.locator(".audit-table").inner_text()
    # No blank cells: the date the route had not got yet is empty, the step's note did not
    # exist before the step; both in muted words.
    expect(change.locator(".text-muted", has_text="(tom)").first).to_be_visible()
    expect(change.locator(".text-muted", has_text="(ingen)").first).to_be_visible()
    # The date filters as a Danish user's browser draws them (the screenshot is in the docs).
    assert date_field_text(page, "#id_since") == "dd.mm.åååå"
    shot(page, "revisionslog")
    context.close()


def test_a_page_outside_the_users_scope_is_the_portals_danish_404(
    portal: Portal, e2e_world: E2EWorld, browser
) -> None:
    context = browser.new_context(locale="da-DK", viewport=SCREEN)
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal.url, e2e_world.consultant.username, PASSWORD)
    response = page.goto(f"{portal.url}/leverancer/{e2e_world.other_delivery.uuid}/")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Siden findes ikke")
    # Not Django's technical page, which lists every URL pattern of the portal.
    assert not re.search(r"URLconf|Using the URLconf", page.content())
    context.close()
