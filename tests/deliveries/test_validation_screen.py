"""The row screen (deliveries/screen.py, screen.c) clears the rows with nothing wrong so that
only the others are parsed and checked by the exact expressions (issue #18). It may flag too
much, never too little: every report must be the same as the exact validator's.

Each test validates the same file both ways (`screened=True`, the default, and
`screened=False`, every row the exact way) and compares the whole reports: issues with rows,
columns, values and messages, counts by rule and column, rows checked, empty lines and the
encoding.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import interegular
import numpy as np
import pytest

from deliveries import screen, validation
from deliveries.datacontracts import CONTRACTS_DIR
from deliveries.validation import Report, validate_file
from tests.factories import DAGTILBUD_HEADER, dagtilbud_row

CONTRACTS = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(CONTRACTS_DIR.glob("*.json"))
}
KOMMUNE, PERIOD = "101", "2026-10"


def _report(report: Report) -> dict[str, Any]:
    return {
        "issues": [asdict(issue) for issue in report.issues],
        "by_rule": dict(report.by_rule),
        "by_column": dict(report.by_column),
        "rows": (report.rows_checked, report.rows_total),
        "empty": (report.empty_lines, report.empty_line_rows),
        "encoding": report.encoding,
    }


def _both_ways(path: Path, contract: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The report, after checking that the screened and the exact validator agree."""
    options = {"kommune_code": KOMMUNE, "period": PERIOD, **options}
    screened = _report(validate_file(path, contract, **options))
    exact = _report(validate_file(path, contract, screened=False, **options))
    assert screened == exact
    return screened


def _names(contract: dict[str, Any]) -> list[str]:
    return [spec["name"] for spec in contract["schema"]["fields"]]


def test_every_shipped_contract_is_screened():
    """A shipped contract the screen could not compile would be checked the slow way
    without anyone noticing."""
    for area, contract in CONTRACTS.items():
        checks = validation.build_checks(contract, kommune_code=KOMMUNE, period=PERIOD)
        compiled = screen.compile_screen(
            contract, _names(contract), checks, kommune_code=KOMMUNE, period=PERIOD
        )
        assert compiled is not None, area


def _screened(contract: dict[str, Any], data: bytes) -> screen.Screened:
    checks = validation.build_checks(contract, kommune_code=KOMMUNE, period=PERIOD)
    compiled = screen.compile_screen(
        contract, _names(contract), checks, kommune_code=KOMMUNE, period=PERIOD
    )
    assert compiled is not None
    return screen.screen_block(compiled, data)


def test_valid_rows_are_cleared_and_broken_ones_flagged():
    """The screen does clear rows (else it saves nothing) and flags the broken one."""
    rows = [dagtilbud_row(i) for i in range(50)]
    rows[17] = dagtilbud_row(17, timer_pr_uge="61")
    screened = _screened(CONTRACTS["dagtilbud"], ("\n".join(rows) + "\n").encode())
    assert screened.records == 50
    assert screened.flagged[:, 0].tolist() == [17]


def test_equal_keys_hash_alike_whether_quoted_or_not():
    rows = [
        dagtilbud_row(1),
        dagtilbud_row(1).replace("E10001", '"E10001"'),
        dagtilbud_row(2),
    ]
    screened = _screened(CONTRACTS["dagtilbud"], ("\r\n".join(rows) + "\r\n").encode())
    first, quoted, other = screened.hashes.tolist()
    assert first == quoted != other


# --- values -------------------------------------------------------------------------------

