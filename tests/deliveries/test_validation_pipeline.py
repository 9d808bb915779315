"""How the validator splits a file's work between threads (issue #18): two blocks are
parsed and checked at once, each in a worker thread (both cores busy), while the caller
takes the finished blocks in the file's order; a failure in the middle leaves no thread
behind."""

from __future__ import annotations

import threading

import pytest

from deliveries import validation
from deliveries.datacontracts import CONTRACTS_DIR, read_contract
from deliveries.validation import validate_file
from tests.factories import DAGTILBUD_HEADER, dagtilbud_row

DAGTILBUD = read_contract(CONTRACTS_DIR / "dagtilbud.json")
NAMES = DAGTILBUD_HEADER.split(";")


_parse = validation._parser(DAGTILBUD, NAMES)


def _numbered(prepare):
    """`prepare` of a block's frame numbered with the file's rows, as the exact way does."""
    return lambda frame, first: prepare(validation._numbered(frame, first))


def _extract(tmp_path, rows: list[str]):
    path = tmp_path / "extract.csv"
    path.write_text(DAGTILBUD_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_two_blocks_are_prepared_at_once_and_come_back_in_the_files_order(tmp_path):
    """Both cores work: the second block is prepared while the first still is, and the
    first block, finished last, is still handed over first, with the file's row numbers."""
    path = _extract(tmp_path, [dagtilbud_row(i) for i in range(200)])
    lock = threading.Lock()
    running: list[int] = []
    most_at_once = 0
    calls = 0
    # The first two blocks meet inside `prepare` (or give up after 5 s, as a pipeline that
    # prepares one block at a time would): a worker that only got there after the other had
    # left would otherwise look like no overlap on a busy machine.
    both_in = threading.Barrier(2)
    second_done = threading.Event()
    prepared_in: set[int] = set()

    def prepare(frame):
        nonlocal most_at_once, calls
        first = frame["__row"][0]
        with lock:
            calls += 1
            meets = calls <= 2
            running.append(first)
            most_at_once = max(most_at_once, len(running))
            prepared_in.add(threading.get_ident())
        if meets:
            try:
                both_in.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
        if first == 2:
            # The first block finishes last, after another one was prepared meanwhile.
            second_done.wait(timeout=5)
        with lock:
            running.remove(first)
        if first != 2:
            second_done.set()
        return frame.head(3)

    frames = list(validation._frames(path, DAGTILBUD, 2048, _parse, _numbered(prepare)))
    assert len(frames) > 3
    assert most_at_once == 2
    assert len(prepared_in) == 2 and threading.get_ident() not in prepared_in
    # What `prepare` returns is what the caller gets; the row numbers count every parsed
    # row, also those `prepare` left out.
    firsts = [frame["__row"].to_list() for frame, _ in frames]
    starts = [block.first_row for _, block in frames]
    assert [rows[0] for rows in firsts] == starts
    assert starts == sorted(starts)
    assert all(len(rows) == 3 for rows in firsts[:-1])
    assert starts[0] == 2 and starts[1] > 5


def _validate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("validate")]


@pytest.mark.parametrize(
    ("bad_row", "rule"),
    [
        # polars stops on it: a structure problem, raised by a worker in the middle.
        (dagtilbud_row(0) + ";extra;fields", "structure"),
        # Not UTF-8: the file is transcoded and checked again from the start.
        (dagtilbud_row(0).replace("vuggestue", "vuggest\xf8e"), "enum"),
    ],
)
def test_a_file_that_fails_in_the_middle_leaves_no_thread_behind(tmp_path, bad_row, rule):
    """The blocks after the failing one do not wait for its row numbers forever (they get
    its error), and every worker has finished when the call returns."""
    rows = [dagtilbud_row(i) for i in range(1, 300)]
    rows[150] = bad_row
    path = tmp_path / "extract.csv"
    path.write_bytes(
        (DAGTILBUD_HEADER + "\n" + "\n".join(rows) + "\n").encode("utf-8", "surrogateescape")
    )
    report = validate_file(path, DAGTILBUD, kommune_code="101", period="2026-10", batch_bytes=2048)
    assert [issue.rule for issue in report.issues] == [rule]
    assert report.issues[0].row == 152
    assert _validate_threads() == []


def test_an_early_close_leaves_no_thread_behind(tmp_path):
    path = _extract(tmp_path, [dagtilbud_row(i) for i in range(200)])
    frames = validation._frames(path, DAGTILBUD, 2048, _parse, _numbered(lambda frame: frame))
    next(frames)
    frames.close()
    assert _validate_threads() == []


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
