"""The row screen: one compiled pass over a block's bytes that clears the rows with nothing
wrong, so that only the others are parsed and checked by the validator's exact expressions.

A data contract is compiled (`compile_screen`) into small tables: per column an automaton over
bytes for its format (the `pattern`, the type's own format, an `enum` or the one value the
kommune or the period may have), whether it is required, its length limits, and what the value
must be beyond its format (a real date, a real CPR date, a number within the bounds); the
cross-field rules as rows of numbers; the columns of the primary key. The kernel
(`screen_scan` in screen.c, compiled by `kernel` with the system's C compiler and called
through ctypes) walks the bytes once, splitting fields and records as polars does (`;`,
quoted values with doubled quotes and line breaks, CRLF), runs each value through its
column's automaton and checks, and hashes the primary key. For every record it says either
"nothing wrong" or "look again"; it never decides an issue itself.

So the screen may only be cautious: every record the exact checks would flag must be one it
flags (a false alarm costs a parse, a miss would lose an error). Wherever it is not certain —
a value outside ASCII in a patterned column, a quoted empty value, a number with more digits
than 64 bits hold exactly, a row of only blanks — it flags. What it cannot read the way
polars does (a quote inside an unquoted value, a lone carriage return, too many fields, bytes
that are not UTF-8) stops it (`GiveUp`), and the validator checks the whole file the exact way;
a contract with a rule it does not know compiles to None, with the same outcome.

The tests compare the screened validator with the exact one on generated files for every
shipped contract (tests/deliveries/test_validation_screen.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import interegular
import numpy as np
import polars as pl

from deliveries import validation

# Column kinds (a bit set): what a value must be beyond its format.
CPR = 1
DATE = 2
NUMBER = 4  # number or integer: kept as a decimal for bounds and cross-field rules

# Cross-field rules, one row of `rules` each: kind, then the columns and parameters.
GTE, LTE, DATE_IN_PERIOD, REQUIRED_IF, EQUALS_PREFIX, SUM_LTE = 1, 2, 3, 4, 5, 6
RULE_WIDTH = 12  # kind, a, b, c, then up to 8 parts of a sum

# What `screen_scan` returns as its status.
OK, GIVE_UP, NOT_UTF8, FULL = 0, 1, 2, 3

# The largest decimal mantissa the screen compares exactly (17 digits: an int64 holds 18, and
# aligning two values multiplies one of them by ten; MANTISSA_MAX in screen.c).
_MANTISSA_MAX = 10**17


class GiveUp(Exception):
    """The screen met something it does not read the way polars does: check the file the
    exact way."""


class Unsupported(Exception):
    """A contract the screen cannot compile."""


@dataclass
class Screen:
    """A contract compiled for `screen_scan`: the arrays and numbers of its `screen_t`."""

    ncols: int
    delimiter: int
    quote: int
    decimal: int
    dfa: np.ndarray  # int32 [states * 256]: the next state; state 0 has no way on
    dfa_start: np.ndarray  # int32 [ncols]: a column's first state (1: any text)
    accept: np.ndarray  # int32 [states]: -1 if not accepting, else the literal's number
    stops: np.ndarray  # bool [256]: the bytes that end an unquoted value
    required: np.ndarray  # bool [ncols]
    kinds: np.ndarray  # int8 [ncols]
    min_len: np.ndarray  # int64 [ncols], -1 for none
    max_len: np.ndarray  # int64 [ncols], -1 for none
    bounds: np.ndarray  # int64 [ncols, 6]: has min, mantissa, exponent, has max, mantissa, exp.
    key_seeds: np.ndarray  # uint64 [ncols]: 0 if not in the primary key
    rules: np.ndarray  # int64 [nrules, RULE_WIDTH]
    triggers: np.ndarray  # bool [nrules, literals]: which literal sets off a required_if
    period: np.ndarray  # uint8 [7]: YYYY-MM
    # The same for the C kernel (pointers into the arrays above, which it keeps alive).
    tables: Any = field(default=None, repr=False)


# --- compiling a contract -----------------------------------------------------------------

# A pattern is compiled into an automaton only if Python's and polars' regular expressions
# read it alike on ASCII text: digits, literal characters, classes, groups, alternatives and
# counts. Anything else (\s, \w, \b, ".", flags, class operations) leaves the contract to the
# exact checks.
_PLAIN_ESCAPE = re.compile(r"\\([dD]|[^0-9A-Za-z])")


def plain_pattern(pattern: str) -> bool:
    """Whether `pattern` uses only what Python's `re` and polars' regex engine agree on."""
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if not _PLAIN_ESCAPE.match(pattern, i):
                return False
            i += 2
            continue
        if in_class:
            if char == "[" or pattern[i : i + 2] in ("&&", "--", "~~"):
                return False
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                return False
        elif char == ".":
            return False
        elif char == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] != ":":
            return False
        elif char in "$^":
            return False  # the exact check anchors the pattern itself
        elif not char.isascii():
            return False
        i += 1
    return not in_class


def _fsm(patterns: list[str]) -> Any:
    """One automaton accepting what every pattern accepts in full."""
    machine = None
    for pattern in patterns:
        if not plain_pattern(pattern):
            raise Unsupported(f"pattern {pattern!r}")
        try:
            fsm = interegular.parse_pattern(pattern).to_fsm()
        except Exception as exc:  # interegular's own errors for syntax it lacks
            raise Unsupported(f"pattern {pattern!r}: {exc}") from None
        machine = fsm if machine is None else machine & fsm
    return machine


class _Tables:
    """The automata of all columns, numbered into one transition table."""

    def __init__(self) -> None:
        # State 0 has no way on (the value is flagged); state 1 accepts any text.
        self.rows: list[np.ndarray] = [np.zeros(256, dtype=np.int32), np.ones(256, dtype=np.int32)]
        self.accept: list[int] = [-1, 0]

    def add_fsm(self, fsm: Any) -> int:
        """Adds an interegular automaton, over ASCII bytes only (any other byte has no way
        on: the value is flagged). Returns its first state."""
        base = len(self.rows)
        states = sorted(fsm.states, key=str)
        number = {state: base + i for i, state in enumerate(states)}
        other = fsm.alphabet[interegular.fsm.anything_else]
        for state in states:
            row = np.zeros(256, dtype=np.int32)
            moves = fsm.map.get(state, {})
            for byte in range(128):
                symbol = fsm.alphabet[chr(byte)] if chr(byte) in fsm.alphabet else other
                target = moves.get(symbol)
                if target is not None:
                    row[byte] = number[target]
            self.rows.append(row)
            self.accept.append(0 if state in fsm.finals else -1)
        return number[fsm.initial]

    def add_literals(self, literals: list[str]) -> int:
        """Adds a trie accepting exactly `literals` (as UTF-8 bytes); an accepting state
        holds the literal's number. Returns its first state."""
        start = len(self.rows)
        self._state()
        for number, literal in enumerate(literals):
            state = start
            for byte in literal.encode("utf-8"):
                if self.rows[state][byte] == 0:
                    self.rows[state][byte] = self._state()
                state = int(self.rows[state][byte])
            self.accept[state] = number
        return start

    def _state(self) -> int:
        self.rows.append(np.zeros(256, dtype=np.int32))
        self.accept.append(-1)
        return len(self.rows) - 1


