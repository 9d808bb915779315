"""The quick tests that stand in for a regular expression or the CPR-date lookup (issue #18)
report exactly what the exact tests report, on the values where a shortcut could go wrong.

Each quick test may flag more rows than the exact one, never fewer; the exact test then
decides the flagged rows (`Check.confirm`). Making the quick test flag every row runs the
exact test on all of them, as the validator did before the shortcuts: both runs must give
the same issues, counts and messages.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from deliveries import validation
from deliveries.datacontracts import CONTRACTS_DIR
from deliveries.validation import simple_digits, validate_file
from tests.factories import dagtilbud_csv, dagtilbud_row

DAGTILBUD = json.loads((CONTRACTS_DIR / "dagtilbud.json").read_text(encoding="utf-8"))

# Values a digit shortcut could get wrong: signs, spaces, other scripts' digits (which the
# regular expression's \d accepts), too long and too short, numbers beyond 64 bits.
TRICKY = [
    "",
    "+",
    "-",
    "+12",
    "-12",
    "+123",
    "-0",
    " 12",
    "12 ",
    "1 2",
    "1_2",
    "1.2",
    "1e2",
    "0x1",
    "١٢",
    "١٠١",
    "１０１",
    "12",
    "1234",
    "000",
    "101",
    "10١",
]
CPR_TRICKY = [
    "0101455000",  # valid
    "+101455000",
    "-101455000",
    " 010145500",
    "0101455000 ",
    "3201455000",  # day 32
    "2902005000",  # 29 February 2000 (7th digit 5: the 2000s, a leap year)
    "2902001000",  # 29 February 1900: not a leap year
    "2902004000",
    "290200abcd",
    "320145abcd",
    "+12345xxxx",
    "0000000000",
    "9999999999",
    "010145500",
    "01014550000",
    "010145500000000000000000",
    "١٠١٤٥٥٠٠٠٠",  # ten Arabic-Indic digits: \d accepts them
    "٠١٠١٤٥٥٠٠٠",
    "３２０１４５５０００",
    "01.01.45-5",
]


def _fuzz(alphabet: str, lengths: range, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.choice(lengths))) for _ in range(count)]


def _issues(report) -> list[tuple]:
    return [(i.row, i.column, i.rule, i.message, i.value) for i in report.issues]


def _validate(path: Path, **kwargs):
    return validate_file(
        path, DAGTILBUD, kommune_code="101", period="2026-10", batch_bytes=4096, **kwargs
    )


def _both_ways(tmp_path: Path, monkeypatch, rows: list[str]):
    """The report with the shortcuts, and with every row decided by the exact tests."""
    path = tmp_path / "extract.csv"
    path.write_text(dagtilbud_csv(*rows), encoding="utf-8")
    quick = _validate(path)
    monkeypatch.setattr(validation, "_ascii_digits", lambda column, length: pl.lit(False))
    exact = _validate(path)
    return quick, exact


def test_digit_patterns_give_the_regular_expressions_issues(tmp_path, monkeypatch):
    """kommunekode's pattern \\d{3} goes by the shortcut; its issues are the regex's."""
    values = TRICKY + _fuzz("0123456789+- _.١１x", range(1, 5), 400, seed=18)
    rows = [dagtilbud_row(i, kommunekode=v) for i, v in enumerate(values)]
    quick, exact = _both_ways(tmp_path, monkeypatch, rows)
    assert _issues(quick) == _issues(exact)
    assert quick.by_rule == exact.by_rule
    # Other scripts' digits are digits to the contract's \d, so no pattern issue for them
    # (only the kommune rule, which wants "101").
    rules = {(i.value, i.rule) for i in quick.issues}
    assert ("١٠١", "kommune") in rules
    assert ("١٠١", "pattern") not in rules
    assert ("+12", "pattern") in rules


def test_cpr_shortcut_gives_the_exact_tests_issues(tmp_path, monkeypatch):
    """cpr_barn's pattern \\d{10} and its CPR-date rule both go by the shortcut."""
    values = CPR_TRICKY + _fuzz("0123456789", range(10, 11), 300, seed=1630)
    values += _fuzz("0123456789+- ١", range(9, 12), 200, seed=7)
    rows = [
        dagtilbud_row(i % 4000, cpr_barn=v, anvisningsenhedsnummer=f"E{i:05d}")
        for i, v in enumerate(values)
    ]
    quick, exact = _both_ways(tmp_path, monkeypatch, rows)
    assert _issues(quick) == _issues(exact)
    assert quick.by_rule == exact.by_rule
    cpr = {i.value for i in quick.issues if i.rule == "cpr"}
    assert {"3201455000", "2902001000", "320145abcd"} <= cpr
    assert not {"0101455000", "2902005000", "١٠١٤٥٥٠٠٠٠"} & cpr


