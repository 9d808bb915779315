"""Dækning's overview: every kommune × data area as one small cell in a state that reads
without colour (a shape, and the state in words in its accessible name), grouped by region,
linking to the kommune's page; the kommune search and the "kun huller" / "kun overskredne"
filters narrow both the overview and the table; the page's query count stays fixed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedState
from deliveries.selectors import collecting_period
from flisportal.front.coverage import CELL_GLYPHS, CellState
from tests import factories
from tests.helpers.country import varied_country
from tests.helpers.pages import table_of

pytestmark = pytest.mark.django_db

CELL = re.compile(
    r'<a class="ov ov-(\w+)( ov-dim)?" href="([^"]+)" title="([^"]+)" aria-label="([^"]+)">(.)</a>'
)


def overview_of(page) -> str:
    html = page.content.decode()
    return html[
        html.index('<div class="overview" id="overview">') : html.index('id="overview-none"')
    ]


def cells_of(page) -> dict[str, tuple[str, bool, str, str]]:
    """Accessible name -> (state, dimmed, link, glyph) of every overview cell."""
    found = {}
    for state, dim, href, title, label, glyph in CELL.findall(overview_of(page)):
        assert title == label  # the same words for the pointer and the screen reader
        found[label] = (state, bool(dim), href, glyph)
    return found


def row_codes(page) -> list[str]:
    return [text.split()[0] for text in re.findall(r'data-kommune="([^"]+)"', overview_of(page))]


def test_every_state_has_its_own_shape_and_its_name_in_words(admin_client):
    # Readable without colour: no two states share a glyph, and each is named in words.
    assert len(set(CELL_GLYPHS.values())) == len(CellState)
    plan = varied_country()
    cells = cells_of(admin_client.get(reverse("front:coverage")))
    assert len(cells) == 98 * 5
    collecting = collecting_period()
    aarhus = plan[("751", "skole")]
    expected_name = {
        "overdue": f"Aarhus · Skole: overskredet ({collecting})",
        "met": f"Aarhus · Skole: leveret ({collecting})",
        "none": "Aarhus · Skole: ingen rute",
        "waiting": "Aarhus · Skole: rute bestilt",
        "rejected": f"Aarhus · Skole: afvist ({collecting})",
        "due_soon": f"Aarhus · Skole: frist nærmer sig ({collecting})",
        "pending": f"Aarhus · Skole: afventer ({collecting})",
    }[aarhus]
    state, dimmed, href, glyph = cells[expected_name]
    assert (state, dimmed, glyph) == (aarhus, False, CELL_GLYPHS[aarhus])
    assert href == reverse("front:kommune", args=["751"])
    # The legend says each shape in words and leads to the help page on the states.
    html = admin_client.get(reverse("front:coverage")).content.decode()
    assert f'<a href="{reverse("front:help")}">Hvad betyder tilstandene?</a>' in html
    made = {state for state in plan.values()}
    assert {cell[0] for cell in cells.values()} == made == {s.value for s in CellState}


def test_the_overdue_state_has_the_name_the_help_page_and_the_badges_give_it(admin_client):
    # One state, one word: the legend, the filter and the cells say «overskredet», as the
    # expected-delivery badges (Detaljer, Udestående) and the Hjælp page the legend links to
    # do; «forsinket» sent the user to the help page looking for a word it does not have.
    assert CellState.OVERDUE.label == ExpectedState.OVERDUE.label == "overskredet"
    html = admin_client.get(reverse("front:coverage")).content.decode()
    assert '<span class="ov ov-overdue" aria-hidden="true">!</span> overskredet</li>' in html
    assert '<option value="forsinkede">Kun overskredne</option>' in html
    assert "forsinke" not in html.replace('value="forsinkede"', "")


def test_cells_are_grouped_by_region_in_the_regions_order(admin_client):
    html = overview_of(admin_client.get(reverse("front:coverage")))
    captions = re.findall(r"<caption>(\w+) <span[^>]*>\((\d+)\)</span></caption>", html)
    assert captions == [
        ("Hovedstaden", "29"),
        ("Sjælland", "17"),
        ("Syddanmark", "22"),
        ("Midtjylland", "19"),
        ("Nordjylland", "11"),
    ]


def test_a_later_success_is_not_shown_as_rejected(admin_client, upload_route):
    # The newest delivery speaks for the cell: a rejection followed by a sent file is settled.
    period = collecting_period()
    factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period=period)
    url = reverse("front:coverage")
    name = "Københavns · Dagtilbud: afvist"
    assert any(label.startswith(name) for label in cells_of(admin_client.get(url)))
    factories.delivery(upload_route, status=DeliveryStatus.SENT, period=period)
    assert not any(label.startswith(name) for label in cells_of(admin_client.get(url)))


def test_search_by_name_or_code_filters_overview_and_table(admin_client):
    url = reverse("front:coverage")
    assert row_codes(admin_client.get(url, {"search": "aar"})) == ["173", "751"]  # Taarbæk
    page = admin_client.get(url, {"search": "AARHUS"})
    assert row_codes(page) == ["751"]
    assert "Aarhus Kommune" in table_of(page)
    assert "Københavns Kommune" not in table_of(page)
    assert row_codes(admin_client.get(url, {"search": "0101"})) == ["101"]
    assert row_codes(admin_client.get(url, {"search": "15"})) == ["151", "153", "155", "157", "159"]
    nothing = admin_client.get(url, {"search": "Atlantis"})
    assert "Ingen kommuner matcher filtrene." in nothing.content.decode()


@pytest.mark.parametrize(
    ("only", "wanted"), [("huller", {"none", "waiting"}), ("forsinkede", {"overdue"})]
)
def test_only_gaps_or_only_overdue_keeps_the_kommuner_with_such_a_cell(admin_client, only, wanted):
    plan = varied_country()
    page = admin_client.get(reverse("front:coverage"), {"only": only})
    kept = {code for (code, _area), state in plan.items() if state in wanted}
    assert set(row_codes(page)) == kept and 0 < len(kept) < 98
    cells = cells_of(page).values()
    # The other cells of a kept kommune stay, dimmed, so the row still reads as a whole.
    assert {state for state, dimmed, _h, _g in cells if not dimmed} == wanted
    assert all(dimmed for state, dimmed, _h, _g in cells if state not in wanted)
    assert table_of(page).count('<tr data-kommune="') == len(kept)


def test_the_search_script_is_a_static_file(admin_client):
    # The portal's CSP allows no inline script: the search enhances the page from a file.
    html = admin_client.get(reverse("front:coverage")).content.decode()
    assert "/static/flisportal/coverage.js" in html
    assert "<script>" not in html


def test_filters_keep_the_query_count_fixed(admin_client, django_assert_num_queries):
    url = reverse("front:coverage")
    query = {"search": "a", "only": "huller"}
    # session, user, the change stamp, the matrix's seven, vendors and areas for the form
    with django_assert_num_queries(12):
        admin_client.get(url, query)
    varied_country(vendors=6, months=3)
    with django_assert_num_queries(12):
        page = admin_client.get(url, query)
    assert len(row_codes(page)) > 10
