"""How the validator splits a file's work between two threads (issue #18): the thread that
reads and parses the next block also writes its key text aside and drops its empty lines,
so that the checks of the current block, in the caller's thread, are all the caller does."""

from __future__ import annotations

import threading

from deliveries import validation
from deliveries.datacontracts import CONTRACTS_DIR, read_contract
from deliveries.validation import validate_file
from tests.factories import DAGTILBUD_HEADER, dagtilbud_row

DAGTILBUD = read_contract(CONTRACTS_DIR / "dagtilbud.json")
NAMES = DAGTILBUD_HEADER.split(";")


def test_blocks_are_prepared_in_the_parsing_thread_with_the_files_row_numbers(tmp_path):
    path = tmp_path / "extract.csv"
    rows = [dagtilbud_row(i) for i in range(200)]
    path.write_text(DAGTILBUD_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    prepared_in: set[int] = set()

    def prepare(frame):
        prepared_in.add(threading.get_ident())
        return frame.head(3)

    frames = list(validation._frames(path, DAGTILBUD, NAMES, 2048, prepare))
    assert len(frames) > 3
    assert prepared_in and threading.get_ident() not in prepared_in
    # What `prepare` returns is what the caller gets; the row numbers count every parsed
    # row, also those `prepare` left out.
    firsts = [frame["__row"].to_list() for frame, _ in frames]
    starts = [block.first_row for _, block in frames]
    assert [rows[0] for rows in firsts] == starts
    assert all(len(rows) == 3 for rows in firsts[:-1])
    assert starts[0] == 2 and starts[1] > 5


def test_empty_lines_in_every_block_are_never_duplicate_keys(tmp_path):
    """The key text is written before the empty lines are dropped; their rows have no key
    hash, so the many empty keys are never compared, and a real duplicate still is."""
    body = []
    for i in range(400):
        body += [dagtilbud_row(i), ";" * 11]
    body.append(dagtilbud_row(5))
    path = tmp_path / "extract.csv"
    path.write_text(DAGTILBUD_HEADER + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    report = validate_file(path, DAGTILBUD, kommune_code="101", period="2026-10", batch_bytes=4096)
    assert [(i.row, i.rule) for i in report.issues] == [(802, "primaryKey")]
    assert "række 12" in report.issues[0].message
    assert report.empty_lines == 400