def test_a_value_the_quick_test_flags_wrongly_is_neither_counted_nor_listed(tmp_path):
    """Arabic-Indic digits fail the quick ASCII test but pass \\d{3}: the confirmation
    clears the flag, also when it is the only flag of the batch."""
    rows = [dagtilbud_row(1, kommunekode="١٠١"), dagtilbud_row(2)]
    path = tmp_path / "extract.csv"
    path.write_text(dagtilbud_csv(*rows), encoding="utf-8")
    report = _validate(path)
    assert [(i.row, i.rule) for i in report.issues] == [(2, "kommune")]
    assert report.by_rule == {"kommune": 1}


def test_a_wrong_quick_flag_is_not_counted_once_the_list_is_full(tmp_path):
    """The confirmation corrects the counts too, not only the list: a block checked after
    the first `max_listed` issues are listed still has its wrong quick flags cleared."""
    rows = [dagtilbud_row(1, pasningstilbud="vuggestu")]
    rows += [dagtilbud_row(n) for n in range(2, 200)]
    rows.append(dagtilbud_row(200, kommunekode="١٠١"))
    path = tmp_path / "extract.csv"
    path.write_text(dagtilbud_csv(*rows), encoding="utf-8")
    report = _validate(path, max_listed=1)
    assert [(i.row, i.rule) for i in report.issues] == [(2, "enum")]
    assert report.by_rule == {"enum": 1, "kommune": 1}


@pytest.mark.parametrize(
    ("pattern", "digits"),
    [
        (r"\d{3}", 3),
        (r"\d{10}", 10),
        ("[0-9]{4}", 4),
        (r"\d{19}", 19),
        (r"\d{20}", None),  # beyond 64 bits: the regular expression
        (r"\d{0}", None),
        (r"\d{3,5}", None),
        (r"\d+", None),
        (r"\d{4}(0[1-9]|1[0-2])", None),
        (r"[0-9A-F]{3}", None),
        (r"\D{3}", None),
        (r"\d{3}|x", None),
    ],
)
def test_only_a_plain_run_of_digits_takes_the_shortcut(pattern, digits):
    assert simple_digits(pattern) == digits


def test_keys_are_compared_column_by_column(tmp_path):
    """Two rows whose key columns differ are not duplicates, even when the joined text is
    the same (the hash is per column, and the exact test is too); missing and empty values
    are the same key."""
    rows = [
        dagtilbud_row(1, cpr_barn="0101455001\x1fE1", anvisningsenhedsnummer="X"),
        dagtilbud_row(1, cpr_barn="0101455001", anvisningsenhedsnummer="E1\x1fX"),
        dagtilbud_row(2, anvisningsenhedsnummer=""),
        dagtilbud_row(2, anvisningsenhedsnummer='""'),
    ]
    path = tmp_path / "extract.csv"
    path.write_text(dagtilbud_csv(*rows), encoding="utf-8")
    report = _validate(path)
    assert [(i.row, i.rule) for i in report.issues if i.rule == "primaryKey"] == [(5, "primaryKey")]
