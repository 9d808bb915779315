"""The product in a real browser: a vendor uploads a valid extract and follows it to `fetched`
without reloading by hand, uploads a broken one and reads the report in Danish; a kommune
consultant sees both deliveries, finds the good one in the inbox, and gets 404 on another
vendor's delivery. Screenshots of the pages go to test-artifacts/.

Run it alone with `.venv/bin/pytest -m e2e` (README, "Hent-side").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.browser import Portal, csp_complaints, log_in, shot
from tests.helpers.e2e import PASSWORD, E2EWorld

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# Push, platform, receipt and fetch each wait for a worker or a cron tick: generous, since the
# suite shares two cores with whatever else runs.
FLOW_TIMEOUT_MS = 120_000
STATUS_BADGE = "h1 + span .badge"


def upload(
    page: Page, portal: Portal, world: E2EWorld, path: Path, *, redelivery: bool = False
) -> None:
    route = world.route
    page.goto(f"{portal.url}/leverancer/upload/")
    page.select_option("#id_route", str(route.pk))
    page.fill("#id_period", "2026-10")
    if redelivery:
        page.check("#id_redelivery_confirmed")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-submit")


def test_upload_follow_fetch_and_inbox(
    portal: Portal, e2e_world: E2EWorld, browser, tmp_path: Path
) -> None:
    vendor = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    page = vendor.new_page()
    csp_errors = csp_complaints(page)
    log_in(page, portal.url, e2e_world.vendor_user.username, PASSWORD)

    # (1) A valid extract, uploaded over a throttled line so the progress bar has time to show.
    good = tmp_path / "dagtilbud-0101-2026-10.csv"
    good.write_text(dagtilbud_csv(rows_ok=4000), encoding="utf-8")
    cdp = vendor.new_cdp_session(page)
    cdp.send("Network.enable")
    throttle = {"offline": False, "latency": 20, "downloadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": 120 * 1024})
    upload(page, portal, e2e_world, good)
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#upload-progress-text")).to_have_text(re.compile(r"\d+ %"))
    page.wait_for_url(re.compile(r"/leverancer/[0-9a-f-]{36}/$"), timeout=FLOW_TIMEOUT_MS)
    cdp.send("Network.emulateNetworkConditions", {**throttle, "uploadThroughput": -1})
    good_url = page.url

    # The page follows the delivery by itself through validation, push, platform and fetch.
    expect(page.locator(STATUS_BADGE)).to_have_text("hentet", timeout=FLOW_TIMEOUT_MS)
    last_step = page.locator("ol li").last
    expect(last_step).to_contain_text("Hentet af FLIS (FLIS_HENT)")
    expect(last_step).to_contain_text("i orden")
    shot(page, "leverance")

    delivery = Delivery.objects.get(original_filename=good.name)
    assert delivery.status == DeliveryStatus.FETCHED
    receipt = Receipt.objects.get(delivery=delivery)
    assert receipt.verdict == ReceiptVerdict.OK
    assert receipt.sha256 == delivery.sent_sha256 == delivery.sha256  # sent as uploaded (UTF-8)

    # (2) A broken extract: the report lists the first errors in Danish.
    broken = tmp_path / "dagtilbud-0101-2026-10-fejl.csv"
    broken.write_text(
        dagtilbud_csv(dagtilbud_row(9, startdato="2023-02-30"), rows_ok=5), encoding="utf-8"
    )
    # October is delivered and fetched by now: a second file for it must be confirmed.
    upload(page, portal, e2e_world, broken, redelivery=True)
    page.wait_for_url(re.compile(r"/leverancer/[0-9a-f-]{36}/$"))
    assert page.url != good_url
    expect(page.locator(STATUS_BADGE)).to_have_text("afvist", timeout=FLOW_TIMEOUT_MS)
    report = page.locator("table.table-striped")
    expect(report).to_contain_text("startdato")
    expect(report).to_contain_text("«2023-02-30» er ikke en dato, der findes.")
    shot(page, "leverance-afvist")

    # The start page puts the rejected extract, the newest for its route and period, under
    # "Kræver handling", with a link to its report.
    page.goto(f"{portal.url}/")
    needs_action = page.locator("section[aria-labelledby=problems-heading]")
    expect(needs_action.locator("tbody tr")).to_have_count(1)
    expect(needs_action).to_contain_text("afvist")
    expect(needs_action.get_by_role("link", name="Upload rettet fil")).to_be_visible()
    needs_action.get_by_role("link", name=re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}$")).click()
    page.wait_for_url(re.compile(r"/leverancer/[0-9a-f-]{36}/$"))
    expect(page.locator(STATUS_BADGE)).to_have_text("afvist")
    page.goto(f"{portal.url}/")
    shot(page, "forside")

    # Checked before the 404 pages below: with DEBUG on (runserver serves the static files),
    # Django answers 404 with its own technical page, which has an inline style.
    assert csp_errors == [], "\n".join(csp_errors)

    # The vendor cannot open another vendor's delivery either.
    other_url = f"{portal.url}/leverancer/{e2e_world.other_delivery.uuid}/"
    assert page.goto(other_url).status == 404
    vendor.close()

    # (3) The consultant of København sees both deliveries and the good one in the inbox.
    consultant = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    page = consultant.new_page()
    csp_errors = csp_complaints(page)  # a fresh list: the vendor's 404 page may still report late
    log_in(page, portal.url, e2e_world.consultant.username, PASSWORD)
    page.click("nav >> text=Leverancer")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table tbody")).to_contain_text("hentet")
    expect(page.locator("table tbody")).to_contain_text("afvist")
    shot(page, "leverancer")

    # The coverage dashboard: København's Dagtilbud cell shows the newest delivery (the
    # rejected one, uploaded last) and links to its page.
    page.click("nav >> text=Dækning")
    row = page.locator("table.coverage-table tbody tr", has_text="101 Københavns")
    link = row.locator("a.latest-delivery")
    expect(link).to_have_count(1)
    expect(link).to_contain_text("afvist")
    shot(page, "daekning")
    link.click()
    expect(page).to_have_url(re.compile(r"/leverancer/[0-9a-f-]{36}/$"))
    expect(page.locator("main")).to_contain_text("afvist")

    page.click("nav >> text=Indbakke")
    inbox_rows = page.locator("#inbox tbody tr")
    expect(inbox_rows).to_have_count(1)
    expect(inbox_rows.first).to_contain_text("101 København")
    expect(inbox_rows.first).to_contain_text("Dagtilbud")
    expect(inbox_rows.first).to_contain_text("2026-10")
    expect(inbox_rows.first).to_contain_text("i orden")
    expect(inbox_rows.first).to_contain_text("ny")
    shot(page, "indbakke")

    # Opening the receipt marks it read; the fetched file downloads for this consultant.
    # The row's link is its fetch time (the verdict's "?" links to the help page).
    inbox_rows.first.get_by_role(
        "link", name=re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}$")
    ).click()
    expect(page.locator("h1")).to_contain_text(receipt.file_name)
    with page.expect_download() as download:
        page.click("text=Hent filen")
    assert Path(download.value.path()).read_bytes() == good.read_bytes()
    page.click("nav >> text=Indbakke")
    expect(page.locator("#inbox tbody tr.receipt-unread")).to_have_count(0)

    assert csp_errors == [], "\n".join(csp_errors)

    # Another vendor's delivery for another kommune: 404, not 403.
    assert page.goto(other_url).status == 404
    consultant.close()