def _decimal(value: Any) -> tuple[int, int]:
    """A bound as the exact decimal of the float the exact check compares with: mantissa and
    exponent."""
    try:
        number = Decimal(repr(float(value)))
    except (InvalidOperation, ValueError, TypeError):
        raise Unsupported(f"bound {value!r}") from None
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        raise Unsupported(f"bound {value!r}")
    mantissa = int("".join(map(str, digits)) or "0")
    if mantissa >= _MANTISSA_MAX or not -30 <= exponent <= 30:
        raise Unsupported(f"bound {value!r}")
    return (-mantissa if sign else mantissa), exponent


_KNOWN_CONSTRAINTS = {"required", "pattern", "enum", "minLength", "maxLength", "minimum", "maximum"}


def compile_screen(
    contract: dict[str, Any],
    names: list[str],
    checks: list[Any],
    *,
    kommune_code: str,
    period: str,
) -> Screen | None:
    """The screen for `contract` with the file's columns `names` (in the file's order), or
    None if the contract has something the screen does not know or the kernel cannot be
    built. `checks` are the exact checks (`deliveries.validation.build_checks`): a column of
    literals keeps only those the exact checks pass."""
    if kernel() is None:
        return None
    try:
        screen = _compile(contract, names, checks, kommune_code=kommune_code, period=period)
    except Unsupported:
        return None
    screen.tables = _tables(screen)
    return screen


