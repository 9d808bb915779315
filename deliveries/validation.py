"""The streaming validator: checks one extract against one data contract.

Order of work, so that a broken file gets one clear message instead of a wall of row errors:

1. Encoding (one streaming pass in Python, chunk by chunk): UTF-8 with or without BOM is read
   as it is; anything else must be Windows-1252 and is transcoded to a UTF-8 temp file in the
   same pass. Nothing is ever decoded with a lossy "replace" mode: a byte that is neither is
   reported with its line.
2. Dialect and header: the delimiter, then missing, extra and misspelled columns ("did you
   mean") from the header line alone.
3. Rows: polars reads the file in batches with every column as a string; every check is a
   vectorised boolean expression per (column, rule), so the work per row happens in polars, not
   in a Python loop, and memory depends on the batch size, not on the file size. Counts of every
   error are kept; the first N errors are listed with row, column, value and a Danish message.
4. Primary key: 64-bit hashes of the key columns are kept per batch (8 bytes a row, split into
   buckets); duplicates are found bucket by bucket and then confirmed on the real key values.

Row numbers are the line numbers a spreadsheet shows: the header is row 1, the first data row
is row 2 (a quoted value with a line break inside shifts later rows, as in any CSV reader).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

CHUNK = 4 * 1024 * 1024
VALUE_MAX = 100  # characters of a value shown in the report
PK_BUCKETS = 16
FILE_RULES = ("empty", "encoding", "dialect", "header", "structure")

ProgressCallback = Callable[[int, int], None]


@dataclass
class Issue:
    row: int | None
    column: str
    value: str
    rule: str
    message: str


@dataclass
class Report:
    encoding: str = ""
    rows_total: int = 0
    rows_checked: int = 0
    issues: list[Issue] = field(default_factory=list)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_column: Counter[str] = field(default_factory=Counter)

    @property
    def error_count(self) -> int:
        return sum(self.by_rule.values())

    @property
    def is_valid(self) -> bool:
        return self.error_count == 0

    def add_file_problem(
        self, rule: str, message: str, *, column: str = "", row: int | None = None, value: str = ""
    ) -> None:
        self.issues.append(Issue(row=row, column=column, value=value, rule=rule, message=message))
        self.by_rule[rule] += 1
        if column:
            self.by_column[column] += 1


class FileProblem(Exception):
    """A problem with the file as a whole: reported alone, rows are not checked."""

    def __init__(self, rule: str, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
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
        raise FileProblem(
            "empty", "Filen er tom. Upload et udtræk med en overskriftsrække og data."
        )
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem(
            "encoding",
            "Filen er gemt som UTF-16. Gem den som CSV i UTF-8 (eller Windows-1252) og "
            "upload igen.",
        )
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
                        "Filen indeholder NUL-tegn og er ikke en tekstfil (eller er gemt som "
                        "UTF-16). Gem den som CSV i UTF-8 og upload igen.",
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
                text = decoder.decode(chunk)
                mixed = _UTF8_AS_CP1252.search(tail + text)
                if mixed:
                    at = offset + max(mixed.start() - len(tail), 0)
                    raise FileProblem(
                        "encoding",
                        "Filen blander to tegnsæt: det meste er Windows-1252, men nogle "
                        f"bogstaver er gemt som UTF-8 («{mixed.group()}» i stedet for "
                        f"«{mixed.group().encode('cp1252').decode('utf-8')}»). Gem hele filen "
                        "som CSV i UTF-8 og upload igen.",
                        row=_line_of(path, at),
                    )
                tail = text[-1:]
                out.write(text)
            except UnicodeDecodeError as exc:
                raise FileProblem(
                    "encoding",
                    "Filens tegnsæt kan ikke genkendes: den er hverken gyldig UTF-8 eller "
                    f"Windows-1252 (byte 0x{chunk[exc.start]:02X}). Gem filen som CSV i UTF-8 "
                    "og upload igen.",
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
    ",": "komma (,)",
    "\t": "tabulator",
    "|": "lodret streg (|)",
    ";": "semikolon (;)",
}


def read_header(path: Path) -> str:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        return handle.readline().rstrip("\r\n")


def check_header(header_line: str, contract: dict[str, Any]) -> tuple[list[str], list[Issue]]:
    """The column names of the file, or the problems with them (each as one issue)."""
    delimiter = contract["dialect"]["delimiter"]
    expected = [f["name"] for f in contract["schema"]["fields"]]
    if not header_line.strip():
        raise FileProblem(
            "header", "Første linje er tom: filen skal starte med overskriftsrækken.", row=1
        )
    if delimiter not in header_line and len(expected) > 1:
        for other in (",", "\t", "|"):
            if other != delimiter and header_line.count(other) >= len(expected) // 2:
                raise FileProblem(
                    "dialect",
                    f"Filen bruger {_DELIMITER_NAMES[other]} som skilletegn, men kontrakten "
                    f"kræver {_DELIMITER_NAMES.get(delimiter, delimiter)}. Gem filen med "
                    "semikolon som skilletegn og upload igen.",
                    row=1,
                )
        raise FileProblem(
            "dialect",
            f"Overskriftsrækken indeholder ikke skilletegnet {_DELIMITER_NAMES.get(delimiter)}: "
            "filen er ikke en CSV-fil efter kontrakten.",
            row=1,
        )
    names = next(csv.reader([header_line], delimiter=delimiter, quotechar='"'))
    names = [n.strip() for n in names]
    issues: list[Issue] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            issues.append(
                Issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    f"Kolonnen «{name}» står mere end én gang i overskriften.",
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
                Issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    f"Kolonnen «{name}» kendes ikke – mente du «{guess[0]}»?",
                )
            )
        elif name == "":
            issues.append(
                Issue(
                    1,
                    "",
                    "",
                    "header",
                    "Overskriften har en kolonne uden navn (fx et ekstra "
                    "skilletegn sidst på linjen).",
                )
            )
        else:
            issues.append(
                Issue(
                    1,
                    name,
                    truncate(name),
                    "header",
                    f"Kolonnen «{name}» hører ikke til kontrakten; fjern den.",
                )
            )
    for name in missing:
        issues.append(Issue(1, name, "", "header", f"Kolonnen «{name}» mangler i overskriften."))
    return names, issues


# --- 3. row checks as polars expressions ---------------------------------------------------


@dataclass
class Check:
    column: str
    rule: str
    expr: pl.Expr  # True where the row breaks the rule
    describe: Callable[[str], str]  # Danish message for one offending value


def _present(column: str) -> pl.Expr:
    return pl.col(column).is_not_null()


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )


def _real_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    # Checked by arithmetic, not by a date parser: some parsers accept 2023-02-30.
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= _days_in_month(year, month))


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_INTEGER = r"^-?\d+$"


def _number_pattern(decimal: str) -> str:
    return rf"^-?\d+(?:{re.escape(decimal)}\d+)?$"


def _iso_date_is_real(column: str) -> pl.Expr:
    col = pl.col(column)
    year = col.str.slice(0, 4).cast(pl.Int32, strict=False)
    month = col.str.slice(5, 2).cast(pl.Int32, strict=False)
    day = col.str.slice(8, 2).cast(pl.Int32, strict=False)
    return _real_date(year, month, day)


def cpr_date_is_real(column: str) -> pl.Expr:
    """CPR positions 1–6 are DDMMYY; position 7 with YY gives the century (CPR's own table).
    Modulus 11 is deliberately not checked: numbers issued since 2007 may fail it."""
    col = pl.col(column)
    day = col.str.slice(0, 2).cast(pl.Int32, strict=False)
    month = col.str.slice(2, 2).cast(pl.Int32, strict=False)
    yy = col.str.slice(4, 2).cast(pl.Int32, strict=False)
    seventh = col.str.slice(6, 1).cast(pl.Int32, strict=False)
    century = (
        pl.when(seventh <= 3)
        .then(1900)
        .when(seventh.is_in([4, 9]))
        .then(pl.when(yy <= 36).then(2000).otherwise(1900))
        .otherwise(pl.when(yy <= 57).then(2000).otherwise(1800))
    )
    return _real_date(century + yy, month, day)


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
        return pl.when(pl.col(column).str.contains(_ISO_DATE)).then(pl.col(column))
    return pl.col(column)


def build_checks(contract: dict[str, Any], *, kommune_code: str, period: str) -> list[Check]:
    """One Check per (column, rule) of the contract, all generic: nothing here knows a data
    area. `period` is the delivery's YYYY-MM."""
    dialect = contract["dialect"]
    decimal = dialect.get("decimalChar", ",")
    portal = contract.get("portal", {})
    fields = contract["schema"]["fields"]
    types = {f["name"]: f.get("type", "string") for f in fields}
    checks: list[Check] = []

    for spec in fields:
        name = spec["name"]
        ftype = spec.get("type", "string")
        cons = spec.get("constraints", {})
        col = pl.col(name)
        present = _present(name)
        if cons.get("required"):
            checks.append(
                Check(name, "required", col.is_null(), lambda v, n=name: f"«{n}» skal udfyldes.")
            )
        if ftype == "integer":
            checks.append(
                Check(
                    name,
                    "type",
                    present & ~col.str.contains(_INTEGER),
                    lambda v: f"«{v}» er ikke et heltal.",
                )
            )
        elif ftype == "number":
            wrong_decimal = "." if decimal == "," else ","

            def describe_number(v: str, wd: str = wrong_decimal) -> str:
                if wd in v:
                    return f"«{v}» er ikke et tal efter kontrakten: brug decimalkomma, fx 12,5."
                return f"«{v}» er ikke et tal (brug decimalkomma og ingen tusindtalsseparator)."

            checks.append(
                Check(
                    name,
                    "type",
                    present & ~col.str.contains(_number_pattern(decimal)),
                    describe_number,
                )
            )
        elif ftype == "date":
            checks.append(
                Check(
                    name,
                    "type",
                    present & ~col.str.contains(_ISO_DATE),
                    lambda v: f"«{v}» er ikke en dato på formen ÅÅÅÅ-MM-DD.",
                )
            )
            checks.append(
                Check(
                    name,
                    "date",
                    present & col.str.contains(_ISO_DATE) & ~_iso_date_is_real(name),
                    lambda v: f"«{v}» er ikke en dato, der findes.",
                )
            )
        if "pattern" in cons:
            pattern = f"^(?:{cons['pattern']})$"
            checks.append(
                Check(
                    name,
                    "pattern",
                    present & ~col.str.contains(pattern),
                    lambda v, p=cons["pattern"]: f"«{v}» har ikke det krævede format ({p}).",
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
                    lambda v, s=shown: f"«{v}» er ikke en tilladt værdi (tilladt: {s}).",
                )
            )
        if "minLength" in cons:
            checks.append(
                Check(
                    name,
                    "minLength",
                    present & (col.str.len_chars() < cons["minLength"]),
                    lambda v, m=cons["minLength"]: f"«{v}» er kortere end {m} tegn.",
                )
            )
        if "maxLength" in cons:
            checks.append(
                Check(
                    name,
                    "maxLength",
                    present & (col.str.len_chars() > cons["maxLength"]),
                    lambda v, m=cons["maxLength"]: f"Værdien er længere end {m} tegn.",
                )
            )
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
            word = "mindst" if op == "lt" else "højst"
            shown_limit = (
                str(cons[bound]).replace(".", decimal) if ftype == "number" else cons[bound]
            )
            checks.append(
                Check(
                    name,
                    rule,
                    present & breach.fill_null(False),
                    lambda v, w=word, s=shown_limit: f"«{v}» skal være {w} {s}.",
                )
            )

    for name in portal.get("cpr_fields", []):
        checks.append(
            Check(
                name,
                "cpr",
                _present(name) & pl.col(name).str.contains(r"^\d{10}$") & ~cpr_date_is_real(name),
                lambda v: (
                    f"«{v}» er ikke et muligt CPR-nummer: de første seks cifre er ikke en "
                    "rigtig dato (DDMMÅÅ)."
                ),
            )
        )

    if kommune_field := portal.get("kommune_field"):

        def describe_kommune(v: str, k: str = kommune_code) -> str:
            if v.lstrip("0") == k.lstrip("0"):
                return f"Kommunekoden skal skrives med tre cifre ({k}), ikke «{v}»."
            return f"Kommunekoden «{v}» er ikke leverancens kommune ({k})."

        checks.append(
            Check(
                kommune_field,
                "kommune",
                _present(kommune_field) & (pl.col(kommune_field) != kommune_code),
                describe_kommune,
            )
        )
    if period_field := portal.get("period_field"):
        yyyymm = period.replace("-", "")
        checks.append(
            Check(
                period_field,
                "periode",
                _present(period_field) & (pl.col(period_field) != yyyymm),
                lambda v, p=yyyymm: f"Perioden «{v}» er ikke leverancens periode ({p}).",
            )
        )

    for rule in portal.get("rules", []):
        checks.append(_cross_check(rule, types=types, decimal=decimal, period=period))
    return checks


def _cross_check(
    rule: dict[str, Any], *, types: dict[str, str], decimal: str, period: str
) -> Check:
    kind = rule["rule"]
    target = rule["field"] if "field" in rule else rule["limit"]
    custom = rule.get("message")

    def msg(default: str) -> Callable[[str], str]:
        return (lambda v: custom.format(value=v)) if custom else (lambda v: default.format(value=v))

    if kind == "equals_prefix":
        f, of, n = rule["field"], rule["of"], int(rule["length"])
        expr = _present(f) & _present(of) & (pl.col(f) != pl.col(of).str.slice(0, n))
        return Check(
            f,
            kind,
            expr.fill_null(False),
            msg(f"«{{value}}» skal være de første {n} cifre af «{of}»."),
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
            msg(f"Summen af {names} er større end «{rule['limit']}» ({{value}})."),
        )
    if kind == "required_if":
        when = rule["when"]
        expr = pl.col(when["field"]).is_in([str(x) for x in when["in"]]) & pl.col(target).is_null()
        shown = ", ".join(str(x) for x in when["in"])
        return Check(
            target,
            kind,
            expr.fill_null(False),
            msg(f"«{target}» skal udfyldes, når «{when['field']}» er {shown}."),
        )
    if kind in ("gte", "lte"):
        other = rule["other"]
        a = _comparable(target, types, decimal)
        b = _comparable(other, types, decimal)
        breach = a < b if kind == "gte" else a > b
        word = "før" if kind == "gte" else "efter"
        return Check(
            target,
            kind,
            (_present(target) & _present(other) & breach).fill_null(False),
            msg(f"«{{value}}» i «{target}» ligger {word} «{other}»."),
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
            msg(f"Datoen «{{value}}» ligger uden for leverancens periode ({period})."),
        )
    raise ValueError(f"unknown cross-field rule {kind!r}")


# --- the whole run ---------------------------------------------------------------------------


def _primary_key_hash(columns: list[str]) -> pl.Expr:
    # Missing values hash as empty text: two rows without a key value collide on purpose, and
    # the `required` rule reports the missing value itself.
    return pl.concat_str([pl.col(c).fill_null("") for c in columns], separator="\x1f").hash(
        seed=1630
    )


@contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="flis-validate-") as name:
        yield Path(name)


