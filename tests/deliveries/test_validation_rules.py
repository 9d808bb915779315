"""Each rule of the validator on a small synthetic file: exact row, column and rule."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from deliveries import validation
from deliveries.datacontracts import CONTRACTS_DIR
from deliveries.validation import validate_file
from tests.factories import DAGTILBUD_HEADER, dagtilbud_csv, dagtilbud_row

DAGTILBUD = json.loads((CONTRACTS_DIR / "dagtilbud.json").read_text(encoding="utf-8"))
PERSONALE = json.loads((CONTRACTS_DIR / "personale.json").read_text(encoding="utf-8"))
VOKSNE = json.loads((CONTRACTS_DIR / "voksne_handicappede.json").read_text(encoding="utf-8"))
OEKONOMI = json.loads((CONTRACTS_DIR / "oekonomi.json").read_text(encoding="utf-8"))


def run(tmp_path: Path, text: str | bytes, contract=DAGTILBUD, **kwargs):
    path = tmp_path / "extract.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    kwargs.setdefault("kommune_code", "101")
    kwargs.setdefault("period", "2026-10")
    return validate_file(path, contract, **kwargs)


def found(report) -> list[tuple[int | None, str, str]]:
    return [(i.row, i.column, i.rule) for i in report.issues]


def test_a_valid_file_has_no_errors(tmp_path):
    report = run(tmp_path, dagtilbud_csv(rows_ok=50))
    assert report.is_valid
    assert report.rows_checked == 50
    assert report.encoding == "utf-8"


@pytest.mark.parametrize(
    ("override", "column", "rule"),
    [
        ({"pladstype": ""}, "pladstype", "required"),
        ({"timer_pr_uge": "abc"}, "timer_pr_uge", "type"),
        ({"timer_pr_uge": "30.5"}, "timer_pr_uge", "type"),  # decimal point, not comma
        ({"timer_pr_uge": "61"}, "timer_pr_uge", "maximum"),
        ({"timer_pr_uge": "0"}, "timer_pr_uge", "minimum"),
        ({"startdato": "01-08-2025"}, "startdato", "type"),
        ({"startdato": "2023-02-30"}, "startdato", "date"),
        ({"startdato": "2023-02-29"}, "startdato", "date"),  # not a leap year
        ({"pasningstilbud": "vuggestu"}, "pasningstilbud", "enum"),
        ({"daginstitutionsnummer": "G1"}, "daginstitutionsnummer", "minLength"),
        ({"daginstitutionsnummer": "G1000001"}, "daginstitutionsnummer", "maxLength"),
        ({"kommunekode": "751"}, "kommunekode", "kommune"),
        ({"periode": "202609"}, "periode", "periode"),
        ({"cpr_barn": "3002455000"}, "cpr_barn", "cpr"),
        ({"cpr_barn": "01014550"}, "cpr_barn", "pattern"),
        ({"slutdato": "2025-07-31"}, "slutdato", "gte"),
    ],
)
def test_each_rule_reports_row_column_and_rule(tmp_path, override, column, rule):
    report = run(tmp_path, dagtilbud_csv(dagtilbud_row(99, **override), rows_ok=3))
    assert found(report) == [(5, column, rule)]
    assert report.by_rule == {rule: 1}
    assert report.by_column == {column: 1}
    assert report.issues[0].message  # a Danish sentence for the user


def test_a_wrong_period_in_the_file_says_how_the_file_writes_it(tmp_path):
    # Pages write a period ÅÅÅÅ-MM, the file ÅÅÅÅMM: the message says which form it wants.
    report = run(tmp_path, dagtilbud_csv(dagtilbud_row(99, periode="202609"), rows_ok=1))
    assert report.issues[0].message == (
        "Perioden «202609» er ikke leverancens periode: i filen skal den stå som 202610 (ÅÅÅÅMM)."
    )


def test_leap_day_and_cpr_without_modulus_11_are_accepted(tmp_path):
    # 2902485000: 29 Feb 2048 (7th digit 5, year 48 → 2048, a leap year, in the future).
    # The serial numbers are made up and need not satisfy modulus 11 (allowed since 2007).
    rows = [
        dagtilbud_row(1, startdato="2024-02-29", cpr_barn="2902485000"),
        dagtilbud_row(2, cpr_barn="0101455999"),
    ]
    assert run(tmp_path, dagtilbud_csv(*rows)).is_valid


# The century rule needs past years (2000 vs 1900 vs 1800); these numbers are made up.
@pytest.mark.parametrize(
    ("cpr", "valid"),
    [
        ("2902004000", True),  # 7th digit 4, YY 00 → 2000, a leap year
        ("2902004999", True),
        ("2902000999", False),  # 7th digit 0 → 1900, not a leap year
        ("2902585000", False),  # 7th digit 5, YY 58 → 1858, not a leap year
        ("2902565000", True),  # 7th digit 5, YY 56 → 2056, a leap year
        ("3104201234", False),  # 31 April
        ("0013201234", False),  # month 13
    ],
)
def test_cpr_century_follows_the_seventh_digit(tmp_path, cpr, valid):
    report = run(tmp_path, dagtilbud_csv(dagtilbud_row(0, cpr_barn=cpr)))
    assert report.is_valid is valid, found(report)


def test_kommune_code_with_leading_zero_gets_its_own_message(tmp_path):
    report = run(tmp_path, dagtilbud_csv(dagtilbud_row(0, kommunekode="0101")))
    assert ("2", "kommunekode", "kommune") in [(str(r), c, k) for r, c, k in found(report)]
    message = next(i.message for i in report.issues if i.rule == "kommune")
    assert "tre cifre" in message


def test_primary_key_duplicates_name_the_first_row(tmp_path):
    rows = [dagtilbud_row(1), dagtilbud_row(2), dagtilbud_row(1), dagtilbud_row(1)]
    report = run(tmp_path, dagtilbud_csv(*rows), batch_bytes=20_000)
    assert found(report) == [(4, "cpr_barn", "primaryKey"), (5, "cpr_barn", "primaryKey")]
    assert "række 2" in report.issues[0].message
    assert report.by_rule == {"primaryKey": 2}


def test_duplicates_are_found_across_batches(tmp_path):
    rows = [dagtilbud_row(i) for i in range(3000)] + [dagtilbud_row(7)]
    report = run(tmp_path, dagtilbud_csv(*rows), batch_bytes=20_000)
    assert found(report) == [(3002, "cpr_barn", "primaryKey")]


def test_rows_whose_keys_only_share_a_hash_are_not_duplicates(tmp_path, monkeypatch):
    """Duplicates are decided on the exact key text; the 64-bit hash only picks the rows to
    compare. With every key given the same hash, only the real duplicate is reported."""
    monkeypatch.setattr(
        validation.KeyStore,
        "expressions",
        lambda self: [pl.lit(7, dtype=pl.UInt64).alias("__keyhash")],
    )
    rows = [dagtilbud_row(i) for i in range(300)] + [dagtilbud_row(7)]
    report = run(tmp_path, dagtilbud_csv(*rows), batch_bytes=4096)
    assert found(report) == [(302, "cpr_barn", "primaryKey")]
    assert "række 9" in report.issues[0].message
    assert report.by_rule == {"primaryKey": 1}


def test_duplicates_are_found_across_spills_of_the_key_hashes(tmp_path, monkeypatch):
    """The hashes are spilled to disk every PK_FLUSH_ROWS rows, so memory stays flat; a key
    and its duplicate in different spills are still found, and named by the first row."""
    monkeypatch.setattr(validation, "PK_FLUSH_ROWS", 100)
    rows = [dagtilbud_row(i) for i in range(1000)] + [dagtilbud_row(3), dagtilbud_row(900)]
    report = run(tmp_path, dagtilbud_csv(*rows), batch_bytes=4096)
    assert found(report) == [(1002, "cpr_barn", "primaryKey"), (1003, "cpr_barn", "primaryKey")]
    assert ["række 5" in i.message for i in report.issues] == [True, False]
    assert "række 902" in report.issues[1].message


def test_errors_are_counted_beyond_the_listed_ones(tmp_path):
    rows = [dagtilbud_row(i, pladstype="") for i in range(30)]
    report = run(tmp_path, dagtilbud_csv(*rows), max_listed=10, batch_bytes=20_000)
    assert len(report.issues) == 10
    assert report.error_count == 30
    assert report.by_rule == {"required": 30}
    assert [i.row for i in report.issues] == list(range(2, 12))


def test_progress_is_reported_while_checking(tmp_path):
    calls = []
    run(
        tmp_path,
        dagtilbud_csv(rows_ok=2500),
        batch_bytes=20_000,
        progress=lambda rows, total: calls.append((rows, total)),
    )
    assert calls[-1] == (2500, 2500)
    assert len(calls) >= 2


def test_equals_prefix_and_sum_lte_rules(tmp_path):
    header = ";".join(f["name"] for f in PERSONALE["schema"]["fields"])
    good = {
        "kommunekode": "101",
        "periode": "202610",
        "medarbejdernummer": "M1",
        "ansaettelsesnummer": "1",
        "cpr": "0101455000",
        "ansaettelsesdato": "2020-01-01",
        "fratraedelsesdato": "",
        "stillingskode": "0420001",
        "overenskomstkode": "042",
        "ugentligt_timetal": "37",
        "organisationsenhed": "ORG1",
        "konteringsfunktion": "3.22.01",
        "aktive_dage": "21",
        "dage_egen_sygdom": "2,5",
        "dage_barns_sygdom": "1",
        "dage_arbejdsulykke": "0",
        "dage_barsel_adoption": "",
    }

    def row(**kw):
        values = {**good, **kw}
        return ";".join(values[f["name"]] for f in PERSONALE["schema"]["fields"])

    text = (
        "\n".join(
            [
                header,
                row(),
                row(medarbejdernummer="M2", overenskomstkode="016"),
                row(medarbejdernummer="M3", dage_egen_sygdom="20", dage_barns_sygdom="1,5"),
            ]
        )
        + "\n"
    )
    report = run(tmp_path, text, contract=PERSONALE)
    assert found(report) == [
        (3, "overenskomstkode", "equals_prefix"),
        (4, "aktive_dage", "sum_lte"),
    ]


def test_required_if_and_date_in_period_rules(tmp_path):
    names = [f["name"] for f in VOKSNE["schema"]["fields"]]
    base = dict.fromkeys(names, "")
    base.update(
        {
            "kommunekode": "101",
            "periode": "202610",
            "cpr": "0101455000",
            "paragraf": "104",
            "startdato": "2025-01-01",
            "maalgruppe": "1.2.1",
            "leverandoertype": "egen_kommune",
        }
    )

    def row(**kw):
        values = {**base, **kw}
        return ";".join(values[n] for n in names)

    text = (
        "\n".join(
            [
                ";".join(names),
                row(),
                row(paragraf="107"),
                row(paragraf="108", tilbudstype="3.1.0"),
                row(paragraf="85"),
            ]
        )
        + "\n"
    )
    report = run(tmp_path, text, contract=VOKSNE)
    assert found(report) == [(3, "tilbudstype", "required_if"), (5, "sel85_variant", "required_if")]

    names = [f["name"] for f in OEKONOMI["schema"]["fields"]]
    values = dict.fromkeys(names, "")
    values.update(
        {
            "kommunekode": "101",
            "periode": "202610",
            "regnskabsaar": "2026",
            "funktion": "3.22.01",
            "dranst": "1",
            "gruppering": "001",
            "art": "2.2",
            "beloeb": "-2093,80",
            "beloebstype": "R",
            "posteringsdato": "2026-11-02",
        }
    )
    text = ";".join(names) + "\n" + ";".join(values[n] for n in names) + "\n"
    report = run(tmp_path, text, contract=OEKONOMI)
    assert found(report) == [(2, "posteringsdato", "date_in_period")]


# --- file-level problems: one clear message, no row errors ---------------------------------


def test_misspelled_missing_and_extra_columns(tmp_path):
    header = DAGTILBUD_HEADER.replace("cpr_barn", "cpr_bran").replace(";friplads", ";ekstra")
    report = run(tmp_path, header + "\n" + dagtilbud_row(0) + "\n")
    messages = {i.column: i.message for i in report.issues}
    assert set(found(report)) == {
        (1, "cpr_bran", "header"),
        (1, "ekstra", "header"),
        (1, "friplads", "header"),
    }
    assert "mente du «cpr_barn»" in messages["cpr_bran"]
    assert "mangler" in messages["friplads"]
    assert report.rows_checked == 0


def test_comma_separated_file_gets_one_dialect_message(tmp_path):
    text = DAGTILBUD_HEADER.replace(";", ",") + "\n" + dagtilbud_row(0).replace(";", ",") + "\n"
    report = run(tmp_path, text)
    assert found(report) == [(1, "", "dialect")]
    assert "komma" in report.issues[0].message


def test_row_with_too_many_fields_is_a_structure_problem(tmp_path):
    report = run(tmp_path, dagtilbud_csv(dagtilbud_row(5) + ";ekstra", rows_ok=2))
    assert found(report) == [(4, "", "structure")]
    assert "13 felter" in report.issues[0].message


def test_empty_file_and_header_only(tmp_path):
    assert found(run(tmp_path, b"")) == [(None, "", "empty")]
    assert found(run(tmp_path, DAGTILBUD_HEADER + "\n")) == [(None, "", "empty")]


# --- encoding --------------------------------------------------------------------------------


def test_utf8_with_bom(tmp_path):
    text = dagtilbud_csv(dagtilbud_row(0, daginstitutionsnummer="GÆØÅ01"))
    report = run(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert report.encoding == "utf-8-sig"
    assert report.is_valid, found(report)


def test_windows_1252_is_transcoded_without_losing_letters(tmp_path):
    text = dagtilbud_csv(
        dagtilbud_row(0, daginstitutionsnummer="GÆØÅ01", pasningstilbud="børnehave")
    )
    report = run(tmp_path, text.encode("cp1252"))
    assert report.encoding == "cp1252"
    # The value is shown exactly as written: æ, ø and å survive the transcoding.
    assert [(i.column, i.value, i.rule) for i in report.issues] == [
        ("pasningstilbud", "børnehave", "enum")
    ]


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused(tmp_path):
    data = dagtilbud_csv(rows_ok=2).encode("utf-8") + b"101;\x81\x8d;x\n"
    report = run(tmp_path, data)
    assert found(report) == [(4, "", "encoding")]
    assert "0x81" in report.issues[0].message


def test_utf16_and_nul_bytes_are_refused(tmp_path):
    report = run(tmp_path, dagtilbud_csv(rows_ok=1).encode("utf-16"))
    assert [i.rule for i in report.issues] == ["encoding"]
    report = run(tmp_path, dagtilbud_csv(rows_ok=1).encode("utf-8") + b"\x00\x00")
    assert [i.rule for i in report.issues] == ["encoding"]


def test_blocks_never_cut_a_quoted_line_break(tmp_path):
    from deliveries.validation import _record_chunks

    records = [f'{i};"tekst med\nlinjeskift ""{i}""";slut\n' for i in range(200)]
    path = tmp_path / "quoted.csv"
    path.write_text("a;b;c\n" + "".join(records), encoding="utf-8")
    blocks = [data for data, _ in _record_chunks(path, 64, b'"')]
    assert len(blocks) > 10
    assert b"".join(blocks).decode() == "".join(records)
    for block in blocks:
        assert block.count(b'"') % 2 == 0


def test_rows_after_a_windows_1252_byte_late_in_the_file_are_checked_again(tmp_path):
    rows = [dagtilbud_row(i) for i in range(3000)]
    rows.append(dagtilbud_row(3001, daginstitutionsnummer="GÅRD01", pladstype="x"))
    report = run(tmp_path, dagtilbud_csv(*rows).encode("cp1252"), batch_bytes=20_000)
    assert report.encoding == "cp1252"
    assert report.rows_checked == 3001
    assert found(report) == [(3002, "pladstype", "enum")]


def test_a_short_row_first_in_a_block_gets_empty_values_not_a_crash(tmp_path):
    short = ";".join(dagtilbud_row(1).split(";")[:-2])  # pladstype and friplads missing
    rows = [dagtilbud_row(i) for i in range(2, 300)]
    report = run(tmp_path, dagtilbud_csv(short, *rows), batch_bytes=4096)
    assert found(report) == [(2, "pladstype", "required")]
