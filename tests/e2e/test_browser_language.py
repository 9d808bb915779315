"""The test browser speaks Danish, as the portal's users' browsers do: a date field reads
dd.mm.åååå, not the American mm/dd/yyyy. The context's locale alone does not do it (Chromium
draws date fields in its own UI language), and the docs' screenshots are taken in this browser.
No portal is needed: the field is drawn the same on any page.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.browser import date_field_text

pytestmark = pytest.mark.e2e


def test_date_fields_are_drawn_the_danish_way(page: Any) -> None:
    page.set_content(
        '<label for="since">Fra dato</label><input type="date" id="since">'
        '<label for="until">Til dato</label><input type="date" id="until" value="2026-11-30">'
    )
    # Empty: the placeholder a Danish user sees. Filled: day, month and year with dots.
    assert date_field_text(page, "#since") == "dd.mm.åååå"
    assert date_field_text(page, "#until") == "30.11.2026"