def validate_file(
    path: Path,
    contract: dict[str, Any],
    *,
    kommune_code: str,
    period: str,
    max_listed: int = 1000,
    batch_rows: int = 250_000,
    progress: ProgressCallback | None = None,
) -> Report:
    report = Report()
    with _workdir() as workdir:
        try:
            decoded = decode_to_utf8(path, workdir)
            report.encoding = decoded.encoding
            report.rows_total = max(decoded.lines - 1, 0)
            names, header_issues = check_header(read_header(decoded.path), contract)
        except FileProblem as problem:
            report.add_file_problem(problem.rule, problem.message, row=problem.row)
            return report
        if header_issues:
            for issue in header_issues:
                report.add_file_problem(
                    issue.rule, issue.message, column=issue.column, row=issue.row, value=issue.value
                )
            return report
        if report.rows_total == 0:
            report.add_file_problem("empty", "Filen har en overskriftsrække, men ingen data.")
            return report
        try:
            _check_rows(
                decoded.path,
                contract,
                names,
                report,
                kommune_code=kommune_code,
                period=period,
                max_listed=max_listed,
                batch_rows=batch_rows,
                progress=progress,
            )
        except pl.exceptions.PolarsError as exc:
            report.issues.clear()
            report.by_rule.clear()
            report.by_column.clear()
            row, message = _locate_structure_problem(decoded.path, contract, len(names), exc)
            report.add_file_problem("structure", message, row=row)
    return report