# Values that any column may meet, and those that sit on the edge of a rule.
ANY = [
    "",
    " ",
    '""',
    '" "',
    "x",
    "æøå",
    "١٢٣",
    "１０１",
    '"a;b"',
    '"a""b"',
    '"a\nb"',
    '"a\r\nb"',
    "\t",
    "101 ",
    " 101",
    "0101",
    "10",
]
NUMBERS = [
    "0",
    "-0",
    "0,01",
    "0,0099999999999999999999",
    "0,0100000000000000000001",
    "0,009",
    "60",
    "60,0",
    "60,00000000000000000001",
    "59,999999999999999999999",
    "61",
    "-1",
    "31",
    "31,0000001",
    "23",
    "24",
    "10",
    "11",
    "2007",
    "2006",
    "2100",
    "2101",
    "99999",
    "100000",
    "123456789012345678901234",
    "1,5",
    "1.5",
    "1,",
    ",5",
    "+1",
    "1e2",
    "٣",
]
DATES = [
    "2025-08-01",
    "2026-10-01",
    "2026-10-31",
    "2026-11-01",
    "2026-09-30",
    "2024-02-29",
    "2023-02-29",
    "2000-02-29",
    "1900-02-29",
    "2023-04-31",
    "2023-13-01",
    "2023-00-10",
    "2023-01-00",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "+023-01-05",
    "2023- 1-05",
    "2023-1-5",
    "2023/01/05",
    "20230105",
]
CPRS = [
    "0101455000",
    "2902005000",  # 29 February 2000: the 7th digit 5 means the 2000s
    "2902003000",  # 29 February 1900: not a leap year
    "2902004000",
    "2902009000",
    "2902001000",
    "2902015000",
    "3101455000",
    "3104455000",
    "3201455000",
    "0001455000",
    "010145500",
    "01014550000",
    "010145500x",
    "٠١٠١٤٥٥٠٠٠",
]


def _literals(contract: dict[str, Any], name: str) -> list[str] | None:
    portal = contract.get("portal", {})
    if name == portal.get("kommune_field"):
        return [KOMMUNE]
    if name == portal.get("period_field"):
        return [PERIOD.replace("-", "")]
    spec = next(s for s in contract["schema"]["fields"] if s["name"] == name)
    enum = spec.get("constraints", {}).get("enum")
    return [str(x) for x in enum] if enum else None


@functools.cache
def _pattern_values(pattern: str) -> list[str]:
    """Up to 20 ASCII values the pattern accepts: random walks through its automaton."""
    fsm = interegular.parse_pattern(pattern).to_fsm()
    other = fsm.alphabet[interegular.fsm.anything_else]
    rng = random.Random(pattern)
    values: set[str] = set()
    for _ in range(100):
        state, value = fsm.initial, ""
        for _ in range(40):
            if state in fsm.finals and rng.random() < 0.3:
                break
            moves = fsm.map.get(state, {})
            steps = [
                (char, moves[symbol])
                for char in map(chr, range(32, 127))
                if (symbol := fsm.alphabet[char] if char in fsm.alphabet else other) in moves
                and fsm.islive(moves[symbol])
            ]
            if not steps:
                break
            char, state = rng.choice(steps)
            value += char
        if state in fsm.finals:
            values.add(value)
    return sorted(values)[:20]


def _valid_values(contract: dict[str, Any], name: str, rng: random.Random) -> list[str]:
    """Values a row of a valid extract might hold in column `name`."""
    literals = _literals(contract, name)
    if literals is not None:
        return literals
    spec = next(s for s in contract["schema"]["fields"] if s["name"] == name)
    cons = spec.get("constraints", {})
    if name in contract.get("portal", {}).get("cpr_fields", []):
        return [
            f"{d:02d}{m:02d}45{5000 + n:04d}" for d, m, n in ((1, 1, 1), (15, 6, 2), (28, 2, 3))
        ]
    if spec.get("type") == "date":
        return ["2025-08-01", "2026-10-05", "2026-10-31", "2019-01-15"]
    if spec.get("type") in ("number", "integer"):
        low = float(cons.get("minimum", 0))
        high = float(cons.get("maximum", low + 30))
        values = [rng.uniform(low, high) for _ in range(4)]
        if spec["type"] == "integer":
            return [str(int(v)) for v in values]
        return [f"{v:.2f}".replace(".", ",") for v in values] + [str(int(low) + 1)]
    if "pattern" in cons:
        return _pattern_values(cons["pattern"])
    length = min(int(cons.get("maxLength", 8)), max(int(cons.get("minLength", 6)), 6))
    return [("Kbh Nord Øst" * 2)[:length], f"G{rng.randrange(10**5):05d}"[:length]]


