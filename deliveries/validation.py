"""The streaming validator: checks one extract against one data contract.

Order of work, so that a broken file gets one clear message instead of a wall of row errors:

1. First bytes: empty, UTF-16 or NUL bytes are reported at once.
2. Dialect and header: the delimiter, then missing, extra and misspelled columns ("did you
   mean") from the header line alone.
3. Rows: the file is read in blocks of a few MB (cut only at line breaks outside quotes), each
   parsed by polars with every column as text; every check is a vectorised boolean expression
   per (column, rule), so the work per row happens in polars, not in a Python loop, and memory
   depends on the block size, not on the file size (no memory-mapping of the whole file).
   Where a cheaper test than the rule's own exists for the common case (a pattern that is
   only "n digits", the CPR date of ten ASCII digits), the cheap test flags a superset of
   the rows and the exact one decides only those (`Check.confirm`).
   Counts of every error are kept; the first N are listed with row, column, value and a
   Danish message.
   Before polars sees a block, the row screen (`deliveries.screen`, a small C kernel) reads
   its bytes once and clears the records with nothing wrong; only the others are parsed and
   checked as above. The screen only ever flags too much, and gives the whole file to the
   exact way where it cannot read the bytes as polars does, so the report is the same.
4. Encoding: UTF-8 (with or without BOM) is verified by polars while it parses. Only if that
   fails is the file decoded in Python: Windows-1252 is transcoded to a UTF-8 temp file and
   checked from the start. Nothing is ever decoded with a lossy "replace" mode: a byte that is
   neither is reported with its line.
5. Primary key: a 64-bit hash of every row's key is kept with its row (spilled to disk in
   buckets by hash for a long file), each batch's key text is written aside, and at the end
   only the rows whose hash repeats have their text read back: duplicates are decided on the
   exact text (one read of the file, flat memory).

Wholly empty lines (only whitespace and delimiters: a trailing blank line, Excel's `;;;;`) are
not data: they are skipped and counted as a notice, never an error, so a valid file is not
rejected for a row the user cannot see. A row with any value in it is still checked in full.

Row numbers are the line numbers a spreadsheet shows: the header is row 1, the first data row
is row 2 (a quoted value with a line break inside shifts later rows, as in any CSV reader).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from deliveries.messages import Text, stored_as, text
from deliveries.rules import rule_words_bilingual
from flisportal.lib.periods import period_compact

CHUNK = 4 * 1024 * 1024
VALUE_MAX = 100  # characters of a value shown in the report
EMPTY_LINES_NAMED = 10  # line numbers of skipped empty lines named in the notice
# Spilled key hashes are kept in buckets by hash; at the end one bucket at a time is in
# memory (a 2 GB file's bucket is about 4 MB).
PK_BUCKET_BITS = 6
PK_BUCKETS = 1 << PK_BUCKET_BITS
# Key hashes gathered in memory (12 bytes a row, so about 12 MB) before they are spilled; a
# file with fewer rows never spills them. A spill briefly holds three copies (gathered, sorted
# by bucket, the sort's order): with 2,000,000 rows a 2 GB extract peaked at 231 MB, with
# 1,000,000 at 182 MB, in the same time.
PK_FLUSH_ROWS = 1_000_000
FILE_RULES = ("empty", "encoding", "dialect", "header", "structure")
# Blocks parsed and checked at once, each in a thread of its own, besides the one whose
# findings the caller is counting: one per core of the machine the portal runs on (2). Each
# costs about one block's memory more (see docs/development/benchmarks.md).
BLOCKS_IN_FLIGHT = 2

ProgressCallback = Callable[[int, int], None]


@dataclass
class Issue:
    row: int | None
    column: str
    value: str
    rule: str
    message: str  # in Danish, as stored
    # The message's code and parameters in deliveries.messages, for showing it in the reader's
    # language; no code for a contract's own message. `value` is never a parameter here: it is
    # the issue's own value. All three as `stored_as` writes them (`_issue`).
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def _issue(row: int | None, column: str, value: str, rule: str, said: Text | str) -> Issue:
    """An issue whose message is `said` of `value`: a catalogued text or a contract's own."""
    # The value is the issue's own column (ValidationIssue.value), not a stored parameter.
    stored = stored_as("message", said, beside={"value": value})
    return Issue(
        row,
        column,
        value,
        rule,
        message=stored["message"],
        code=stored["message_code"],
        params=stored["message_params"],
    )


@dataclass
class Report:
    encoding: str = ""
    rows_total: int = 0
    rows_checked: int = 0
    issues: list[Issue] = field(default_factory=list)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_column: Counter[str] = field(default_factory=Counter)
    # Wholly empty lines skipped: how many, and the line numbers of the first few.
    empty_lines: int = 0
    empty_line_rows: list[int] = field(default_factory=list)

    @property
    def notices(self) -> list[Text]:
        """What the user should know although it is no error (the report shows these apart)."""
        if not self.empty_lines:
            return []
        lines = ", ".join(str(row) for row in self.empty_line_rows)
        if self.empty_lines > len(self.empty_line_rows):
            lines += ", …"
        if self.empty_lines == 1:
            return [text("validation.empty_line_skipped", lines=lines)]
        return [text("validation.empty_lines_skipped", count=self.empty_lines, lines=lines)]

    @property
    def error_count(self) -> int:
        return sum(self.by_rule.values())

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def add_file_problem(
        self, rule: str, said: Text, *, column: str = "", row: int | None = None, value: str = ""
    ) -> None:
        self.issues.append(_issue(row, column, value, rule, said))
        self.by_rule[rule] += 1
        if column:
            self.by_column[column] += 1


class FileProblem(Exception):
    """A problem with the file as a whole: reported alone, rows are not checked."""

    def __init__(self, rule: str, said: Text, *, row: int | None = None) -> None:
        super().__init__(said.danish)
        self.rule = rule
        self.said = said
        self.row = row