def _scan(path: Path, contract: dict[str, Any]) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        separator=contract["dialect"]["delimiter"],
        quote_char=contract["dialect"].get("quoteChar", '"'),
        has_header=True,
        infer_schema=False,  # every column as text: the contract decides what is valid
        row_index_name="__row",
        row_index_offset=2,
        encoding="utf8",
    )


def _check_rows(
    path: Path,
    contract: dict[str, Any],
    names: list[str],
    report: Report,
    *,
    kommune_code: str,
    period: str,
    max_listed: int,
    batch_rows: int,
    progress: ProgressCallback | None,
) -> None:
    checks = build_checks(contract, kommune_code=kommune_code, period=period)
    flags = [f"__e{i}" for i in range(len(checks))]
    pk = list(contract["schema"].get("primaryKey") or [])
    extra: list[pl.Expr] = [_primary_key_hash(pk).alias("__pk")] if pk else []
    lf = _scan(path, contract).with_columns(
        [check.expr.fill_null(False).alias(flag) for check, flag in zip(checks, flags, strict=True)]
        + extra
    )
    counts = [0] * len(checks)
    listed: list[Issue] = []
    buckets: list[list[pl.Series]] = [[] for _ in range(PK_BUCKETS)]
    any_flag = pl.any_horizontal(flags) if flags else pl.lit(False)
    for batch in lf.collect_batches(chunk_size=batch_rows):
        sums = batch.select([pl.col(f).sum() for f in flags]).row(0) if flags else ()
        for i, value in enumerate(sums):
            counts[i] += int(value or 0)
        if len(listed) < max_listed and any(sums):
            bad = batch.filter(any_flag).head(max_listed - len(listed))
            for record in bad.iter_rows(named=True):
                for check, flag in zip(checks, flags, strict=True):
                    if record[flag]:
                        value = truncate(record.get(check.column))
                        listed.append(
                            Issue(
                                record["__row"],
                                check.column,
                                value,
                                check.rule,
                                check.describe(value),
                            )
                        )
        if pk:
            hashes = batch.get_column("__pk")
            bucket_of = hashes % PK_BUCKETS
            for b in range(PK_BUCKETS):
                part = hashes.filter(bucket_of == b)
                if len(part):
                    buckets[b].append(part)
        report.rows_checked += batch.height
        if progress is not None:
            progress(report.rows_checked, max(report.rows_total, report.rows_checked))
    report.rows_total = report.rows_checked
    for check, count in zip(checks, counts, strict=True):
        if count:
            report.by_rule[check.rule] += count
            report.by_column[check.column] += count
    if pk:
        duplicates = _duplicate_hashes(buckets)
        if duplicates is not None:
            pk_issues, pk_count = _confirm_duplicates(path, contract, pk, duplicates, max_listed)
            if pk_count:
                report.by_rule["primaryKey"] += pk_count
                report.by_column[pk[0]] += pk_count
            listed.extend(pk_issues)
    order = {name: i for i, name in enumerate(names)}
    listed.sort(key=lambda i: (i.row or 0, order.get(i.column, 0)))
    report.issues = listed[:max_listed]