def _compile(
    contract: dict[str, Any],
    names: list[str],
    checks: list[Any],
    *,
    kommune_code: str,
    period: str,
) -> Screen:
    from flisportal.lib.periods import period_compact

    dialect = contract["dialect"]
    delimiter, quote = dialect["delimiter"], dialect.get("quoteChar", '"')
    decimal = dialect.get("decimalChar", ",")
    if any(len(c) != 1 or not c.isascii() for c in (delimiter, quote, decimal)):
        raise Unsupported("dialect")
    if decimal in "-0123456789" or quote == delimiter:
        raise Unsupported("dialect")
    fields = {spec["name"]: spec for spec in contract["schema"]["fields"]}
    if sorted(fields) != sorted(names):
        raise Unsupported("columns")
    portal = contract.get("portal", {})
    # The one value the kommune and the period may have.
    expected: dict[str, str] = {}
    if portal.get("kommune_field"):
        expected[portal["kommune_field"]] = kommune_code
    if portal.get("period_field"):
        expected[portal["period_field"]] = period_compact(period)
    columns = _Columns(len(names), decimal=decimal, checks=checks)
    for i, name in enumerate(names):
        columns.add(
            i,
            fields[name],
            expected=expected.get(name),
            cpr=name in portal.get("cpr_fields", []),
        )
    column = {name: i for i, name in enumerate(names)}
    rules, triggers = _rules(portal, column, columns.types, columns.literals)
    key_seeds = np.zeros(len(names), dtype=np.uint64)
    for n, name in enumerate(contract["schema"].get("primaryKey") or []):
        key_seeds[column[name]] = 0x9E3779B97F4A7C15 ^ (1630 + n)
    return Screen(
        ncols=len(names),
        delimiter=ord(delimiter),
        quote=ord(quote),
        decimal=ord(decimal),
        dfa=np.concatenate(columns.tables.rows),
        dfa_start=columns.dfa_start,
        accept=np.array(columns.tables.accept, dtype=np.int32),
        stops=_stops(delimiter, quote),
        required=columns.required,
        kinds=columns.kinds,
        min_len=columns.min_len,
        max_len=columns.max_len,
        bounds=columns.bounds,
        key_seeds=key_seeds,
        rules=rules,
        triggers=triggers,
        period=np.frombuffer(period.encode()[:7].ljust(7, b"?"), dtype=np.uint8).copy(),
    )


class _Columns:
    """The screen's tables of each column, filled a column at a time."""

    def __init__(self, ncols: int, *, decimal: str, checks: list[Any]) -> None:
        self.decimal = decimal
        self.checks = checks
        self.tables = _Tables()
        self.dfa_start = np.ones(ncols, dtype=np.int32)
        self.required = np.zeros(ncols, dtype=np.bool_)
        self.kinds = np.zeros(ncols, dtype=np.int8)
        self.min_len = np.full(ncols, -1, dtype=np.int64)
        self.max_len = np.full(ncols, -1, dtype=np.int64)
        self.bounds = np.zeros((ncols, 6), dtype=np.int64)
        self.literals: dict[str, list[str]] = {}  # the columns with a list of values
        self.types: dict[str, str] = {}

    def add(self, i: int, spec: dict[str, Any], *, expected: str | None, cpr: bool) -> None:
        name = spec["name"]
        ftype = spec.get("type", "string")
        self.types[name] = ftype
        cons = spec.get("constraints", {})
        if set(cons) - _KNOWN_CONSTRAINTS:
            raise Unsupported(f"constraints of {name}")
        self.required[i] = bool(cons.get("required"))
        candidates = [expected] if expected is not None else cons.get("enum")
        if candidates is not None:
            # Exactly the values that pass every check of the column alone (a CPR column
            # with a list of values is decided here too).
            kept = _passing([str(x) for x in candidates], name, self.checks)
            self.literals[name] = kept
            self.dfa_start[i] = self.tables.add_literals(kept)
            return
        if ftype not in ("string", "integer", "number", "date"):
            # The exact checks have no type check for other types: any text, and no bounds.
            if set(cons) - {"required", "pattern", "minLength", "maxLength"}:
                raise Unsupported(f"type {ftype} of {name}")
        # The type's own format, as the exact checks test it.
        patterns = {
            "number": [validation.number_format(self.decimal)],
            "integer": [validation.INTEGER_FORMAT],
            "date": [validation.ISO_DATE_FORMAT],
        }.get(ftype, [])
        if "pattern" in cons:
            patterns.append(str(cons["pattern"]))
        if patterns:
            self.dfa_start[i] = self.tables.add_fsm(_fsm(patterns))
        if cpr:
            self.kinds[i] |= CPR
        if ftype == "date":
            self.kinds[i] |= DATE
        if ftype in ("number", "integer"):
            self.kinds[i] |= NUMBER
        self.min_len[i] = int(cons.get("minLength", -1))
        self.max_len[i] = int(cons.get("maxLength", -1))
        for offset, bound in ((0, "minimum"), (3, "maximum")):
            if bound in cons:
                if ftype not in ("number", "integer"):
                    raise Unsupported(f"{bound} of {name}")
                self.bounds[i, offset : offset + 3] = (1, *_decimal(cons[bound]))