def truncate(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


# --- 1. encoding -------------------------------------------------------------------------


@dataclass
class Decoded:
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    path: Path  # a UTF-8 file to read (the original unless it was transcoded)
    lines: int  # number of lines, header included


def _line_of(path: Path, offset: int) -> int:
    """Line number (1-based) of a byte offset; only used on the error path."""
    count = 1
    with path.open("rb") as handle:
        remaining = offset
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count


def decode_to_utf8(path: Path, workdir: Path) -> Decoded:
    """Finds the encoding in one pass; transcodes Windows-1252 to a UTF-8 file in workdir."""
    with path.open("rb") as handle:
        first = handle.read(4)
    if not first:
        raise FileProblem("empty", text("validation.empty"))
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("encoding", text("validation.utf16"))
    bom = first.startswith(codecs.BOM_UTF8)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines = 0
    offset = 0
    last = b""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                if b"\x00" in chunk:
                    raise FileProblem(
                        "encoding",
                        text("validation.nul"),
                        row=_line_of(path, offset + chunk.index(b"\x00")),
                    )
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
                offset += len(chunk)
                last = chunk[-1:]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return _transcode_cp1252(path, workdir)
    if last != b"\n":
        lines += 1
    return Decoded(encoding="utf-8-sig" if bom else "utf-8", path=path, lines=lines)


# UTF-8's two bytes for æ ø å Æ Ø Å (and é, ü, ö, ä) read as Windows-1252: "Ã" and a second
# character. Danish text in Windows-1252 practically never has them side by side, so a file that
# is not UTF-8 but has them is a mix of both (rows pasted from two sources): transcoding it would
# silently turn those rows' letters into "Ã¦".
_UTF8_AS_CP1252 = re.compile("Ã[¦¸¥†˜…©¼¶¤]")


def _transcode_cp1252(path: Path, workdir: Path) -> Decoded:
    target = workdir / "transcoded-utf8.csv"
    decoder = codecs.getincrementaldecoder("cp1252")("strict")
    lines = 0
    offset = 0
    last = b""
    tail = ""  # the last character of the previous chunk: a pair may straddle two chunks
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while chunk := source.read(CHUNK):
            try:
                decoded = decoder.decode(chunk)
                mixed = _UTF8_AS_CP1252.search(tail + decoded)
                if mixed:
                    at = offset + max(mixed.start() - len(tail), 0)
                    raise FileProblem(
                        "encoding",
                        text(
                            "validation.mixed_charsets",
                            found=mixed.group(),
                            meant=mixed.group().encode("cp1252").decode("utf-8"),
                        ),
                        row=_line_of(path, at),
                    )
                tail = decoded[-1:]
                out.write(decoded)
            except UnicodeDecodeError as exc:
                raise FileProblem(
                    "encoding",
                    text("validation.unknown_charset", byte=f"{chunk[exc.start]:02X}"),
                    row=_line_of(path, offset + exc.start),
                ) from None
            lines += chunk.count(b"\n")
            offset += len(chunk)
            last = chunk[-1:]
        out.write(decoder.decode(b"", final=True))
    if last != b"\n":
        lines += 1
    return Decoded(encoding="cp1252", path=target, lines=lines)


# --- 2. dialect and header -----------------------------------------------------------------

_DELIMITER_NAMES = {
    ",": text("word.delimiter.comma"),
    "\t": text("word.delimiter.tab"),
    "|": text("word.delimiter.pipe"),
    ";": text("word.delimiter.semicolon"),
}


def _delimiter_name(delimiter: str, *, unnamed: str) -> dict[str, Any] | str:
    """A delimiter's name as a text parameter; `unnamed` for one without a name."""
    name = _DELIMITER_NAMES.get(delimiter)
    return name.as_param() if name is not None else unnamed


def read_header(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        return handle.readline().rstrip("\r\n")


def check_header(header_line: str, contract: dict[str, Any]) -> tuple[list[str], list[Issue]]:
    """The column names of the file, or the problems with them (each as one issue)."""
    delimiter = contract["dialect"]["delimiter"]
    expected = [f["name"] for f in contract["schema"]["fields"]]
    if not header_line.strip():
        raise FileProblem("header", text("validation.first_line_empty"), row=1)
    if delimiter not in header_line and len(expected) > 1:
        for other in (",", "\t", "|"):
            if other != delimiter and header_line.count(other) >= len(expected) // 2:
                raise FileProblem(
                    "dialect",
                    text(
                        "validation.wrong_delimiter",
                        found=_delimiter_name(other, unnamed=other),
                        required=_delimiter_name(delimiter, unnamed=delimiter),
                    ),
                    row=1,
                )
        raise FileProblem(
            "dialect",
            text("validation.no_delimiter", required=_delimiter_name(delimiter, unnamed=delimiter)),
            row=1,
        )
    names = next(csv.reader([header_line], delimiter=delimiter, quotechar='"'))
    names = [n.strip() for n in names]
    issues: list[Issue] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            issues.append(
                _issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    text("validation.duplicate_column", name=name),
                )
            )
        seen.add(name)
    missing = [n for n in expected if n not in seen]
    extra = [n for n in names if n not in expected]
    for name in extra:
        guess = difflib.get_close_matches(name.lower(), missing, n=1, cutoff=0.6)
        if guess:
            missing.remove(guess[0])
            issues.append(
                _issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    text("validation.misspelled_column", name=name, guess=guess[0]),
                )
            )
        elif name == "":
            issues.append(_issue(1, "", "", "header", text("validation.unnamed_column")))
        else:
            issues.append(
                _issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    text("validation.extra_column", name=name),
                )
            )
    for name in missing:
        issues.append(_issue(1, name, "", "header", text("validation.missing_column", name=name)))
    return names, issues


# --- 3. row checks as polars expressions ---------------------------------------------------


def _says(code: str, **params: Any) -> Callable[[str], Text]:
    """The same message, with the rule's own parameters, for every offending value."""
    said = text(code, **params)

    def describe(value: str) -> Text:
        return said

    return describe


@dataclass
class Check:
    column: str
    rule: str
    expr: pl.Expr  # True where the row breaks the rule (with `confirm`: where it may)
    # The message for one offending value: a catalogued text (the value is added when the
    # issue is made) or, for a contract's own message, the Danish text itself.
    describe: Callable[[str], Text | str]
    # The exact test when `expr` is a cheaper one that flags every row the exact test flags
    # and perhaps a few more (a value outside the cheap test's ASCII shortcut): it is run on
    # the flagged rows only, which are few (`_Findings.add`).
    confirm: pl.Expr | None = None


def _present(column: str) -> pl.Expr:
    return pl.col(column).is_not_null()


# The types' formats, as whole values (the row screen compiles the same ones: deliveries.screen).
ISO_DATE_FORMAT = r"\d{4}-\d{2}-\d{2}"
INTEGER_FORMAT = r"-?\d+"
_ISO_DATE = rf"^{ISO_DATE_FORMAT}$"
_INTEGER = rf"^{INTEGER_FORMAT}$"


def number_format(decimal: str) -> str:
    return rf"-?\d+(?:{re.escape(decimal)}\d+)?"


def _number_pattern(decimal: str) -> str:
    return rf"^{number_format(decimal)}$"


def _parsed_date(column: str) -> pl.Expr:
    # polars' parser refuses impossible dates such as 2023-02-30 (some engines accept them;
    # the tests pin this) and its ISO path is fast. The same expression serves the date check
    # and date comparisons, so polars computes it once per batch.
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False)


def _real_ddmmyy_table() -> pl.Series:
    """A lookup table indexed by the number DDMMYY: True where it is a real date in a century
    with a leap year in YY 00 (the exception is handled by the caller)."""
    table = [False] * 1_000_000
    day = date(2000, 1, 1)
    while day.year < 2100:
        table[int(day.strftime("%d%m%y"))] = True
        day += timedelta(days=1)
    return pl.Series("ddmmyy", table, dtype=pl.Boolean)


REAL_DDMMYY = _real_ddmmyy_table()


def cpr_date_is_real(column: str) -> pl.Expr:
    """CPR positions 1–6 are DDMMYY and position 7 with YY gives the century (CPR's table:
    7th digit 0–3 → 1900s; 4 and 9 → 2000s for YY ≤ 36; 5–8 → 2000s for YY ≤ 57, else 1800s /
    1900s). The century only matters for 29 February in YY 00: 2000 was a leap year, 1900 and
    1800 were not, and any other YY is a leap year in all three centuries alike. So the check
    is one table lookup by the number DDMMYY (no hashing, no date parsing) plus that one case.
    Modulus 11 is deliberately not checked: numbers issued since 2007 may fail it. Values
    that are not ten digits are left to the pattern rule (None here)."""
    col = pl.col(column)
    number = col.str.head(6).cast(pl.Int32, strict=False)
    in_1900 = col.str.slice(6, 1) <= "3"
    real = pl.lit(REAL_DDMMYY).gather(number.clip(0, 999_999)) & ~(
        col.str.starts_with("290200") & in_1900
    )
    return pl.when((col.str.len_bytes() == 10) & number.is_not_null()).then(real)


def _ascii_digits(column: str, length: int) -> pl.Expr:
    """True where the value is exactly `length` ASCII digits (a cheap test without a regular
    expression: `length` bytes that parse as an unsigned number, which only digits with an
    optional leading '+' do, and no '+', which sorts before '0'). False or null for anything
    else, including digits of other scripts, which a `\\d` pattern does accept: callers
    confirm those rows with the exact test."""
    col = pl.col(column)
    return (
        (col.str.len_bytes() == length)
        & col.cast(pl.UInt64, strict=False).is_not_null()
        & (col >= "0")
    )


