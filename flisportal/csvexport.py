"""The one place CSV exports make cells safe to open in a spreadsheet.

Every export the portal writes (coverage, validation report, inbox, audit log) goes through
`csv_safe`, so CSV injection is handled once.
"""

from __future__ import annotations

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