def _passing(candidates: list[str], name: str, checks: list[Any]) -> list[str]:
    """The candidates that no check of column `name` alone flags, by the exact expressions."""
    own = [
        check
        for check in checks
        if check.column == name and set(check.expr.meta.root_names()) <= {name}
    ]
    frame = pl.DataFrame({name: candidates}, schema={name: pl.String})
    flags = [
        (check.expr & check.confirm if check.confirm is not None else check.expr)
        .fill_null(False)
        .alias(f"f{n}")
        for n, check in enumerate(own)
    ]
    if not flags:
        return [value for value in candidates if value != ""]
    flagged = frame.select(pl.any_horizontal(flags).alias("flagged"))["flagged"].to_list()
    return [value for value, bad in zip(candidates, flagged, strict=True) if not bad and value]


def _rules(
    portal: dict[str, Any],
    column: dict[str, int],
    types: dict[str, str],
    literals: dict[str, list[str]],
) -> tuple[np.ndarray, np.ndarray]:
    rows: list[list[int]] = []
    widest = max((len(values) for values in literals.values()), default=0)
    triggers: list[np.ndarray] = []

    def typed(name: str) -> int:
        if name not in column:
            raise Unsupported(f"rule column {name}")
        if types.get(name) == "date" and name not in literals:
            return DATE
        if types.get(name) in ("number", "integer") and name not in literals:
            return NUMBER
        raise Unsupported(f"rule column {name} of type {types.get(name)}")

    for rule in portal.get("rules", []):
        kind = rule["rule"]
        row = [0] * RULE_WIDTH
        trigger = np.zeros(max(widest, 1), dtype=np.bool_)
        if kind in ("gte", "lte"):
            a, b = rule["field"], rule["other"]
            if typed(a) != typed(b):
                raise Unsupported("comparison of different types")
            row[:4] = [GTE if kind == "gte" else LTE, column[a], column[b], typed(a)]
        elif kind == "date_in_period":
            name = rule["field"]
            if name not in column or name in literals:
                raise Unsupported("date_in_period")
            row[:2] = [DATE_IN_PERIOD, column[name]]
        elif kind == "required_if":
            target, when = rule["field"], rule["when"]["field"]
            if target not in column or when not in literals:
                raise Unsupported("required_if on a column without a list of values")
            wanted = {str(x) for x in rule["when"]["in"]}
            for n, value in enumerate(literals[when]):
                trigger[n] = value in wanted
            row[:3] = [REQUIRED_IF, column[target], column[when]]
        elif kind == "equals_prefix":
            f, of = rule["field"], rule["of"]
            if f not in column or of not in column:
                raise Unsupported("equals_prefix")
            row[:4] = [EQUALS_PREFIX, column[f], column[of], int(rule["length"])]
        elif kind == "sum_lte":
            parts = rule["fields"]
            if len(parts) > RULE_WIDTH - 4:
                raise Unsupported("sum of many columns")
            for name in [rule["limit"], *parts]:
                if typed(name) != NUMBER:
                    raise Unsupported("sum of non-numbers")
            row[:4] = [SUM_LTE, column[rule["limit"]], len(parts), 0]
            for n, name in enumerate(parts):
                row[4 + n] = column[name]
        else:
            raise Unsupported(f"rule {kind}")
        rows.append(row)
        triggers.append(trigger)
    if not rows:
        return np.zeros((0, RULE_WIDTH), dtype=np.int64), np.zeros((0, 1), dtype=np.bool_)
    return np.array(rows, dtype=np.int64), np.stack(triggers)


