"""Samlet upload in a real browser: a vendor drops a month's extracts for ten kommuner and two
data areas on the page at once (20 good files), with a broken one and one for a kommune it has
no route for among them; removes the file without a route on the preview, sends the rest (a job
on the queue), and watches the progress page follow the send and then every delivery through
validation, push and the Hent side's fetch to `hentet` — and the broken one to `afvist` —
without reloading by hand.

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_batch_flow.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict, UploadBatchFile
from tests import factories
from tests.factories import extract_csv
from tests.helpers.browser import Portal, csp_complaints, log_in, shot
from tests.helpers.e2e import (
    BATCH_AREAS,
    BATCH_BROKEN_KOMMUNE,
    BATCH_KOMMUNER,
    PASSWORD,
    E2EWorld,
    add_batch_routes,
    make_e2e_world,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# Twenty-one deliveries through one worker, the stand-in and the fetcher's cron tick.
FLOW_TIMEOUT_MS = 150_000


@pytest.fixture
def e2e_world(
    transactional_db: None, django_db_serialized_rollback: None, private_media: Path
) -> E2EWorld:
    """The flow test's world (tests/helpers/e2e.py) with vendor A's routes for the batch."""
    world = make_e2e_world()
    add_batch_routes(world)
    return world


def month_of_files(folder: Path) -> list[Path]:
    """The 20 good extracts (half named as KOMBIT names them, half with names that say
    nothing, so the content decides), the broken one, and one for Aarhus's Skole."""
    files = []
    for n, (code, area) in enumerate((c, a) for c in BATCH_KOMMUNER for a in BATCH_AREAS):
        name = f"LEV-A_FLIS{area.upper()}_0{code}_202610.csv" if n % 2 else f"udtraek-{n:02d}.csv"
        path = folder / name
        path.write_text(extract_csv(area, kommune=code, rows=5), encoding="utf-8")
        files.append(path)
    broken = folder / f"dagtilbud-{BATCH_BROKEN_KOMMUNE}-2026-10.csv"
    rows = [
        factories.dagtilbud_row(0, kommunekode=BATCH_BROKEN_KOMMUNE),
        factories.dagtilbud_row(1, kommunekode=BATCH_BROKEN_KOMMUNE, startdato="2023-02-30"),
    ]
    broken.write_text(factories.dagtilbud_csv(*rows), encoding="utf-8")
    no_route = folder / "skole-aarhus.csv"
    no_route.write_text(extract_csv("skole", kommune=factories.AARHUS), encoding="utf-8")
    return [*files, broken, no_route]


def test_a_month_of_files_in_one_batch_reaches_the_recipient(
    portal: Portal, e2e_world: E2EWorld, browser, tmp_path: Path
) -> None:
    context = browser.new_context(locale="da-DK", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    csp_errors = csp_complaints(page)
    log_in(page, portal.url, e2e_world.vendor_user.username, PASSWORD)

    # The start page leads to the batch page.
    page.click("#batch-upload-link")
    expect(page.locator("h1")).to_have_text("Samlet upload")
    # The heading shows before the page's script has attached its drop handler: a drop made
    # in between is lost (seen once on a loaded machine), so wait for the page to finish.
    page.wait_for_load_state()
    # The files are dropped on the box, as from a file manager.
    files = month_of_files(tmp_path)
    dropped = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                transfer.items.add(new File([f.text], f.name, { type: "text/csv" }));
            }
            return transfer;
        }""",
        [{"name": path.name, "text": path.read_text(encoding="utf-8")} for path in files],
    )
    page.dispatch_event("#batch-drop", "drop", {"dataTransfer": dropped})
    expect(page.locator("#batch-chosen")).to_contain_text("22 filer valgt")
    page.click("#batch-submit")

    # The preview: 22 rows, the one without a route says so; it is dropped.
    page.wait_for_url(re.compile(r"/leverancer/samlet/[0-9a-f-]{36}/$"))
    rows = page.locator("#batch-table tbody tr")
    expect(rows).to_have_count(22)
    lost = rows.filter(has_text="skole-aarhus.csv")
    expect(lost).to_contain_text("ingen rute for Aarhus Kommune / Skole")
    expect(page.locator("#batch-confirm")).to_have_text(re.compile(r"Send 21 filer"))
    shot(page, "samlet-upload-oversigt")
    lost.get_by_role("button", name="Fjern").click()
    expect(rows.filter(has_text="skole-aarhus.csv")).to_contain_text("fjernet")

    # Sent: the files go through intake in a worker; the progress page follows them there and
    # then all 21 deliveries by itself, and says what the send made of them once it is done.
    page.click("#batch-confirm")
    page.wait_for_url(re.compile(r"/leverancer/samlet/[0-9a-f-]{36}/fremdrift/$"))
    outcome = page.locator("#batch-outcome")
    expect(outcome).to_contain_text("Afsendelsen er færdig.", timeout=FLOW_TIMEOUT_MS)
    expect(outcome).to_contain_text(
        "21 filer er blevet leverancer; rækkerne viser, hvor langt hver er nået."
    )
    expect(page.locator("#batch-sending")).to_have_count(0)
    badges = page.locator("#batch-progress-table .badge")
    expect(badges.filter(has_text="hentet")).to_have_count(20, timeout=FLOW_TIMEOUT_MS)
    expect(badges.filter(has_text=re.compile(r"^afvist$"))).to_have_count(1)
    expect(page.locator("#batch-summary")).to_contain_text("21 af 21 sendte filer er færdige")
    # The bar glides to its new width (Bootstrap's transition): the picture waits until it is
    # full, or it shows a quarter-full bar beside a line that says everything is done.
    page.wait_for_function(
        "() => { const bar = document.querySelector('#batch-follow .progress-bar');"
        " return bar.getBoundingClientRect().width >= bar.parentElement.clientWidth - 1; }"
    )
    shot(page, "samlet-upload-fremdrift")
    assert csp_errors == [], "\n".join(csp_errors)

    made = Delivery.objects.exclude(pk=e2e_world.other_delivery.pk)
    assert made.filter(status=DeliveryStatus.FETCHED).count() == 20
    rejected = made.get(status=DeliveryStatus.REJECTED)
    assert rejected.kommune.code == BATCH_BROKEN_KOMMUNE
    assert {(d.kommune.code, d.data_area.code) for d in made.filter(status="fetched")} == {
        (code, area) for code in BATCH_KOMMUNER for area in BATCH_AREAS
    }
    for receipt in Receipt.objects.select_related("delivery"):
        assert receipt.verdict == ReceiptVerdict.OK
        assert receipt.sha256 == receipt.delivery.sha256  # end-to-end integrity
    dropped = UploadBatchFile.objects.get(original_name="skole-aarhus.csv")
    assert dropped.dropped and dropped.delivery is None

    # Each row links to its delivery.
    page.locator("#batch-progress-table a", has_text=rejected.original_filename).click()
    expect(page).to_have_url(re.compile(rf"/leverancer/{rejected.uuid}/$"))
    expect(page.locator("table.table-striped")).to_contain_text("startdato")
    context.close()