def _row(contract, names, rng: random.Random, n: int) -> dict[str, str]:
    row = {name: rng.choice(_valid_values(contract, name, rng)) for name in names}
    for name in names:  # unique keys, mostly
        if name in contract.get("portal", {}).get("cpr_fields", []):
            row[name] = f"{1 + n % 28:02d}{1 + n // 28 % 12:02d}45{5000 + n % 4000:04d}"
    portal = contract.get("portal", {})
    for rule in portal.get("rules", []):
        if rule["rule"] == "equals_prefix":
            row[rule["field"]] = row[rule["of"]][: int(rule["length"])]
        elif rule["rule"] == "sum_lte":
            for part in rule["fields"]:
                row[part] = rng.choice(["0", "1", "", "2"])
            row[rule["limit"]] = rng.choice(["21", "20", "7"])
        elif rule["rule"] == "required_if" and rng.random() < 0.5:
            row[rule["field"]] = ""
        elif rule["rule"] == "date_in_period":
            row[rule["field"]] = f"{PERIOD}-{rng.randint(1, 31):02d}"
        elif rule["rule"] in ("gte", "lte"):
            pair = sorted([row[rule["field"]], row[rule["other"]]])
            row[rule["field"]], row[rule["other"]] = pair[::-1] if rule["rule"] == "gte" else pair
            if rng.random() < 0.3:
                row[rule["field"]] = ""
    return row


def _tricky(contract: dict[str, Any], name: str) -> list[str]:
    spec = next(s for s in contract["schema"]["fields"] if s["name"] == name)
    values = list(ANY)
    if spec.get("type") in ("number", "integer"):
        values += NUMBERS
    if spec.get("type") == "date":
        values += DATES
    if name in contract.get("portal", {}).get("cpr_fields", []):
        values += CPRS
    for literal in _literals(contract, name) or []:
        values += [literal, literal.upper(), literal[:-1], literal + " ", f'"{literal}"']
    if "pattern" in spec.get("constraints", {}):
        values += [v + "1" for v in _pattern_values(spec["constraints"]["pattern"])[:5]]
    return values


def _fuzzed_extract(contract: dict[str, Any], rng: random.Random, rows: int) -> str:
    names = _names(contract)
    rng.shuffle(names)  # any column order
    lines = [";".join(names)]
    for n in range(rows):
        row = _row(contract, names, rng, n)
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
            name = rng.choice(names)
            row[name] = rng.choice(_tricky(contract, name))
        line = ";".join(row[name] for name in names)
        shape = rng.random()
        if shape < 0.02:
            line = ""
        elif shape < 0.03:
            line = ";" * (len(names) - 1)
        elif shape < 0.04:
            line = " ;" * (len(names) - 1)
        elif shape < 0.05:
            line = ";".join(row[name] for name in names[:-2])  # a short row
        elif shape < 0.08:
            line = ";".join(
                f'"{row[name]}"' if '"' not in row[name] else row[name] for name in names
            )
        elif shape < 0.1 and n:
            line = lines[rng.randrange(1, len(lines))]  # a repeated row: a duplicate key
        lines.append(line)
    ending = rng.choice(["\n", "\r\n"])
    return ending.join(lines) + rng.choice([ending, ""])