def _stops(delimiter: str, quote: str) -> np.ndarray:
    stops = np.zeros(256, dtype=np.bool_)
    for char in (delimiter, quote, "\n", "\r"):
        stops[ord(char)] = True
    return stops


@cache
def real_ddmmyy() -> np.ndarray:
    """The exact checks' table of real DDMMYY numbers as bytes for the kernel (which handles
    the century as `deliveries.validation.cpr_date_is_real` does)."""
    return validation.REAL_DDMMYY.to_numpy().astype(np.uint8)


@dataclass
class Screened:
    """A block as the screen left it."""

    records: int
    hashes: np.ndarray  # uint64, one per record
    flagged: np.ndarray  # int64 rows: record, first byte, last byte + 1


# --- the kernel (deliveries/screen.c) --------------------------------------------------------

_SOURCE = Path(__file__).with_name("screen.c")
_CFLAGS = ["-O2", "-std=c11", "-shared", "-fPIC"]

logger = logging.getLogger(__name__)


class _Tables_t(ctypes.Structure):
    """`screen_t` of screen.c."""

    _fields_ = [
        ("ncols", ctypes.c_int64),
        ("delimiter", ctypes.c_int64),
        ("quote", ctypes.c_int64),
        ("decimal", ctypes.c_int64),
        ("dfa", ctypes.c_void_p),
        ("dfa_start", ctypes.c_void_p),
        ("accept", ctypes.c_void_p),
        ("stops", ctypes.c_void_p),
        ("required", ctypes.c_void_p),
        ("kinds", ctypes.c_void_p),
        ("min_len", ctypes.c_void_p),
        ("max_len", ctypes.c_void_p),
        ("bounds", ctypes.c_void_p),
        ("key_seeds", ctypes.c_void_p),
        ("rules", ctypes.c_void_p),
        ("nrules", ctypes.c_int64),
        ("triggers", ctypes.c_void_p),
        ("trigger_width", ctypes.c_int64),
        ("period", ctypes.c_void_p),
        ("ddmmyy", ctypes.c_void_p),
    ]


def _build_dir() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "build"


def build_path(compiler: str) -> Path:
    """Where screen.c built by `compiler` is kept: named by a hash of the source and the
    command, so a new version or compiler is a new build."""
    command = " ".join([compiler, *_CFLAGS]).encode()
    digest = hashlib.sha256(_SOURCE.read_bytes() + command).hexdigest()[:16]
    return _build_dir() / f"screen-{digest}.so"


