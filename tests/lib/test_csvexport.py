"""flisportal/lib/csvexport.py: every CSV export is written for Danish Excel, and no cell can
start a formula (OWASP CSV injection). The exports themselves are found and checked end to end
in tests/hostile/test_csv_exports.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from flisportal.lib.csvexport import csv_download, csv_safe, stamped


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_starts_like_a_formula_is_made_text(start):
    assert csv_safe(f"{start}SUM(A1)") == f"'{start}SUM(A1)"


def test_other_cells_are_written_as_they_are():
    assert csv_safe("Københavns Kommune") == "Københavns Kommune"
    assert csv_safe("a=b") == "a=b"  # only the first character counts
    assert csv_safe(None) == ""
    assert csv_safe(101) == "101"


def test_the_download_is_utf8_with_a_bom_semicolons_and_crlf():
    response = csv_download("eksport.csv", ["navn", "formel"], [["Århus", "=1+1"], [None, 7]])
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body == "\ufeffnavn;formel\r\nÅrhus;'=1+1\r\n;7\r\n"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="eksport.csv"'


def test_header_cells_are_neutralised_too():
    response = csv_download("x.csv", ["=navn"], [])
    assert b"".join(response.streaming_content).decode("utf-8") == "\ufeff'=navn\r\n"


def test_an_export_is_named_with_the_local_time():
    # 13:05 UTC on 27 November is 14:05 in Copenhagen (CET, +1).
    with time_machine.travel(datetime(2026, 11, 27, 13, 5, tzinfo=UTC), tick=False):
        assert stamped("daekning") == "daekning-20261127-1405.csv"