@pytest.mark.parametrize("area", sorted(CONTRACTS))
@pytest.mark.parametrize("seed", range(6))
def test_the_screen_reports_what_the_exact_checks_report(tmp_path, monkeypatch, area, seed):
    """Mostly valid rows with one or two values from the edges of each rule, in any
    column order, quoted or not, CRLF or LF, with empty lines, blank rows, short rows and
    repeated keys, in small blocks."""
    rng = random.Random(f"{area}-{seed}")
    contract = CONTRACTS[area]
    path = tmp_path / "extract.csv"
    path.write_bytes(_fuzzed_extract(contract, rng, 400).encode("utf-8"))
    seen = {"records": 0, "flagged": 0}
    screen_block = screen.screen_block

    def counted(compiled: screen.Screen, data: bytes) -> screen.Screened:
        screened = screen_block(compiled, data)
        seen["records"] += screened.records
        seen["flagged"] += len(screened.flagged)
        return screened

    monkeypatch.setattr(screen, "screen_block", counted)
    report = _both_ways(path, contract, batch_bytes=rng.choice([1024, 4096, 1 << 20]))
    # Not trivially empty or refused as a whole, and the screen did clear rows (it did not
    # give up, nor flag everything), so both ways were compared.
    assert report["rows"][0] > 300
    assert not set(report["by_rule"]) & set(validation.FILE_RULES)
    assert seen["flagged"] < 0.7 * seen["records"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('101;a"b;c\n', id="a quote inside an unquoted value"),
        pytest.param('"101"x;202610\n', id="text after a closing quote"),
        pytest.param("101;202610\r;x\n", id="a lone carriage return"),
        pytest.param(dagtilbud_row(0) + ";extra\n", id="too many fields"),
        pytest.param(dagtilbud_row(0) + ';"open\n', id="a quote never closed"),
        pytest.param(dagtilbud_row(0).replace("vuggestue", "vuggest\udcf8e") + "\n", id="cp1252"),
        pytest.param(
            dagtilbud_row(0).replace("G10001", "G1000\udcff") + "\n", id="not text at all"
        ),
        pytest.param("\n" * 5000 + dagtilbud_row(0) + "\n", id="thousands of empty lines"),
        pytest.param("\ufeff" + dagtilbud_row(0) + "\n", id="a BOM in a data row"),
        pytest.param(dagtilbud_row(0).replace("ingen", "ingen\x00") + "\n", id="a NUL byte"),
    ],
)
def test_what_the_screen_cannot_read_is_decided_the_exact_way(tmp_path, body):
    """Where polars reads a file as the screen cannot be sure of, the screen gives up and
    the exact way decides: the same report, also after hundreds of valid rows."""
    path = tmp_path / "extract.csv"
    valid = "".join(dagtilbud_row(i) + "\n" for i in range(300))
    data = DAGTILBUD_HEADER + "\n" + valid + body + valid.replace("E10001", "E10002")
    path.write_bytes(data.encode("utf-8", "surrogateescape"))
    _both_ways(path, CONTRACTS["dagtilbud"], batch_bytes=4096)


