"""The one place CSV exports are written: as Danish Excel opens them, with every cell safe to
open in a spreadsheet.

Every export the portal writes (coverage, validation report, inbox, audit log, outstanding
periods) is a `csv_download`, whose cells all go through `csv_safe`, so CSV injection is
handled once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse
from django.utils import timezone

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection);
# a leading apostrophe makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Echo:
    """A file-like object for csv.writer that hands each row back, for streaming responses."""

    def write(self, value: str) -> str:
        return value


def csv_download(
    filename: str, header: Sequence[str], rows: Iterable[Iterable[object]]
) -> StreamingHttpResponse:
    """A CSV attachment streamed row by row (memory stays flat for any number of rows):
    semicolons, CRLF, UTF-8 with a BOM so Danish Excel reads æ, ø and å; every cell through
    `csv_safe`."""
    writer = csv.writer(Echo(), delimiter=";", lineterminator="\r\n")

    def lines() -> Iterator[str]:
        yield "\ufeff"
        yield writer.writerow([csv_safe(cell) for cell in header])
        for row in rows:
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def stamped(name: str) -> str:
    """`name` with the local time, as an export's file name: daekning-20261127-1405.csv."""
    return f"{name}-{timezone.localtime():%Y%m%d-%H%M}.csv"
