"""The catalogue of texts that background jobs store with a delivery.

A worker writes its texts when it runs, in no request and so in no user's language. Each kind
of text therefore has a stable code here and a Danish template with named placeholders. Where a
text is stored, its code and parameters are stored next to it, and the Danish text itself is
still written to the old field (logs, the audit trail, exports and rows from before the codes
read that). Pages render the text again from code and parameters in the reader's language
(`render`), and fall back to the stored Danish text when a row has no code or its code is no
longer here, so an entry may be removed without breaking old rows.

The templates are marked with `gettext_noop`: the Danish text is the template itself, so the
stored text is the same byte for byte whatever language is active, and `gettext` is only asked
when a page shows it.

A parameter is a string or a number, or a nested text `{"code": ..., "params": {...}}` for a
part that has words of its own (a delimiter's name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, gettext_noop

MESSAGES: dict[str, str] = {
    # --- words used inside other texts ---
    "word.delimiter.comma": gettext_noop("komma (,)"),
    "word.delimiter.tab": gettext_noop("tabulator"),
    "word.delimiter.pipe": gettext_noop("lodret streg (|)"),
    "word.delimiter.semicolon": gettext_noop("semikolon (;)"),
    # --- validation: the file as a whole ---
    "validation.empty": gettext_noop(
        "Filen er tom. Upload et udtræk med en overskriftsrække og data."
    ),
    "validation.utf16": gettext_noop(
        "Filen er gemt som UTF-16. Gem den som CSV i UTF-8 (eller Windows-1252) og upload igen."
    ),
    "validation.nul": gettext_noop(
        "Filen indeholder NUL-tegn og er ikke en tekstfil (eller er gemt som UTF-16). Gem den "
        "som CSV i UTF-8 og upload igen."
    ),
    "validation.mixed_charsets": gettext_noop(
        "Filen blander to tegnsæt: det meste er Windows-1252, men nogle bogstaver er gemt som "
        "UTF-8 («%(found)s» i stedet for «%(meant)s»). Gem hele filen som CSV i UTF-8 og upload "
        "igen."
    ),
    "validation.unknown_charset": gettext_noop(
        "Filens tegnsæt kan ikke genkendes: den er hverken gyldig UTF-8 eller Windows-1252 "
        "(byte 0x%(byte)s). Gem filen som CSV i UTF-8 og upload igen."
    ),
    "validation.not_text": gettext_noop(
        "Filen kan ikke læses som tekst efter omkodning til UTF-8. Gem den som CSV i UTF-8 og "
        "upload igen."
    ),
    "validation.first_line_empty": gettext_noop(
        "Første linje er tom: filen skal starte med overskriftsrækken."
    ),
    "validation.wrong_delimiter": gettext_noop(
        "Filen bruger %(found)s som skilletegn, men kontrakten kræver %(required)s. Gem filen "
        "med semikolon som skilletegn og upload igen."
    ),
    "validation.no_delimiter": gettext_noop(
        "Overskriftsrækken indeholder ikke skilletegnet %(required)s: filen er ikke en CSV-fil "
        "efter kontrakten."
    ),
    "validation.duplicate_column": gettext_noop(
        "Kolonnen «%(name)s» står mere end én gang i overskriften."
    ),
    "validation.misspelled_column": gettext_noop(
        "Kolonnen «%(name)s» kendes ikke – mente du «%(guess)s»?"
    ),
    "validation.unnamed_column": gettext_noop(
        "Overskriften har en kolonne uden navn (fx et ekstra skilletegn sidst på linjen)."
    ),
    "validation.extra_column": gettext_noop(
        "Kolonnen «%(name)s» hører ikke til kontrakten; fjern den."
    ),
    "validation.missing_column": gettext_noop("Kolonnen «%(name)s» mangler i overskriften."),
    "validation.no_data": gettext_noop("Filen har en overskriftsrække, men ingen data."),
    "validation.too_many_fields": gettext_noop(
        "Række %(row)s har %(fields)s felter, men overskriften har %(width)s. Tjek skilletegn "
        "(;) og anførselstegn i rækken."
    ),
    "validation.csv_error": gettext_noop(
        "Filen kan ikke læses som CSV omkring række %(row)s (%(error)s). Tjek anførselstegn i "
        "rækken."
    ),
    "validation.not_csv": gettext_noop("Filen kan ikke læses som CSV: %(error)s"),
    # --- validation: one value (`value` is the issue's own value, not a parameter) ---
    "validation.required": gettext_noop("«%(column)s» skal udfyldes."),
    "validation.integer": gettext_noop("«%(value)s» er ikke et heltal."),
    "validation.number_decimal": gettext_noop(
        "«%(value)s» er ikke et tal efter kontrakten: brug decimalkomma, fx 12,5."
    ),
    "validation.number": gettext_noop(
        "«%(value)s» er ikke et tal (brug decimalkomma og ingen tusindtalsseparator)."
    ),
    "validation.date_format": gettext_noop("«%(value)s» er ikke en dato på formen ÅÅÅÅ-MM-DD."),
    "validation.date_real": gettext_noop("«%(value)s» er ikke en dato, der findes."),
    "validation.pattern": gettext_noop("«%(value)s» har ikke det krævede format (%(pattern)s)."),
    "validation.enum": gettext_noop("«%(value)s» er ikke en tilladt værdi (tilladt: %(allowed)s)."),
    "validation.min_length": gettext_noop("«%(value)s» er kortere end %(length)s tegn."),
    "validation.max_length": gettext_noop("Værdien er længere end %(length)s tegn."),
    "validation.minimum": gettext_noop("«%(value)s» skal være mindst %(limit)s."),
    "validation.maximum": gettext_noop("«%(value)s» skal være højst %(limit)s."),
    "validation.cpr": gettext_noop(
        "«%(value)s» er ikke et muligt CPR-nummer: de første seks cifre er ikke en rigtig dato "
        "(DDMMÅÅ)."
    ),
    "validation.kommune_digits": gettext_noop(
        "Kommunekoden skal skrives med tre cifre (%(kommune)s), ikke «%(value)s»."
    ),
    "validation.kommune_other": gettext_noop(
        "Kommunekoden «%(value)s» er ikke leverancens kommune (%(kommune)s)."
    ),
    "validation.period": gettext_noop(
        "Perioden «%(value)s» er ikke leverancens periode (%(period)s)."
    ),
    "validation.equals_prefix": gettext_noop(
        "«%(value)s» skal være de første %(length)s cifre af «%(of)s»."
    ),
    "validation.sum_lte": gettext_noop(
        "Summen af %(fields)s er større end «%(limit)s» (%(value)s)."
    ),
    "validation.required_if": gettext_noop(
        "«%(column)s» skal udfyldes, når «%(field)s» er %(values)s."
    ),
    "validation.gte": gettext_noop("«%(value)s» i «%(column)s» ligger før «%(other)s»."),
    "validation.lte": gettext_noop("«%(value)s» i «%(column)s» ligger efter «%(other)s»."),
    "validation.date_in_period": gettext_noop(
        "Datoen «%(value)s» ligger uden for leverancens periode (%(period)s)."
    ),
    "validation.primary_key": gettext_noop("Nøglen (%(key)s) findes allerede i række %(first)s."),
}


@dataclass(frozen=True)
class Text:
    """A stored text before it is stored: its code and parameters, and its Danish words."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise KeyError(f"no message {self.code!r} in deliveries.messages")

    @property
    def danish(self) -> str:
        """The text as stored in the old field: the template itself, never translated."""
        return _format(self.code, self.params, translate=False)

    def as_param(self) -> dict[str, Any]:
        """This text as a parameter of another one."""
        return {"code": self.code, "params": self.params}


def text(code: str, **params: Any) -> Text:
    return Text(code, params)


def _format(code: str, params: dict[str, Any], *, translate: bool) -> str:
    template = MESSAGES[code]
    if translate:
        template = gettext(template)
    values = {
        name: _format(value["code"], value.get("params", {}), translate=translate)
        if isinstance(value, dict)
        else value
        for name, value in params.items()
    }
    return template % values if "%" in template else template


def render(code: str, params: dict[str, Any], *, fallback: str) -> str:
    """The text of `code` in the active language, or `fallback` (the stored Danish text) when
    there is no code, the code is not in the catalogue any more, or the parameters do not fit
    its template (a row written by an older version of a text)."""
    if not code:
        return fallback
    try:
        return _format(code, params, translate=True)
    except (KeyError, TypeError, ValueError):
        return fallback