def _cpr_check(column: str) -> Check:
    """The CPR-date check: a quick test for the usual ten ASCII digits, with the exact
    `cpr_date_is_real` as its confirmation. Ten digits are one unsigned number, so DDMMYY
    and the 7th digit are arithmetic on it instead of slicing text twice (about half the
    time); every other value is flagged by the quick test and decided by the exact one."""
    number = pl.col(column).cast(pl.UInt64, strict=False)
    ddmmyy = (number // 10_000).cast(pl.Int64)
    real = pl.lit(REAL_DDMMYY).gather(ddmmyy.clip(0, 999_999)) & ~(
        (ddmmyy == 290200) & ((number // 1_000) % 10 <= 3)
    )
    quick = _ascii_digits(column, 10) & real
    return Check(
        column,
        "cpr",
        _present(column) & ~quick.fill_null(False),
        _says("validation.cpr"),
        confirm=_present(column) & ~cpr_date_is_real(column).fill_null(True),
    )


# A `pattern` of the form \d{n} or [0-9]{n} (n up to 19, so the number fits in 64 bits):
# checked by `_ascii_digits`, the regular expression only confirming the rows it flags.
_SIMPLE_DIGITS = re.compile(r"(?:\\d|\[0-9\])\{([1-9][0-9]?)\}")


def simple_digits(pattern: str) -> int | None:
    """The number of digits if `pattern` is only "that many digits", else None."""
    match = _SIMPLE_DIGITS.fullmatch(pattern)
    if match is None or int(match.group(1)) > 19:
        return None
    return int(match.group(1))


def _numeric(column: str, ftype: str, decimal: str) -> pl.Expr:
    col = pl.col(column)
    if ftype == "number":
        return col.str.replace(decimal, ".", literal=True).cast(pl.Float64, strict=False)
    return col.cast(pl.Int64, strict=False).cast(pl.Float64)


def _comparable(column: str, types: dict[str, str], decimal: str) -> pl.Expr:
    """A value two fields can be compared by: numbers as numbers, dates and text as text
    (ISO dates sort as text)."""
    ftype = types[column]
    if ftype in ("number", "integer"):
        return _numeric(column, ftype, decimal)
    if ftype == "date":
        return _parsed_date(column)
    return pl.col(column)


def build_checks(contract: dict[str, Any], *, kommune_code: str, period: str) -> list[Check]:
    """One Check per (column, rule) of the contract, all generic: nothing here knows a data
    area. `period` is the delivery's YYYY-MM."""
    decimal = contract["dialect"].get("decimalChar", ",")
    portal = contract.get("portal", {})
    fields = contract["schema"]["fields"]
    types = {f["name"]: f.get("type", "string") for f in fields}
    checks: list[Check] = []
    for spec in fields:
        checks.extend(_field_checks(spec, contract=contract, types=types, decimal=decimal))
    checks.extend(_portal_checks(portal, kommune_code=kommune_code, period=period))
    for rule in portal.get("rules", []):
        checks.append(_cross_check(rule, types=types, decimal=decimal, period=period))
    return checks


def _field_checks(
    spec: dict[str, Any], *, contract: dict[str, Any], types: dict[str, str], decimal: str
) -> list[Check]:
    """The Table Schema checks of one field, in the order its issues are listed: required,
    type, then each constraint."""
    name = spec["name"]
    ftype = spec.get("type", "string")
    cons = spec.get("constraints", {})
    checks: list[Check] = []
    if cons.get("required"):
        checks.append(
            Check(
                name, "required", pl.col(name).is_null(), _says("validation.required", column=name)
            )
        )
    checks.extend(_type_checks(name, ftype, decimal))
    checks.extend(_text_constraint_checks(name, cons, contract))
    checks.extend(_bound_checks(name, ftype, cons, types=types, decimal=decimal))
    return checks


def _type_checks(name: str, ftype: str, decimal: str) -> list[Check]:
    col = pl.col(name)
    present = _present(name)
    if ftype == "integer":
        return [
            Check(
                name,
                "type",
                present & ~col.str.contains(_INTEGER),
                _says("validation.integer"),
            )
        ]
    if ftype == "number":
        wrong_decimal = "." if decimal == "," else ","

        def describe_number(v: str, wd: str = wrong_decimal) -> Text:
            return text("validation.number_decimal" if wd in v else "validation.number")

        return [
            Check(
                name,
                "type",
                present & ~col.str.contains(_number_pattern(decimal)),
                describe_number,
            )
        ]
    if ftype == "date":
        return [
            Check(
                name,
                "type",
                present & ~col.str.contains(_ISO_DATE),
                _says("validation.date_format"),
            ),
            Check(
                name,
                "date",
                present & col.str.contains(_ISO_DATE) & _parsed_date(name).is_null(),
                _says("validation.date_real"),
            ),
        ]
    return []


def _text_constraint_checks(
    name: str, cons: dict[str, Any], contract: dict[str, Any]
) -> list[Check]:
    """pattern, enum, minLength and maxLength, on the value as written."""
    col = pl.col(name)
    present = _present(name)
    checks: list[Check] = []
    if "pattern" in cons:
        pattern = f"^(?:{cons['pattern']})$"
        exact = present & ~col.str.contains(pattern)
        digits = simple_digits(cons["pattern"])
        quick = None if digits is None else present & ~_ascii_digits(name, digits).fill_null(False)
        checks.append(
            Check(
                name,
                "pattern",
                exact if quick is None else quick,
                # The format in words, as the contract page says it: a vendor's support
                # person does not read regular expressions.
                _says(
                    "validation.pattern",
                    pattern=rule_words_bilingual(contract, column=name, rule="pattern").as_param(),
                ),
                confirm=None if quick is None else exact,
            )
        )
    if "enum" in cons:
        allowed = [str(x) for x in cons["enum"]]
        shown = ", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else "")
        checks.append(
            Check(
                name,
                "enum",
                present & ~col.is_in(allowed),
                _says("validation.enum", allowed=shown),
            )
        )
    if "minLength" in cons:
        checks.append(
            Check(
                name,
                "minLength",
                present & (col.str.len_chars() < cons["minLength"]),
                _says("validation.min_length", length=str(cons["minLength"])),
            )
        )
    if "maxLength" in cons:
        checks.append(
            Check(
                name,
                "maxLength",
                present & (col.str.len_chars() > cons["maxLength"]),
                _says("validation.max_length", length=str(cons["maxLength"])),
            )
        )
    return checks


def _bound_checks(
    name: str, ftype: str, cons: dict[str, Any], *, types: dict[str, str], decimal: str
) -> list[Check]:
    """minimum and maximum: numbers compared as numbers, dates and text as text."""
    checks: list[Check] = []
    for bound, rule, op in (("minimum", "minimum", "lt"), ("maximum", "maximum", "gt")):
        if bound not in cons:
            continue
        limit = cons[bound]
        if ftype in ("number", "integer"):
            value = _numeric(name, ftype, decimal)
            limit = float(limit)
        else:
            value = _comparable(name, types, decimal)
        breach = value < limit if op == "lt" else value > limit
        shown_limit = str(cons[bound]).replace(".", decimal) if ftype == "number" else cons[bound]
        checks.append(
            Check(
                name,
                rule,
                _present(name) & breach.fill_null(False),
                _says(f"validation.{rule}", limit=str(shown_limit)),
            )
        )
    return checks


def _portal_checks(portal: dict[str, Any], *, kommune_code: str, period: str) -> list[Check]:
    """The portal's own column rules: CPR dates, the delivering kommune, the period."""
    checks = [_cpr_check(name) for name in portal.get("cpr_fields", [])]
    if kommune_field := portal.get("kommune_field"):

        def describe_kommune(v: str, k: str = kommune_code) -> Text:
            if v.lstrip("0") == k.lstrip("0"):
                return text("validation.kommune_digits", kommune=k)
            return text("validation.kommune_other", kommune=k)

        checks.append(
            Check(
                kommune_field,
                "kommune",
                _present(kommune_field) & (pl.col(kommune_field) != kommune_code),
                describe_kommune,
            )
        )
    if period_field := portal.get("period_field"):
        yyyymm = period_compact(period)
        checks.append(
            Check(
                period_field,
                "periode",
                _present(period_field) & (pl.col(period_field) != yyyymm),
                _says("validation.period", period=yyyymm),
            )
        )
    return checks


def _cross_check(
    rule: dict[str, Any], *, types: dict[str, str], decimal: str, period: str
) -> Check:
    kind = rule["rule"]
    target = rule["field"] if "field" in rule else rule["limit"]
    custom = rule.get("message")

    def msg(code: str, **params: Any) -> Callable[[str], Text | str]:
        if not custom:
            return _says(code, **params)
        # The contract's own message is Danish text only: shown as written, in any language.
        template = str(custom)

        def describe(value: str) -> str:
            return template.replace("{value}", value)

        return describe

    if kind == "equals_prefix":
        f, of, n = rule["field"], rule["of"], int(rule["length"])
        expr = _present(f) & _present(of) & (pl.col(f) != pl.col(of).str.slice(0, n))
        return Check(
            f,
            kind,
            expr.fill_null(False),
            msg("validation.equals_prefix", length=n, of=of),
        )
    if kind == "sum_lte":
        parts = [_numeric(f, types[f], decimal).fill_null(0.0) for f in rule["fields"]]
        limit = _numeric(rule["limit"], types[rule["limit"]], decimal)
        total = pl.sum_horizontal(parts)
        expr = (_present(rule["limit"]) & (total > limit + 1e-9)).fill_null(False)
        names = " + ".join(rule["fields"])
        return Check(
            rule["limit"],
            kind,
            expr,
            msg("validation.sum_lte", fields=names, limit=rule["limit"]),
        )
    if kind == "required_if":
        when = rule["when"]
        expr = pl.col(when["field"]).is_in([str(x) for x in when["in"]]) & pl.col(target).is_null()
        shown = ", ".join(str(x) for x in when["in"])
        return Check(
            target,
            kind,
            expr.fill_null(False),
            msg("validation.required_if", column=target, field=when["field"], values=shown),
        )
    if kind in ("gte", "lte"):
        other = rule["other"]
        a = _comparable(target, types, decimal)
        b = _comparable(other, types, decimal)
        breach = a < b if kind == "gte" else a > b
        return Check(
            target,
            kind,
            (_present(target) & _present(other) & breach).fill_null(False),
            msg(f"validation.{kind}", column=target, other=other),
        )
    if kind == "date_in_period":
        expr = (
            _present(target)
            & pl.col(target).str.contains(_ISO_DATE)
            & ~pl.col(target).str.starts_with(period)
        )
        return Check(
            target,
            kind,
            expr.fill_null(False),
            msg("validation.date_in_period", period=period),
        )
    raise ValueError(f"unknown cross-field rule {kind!r}")


# --- the whole run ---------------------------------------------------------------------------


def _primary_key_text(columns: list[str]) -> pl.Expr:
    # Missing values count as empty text: two rows without a key value are the same key on
    # purpose, and the `required` rule reports the missing value itself.
    return pl.concat_str([pl.col(c).fill_null("") for c in columns], separator="\x1f")


def _key_hash(columns: list[str]) -> pl.Expr:
    """A 64-bit hash of a row's key: each column hashed with a seed of its own (so swapped
    values differ) and the hashes combined by XOR. About a third of the time of hashing the
    joined key text, which has to be built for every row first. Missing values hash as
    empty text, as `_primary_key_text` joins them."""
    hashes = [pl.col(column).fill_null("").hash(seed=1630 + i) for i, column in enumerate(columns)]
    combined = hashes[0]
    for more in hashes[1:]:
        combined = combined ^ more
    return combined


class KeyStore:
    """Every row's primary key, spilled to disk, so memory stays flat however long the file
    is; duplicates are found on the exact key text (no hash collision can pass as one).

    Two things are kept. A 64-bit hash of the key and the row (12 bytes a row), in memory
    until `flush_rows` have gathered, then spilled in buckets by hash; and each batch's key
    columns as they are, with the row, in a file of their own. At the end only the hashes
    are read, a bucket at a time, to find the rows whose hash occurs more than once: the
    candidates, usually just the duplicates themselves. Only the candidates' key text is then
    read back and compared exactly. Comparing 8-byte numbers instead of key text is what
    keeps this phase small: a bucket of a 2 GB file is about 4 MB, where the phase took about
    150 MB with the key text in 16 buckets.
    """

    def __init__(self, columns: list[str], workdir: Path, flush_rows: int | None = None) -> None:
        self.columns = columns
        # Its own folder: a second attempt (after transcoding) starts with no old keys.
        self.workdir = Path(tempfile.mkdtemp(prefix="keys-", dir=workdir))
        self.flush_rows = flush_rows or PK_FLUSH_ROWS
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []  # hashes, rows not yet spilled
        self.pending_rows = 0
        self.files = [False] * PK_BUCKETS  # which buckets have a file
        # Each batch's key text, with the first and last row in it: at the end only the
        # files that hold a candidate are read.
        self.text_files: list[tuple[Path, int, int]] = []
        # Or, on the screened way, where nothing is parsed to write: a reader of any rows'
        # key columns, from the file itself.
        self.read_keys: Callable[[pl.Series], pl.DataFrame] | None = None
        # Rows whose hash was kept before they turned out to be empty lines (`drop`).
        self.dropped: list[pl.Series] = []

    def expressions(self) -> list[pl.Expr]:
        return [_key_hash(self.columns).alias("__keyhash")]

    def add_text(self, frame: pl.DataFrame) -> None:
        """Writes a parsed block's key columns aside, with the rows. It is called in the
        worker threads (`_frames`), before empty lines are dropped: their rows have no
        key hash, so they are never candidates and never read back."""
        if frame.is_empty():
            return
        rows = frame["__row"]
        # Named by the first row: worker threads write several blocks' text at once.
        path = self.workdir / f"text-{rows[0]}.arrow"
        frame.select("__row", *self.columns).write_ipc(path)
        self.text_files.append((path, rows[0], rows[-1]))

    @staticmethod
    def hashes(batch: pl.DataFrame) -> pl.DataFrame:
        """A checked batch's key hashes (the `expressions` column) with the rows: what `add`
        keeps. The two columns as they are (a `select` would be one more query on polars'
        shared thread pool)."""
        return pl.DataFrame([batch.get_column("__keyhash"), batch.get_column("__row")])

    def drop(self, rows: pl.Series) -> None:
        """Forgets the keys of `rows` (empty lines found after their hashes were kept)."""
        if rows.len():
            self.dropped.append(rows)

    def add(self, hashes: pl.DataFrame) -> None:
        """Keeps a batch's `hashes`."""
        if hashes.is_empty():
            return
        self.pending.append(
            (
                hashes["__keyhash"].to_numpy().astype(np.uint64, copy=False),
                hashes["__row"].to_numpy().astype(np.uint32, copy=False),
            )
        )
        self.pending_rows += hashes.height
        if self.pending_rows > self.flush_rows:
            self.flush()

    def _pending(self) -> tuple[np.ndarray, np.ndarray]:
        hashes = np.concatenate([h for h, _ in self.pending])
        rows = np.concatenate([r for _, r in self.pending])
        self.pending, self.pending_rows = [], 0
        return hashes, rows

    def flush(self) -> None:
        """Appends the pending hashes and rows to the bucket files, each bucket's part to
        its own (by the hash's top bits): one sort by bucket of a few million small numbers,
        and 64 appends of each."""
        if not self.pending:
            return
        hashes, rows = self._pending()
        buckets = (hashes >> np.uint64(64 - PK_BUCKET_BITS)).astype(np.uint8)
        order = np.argsort(buckets, kind="stable")
        hashes, rows = hashes[order], rows[order]
        ends = np.cumsum(np.bincount(buckets, minlength=PK_BUCKETS))
        start = 0
        for bucket, end in enumerate(ends):
            if end > start:
                self.files[bucket] = True
                hash_file, row_file = self._bucket(bucket)
                with hash_file.open("ab") as handle:
                    hashes[start:end].tofile(handle)
                with row_file.open("ab") as handle:
                    rows[start:end].tofile(handle)
            start = int(end)

    def _bucket(self, bucket: int) -> tuple[Path, Path]:
        """A bucket's two files: the hashes, and the rows in the same order."""
        return self.workdir / f"hashes-{bucket}.bin", self.workdir / f"rows-{bucket}.bin"

    def _candidates(self) -> pl.Series:
        """The rows whose key hash occurs more than once: all at once if nothing was
        spilled, else one bucket at a time."""
        if not any(self.files):
            rows = _repeated(*self._pending()) if self.pending else _NO_ROWS
            return pl.Series("__row", rows, dtype=pl.UInt32)
        self.flush()
        found = []
        for bucket, spilled in enumerate(self.files):
            if spilled:
                # Read as bytes, not memory-mapped: mapped pages would count as the
                # process's memory.
                hash_file, row_file = self._bucket(bucket)
                hashes = np.fromfile(hash_file, dtype=np.uint64)
                found.append(_repeated(hashes, np.fromfile(row_file, dtype=np.uint32)))
        return pl.Series("__row", np.concatenate(found), dtype=pl.UInt32)

    def duplicates(self) -> Iterator[pl.DataFrame]:
        """Every row whose key occurred in an earlier row, with that first row."""
        candidates = self._candidates()
        if self.dropped:
            candidates = candidates.filter(~candidates.is_in(pl.concat(self.dropped).implode()))
        if candidates.is_empty():
            return
        candidates = candidates.sort()
        if self.read_keys is not None:
            read = self.read_keys(candidates)
        else:
            wanted = candidates.implode()
            read = pl.concat(
                [
                    # Read as bytes, not memory-mapped: mapped pages would count as the
                    # process's memory.
                    pl.read_ipc(io.BytesIO(path.read_bytes())).filter(pl.col("__row").is_in(wanted))
                    for path, first, last in self.text_files
                    if candidates.is_between(first, last).any()
                ]
            )
        keys = read.select(
            "__row",
            *[pl.col(c).fill_null("") for c in self.columns],
            _primary_key_text(self.columns).alias("__key"),
        )
        # The exact values decide, column by column as they are hashed: rows that only
        # share a hash are not duplicates.
        found = (
            keys.filter(pl.struct(self.columns).is_duplicated())
            .with_columns(pl.col("__row").min().over(self.columns).alias("__first"))
            .filter(pl.col("__row") != pl.col("__first"))
        )
        if found.height:
            yield found


_NO_ROWS = np.empty(0, dtype=np.uint32)


def _repeated(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows whose hash occurs more than once. Sorting the hashes and comparing
    neighbours finds the repeated values (few), whose rows are then picked out."""
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(repeated):
        return _NO_ROWS
    return rows[np.isin(hashes, repeated)]


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="flis-validate-") as name:
        yield Path(name)


def _first_look(path: Path) -> str:
    """Cheap checks on the first bytes; the encoding label if the file looks like UTF-8."""
    with path.open("rb") as handle:
        head = handle.read(CHUNK)
    if not head:
        raise FileProblem("empty", text("validation.empty"))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("encoding", text("validation.utf16"))
    if b"\x00" in head:
        raise FileProblem(
            "encoding",
            text("validation.nul"),
            row=head[: head.index(b"\x00")].count(b"\n") + 1,
        )
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


class NotUtf8(Exception):
    """The file is not valid UTF-8 after all: decode it the slow way and start again."""


def validate_file(
    path: Path,
    contract: dict[str, Any],
    *,
    kommune_code: str,
    period: str,
    max_listed: int = 1000,
    batch_bytes: int = 4 * 1024 * 1024,
    progress: ProgressCallback | None = None,
    screened: bool = True,
) -> Report:
    """Checks one file; never raises for a bad file (the report says what is wrong).

    UTF-8 is assumed first and verified (strict) while the rows are checked, so a UTF-8 file
    is read once. Only if that fails is the file decoded in Python: Windows-1252 is then
    transcoded to a temp file and checked from the start.

    With `screened` (the default) the row screen clears the rows with nothing wrong and only
    the others are checked by the exact expressions; without it every row is (the tests
    compare the two: the reports must be the same).
    """
    report = Report()
    with _workdir() as workdir:
        try:
            report.encoding = _first_look(path)
            try:
                header = read_header(path)
            except UnicodeDecodeError:
                raise NotUtf8 from None
            names = _checked_header(header, contract, report)
            if names is None:
                return report
            _check_rows(
                path,
                contract,
                names,
                report,
                kommune_code=kommune_code,
                period=period,
                max_listed=max_listed,
                batch_bytes=batch_bytes,
                progress=progress,
                workdir=workdir,
                screened=screened,
            )
        except FileProblem as problem:
            report.add_file_problem(problem.rule, problem.said, row=problem.row)
        except NotUtf8:
            _reset(report)
            try:
                decoded = decode_to_utf8(path, workdir)
                report.encoding = decoded.encoding
                names = _checked_header(read_header(decoded.path), contract, report)
                if names is None:
                    return report
                _check_rows(
                    decoded.path,
                    contract,
                    names,
                    report,
                    kommune_code=kommune_code,
                    period=period,
                    max_listed=max_listed,
                    batch_bytes=batch_bytes,
                    progress=progress,
                    workdir=workdir,
                    screened=screened,
                )
            except FileProblem as problem:
                _reset(report)
                report.add_file_problem(problem.rule, problem.said, row=problem.row)
            except NotUtf8:
                # Decoded cleanly, yet polars still finds invalid text: report, do not loop.
                _reset(report)
                report.add_file_problem("encoding", text("validation.not_text"))
    return report


def _reset(report: Report) -> None:
    report.issues.clear()
    report.by_rule.clear()
    report.by_column.clear()
    report.rows_checked = 0
    report.empty_lines = 0
    report.empty_line_rows.clear()


def _checked_header(header: str, contract: dict[str, Any], report: Report) -> list[str] | None:
    names, header_issues = check_header(header, contract)
    report.issues.extend(header_issues)
    for issue in header_issues:
        report.by_rule[issue.rule] += 1
        if issue.column:
            report.by_column[issue.column] += 1
    return None if header_issues else names


def _record_chunks(
    path: Path, batch_bytes: int, quote: bytes
) -> Generator[tuple[bytes, int], None, None]:
    """Whole CSV records in blocks of about `batch_bytes`, with the bytes read so far.

    A block ends at a line break outside quotes (an even number of quote characters before
    it; a doubled "" inside a value counts twice and keeps the parity), so a quoted value with
    a line break in it is never cut in two. Memory is one block, whatever the file size.

    The part after the cut is not kept and glued to the next read (a copy of every block):
    the file is read again from the cut, so each block is copied once, from the read.
    """
    with path.open("rb") as handle:
        handle.readline()  # the header, already checked
        start = handle.tell()
        size = batch_bytes
        while block := handle.read(size):
            cut = block.rfind(b"\n")
            # Counting quotes is only needed when there are any (a search is much cheaper).
            if quote in block:
                while cut >= 0 and block.count(quote, 0, cut) % 2:
                    cut = block.rfind(b"\n", 0, cut)
            if len(block) < size:  # the end of the file: the rest is the last record
                if block.strip():
                    yield block, start + len(block)
                return
            if cut < 0:
                # One record longer than a block: read again from the same place, more at once.
                handle.seek(start)
                size *= 2
                continue
            start += cut + 1
            handle.seek(start)
            size = batch_bytes
            yield (block if cut + 1 == len(block) else block[: cut + 1]), start


@dataclass
class Block:
    """Where a batch came from: its bytes in the file, its first row number and how many
    records it holds."""

    start: int
    end: int
    first_row: int
    records: int = 0


def _drop_empty_lines(frame: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """The frame without its wholly empty rows (every value missing or whitespace: a blank
    line, Excel's `;;;;`), and those rows' numbers, for the report (`_count_empty_lines`:
    blocks are checked out of order, so the report is written by the caller, in order).

    polars keeps an empty line as a row of empty values, so `__row` is already the file's own
    line number, and a blank line inside a quoted value is part of a value, not a row. An
    empty row's first field is empty too, so only rows whose first field is empty or starts
    with whitespace get the test of every column: about 0.5 ms a 4 MB block when there are
    none, where testing every column of every row took 40."""
    first = pl.col(names[0])
    candidates = frame.filter(
        first.is_null()
        | (first.str.len_bytes() == 0)
        | first.str.starts_with(" ")
        | first.str.starts_with("\t")
    )
    none = pl.Series("__row", [], dtype=pl.UInt32)
    if candidates.is_empty():
        return frame, none
    empty = pl.all_horizontal(
        [pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "") for n in names]
    )
    rows = candidates.filter(empty)["__row"]
    if rows.is_empty():
        return frame, none
    return frame.filter(~pl.col("__row").is_in(rows.implode())), rows


def _count_empty_lines(report: Report, rows: pl.Series) -> None:
    """Counts a block's empty lines into the report, naming the first few."""
    if rows.is_empty():
        return
    report.empty_lines += rows.len()
    room = EMPTY_LINES_NAMED - len(report.empty_line_rows)
    report.empty_line_rows.extend(rows.head(max(room, 0)).to_list())


def _parse(data: bytes, contract: dict[str, Any], names: list[str]) -> pl.DataFrame:
    """One block of records as text columns. The header is put in front of every block, so
    the width is always the header's: a short row gets empty values (reported by `required`)
    and a long row is an error, wherever in the block it is. (Given the names as a schema
    instead, polars takes the width from the block's first line, and a block that starts
    with an empty line fails.)"""
    dialect = contract["dialect"]
    delimiter = dialect["delimiter"]
    header = (delimiter.join(f'"{n}"' for n in names) + "\n").encode("utf-8")
    try:
        return pl.read_csv(
            header + data,
            has_header=True,
            infer_schema=False,  # every column as text: the contract decides
            separator=delimiter,
            quote_char=dialect.get("quoteChar", '"'),
            encoding="utf8",
        )
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise NotUtf8 from None
        raise


Parsed = TypeVar("Parsed")
Prepared = TypeVar("Prepared")


def _frames(
    path: Path,
    contract: dict[str, Any],
    batch_bytes: int,
    parse: Callable[[bytes], tuple[Parsed, int]],
    prepare: Callable[[Parsed, int], Prepared],
    *,
    in_flight: int = BLOCKS_IN_FLIGHT,
) -> Generator[tuple[Prepared, Block], None, None]:
    """What `prepare` makes of each block, in the file's order: `parse` reads a block's bytes
    into something and says how many records it holds, `prepare` is given that and the
    block's first row number (the header is row 1).

    `in_flight` blocks are parsed and prepared at once, each in a worker thread of its own
    (polars and file reads release the GIL), while the caller takes the finished ones in
    order. With one block at a time in a second thread, the caller's checks and that thread's
    parse took turns on polars' shared pool and the two cores were idle about a third of the
    time (the timeline in docs/development/benchmarks.md); with `prepare` doing a block's
    checks too, each worker keeps a core busy from the read to the flags.

    The caller's thread reads the blocks (about 2 ms each), so their order is the file's;
    a block's first row number is known only when the block before it is parsed, so each
    worker parses first and then waits for that number, which the worker before it hands on
    as soon as its own parse is done."""
    quote = contract["dialect"].get("quoteChar", '"').encode()
    blocks = _record_chunks(path, batch_bytes, quote)

    def work(
        item: list[tuple[bytes, int]], rows_before: Future[int], rows_after: Future[int]
    ) -> tuple[Prepared, Block]:
        try:
            # Taken out of the list, so the bytes are freed once parsed (the pool holds a
            # work item's arguments until it has run).
            data, end = item.pop()
            parsed, height = parse(data)
            size = len(data)
            del data
            first = rows_before.result()
        except BaseException as exc:
            # The next block waits for this row number: it fails with this error instead.
            rows_after.set_exception(exc)
            raise
        rows_after.set_result(first + height)
        block = Block(start=end - size, end=end, first_row=first, records=height)
        return prepare(parsed, first), block

    rows: Future[int] = Future()
    rows.set_result(2)  # the header is row 1
    pending: deque[Future[tuple[Prepared, Block]]] = deque()
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="validate") as pool:

        def submit_next() -> None:
            nonlocal rows
            item = next(blocks, None)
            if item is not None:
                after: Future[int] = Future()
                pending.append(pool.submit(work, [item], rows, after))
                rows = after

        try:
            for _ in range(in_flight):
                submit_next()
            while pending:
                prepared = pending.popleft().result()
                submit_next()
                yield prepared
        finally:
            # On an error or an early close: blocks not started are dropped, and leaving the
            # pool waits for the ones running, so no thread outlives the call. (A worker
            # waits only for the block submitted before its own, which started first, so
            # none waits for a dropped one.)
            for future in pending:
                future.cancel()
            blocks.close()


@dataclass
class Checked:
    """What a block comes to, for the caller's thread."""

    rows: int  # rows checked (empty lines not counted)
    empty_rows: pl.Series = field(default_factory=lambda: pl.Series("__row", [], pl.UInt32))
    sums: list[int] = field(default_factory=list)  # how many rows each check flagged
    flagged: pl.DataFrame = field(default_factory=pl.DataFrame)  # the first flagged rows
    hashes: pl.DataFrame = field(default_factory=pl.DataFrame)  # key hashes with their rows
    # Or, from the row screen: the records it flagged, as bytes with their rows, still to be
    # checked the exact way (`_Flagged`).
    screened: tuple[bytes, pl.Series] | None = None


def _check_rows(
    path: Path,
    contract: dict[str, Any],
    names: list[str],
    report: Report,
    *,
    kommune_code: str,
    period: str,
    max_listed: int,
    batch_bytes: int,
    progress: ProgressCallback | None,
    workdir: Path,
    screened: bool = True,
) -> None:
    """Checks every row: through the row screen where the contract allows it (only the rows
    it does not clear are parsed and checked by the exact expressions), else, or where the
    screen meets something it does not read as polars does, every row the exact way."""
    checks = build_checks(contract, kommune_code=kommune_code, period=period)
    if screened:
        from deliveries import screen

        compiled = screen.compile_screen(
            contract, names, checks, kommune_code=kommune_code, period=period
        )
        if compiled is not None:
            try:
                _check_all_rows(
                    path, contract, names, report, checks, compiled,
                    max_listed=max_listed, batch_bytes=batch_bytes, progress=progress,
                    workdir=workdir,
                )  # fmt: skip
                return
            except screen.GiveUp:
                _reset(report)
    _check_all_rows(
        path, contract, names, report, checks, None,
        max_listed=max_listed, batch_bytes=batch_bytes, progress=progress, workdir=workdir,
    )  # fmt: skip


def declined_by_screen(contract: dict[str, Any]) -> bool:
    """Whether the row screen, built on this machine, cannot check extracts against
    `contract` (something in it the screen does not know), so that every row is checked the
    exact way. The kommune and period only decide which value those columns may have, so any
    will do."""
    from deliveries import screen

    if screen.kernel() is None:
        return False  # not built here at all: a system check says so (flisportal.W003)
    names = [spec["name"] for spec in contract["schema"]["fields"]]
    checks = build_checks(contract, kommune_code="101", period="2026-01")
    compiled = screen.compile_screen(contract, names, checks, kommune_code="101", period="2026-01")
    return compiled is None


def _check_all_rows(
    path: Path,
    contract: dict[str, Any],
    names: list[str],
    report: Report,
    checks: list[Check],
    compiled: Any,
    *,
    max_listed: int,
    batch_bytes: int,
    progress: ProgressCallback | None,
    workdir: Path,
) -> None:
    findings = _Findings(checks)
    pk = list(contract["schema"].get("primaryKey") or [])
    keys = KeyStore(pk, workdir) if pk else None
    size = max(path.stat().st_size, 1)
    pending: _Flagged | None = None
    if compiled is None:
        parse, prepare = _exact_blocks(contract, names, findings, keys, max_listed=max_listed)
    else:
        parse, prepare = _screened_blocks(
            compiled, contract, names, findings, keys, max_listed=max_listed
        )
        pending = _Flagged(path, contract, names, findings, keys, report, max_listed=max_listed)
        if keys is not None:
            keys.read_keys = pending.keys

    # Closed on the way out, also by an exception, so that the worker threads have finished
    # before anything else happens. (CPython's reference counting closes it there too; this
    # does not depend on it.)
    try:
        with closing(_frames(path, contract, batch_bytes, parse, prepare)) as frames:
            for checked, block in frames:
                if pending is not None:
                    pending.blocks.append(block)
                    if checked.screened is None:
                        pending.flush()
                # In the file's order: the first empty lines and the first issues are named.
                _count_empty_lines(report, checked.empty_rows)
                if checked.sums:
                    findings.add(checked.sums, checked.flagged, max_listed=max_listed)
                if keys is not None:
                    keys.add(checked.hashes)
                report.rows_checked += checked.rows
                if pending is not None and checked.screened is not None:
                    pending.add(checked.screened)
                if progress is not None:
                    estimate = int(report.rows_checked * size / max(block.end, 1))
                    progress(report.rows_checked, max(estimate, report.rows_checked))
        if pending is not None:
            pending.flush()
    except pl.exceptions.PolarsError as exc:
        row, said = _locate_structure_problem(path, contract, len(names), exc)
        raise FileProblem("structure", said, row=row) from None
    report.rows_total = report.rows_checked
    if report.rows_checked == 0:
        raise FileProblem("empty", text("validation.no_data"))
    findings.count_into(report)
    listed = findings.listed
    if keys is not None:
        duplicates, pk_issues = _duplicate_key_issues(keys, pk, max_listed=max_listed)
        if duplicates:
            report.by_rule["primaryKey"] += duplicates
            report.by_column[pk[0]] += duplicates
        listed.extend(pk_issues)
    order = {name: i for i, name in enumerate(names)}
    listed.sort(key=lambda i: (i.row or 0, order.get(i.column, 0)))
    report.issues = listed[:max_listed]


def _exact_blocks(
    contract: dict[str, Any],
    names: list[str],
    findings: _Findings,
    keys: KeyStore | None,
    *,
    max_listed: int,
) -> tuple[Callable[[bytes], tuple[pl.DataFrame, int]], Callable[[pl.DataFrame, int], Checked]]:
    """Every row parsed by polars and checked by the exact expressions."""
    computed = findings.expressions()
    if keys is not None:
        computed.extend(keys.expressions())

    def prepare(frame: pl.DataFrame, first: int) -> Checked:
        # In a worker thread, several blocks at once: everything that does not depend on
        # the blocks before this one. The key text is written before the empty lines go.
        frame = _numbered(frame, first)
        if keys is not None:
            keys.add_text(frame)
        frame, empty_rows = _drop_empty_lines(frame, names)
        # Lazy, so polars shares sub-expressions between checks.
        batch = frame.lazy().with_columns(computed).collect()
        sums, flagged = findings.counted(batch, max_listed=max_listed)
        hashes = KeyStore.hashes(batch) if keys is not None else batch.clear()
        return Checked(batch.height, empty_rows, sums, flagged, hashes)

    return _parser(contract, names), prepare


def _parser(
    contract: dict[str, Any], names: list[str]
) -> Callable[[bytes], tuple[pl.DataFrame, int]]:
    def parse(data: bytes) -> tuple[pl.DataFrame, int]:
        frame = _parse(data, contract, names)
        return frame, frame.height

    return parse


def _numbered(frame: pl.DataFrame, first: int) -> pl.DataFrame:
    # polars keeps an empty line as a row of empty values, so the row numbers are the file's
    # own lines also when empty ones are dropped later.
    return frame.with_row_index("__row", offset=first)


def _screened_blocks(
    compiled: Any,
    contract: dict[str, Any],
    names: list[str],
    findings: _Findings,
    keys: KeyStore | None,
    *,
    max_listed: int,
) -> tuple[Callable[[bytes], tuple[Any, int]], Callable[[Any, int], Checked]]:
    """Every block through the row screen (`deliveries.screen`) in the worker threads. The
    records it flags are checked the exact way: a block with many of them (a file wrong in
    every row) in its worker thread, as `_exact_blocks` does; a few are handed on as bytes
    with their rows, for `_Flagged` to check with those of other blocks. The key hashes are
    the screen's, for every record."""
    from deliveries import screen

    computed = findings.expressions()

    def parse(data: bytes) -> tuple[tuple[Any, bytes, np.ndarray], int]:
        """The block screened, the records to check the exact way as bytes and their
        numbers in the block."""
        screened = screen.screen_block(compiled, data)
        if len(screened.flagged) * 2 > screened.records:
            # Mostly flagged (a file wrong in every row): the whole block goes to polars, as
            # on the exact way, rather than a copy of most of it.
            return (screened, data, np.arange(screened.records)), screened.records
        # Only the flagged records' bytes are kept, each ending its line.
        flagged = screened.flagged
        return (screened, screen.records_bytes(data, flagged), flagged[:, 0]), screened.records

    def prepare(parsed: tuple[Any, bytes, np.ndarray], first: int) -> Checked:
        screened, flagged_bytes, numbers = parsed
        rows = pl.Series("__row", numbers + first, dtype=pl.UInt32)
        if rows.len() >= FLAGGED_IN_WORKER:
            empty_rows, sums, flagged = _check_flagged(
                flagged_bytes, rows, contract, names, findings, computed, max_listed=max_listed
            )
            checked = Checked(screened.records - empty_rows.len(), empty_rows, sums, flagged)
        else:
            checked = Checked(screened.records, screened=(flagged_bytes, rows))
        if keys is not None:
            keep = np.ones(screened.records, dtype=np.bool_)
            keep[checked.empty_rows.to_numpy().astype(np.int64) - first] = False
            checked.hashes = pl.DataFrame(
                [
                    pl.Series("__keyhash", screened.hashes[keep], dtype=pl.UInt64),
                    pl.Series(
                        "__row",
                        np.arange(first, first + screened.records, dtype=np.uint32)[keep],
                        dtype=pl.UInt32,
                    ),
                ]
            )
        return checked

    return parse, prepare


def _check_flagged(
    data: bytes,
    rows: pl.Series,
    contract: dict[str, Any],
    names: list[str],
    findings: _Findings,
    computed: list[pl.Expr],
    *,
    max_listed: int,
) -> tuple[pl.Series, list[int], pl.DataFrame]:
    """The records the screen flagged (`data`, numbered `rows`) checked the exact way: the
    empty lines among them, how many rows each check flagged and the first flagged rows."""
    frame, empty_rows = _drop_empty_lines(_parse_records(data, rows, contract, names), names)
    if frame.is_empty():
        return empty_rows, [0] * len(findings.checks), pl.DataFrame()
    batch = frame.lazy().with_columns(computed).collect()
    sums, flagged = findings.counted(batch, max_listed=max_listed)
    return empty_rows, sums, flagged


def _parse_records(
    data: bytes, rows: pl.Series, contract: dict[str, Any], names: list[str]
) -> pl.DataFrame:
    """Records the screen has read (`data`), parsed by polars and numbered `rows`; GiveUp
    unless polars reads exactly those records."""
    from deliveries import screen

    try:
        frame = _parse(data, contract, names)
    except (pl.exceptions.PolarsError, NotUtf8):
        raise screen.GiveUp from None
    if frame.height != rows.len():
        raise screen.GiveUp
    return frame.insert_column(0, rows.alias("__row"))


# A block with this many flagged records has them checked in its worker thread; fewer are
# gathered from several blocks and checked at once (`_Flagged`), up to FLAGGED_BATCH: one
# polars query per batch instead of one per block, whose fixed cost (about 2 ms) would
# outweigh a few rows.
FLAGGED_IN_WORKER = 5_000
FLAGGED_BATCH = 20_000
# The candidates for a repeated key are read again and parsed this many bytes at a time, and
# only their key columns kept.
KEYS_BATCH_BYTES = 8 * 1024 * 1024


class _Flagged:
    """The records the screen flagged in blocks with few of them, gathered in the file's
    order and checked the exact way in batches: counted, listed, the empty lines among
    them skipped and their keys forgotten. Also reads any rows' key columns again."""

    def __init__(
        self,
        path: Path,
        contract: dict[str, Any],
        names: list[str],
        findings: _Findings,
        keys: KeyStore | None,
        report: Report,
        *,
        max_listed: int,
    ) -> None:
        self.path = path
        self.contract = contract
        self.names = names
        self.findings = findings
        self.key_store = keys
        self.report = report
        self.max_listed = max_listed
        self.computed = findings.expressions()
        self.parts: list[bytes] = []
        self.rows: list[pl.Series] = []
        self.count = 0
        self.blocks: list[Block] = []  # every block, for `keys`

    def add(self, records: tuple[bytes, pl.Series]) -> None:
        data, rows = records
        if not rows.len():
            return
        self.parts.append(data)
        self.rows.append(rows)
        self.count += rows.len()
        if self.count >= FLAGGED_BATCH:
            self.flush()

    def flush(self) -> None:
        """Checks the records gathered so far; called before anything later in the file is
        counted, so that issues and empty lines are named in the file's order."""
        if not self.count:
            return
        data, rows = b"".join(self.parts), pl.concat(self.rows)
        self.parts, self.rows, self.count = [], [], 0
        empty_rows, sums, flagged = _check_flagged(
            data,
            rows,
            self.contract,
            self.names,
            self.findings,
            self.computed,
            max_listed=self.max_listed,
        )
        if empty_rows.len():
            _count_empty_lines(self.report, empty_rows)
            self.report.rows_checked -= empty_rows.len()
            if self.key_store is not None:
                self.key_store.drop(empty_rows)
        self.findings.add(sums, flagged, max_listed=self.max_listed)

    def keys(self, rows: pl.Series) -> pl.DataFrame:
        """The key columns of `rows` (ascending), read again from the file: only the blocks
        that hold them, and only those records are parsed."""
        from deliveries import screen

        pk = self.key_store.columns if self.key_store is not None else []
        quote = self.contract["dialect"].get("quoteChar", '"')
        found: list[pl.DataFrame] = []
        parts: list[bytes] = []
        numbers: list[pl.Series] = []

        def parse() -> None:
            # Only the key columns are kept, so a file whose every key repeats holds its
            # keys, not its records, as the exact way's key text does.
            data, wanted = b"".join(parts), pl.concat(numbers)
            parts.clear()
            numbers.clear()
            frame = _parse_records(data, wanted, self.contract, self.names)
            found.append(frame.select("__row", *pk))

        with self.path.open("rb") as handle:
            for block in self.blocks:
                last = block.first_row + block.records - 1
                inside = rows.filter(rows.is_between(block.first_row, last))
                if inside.is_empty():
                    continue
                handle.seek(block.start)
                data = handle.read(block.end - block.start)
                wanted = inside.to_numpy().astype(np.int64) - block.first_row
                parts.append(screen.records_bytes(data, screen.record_spans(data, quote, wanted)))
                numbers.append(inside)
                if sum(map(len, parts)) > KEYS_BATCH_BYTES:
                    parse()
        if parts:
            parse()
        return pl.concat(found)


class _Findings:
    """What the row checks found, batch by batch: a count per check, and the first issues.

    Each check becomes a boolean column `__e<i>` of the batch; counting is one polars sum per
    column, and only the rows still to be listed are turned into Python objects.
    """

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        self.flags = [f"__e{i}" for i in range(len(checks))]
        self.counts = [0] * len(checks)
        self.listed: list[Issue] = []
        self._any_flag = pl.any_horizontal(self.flags) if self.flags else pl.lit(False)

    def expressions(self) -> list[pl.Expr]:
        """The flag columns to compute on every batch. A null flag (a rule that does not
        apply to the value) is left null, not filled with False: the sums skip nulls,
        `any_horizontal` is true only where some flag is true, and a listed row tests each
        flag for truth, so filling 30-odd columns on every batch would be work for nothing."""
        return [check.expr.alias(flag) for check, flag in zip(self.checks, self.flags, strict=True)]

    def counted(self, batch: pl.DataFrame, *, max_listed: int) -> tuple[list[int], pl.DataFrame]:
        """The flags of a batch that has the expressions' columns, counted and confirmed
        (`_confirmed`), and its first `max_listed` flagged rows (none once the list is
        full). Called in the worker threads, several batches at once: it only reads
        `listed`, which only grows. The batch itself is not handed on, so a block waiting
        for its turn holds its few flagged rows, not its 40-odd columns."""
        flags = self.flags
        row = batch.select([pl.col(f).sum() for f in flags]).row(0) if flags else ()
        sums = [int(value or 0) for value in row]
        if not any(sums):
            return sums, batch.clear()
        # Always confirmed, also when nothing more is listed: it corrects the counts.
        batch = self._confirmed(batch, sums)
        if len(self.listed) >= max_listed:
            return sums, batch.clear()
        # Gather only the rows to list, not a filtered copy of the whole batch.
        positions = batch.select(self._any_flag.arg_true().head(max_listed))
        return sums, batch[positions.to_series()]

    def add(self, sums: list[int], flagged: pl.DataFrame, *, max_listed: int) -> None:
        """Adds a `counted` batch's sums and lists its first flagged rows; batches in the
        file's order."""
        for i, value in enumerate(sums):
            self.counts[i] += value
        if len(self.listed) < max_listed and any(sums):
            self._list(flagged.head(max_listed - len(self.listed)))

    def _confirmed(self, batch: pl.DataFrame, sums: list[int]) -> pl.DataFrame:
        """The batch with each quick flag that the exact test does not bear out cleared,
        and `sums` corrected to match. Only the flagged rows are tested again, and a flag
        column is rewritten only in the rare batch where a quick test flagged too much."""
        cleared: list[pl.Expr] = []
        for i, check in enumerate(self.checks):
            if check.confirm is None or not sums[i]:
                continue
            flag = self.flags[i]
            # Only the columns the exact test reads, gathered at the flagged positions: a
            # filter of the whole batch (40-odd columns) cost more than the test itself.
            positions = batch.get_column(flag).arg_true()
            needed = ["__row", *dict.fromkeys(check.confirm.meta.root_names())]
            flagged = pl.DataFrame([batch.get_column(c).gather(positions) for c in needed])
            exact = flagged.select("__row", check.confirm.fill_null(False).alias("__exact"))
            wrong = exact.filter(~pl.col("__exact"))["__row"]
            if wrong.len():
                sums[i] -= wrong.len()
                cleared.append(pl.col(flag) & ~pl.col("__row").is_in(wrong.implode()))
        return batch.with_columns(cleared) if cleared else batch

    def _list(self, bad: pl.DataFrame) -> None:
        checks, flags, listed = self.checks, self.flags, self.listed
        for record in bad.iter_rows(named=True):
            for check, flag in zip(checks, flags, strict=True):
                if record[flag]:
                    value = truncate(record.get(check.column))
                    listed.append(
                        _issue(
                            record["__row"],
                            check.column,
                            value,
                            check.rule,
                            check.describe(value),
                        )
                    )

    def count_into(self, report: Report) -> None:
        for check, count in zip(self.checks, self.counts, strict=True):
            if count:
                report.by_rule[check.rule] += count
                report.by_column[check.column] += count


def _duplicate_key_issues(
    keys: KeyStore, pk: list[str], *, max_listed: int
) -> tuple[int, list[Issue]]:
    """How many rows repeat an earlier row's primary key, and the first of them by row."""
    described = " + ".join(pk)
    count = 0
    issues: list[Issue] = []
    for found in keys.duplicates():
        count += found.height
        for record in found.sort("__row").head(max_listed).iter_rows(named=True):
            issues.append(
                _issue(
                    record["__row"],
                    pk[0],
                    truncate(record["__key"].replace("\x1f", " / ")),
                    "primaryKey",
                    text("validation.primary_key", key=described, first=record["__first"]),
                )
            )
    issues.sort(key=lambda issue: issue.row or 0)
    return count, issues[:max_listed]


def _locate_structure_problem(
    path: Path, contract: dict[str, Any], width: int, exc: Exception
) -> tuple[int | None, Text]:
    """polars stopped on a malformed row; find it with the csv module (error path only)."""
    delimiter = contract["dialect"]["delimiter"]
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', strict=True)
        try:
            for record in reader:
                if len(record) > width:
                    return reader.line_num, text(
                        "validation.too_many_fields",
                        row=reader.line_num,
                        fields=len(record),
                        width=width,
                    )
        except csv.Error as error:
            return reader.line_num, text(
                "validation.csv_error", row=reader.line_num, error=str(error)
            )
    return None, text("validation.not_csv", error=str(exc).splitlines()[0])