@cache
def kernel() -> ctypes.CDLL | None:
    """screen.c compiled with the system's C compiler (`CC`, else `cc`) into the portal's
    data folder, once for each version of the source, and loaded; None if it cannot be built
    (the validator then checks every row the exact way, and `manage.py check` says so)."""
    compiler = os.environ.get("CC", "cc")
    target = build_path(compiler)
    if not target.exists():
        partial = ""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Built under a name of its own and renamed: processes building at once each get
            # a whole library.
            fd, partial = tempfile.mkstemp(prefix="screen-", suffix=".so", dir=target.parent)
            os.close(fd)
            subprocess.run(
                [compiler, *_CFLAGS, "-o", partial, str(_SOURCE)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            os.replace(partial, target)
            _forget_old_builds(target)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            logger.warning(
                "The row screen could not be built (%s %s); every row is checked the exact way.",
                exc,
                detail.decode(errors="replace")[-500:],
            )
            if partial:
                Path(partial).unlink(missing_ok=True)
            return None
    try:
        library = ctypes.CDLL(str(target))
    except OSError as exc:
        # A damaged build (a full disk, a copy cut short): removed, so that the next process
        # builds it again; this one checks the exact way.
        logger.warning("The row screen %s cannot be loaded (%s): removed.", target, exc)
        target.unlink(missing_ok=True)
        return None
    library.screen_scan.restype = ctypes.c_int
    library.screen_scan.argtypes = [
        ctypes.POINTER(_Tables_t),
        ctypes.c_char_p,
        ctypes.c_int64,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    library.screen_gather.restype = ctypes.c_int64
    library.screen_gather.argtypes = [
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    library.screen_spans.restype = None
    library.screen_spans.argtypes = [
        ctypes.c_char_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    return library


# A build of another version of screen.c is removed once it is this old: by then no process
# of that version is likely to start again (one that does builds it anew).
OLD_BUILD_DAYS = 7


def _forget_old_builds(current: Path) -> None:
    """Removes the builds of other versions of screen.c older than OLD_BUILD_DAYS, so that
    upgrades do not leave one behind each time (a running process keeps the one it loaded)."""
    too_old = time.time() - OLD_BUILD_DAYS * 86_400
    for build in current.parent.glob("screen-*.so"):
        with contextlib.suppress(OSError):
            if build != current and build.stat().st_mtime < too_old:
                build.unlink()


def _tables(screen: Screen) -> _Tables_t:
    """`screen_t` for `screen`: its numbers, and the addresses of its arrays (which the
    Screen keeps alive), field by field as screen.c declares them."""
    derived = {
        "nrules": screen.rules.shape[0],
        "trigger_width": screen.triggers.shape[1],
        "ddmmyy": real_ddmmyy(),
    }
    fields = {}
    for name, *_ in _Tables_t._fields_:
        value = derived[name] if name in derived else getattr(screen, name)
        if isinstance(value, np.ndarray):
            assert value.flags.c_contiguous, name
            value = int(value.ctypes.data)
        fields[name] = value
    return _Tables_t(**fields)


def screen_block(screen: Screen, data: bytes) -> Screened:
    """Screens one block of whole records. Raises GiveUp where the exact way must decide
    (also for bytes that are not UTF-8: the exact way says so and tries Windows-1252)."""
    library = kernel()
    assert library is not None and screen.tables is not None
    # Room for the records of a usual extract (rows of 24 bytes or more) and a few flagged;
    # if that is too little, the block is screened again with room for every line.
    most = len(data) // 24 + 64
    room = 256
    out = np.zeros(2, dtype=np.int64)
    while True:
        hashes = np.empty(most, dtype=np.uint64)
        flagged = np.empty((room, 3), dtype=np.int64)
        status = library.screen_scan(
            ctypes.byref(screen.tables),
            data,
            len(data),
            hashes.ctypes.data,
            most,
            flagged.ctypes.data,
            room,
            out.ctypes.data,
        )
        if status != FULL:
            break
        lines = data.count(b"\n") + 1
        if out[0] >= most:
            most = lines
        if out[1] >= room:
            room = lines
    if status != OK:
        raise GiveUp
    records, nflagged = int(out[0]), int(out[1])
    return Screened(records=records, hashes=hashes[:records], flagged=flagged[:nflagged].copy())


def records_bytes(data: bytes, spans: np.ndarray) -> bytes:
    """The records of `data` at `spans` (rows of record, first byte, last byte + 1: the
    flagged records as `screen_block` found them, or `record_spans`), one after another,
    each ending with a line break: what polars parses for the exact checks."""
    library = kernel()
    assert library is not None
    spans = np.ascontiguousarray(spans, dtype=np.int64)
    if not len(spans):
        return b""
    out = np.empty(int((spans[:, 2] - spans[:, 1]).sum()) + len(spans), dtype=np.uint8)
    length = library.screen_gather(data, spans.ctypes.data, len(spans), out.ctypes.data)
    return out[:length].tobytes()


def record_spans(data: bytes, quote: str, wanted: np.ndarray) -> np.ndarray:
    """The records numbered `wanted` (ascending, counted from 0) in a block the screen has
    read, as rows of record, first byte, last byte + 1."""
    library = kernel()
    assert library is not None
    wanted = np.ascontiguousarray(wanted, dtype=np.int64)
    spans = np.zeros((len(wanted), 2), dtype=np.int64)
    library.screen_spans(
        data, len(data), ord(quote), wanted.ctypes.data, len(wanted), spans.ctypes.data
    )
    return np.column_stack([wanted, spans])