@pytest.mark.parametrize("keys_batch", [validation.KEYS_BATCH_BYTES, 50])
def test_duplicate_keys_across_blocks_are_found_and_named(tmp_path, monkeypatch, keys_batch):
    """Also when the candidates' records are read again in several batches."""
    monkeypatch.setattr(validation, "KEYS_BATCH_BYTES", keys_batch)
    rows = [dagtilbud_row(i) for i in range(2000)]
    rows.append(dagtilbud_row(3))
    rows.insert(500, ";" * 11)  # an empty line's key is never a duplicate
    rows.insert(900, ";" * 11)
    path = tmp_path / "extract.csv"
    path.write_text(DAGTILBUD_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = _both_ways(path, CONTRACTS["dagtilbud"], batch_bytes=2048)
    assert [(i["row"], i["rule"]) for i in report["issues"]] == [(2004, "primaryKey")]
    assert report["empty"] == (2, [502, 902])


def test_a_block_of_short_records_gets_room_for_all(tmp_path):
    """The screen's first guess of a block's records (one per 24 bytes) is too small for
    a block of empty lines; it screens the block again with room for every line."""
    data = ("\n" * 3000 + dagtilbud_row(0) + "\n").encode()
    screened = _screened(CONTRACTS["dagtilbud"], data)
    assert screened.records == 3001
    assert len(screened.flagged) == 3000


@pytest.mark.parametrize("area", sorted(CONTRACTS))
def test_each_patterns_automaton_accepts_what_the_regular_expression_does(area):
    """The automata are built by interegular from Python's reading of the patterns; the
    exact checks use polars' (Rust's) engine. On ASCII text both must agree."""
    import polars as pl

    rng = random.Random(area)
    for spec in CONTRACTS[area]["schema"]["fields"]:
        pattern = spec.get("constraints", {}).get("pattern")
        if pattern is None:
            continue
        assert screen.plain_pattern(pattern)
        tables = screen._Tables()
        start = tables.add_fsm(screen._fsm([pattern]))
        dfa, accept = np.concatenate(tables.rows), tables.accept
        alphabet = "0123456789./-:, aA\t"
        values = _pattern_values(pattern) + [
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(3000)
        ]
        values += [v[:-1] for v in values[:40]] + [v + v for v in values[:40]]
        exact = pl.Series(values).str.contains(f"^(?:{pattern})$").to_list()
        for value, expected in zip(values, exact, strict=True):
            state = start
            for byte in value.encode():
                state = int(dfa[state * 256 + byte])
            assert (accept[state] >= 0) == expected, (pattern, value)


@pytest.mark.parametrize(
    ("pattern", "plain"),
    [
        (r"\d{3}", True),
        (r"\d{4}(0[1-9]|1[0-2])", True),
        (r"1(\.\d){2,4}", True),
        (r"[A-Z]{2}\-\d+", True),
        (r"\w+", False),  # \w differs between Python and Rust outside ASCII letters
        (r"\s", False),
        (r"a.b", False),
        (r"(?i)abc", False),
        (r"[a-z&&[^x]]", False),  # a class operation in Rust, literal in Python
        (r"a$b", False),
        (r"\bword", False),
    ],
)
def test_only_patterns_both_engines_read_alike_are_compiled(pattern, plain):
    assert screen.plain_pattern(pattern) is plain


def test_a_contract_with_a_rule_the_screen_does_not_know_is_checked_the_exact_way(tmp_path):
    contract = json.loads(json.dumps(CONTRACTS["dagtilbud"]))
    contract["schema"]["fields"][3]["constraints"]["pattern"] = r"\w{6}"
    checks = validation.build_checks(contract, kommune_code=KOMMUNE, period=PERIOD)
    assert (
        screen.compile_screen(
            contract, _names(contract), checks, kommune_code=KOMMUNE, period=PERIOD
        )
        is None
    )
    path = tmp_path / "extract.csv"
    path.write_text(
        DAGTILBUD_HEADER + "\n" + dagtilbud_row(0, daginstitutionsnummer="G-1000") + "\n",
        encoding="utf-8",
    )
    report = _both_ways(path, contract)
    assert report["by_rule"] == {"pattern": 1}


@pytest.mark.parametrize("every", [1, 3])
def test_blocks_with_many_flagged_rows_are_checked_in_the_worker_threads(
    tmp_path, monkeypatch, every
):
    """A block with many flagged records has them checked where it was screened (every
    record of it when most are flagged: a file wrong in every row); the issues, empty
    lines and duplicates are still named in the file's order."""
    rows = [
        dagtilbud_row(i % 4000, kommunekode="751" if i % every == 0 else "101")
        for i in range(24_000)
    ]
    rows[30] = dagtilbud_row(30)
    rows[7000] = ""
    rows[11_000] = ";" * 11
    path = tmp_path / "extract.csv"
    path.write_text(DAGTILBUD_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    in_worker = []
    check_flagged = validation._check_flagged

    def counted(data, rows, *args, **kwargs):
        in_worker.append(rows.len())
        return check_flagged(data, rows, *args, **kwargs)

    monkeypatch.setattr(validation, "_check_flagged", counted)
    report = _both_ways(path, CONTRACTS["dagtilbud"], batch_bytes=1 << 21, max_listed=50)
    assert max(in_worker) >= validation.FLAGGED_IN_WORKER
    wrong = sum(row.startswith("751;") for row in rows)
    assert wrong > 7000
    assert report["by_rule"] == {"kommune": wrong, "primaryKey": 24_000 - 2 - 4000}
    assert report["empty"] == (2, [7002, 11_002])
