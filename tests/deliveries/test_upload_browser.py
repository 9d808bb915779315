"""The upload page in a real browser: the script posts with progress, redirects to the new
delivery on success, keeps a refusal on screen, and tells the server which button was pressed
(«Kontrollér uden at sende» makes a check, not a delivery); a long list of routes gets a filter
box."""

from __future__ import annotations

import pytest

from deliveries.models import Delivery, FileCheck
from tests import factories
from tests.factories import dagtilbud_csv, portal_password
from tests.helpers.browser import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


PASSWORD = "pw-vendor-a-1234"


def _fill(page, url, route, extract, *, button="#upload-submit"):
    page.goto(f"{url}/leverancer/upload/")
    page.select_option("select[name=route]", str(route.pk))
    page.fill("input[name=period]", "2026-10")
    page.set_input_files("input[type=file]", str(extract))
    page.click(button)


def test_upload_redirects_and_a_refusal_stays_on_screen(
    portal_url, page, vendor_a_user, upload_route, tmp_path
):
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)

    extract = tmp_path / "udtraek.csv"
    extract.write_text(dagtilbud_csv(rows_ok=20), encoding="utf-8")
    _fill(page, portal_url, upload_route, extract)
    page.wait_for_url(f"{portal_url}/leverancer/*-*/", timeout=15_000)
    delivery = Delivery.objects.get()
    assert page.url.endswith(f"/leverancer/{delivery.uuid}/")
    assert delivery.original_filename == "udtraek.csv"

    # The same bytes again without confirming: refused, and the message stays on screen.
    _fill(page, portal_url, upload_route, extract)
    errors = page.locator("#upload-errors")
    errors.wait_for(state="visible", timeout=15_000)
    page.wait_for_timeout(500)
    assert errors.is_visible()
    assert "præcis den samme fil blev uploadet" in errors.inner_text()
    # With a link to what was delivered before, added by the script from the JSON answer.
    earlier = page.locator("#upload-earlier")
    assert earlier.get_attribute("href") == f"/leverancer/{delivery.uuid}/"
    assert page.url == f"{portal_url}/leverancer/upload/"
    assert Delivery.objects.count() == 1


def test_the_check_button_makes_a_check_and_shows_its_page(
    portal_url, page, vendor_a_user, upload_route, tmp_path
):
    """The script posts the form itself; without the pressed button's name in its post, the
    server would take it for «Upload» and make a delivery."""
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    extract = tmp_path / "udtraek.csv"
    extract.write_text(dagtilbud_csv(rows_ok=5), encoding="utf-8")
    _fill(page, portal_url, upload_route, extract, button="#check-submit")
    page.wait_for_url(f"{portal_url}/leverancer/kontrol/*-*/", timeout=15_000)
    check = FileCheck.objects.get()
    assert page.url.endswith(f"/leverancer/kontrol/{check.uuid}/")
    # No worker runs here: the check waits on the queue, and its banner says so.
    assert check.is_working
    assert "Kun kontrol — intet sendes." in page.locator("#check-banner").inner_text()
    assert not Delivery.objects.exists()


def test_a_long_route_list_can_be_filtered_by_words(
    portal_url, page, vendor_a_user, vendor_a, system_a, upload_route
):
    # Three kommuner × five areas: more routes than are read at a glance.
    for code in (factories.KBH, factories.AARHUS, "461"):
        kommune = factories.kommune(code)
        if code != factories.KBH:
            factories.agreement(vendor_a, kommune)
        for area in ("dagtilbud", "skole", "personale", "oekonomi", "voksne_handicappede"):
            if not (code == factories.KBH and area == "dagtilbud"):  # upload_route is that one
                factories.route(sender_system=system_a, kommune=kommune, data_area=area)
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    page.goto(f"{portal_url}/leverancer/upload/")

    page.fill("#route-filter", "aarhus skole")

    shown = page.locator("#id_route option:not([hidden])").all_inner_texts()
    assert [text for text in shown if "·" in text] == [
        f"Skole · {system_a} · Lokal stand-in (udvikling og test)"
    ]
    page.fill("#route-filter", "ingenting")
    assert page.get_by_text("Ingen ruter passer til søgningen.").is_visible()
