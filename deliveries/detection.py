"""What a file of a batch upload is: its data area, kommune and period, and the route it goes on.

The content decides; the file name is only a hint, asked where the content says nothing:

- **data area**: the header line against each active contract's columns (the share of
  columns the two have in common, of all columns either names). The best contract wins when it
  shares at least half; two contracts equally good are told apart by the name (an area's code
  or name in it), else the area is ambiguous. A header no contract resembles leaves the area to
  the name.
- **kommune** and **period**: the values of the columns the validator checks them in (the
  contract's `portal.kommune_field` and `portal.period_field`) in the first rows. One value is
  the answer; several are a problem (a file is one kommune's month). Without the columns, or
  with them empty, the name is asked: a token of three or four digits that is a kommune code
  (`0101` in KOMBIT's own names is 101), and a month `ÅÅÅÅMM` or `ÅÅÅÅ-MM`.
- **route**: among the user's established routes (`access.sender_routes`), the one for that
  kommune and area (on the endpoint chosen for the batch, if any). None or several are a
  problem the user settles on the preview.

Only the first SAMPLE_BYTES of a file are read: a 1 GB extract is not read here a second time;
the validator reads it all later and says whether every row agrees.
"""

from __future__ import annotations

import csv
import enum
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from deliveries import access
from deliveries.models import DataContract
from flisportal.lib.periods import is_period
from routes.models import DataArea, Endpoint, Kommune, Route

SAMPLE_BYTES = 256 * 1024
# How much the best contract must share with the header to count as the header's contract:
# a column renamed or added still matches, a different area's header does not (the areas share
# at most kommunekode, periode and cpr).
MIN_HEADER_MATCH = 0.5
# The encodings the contracts accept, in the order the validator tries them.
ENCODINGS = ("utf-8-sig", "cp1252")
_PERIOD_IN_NAME = re.compile(r"(?<!\d)(20\d{2})[-_]?(0[1-9]|1[0-2])(?!\d)")
_TOKENS = re.compile(r"[^0-9a-zæøå]+")


class Problem(enum.StrEnum):
    """Why detection could not settle a file; the preview says it in Danish."""

    UNREADABLE = "unreadable"  # no header line could be read
    NO_AREA = "no_area"
    AMBIGUOUS_AREA = "ambiguous_area"
    NO_KOMMUNE = "no_kommune"
    MANY_KOMMUNER = "many_kommuner"
    NO_PERIOD = "no_period"
    MANY_PERIODS = "many_periods"
    NO_ROUTE = "no_route"
    MANY_ROUTES = "many_routes"


@dataclass
class Detection:
    kommune: Kommune | None = None
    data_area: DataArea | None = None
    period: str = ""
    route: Route | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Contract:
    data_area_id: int
    columns: frozenset[str]
    delimiter: str
    quotechar: str
    kommune_field: str
    period_field: str


class Detector:
    """Detects files for one user (and optionally one endpoint); the contracts, kommuner and
    routes are read once, so a batch of 490 files costs a handful of queries."""

    def __init__(self, user: Any, *, endpoint: Endpoint | None = None) -> None:
        self.contracts = [_contract(c) for c in DataContract.objects.active()]
        self.areas = {area.pk: area for area in DataArea.objects.all()}
        self.kommuner = {kommune.code: kommune for kommune in Kommune.objects.all()}
        routes = access.sender_routes(user).select_related(
            "kommune", "data_area", "sender_system", "endpoint"
        )
        if endpoint is not None:
            routes = routes.filter(endpoint=endpoint)
        self.routes = list(routes)

    def detect(self, path: Path, name: str) -> Detection:
        found = Detection()
        lines = _sample_lines(path)
        if not lines:
            found.problems.append(Problem.UNREADABLE)
            return found
        hint = _NameHint(name, self)
        try:
            contract = self._area_of(lines[0], hint, found)
            kommuner: set[str] = set()
            periods: set[str] = set()
            if contract is not None:
                kommuner, periods = _column_values(lines, contract)
        except csv.Error:  # a field past the csv module's size limit: no extract looks so
            return Detection(problems=[Problem.UNREADABLE])
        self._kommune_of(kommuner, hint, found)
        self._period_of(periods, hint, found)
        self._route_of(found)
        return found

    def routes_for(self, kommune: Kommune, area: DataArea) -> list[Route]:
        return [r for r in self.routes if r.kommune_id == kommune.pk and r.data_area_id == area.pk]

    def _area_of(self, header: str, hint: _NameHint, found: Detection) -> _Contract | None:
        scored = [(_header_match(header, c), c) for c in self.contracts]
        best = max((score for score, _c in scored), default=0.0)
        candidates = [c for score, c in scored if score == best and best >= MIN_HEADER_MATCH]
        if len(candidates) > 1:
            named = [c for c in candidates if c.data_area_id in hint.area_ids]
            candidates = named or candidates
        if len(candidates) == 1:
            found.data_area = self.areas.get(candidates[0].data_area_id)
            return candidates[0]
        if not candidates and len(hint.area_ids) == 1:
            found.data_area = self.areas.get(next(iter(hint.area_ids)))
            # The header is not the contract's; the kommune and period columns may still be.
            return next((c for c in self.contracts if c.data_area_id in hint.area_ids), None)
        found.problems.append(
            Problem.AMBIGUOUS_AREA if candidates or hint.area_ids else Problem.NO_AREA
        )
        return None

    def _kommune_of(self, values: set[str], hint: _NameHint, found: Detection) -> None:
        codes = {_kommune_code(v) for v in values}
        known = {code for code in codes if code in self.kommuner}
        if len(codes) > 1:
            found.problems.append(Problem.MANY_KOMMUNER)
        elif known:
            found.kommune = self.kommuner[known.pop()]
        elif not codes and len(hint.kommune_codes) == 1:
            found.kommune = self.kommuner[next(iter(hint.kommune_codes))]
        else:
            found.problems.append(
                Problem.MANY_KOMMUNER if len(hint.kommune_codes) > 1 else Problem.NO_KOMMUNE
            )

    def _period_of(self, values: set[str], hint: _NameHint, found: Detection) -> None:
        periods = {_period_text(v) for v in values}
        if len(periods) > 1:
            found.problems.append(Problem.MANY_PERIODS)
        elif periods and is_period(next(iter(periods))):
            found.period = periods.pop()
        elif not periods and len(hint.periods) == 1:
            found.period = next(iter(hint.periods))
        else:
            found.problems.append(
                Problem.MANY_PERIODS if len(hint.periods) > 1 else Problem.NO_PERIOD
            )

    def _route_of(self, found: Detection) -> None:
        if found.kommune is None or found.data_area is None:
            return
        routes = self.routes_for(found.kommune, found.data_area)
        if len(routes) == 1:
            found.route = routes[0]
        else:
            found.problems.append(Problem.MANY_ROUTES if routes else Problem.NO_ROUTE)