def _duplicate_hashes(buckets: list[list[pl.Series]]) -> pl.Series | None:
    found: list[pl.Series] = []
    for i, parts in enumerate(buckets):
        if not parts:
            continue
        # One bucket at a time: at most 1/16 of the hashes are copied together.
        column = pl.concat(parts)
        buckets[i] = []
        dup = column.filter(column.is_duplicated()).unique()
        if len(dup):
            found.append(dup)
    return pl.concat(found) if found else None


def _confirm_duplicates(
    path: Path, contract: dict[str, Any], pk: list[str], hashes: pl.Series, max_listed: int
) -> tuple[list[Issue], int]:
    """Second, filtered pass: only rows whose key hash repeats are read, and the real key
    values decide (a 64-bit hash collision is not reported as a duplicate)."""
    rows = (
        _scan(path, contract)
        .with_columns(_primary_key_hash(pk).alias("__pk"))
        .filter(pl.col("__pk").is_in(hashes.implode()))
        .select(["__row", *pk])
        .collect()
    )
    rows = (
        rows.with_columns(
            pl.col("__row").min().over([pl.col(c).fill_null("") for c in pk]).alias("__first")
        )
        .filter(pl.col("__row") != pl.col("__first"))
        .sort("__row")
    )
    key = " + ".join(pk)
    issues = [
        Issue(
            record["__row"],
            pk[0],
            truncate(" / ".join(str(record[c] or "") for c in pk)),
            "primaryKey",
            f"Nøglen ({key}) findes allerede i række {record['__first']}.",
        )
        for record in rows.head(max_listed).iter_rows(named=True)
    ]
    return issues, rows.height


def _locate_structure_problem(
    path: Path, contract: dict[str, Any], width: int, exc: Exception
) -> tuple[int | None, str]:
    """polars stopped on a malformed row; find it with the csv module (error path only)."""
    delimiter = contract["dialect"]["delimiter"]
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', strict=True)
        try:
            for record in reader:
                if len(record) > width:
                    return reader.line_num, (
                        f"Række {reader.line_num} har {len(record)} felter, men overskriften "
                        f"har {width}. Tjek skilletegn (;) og anførselstegn i rækken."
                    )
        except csv.Error as error:
            return reader.line_num, (
                f"Filen kan ikke læses som CSV omkring række {reader.line_num} ({error}). "
                "Tjek anførselstegn i rækken."
            )
    return None, f"Filen kan ikke læses som CSV: {str(exc).splitlines()[0]}"
