"""Samlet upload's detection (deliveries/detection.py): the content decides a file's data area,
kommune and period, the name is only a hint, and the route is one of the user's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from deliveries.detection import Detector, Problem
from tests import factories
from tests.factories import DAGTILBUD_HEADER, extract_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def detect(tmp_path: Path, vendor_a_user, upload_route):
    """Detects `content` saved under `name`, as vendor A (who has København / Dagtilbud)."""

    def run(name: str, content: str, **kwargs):
        path = tmp_path / "staged.csv"
        path.write_text(content, encoding=kwargs.pop("encoding", "utf-8"))
        return Detector(vendor_a_user, **kwargs).detect(path, name)

    return run


def test_the_content_gives_area_kommune_period_and_route(detect, upload_route):
    found = detect("udtraek.csv", extract_csv("dagtilbud", period="202610"))
    assert (found.data_area, found.kommune) == (upload_route.data_area, upload_route.kommune)
    assert found.period == "2026-10"
    assert found.route == upload_route
    assert found.problems == []


def test_the_content_wins_over_a_name_that_says_otherwise(detect, upload_route):
    # The name says Skole, Aarhus, September; the rows say Dagtilbud, København, October.
    found = detect("skole_0751_202609.csv", extract_csv("dagtilbud"))
    assert found.route == upload_route
    assert found.period == "2026-10"


def test_the_name_is_asked_when_the_kommune_and_period_columns_are_empty(detect, upload_route):
    # KOMBIT's own naming: the kommune code in four digits, the month as ÅÅÅÅMM.
    found = detect("LEV1_FLISDAGTILBUD_0101_202611_5d1c9e0a.csv", DAGTILBUD_HEADER + "\n")
    assert found.route == upload_route
    assert found.period == "2026-11"
    assert found.problems == []


def test_a_header_no_contract_resembles_leaves_the_area_to_the_name(detect, upload_route):
    found = detect("dagtilbud-101-2026-10.csv", "a;b;c\n1;2;3\n")
    assert found.data_area == upload_route.data_area
    assert found.route == upload_route
    assert found.period == "2026-10"


def test_two_areas_in_the_name_and_no_header_is_ambiguous(detect):
    found = detect("skole_og_dagtilbud_101_202610.csv", "a;b;c\n1;2;3\n")
    assert found.data_area is None
    assert found.route is None
    assert Problem.AMBIGUOUS_AREA in found.problems


def test_several_kommuner_or_periods_in_one_file_are_problems(detect):
    rows = [factories.dagtilbud_row(0), factories.dagtilbud_row(1, kommunekode="751")]
    rows.append(factories.dagtilbud_row(2, periode="202611"))
    found = detect("udtraek.csv", factories.dagtilbud_csv(*rows))
    assert Problem.MANY_KOMMUNER in found.problems
    assert Problem.MANY_PERIODS in found.problems
    assert (found.kommune, found.period, found.route) == (None, "", None)


def test_no_period_anywhere_is_a_problem(detect, upload_route):
    found = detect("udtraek.csv", DAGTILBUD_HEADER + "\n" + ";" * 11 + "\n")
    assert found.period == ""
    assert Problem.NO_PERIOD in found.problems


def test_a_kommune_and_area_without_a_route_of_the_user_is_no_route(detect, system_b):
    # Vendor B delivers Skole for Aarhus; that route is not vendor A's to use.
    factories.route(sender_system=system_b, kommune=factories.AARHUS, data_area="skole")
    found = detect("udtraek.csv", extract_csv("skole", kommune="751"))
    assert found.kommune == factories.kommune(factories.AARHUS)
    assert found.data_area == factories.data_area("skole")
    assert found.route is None
    assert found.problems == [Problem.NO_ROUTE]


def test_two_routes_for_the_same_kommune_and_area_need_the_environment(
    detect, upload_route, system_a
):
    factories.route(sender_system=system_a, data_area="dagtilbud", endpoint="exttest")
    found = detect("udtraek.csv", extract_csv("dagtilbud"))
    assert found.route is None
    assert found.problems == [Problem.MANY_ROUTES]
    chosen = detect("udtraek.csv", extract_csv("dagtilbud"), endpoint=upload_route.endpoint)
    assert chosen.route == upload_route


def test_a_file_the_csv_reader_cannot_read_is_unreadable_not_an_error(detect):
    # One field of 200 KB (a binary file, say): past the csv module's field size limit.
    found = detect("udtraek.csv", DAGTILBUD_HEADER + "\n101;" + "x" * 200_000 + "\n")
    assert found.problems == [Problem.UNREADABLE]


def test_a_windows_1252_file_is_read_as_the_validator_reads_it(detect, upload_route):
    content = extract_csv("dagtilbud").replace("vuggestue", "børnehave")
    found = detect("udtraek.csv", content, encoding="cp1252")
    assert found.route == upload_route
