"""Whole numbers as people read them: 344.149 with the thousands separator of a language.

One helper for the list rows (deliveries.rows) and the texts background jobs store
(deliveries.messages), so a count reads the same in a table cell and in a sentence. The separator
comes from the portal's format modules (flisportal/formats), which give Danish and English the
same one today.
"""

from __future__ import annotations

from django.utils.formats import get_format
from django.utils.numberformat import format as format_number
from django.utils.translation import get_language


def grouped(number: int, *, language: str | None = None) -> str:
    """`|intcomma`: `number` with the thousands separator of `language` (the active language
    when None). A worker writes its stored Danish text in no request, so it names "da" rather
    than trust whatever language is active. Most counts are below a thousand, which no separator
    changes: those skip the format lookup (list pages call this a few hundred times)."""
    if 0 <= number < 1000:
        return str(number)
    language = language or get_language()
    return format_number(
        number,
        get_format("DECIMAL_SEPARATOR", language),
        grouping=get_format("NUMBER_GROUPING", language),
        thousand_sep=get_format("THOUSAND_SEPARATOR", language),
        force_grouping=True,
        use_l10n=True,
    )
