"""Wholly empty lines, as real systems write them (a trailing blank line, Excel's `;;;;`), are
skipped with a notice instead of rejecting a valid file; half-empty rows are still refused, and
later errors keep the file's own line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from deliveries.datacontracts import CONTRACTS_DIR, read_contract
from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.validation import validate_file
from tests.factories import DAGTILBUD_HEADER, dagtilbud_csv, dagtilbud_row

DAGTILBUD = read_contract(CONTRACTS_DIR / "dagtilbud.json")
EXCEL_EMPTY = ";" * 11  # a row of only separators, 12 columns


def run(tmp_path: Path, text: str, **kwargs):
    path = tmp_path / "extract.csv"
    path.write_bytes(text.encode("utf-8"))
    kwargs.setdefault("kommune_code", "101")
    kwargs.setdefault("period", "2026-10")
    return validate_file(path, DAGTILBUD, **kwargs)


def lines(*rows: str) -> str:
    return DAGTILBUD_HEADER + "\n" + "".join(row + "\n" for row in rows)


def test_a_trailing_blank_line_is_skipped_with_a_notice(tmp_path):
    report = run(tmp_path, dagtilbud_csv(rows_ok=2) + "\n")
    assert report.is_valid, [(i.row, i.rule) for i in report.issues]
    assert report.rows_checked == 2
    [notice] = report.notices
    assert notice.danish.startswith("1 tom linje blev sprunget over (linje 4).")


def test_excel_separator_lines_and_blank_lines_are_skipped_with_their_line_numbers(tmp_path):
    text = lines(dagtilbud_row(0), EXCEL_EMPTY, "   ", dagtilbud_row(1), "", EXCEL_EMPTY + "\r")
    report = run(tmp_path, text)
    assert report.is_valid
    assert report.rows_checked == 2
    [notice] = report.notices
    assert notice.danish.startswith("4 tomme linjer blev sprunget over (linje 3, 4, 6, 7).")


def test_a_last_line_of_separators_without_a_line_break_is_skipped(tmp_path):
    report = run(tmp_path, dagtilbud_csv(rows_ok=1) + EXCEL_EMPTY)
    assert report.is_valid
    assert report.empty_line_rows == [3]


def test_a_half_empty_row_is_still_refused(tmp_path):
    # Rule: only a wholly empty line is skipped; a row with one value is data and is checked.
    report = run(tmp_path, lines(dagtilbud_row(0), "101" + EXCEL_EMPTY))
    assert not report.is_valid
    assert report.notices == []
    assert {(i.row, i.column, i.rule) for i in report.issues} >= {
        (3, "periode", "required"),
        (3, "pladstype", "required"),
    }


def test_later_errors_keep_the_files_line_numbers_across_blocks(tmp_path):
    # Small blocks, so the empty lines and the error fall in different blocks.
    rows = [dagtilbud_row(0), "", EXCEL_EMPTY, dagtilbud_row(1), ""]
    rows += [dagtilbud_row(2), dagtilbud_row(3, pladstype="halv"), EXCEL_EMPTY]
    report = run(tmp_path, lines(*rows), batch_bytes=300)
    assert [(i.row, i.column, i.rule) for i in report.issues] == [(8, "pladstype", "enum")]
    assert report.empty_line_rows == [3, 4, 6, 9]


def test_a_blank_line_inside_a_quoted_value_is_not_skipped(tmp_path):
    # The empty line is part of a value, not a line of the file: the row is checked whole.
    row = dagtilbud_row(0, friplads='"hel\n\nog delvis"')
    report = run(tmp_path, lines(row, dagtilbud_row(1)))
    assert report.empty_lines == 0
    assert [(i.column, i.rule) for i in report.issues] == [("friplads", "enum")]


def test_many_empty_lines_name_the_first_ten(tmp_path):
    report = run(tmp_path, lines(dagtilbud_row(0), *[EXCEL_EMPTY] * 25))
    assert report.is_valid
    [notice] = report.notices
    assert notice.danish.startswith(
        "25 tomme linjer blev sprunget over (linje 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, …)."
    )


def test_a_file_of_only_empty_lines_has_no_data(tmp_path):
    report = run(tmp_path, lines("", EXCEL_EMPTY, ""))
    assert [i.rule for i in report.issues] == ["empty"]


@pytest.mark.django_db
def test_the_delivery_page_shows_the_notice_of_a_valid_delivery(
    client, make_delivery, upload_route, vendor_a_user
):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1) + EXCEL_EMPTY)
    assert validate_delivery(delivery.pk) == DeliveryStatus.VALID
    delivery.refresh_from_db()
    assert delivery.validation_notices[0]["message_code"] == "validation.empty_line_skipped"
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "1 tom linje blev sprunget over (linje 3)." in page