class _NameHint:
    """What a file name says: data areas (their code or name in it), kommune codes and months."""

    def __init__(self, name: str, detector: Detector) -> None:
        stem = PurePosixPath(name.lower()).stem
        squeezed = stem.replace("-", "_").replace(" ", "_")
        self.area_ids = {
            area.pk
            for area in detector.areas.values()
            if area.code in squeezed or area.name.lower().replace(" ", "_") in squeezed
        }
        tokens = [t for t in _TOKENS.split(stem) if t]
        self.kommune_codes = {
            _kommune_code(t)
            for t in tokens
            if t.isdigit() and len(t) in (3, 4) and _kommune_code(t) in detector.kommuner
        }
        self.periods = {f"{y}-{m}" for y, m in _PERIOD_IN_NAME.findall(stem)}


def _contract(contract: DataContract) -> _Contract:
    document = contract.document
    dialect = document.get("dialect", {})
    portal = document.get("portal", {})
    return _Contract(
        data_area_id=contract.data_area_id,
        columns=frozenset(f["name"].lower() for f in document["schema"]["fields"]),
        delimiter=dialect.get("delimiter", ";"),
        quotechar=dialect.get("quoteChar", '"'),
        kommune_field=portal.get("kommune_field", ""),
        period_field=portal.get("period_field", ""),
    )


def _sample_lines(path: Path) -> list[str]:
    """The first lines of the file, decoded as the validator would; a line cut off by the
    sample's end is left out."""
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES + 1)
    if len(raw) > SAMPLE_BYTES:
        raw = raw[: raw.rfind(b"\n", 0, SAMPLE_BYTES) + 1]
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # cp1252 leaves five bytes undefined
        text = raw.decode("cp1252", errors="replace")
    return [line for line in text.splitlines() if line.strip()]


def _header_match(header: str, contract: _Contract) -> float:
    names = {n.strip().lower() for n in _row(header, contract)}
    if not names:
        return 0.0
    return len(names & contract.columns) / len(names | contract.columns)


def _row(line: str, contract: _Contract) -> list[str]:
    return next(csv.reader([line], delimiter=contract.delimiter, quotechar=contract.quotechar))


def _column_values(lines: list[str], contract: _Contract) -> tuple[set[str], set[str]]:
    """The distinct non-empty values of the kommune and period columns in the sampled rows."""
    header = [n.strip().lower() for n in _row(lines[0], contract)]
    at_kommune = _index(header, contract.kommune_field)
    at_period = _index(header, contract.period_field)
    kommuner: set[str] = set()
    periods: set[str] = set()
    for values in csv.reader(lines[1:], delimiter=contract.delimiter, quotechar=contract.quotechar):
        for at, into in ((at_kommune, kommuner), (at_period, periods)):
            if at is not None and at < len(values) and values[at].strip():
                into.add(values[at].strip())
    return kommuner, periods


def _index(header: list[str], column: str) -> int | None:
    return header.index(column) if column and column in header else None


def _kommune_code(value: str) -> str:
    # KOMBIT's file names write the code with four digits (0101); the registry with three.
    return value[1:] if len(value) == 4 and value.startswith("0") else value


def _period_text(value: str) -> str:
    """`202610` (the contracts' column) or `2026-10` as the portal's `2026-10`."""
    compact = value.replace("-", "")
    return f"{compact[:4]}-{compact[4:]}" if len(compact) == 6 and compact.isdigit() else value
