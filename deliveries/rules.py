"""A data contract's rules in words, for people who do not read regular expressions.

`describe_rule(contract, column=…, rule=…)` is the one function that says what a rule asks: the
contract page lists every column's rules with it, and the validation report (the delivery page,
the report CSV and the rejection mail) describes each error's rule with it, so the page a vendor
reads before sending and the report they get afterwards never say two different things. The
rule's code (`pattern`, `maxLength`, `equals_prefix` …) stays beside the words for machines.

The texts are translated when asked for (`gettext`), so a page shows them in the reader's
language; a mail is written in the language active when it is made.

Patterns are described by a small reader of the regular-expression subset contracts use
(digits, literal characters, character classes, groups with alternatives, counted repeats).
A pattern outside that subset is still described, as "the form … (a regular expression)", so a
new contract never breaks the page; its template value is then left for a person to fill in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from deliveries.messages import BILINGUAL, Text, text

# Rules about the file as a whole (deliveries.validation.FILE_RULES) and the primary key: they
# belong to no column of the contract.
_FILE_RULES = {
    "empty": gettext_noop("Filen skal have en overskriftsrække og mindst én række data."),
    "encoding": gettext_noop(
        "Filen skal være tekst i UTF-8 (med eller uden BOM) eller Windows-1252."
    ),
    "dialect": gettext_noop("Kolonnerne skal være adskilt af kontraktens skilletegn."),
    "header": gettext_noop(
        "Første linje skal være overskriftsrækken med præcis kontraktens kolonnenavne, hver "
        "én gang (rækkefølgen er fri)."
    ),
    "structure": gettext_noop(
        "Hver række skal have lige så mange felter som overskriften, og anførselstegn skal "
        "være parvise."
    ),
}
# The rules about one column's values, in the order `rule_codes` gives them, and the rules
# between columns (deliveries.datacontracts.CROSS_RULES), in words that need no contract: the
# help page lists every code the validator reports with these (`rule_summaries`). A contract's
# own limits (which pattern, which values) are on its contract page, by `describe_rule`.
_COLUMN_RULES = {
    "required": gettext_noop("Kolonnen skal udfyldes i hver række."),
    "type": gettext_noop(
        "Værdien skal have kolonnens type: heltal, tal med kontraktens decimaltegn eller dato "
        "som ÅÅÅÅ-MM-DD."
    ),
    "date": gettext_noop("Datoen skal findes i kalenderen (fx ikke 2023-02-30)."),
    "pattern": gettext_noop(
        "Værdien skal have den form, kontrakten beskriver for kolonnen (fx et bestemt antal cifre)."
    ),
    "enum": gettext_noop("Værdien skal være en af dem, kontrakten tillader for kolonnen."),
    "minLength": gettext_noop("Teksten skal have mindst så mange tegn, som kontrakten kræver."),
    "maxLength": gettext_noop("Teksten må højst have så mange tegn, som kontrakten tillader."),
    "minimum": gettext_noop(
        "Værdien må ikke være mindre (eller tidligere) end kontraktens grænse."
    ),
    "maximum": gettext_noop("Værdien må ikke være større (eller senere) end kontraktens grænse."),
}
_PORTAL_RULES = ("cpr", "kommune", "periode")
_KEY_AND_CROSS_RULES = {
    "primaryKey": gettext_noop(
        "Kombinationen af kontraktens nøglekolonner må kun stå i én række i filen."
    ),
    "equals_prefix": gettext_noop("En kolonne skal være de første tegn af en anden kolonne."),
    "sum_lte": gettext_noop(
        "Summen af nogle kolonner må ikke være større end en anden kolonne (tomme felter "
        "tæller som 0)."
    ),
    "required_if": gettext_noop(
        "En kolonne skal udfyldes, når en anden kolonne har bestemte værdier."
    ),
    "gte": gettext_noop("En kolonne må ikke ligge før en anden, når begge er udfyldt."),
    "lte": gettext_noop("En kolonne må ikke ligge efter en anden, når begge er udfyldt."),
    "date_in_period": gettext_noop("Datoen skal ligge i leverancens måned."),
}
# The example period in descriptions: a fixed month, so a description never depends on today.
EXAMPLE_PERIOD = "202611"
MONTH_GROUP = "0[1-9]|1[0-2]"


def describe_rule(contract: dict[str, Any], *, column: str, rule: str) -> str:
    """What `rule` asks of `column` under `contract`, in the active language.

    `rule` is the code the validator reports (`required`, `pattern`, `gte`, `header` …);
    `column` is the column it was found in ("" for the file as a whole). An unknown rule or a
    column the contract does not have (an old contract, a hand-made report row) is described
    as well as it can be, never an error."""
    if rule in _FILE_RULES:
        return _(_FILE_RULES[rule])
    if rule == "primaryKey":
        key = " + ".join(contract.get("schema", {}).get("primaryKey") or [column])
        return _("Kombinationen af %(key)s må kun stå i én række i filen.") % {"key": key}
    cross = [r for r in _portal(contract).get("rules", []) if _cross_target(r) == column]
    matching = [r for r in cross if r.get("rule") == rule]
    if matching:
        return " ".join(_describe_cross(r) for r in matching)
    spec = _field(contract, column)
    return _describe_column_rule(contract, spec, column, rule)


def rule_summaries() -> list[tuple[str, str]]:
    """Every rule code the validator reports, as (code, words) in the active language: the
    file as a whole, one column's values, the key, then the rules between columns. The words
    need no contract (the help page); a report row still says its rule with `describe_rule`."""
    return [
        *((code, _(words)) for code, words in _FILE_RULES.items()),
        *((code, _(words)) for code, words in _COLUMN_RULES.items()),
        *((code, _portal_rule_words("", code)) for code in _PORTAL_RULES),
        *((code, _(words)) for code, words in _KEY_AND_CROSS_RULES.items()),
    ]


def rule_words_bilingual(contract: dict[str, Any], *, column: str, rule: str) -> Text:
    """`describe_rule` in Danish and English, as one stored text: a worker writes an error
    message in no reader's language, and the page shows it in the reader's (the validator puts
    a pattern's words into its message this way, instead of the raw pattern)."""
    with translation.override("da"):
        danish = describe_rule(contract, column=column, rule=rule)
    with translation.override("en"):
        english = describe_rule(contract, column=column, rule=rule)
    return text(BILINGUAL, da=danish, en=english)


@dataclass
class ColumnRules:
    """One column on the contract page: its rules as (code, words) and an example value."""

    name: str
    title: str
    required: bool
    rules: list[tuple[str, str]] = field(default_factory=list)
    example: str | None = None


def column_rules(contract: dict[str, Any]) -> list[ColumnRules]:
    """Every column of the contract with the rules the validator checks on it, in the order
    the validator reports them, each described by `describe_rule`."""
    columns = []
    for spec in contract["schema"]["fields"]:
        name = spec["name"]
        codes = rule_codes(contract, name)
        columns.append(
            ColumnRules(
                name=name,
                title=str(spec.get("title", "")),
                required=bool(spec.get("constraints", {}).get("required")),
                rules=[(code, describe_rule(contract, column=name, rule=code)) for code in codes],
                example=example_value(contract, name),
            )
        )
    return columns


def cross_rules(contract: dict[str, Any]) -> list[tuple[str, str]]:
    """The rules between columns, as (code, words)."""
    return [(str(r["rule"]), _describe_cross(r)) for r in _portal(contract).get("rules", [])]


def rule_codes(contract: dict[str, Any], column: str) -> list[str]:
    """The codes of the rules the validator checks on one column's own values (the same
    order as `deliveries.validation._field_checks` and `_portal_checks`)."""
    spec = _field(contract, column)
    cons = spec.get("constraints", {})
    ftype = spec.get("type", "string")
    codes = ["required"] if cons.get("required") else []
    if ftype in ("integer", "number", "date"):
        codes.append("type")
    if ftype == "date":
        codes.append("date")
    for key in ("pattern", "enum", "minLength", "maxLength", "minimum", "maximum"):
        if key in cons:
            codes.append(key)
    portal = _portal(contract)
    if column in portal.get("cpr_fields", []):
        codes.append("cpr")
    if column == portal.get("kommune_field"):
        codes.append("kommune")
    if column == portal.get("period_field"):
        codes.append("periode")
    return codes


# --- one column's own rules -----------------------------------------------------------------


def _describe_column_rule(
    contract: dict[str, Any], spec: dict[str, Any], column: str, rule: str
) -> str:
    cons = spec.get("constraints", {})
    ftype = spec.get("type", "string")
    if rule == "required":
        return _("Skal udfyldes.")
    if rule == "type":
        return _type_words(ftype, contract)
    if rule == "date":
        return _("Datoen skal findes i kalenderen (fx ikke 2023-02-30).")
    if rule == "pattern" and "pattern" in cons:
        if column == _portal(contract).get("period_field"):
            return _period_words()
        return describe_pattern(str(cons["pattern"]))
    if rule == "enum" and "enum" in cons:
        return _("Et af: %(values)s.") % {"values": ", ".join(str(v) for v in cons["enum"])}
    if rule in ("minLength", "maxLength") and rule in cons:
        return _length_words(rule, int(cons[rule]))
    if rule in ("minimum", "maximum") and rule in cons:
        return _bound_words(rule, cons[rule], ftype, contract)
    return _portal_rule_words(column, rule)


def _portal_rule_words(column: str, rule: str) -> str:
    if rule == "cpr":
        return _(
            "CPR-nummer: 10 cifre uden bindestreg, hvor de første seks er en rigtig dato "
            "(DDMMÅÅ). Modulus 11 kræves ikke."
        )
    if rule == "kommune":
        return _("Leverancens kommunekode med tre cifre, fx 101 (ikke 0101).")
    if rule == "periode":
        return _(
            "Skal være leverancens måned, skrevet som år og måned uden bindestreg, fx "
            "%(example)s for november 2026 (ikke 2026-11)."
        ) % {"example": EXAMPLE_PERIOD}
    # A code this portal does not know (a row from an older version): say so plainly.
    return _("Reglen «%(rule)s» for kolonnen «%(column)s».") % {"rule": rule, "column": column}


def _period_words() -> str:
    return _(
        "6 cifre: år og måned uden bindestreg, fx %(example)s for november 2026 (ikke 2026-11)."
    ) % {"example": EXAMPLE_PERIOD}


def _decimal(contract: dict[str, Any]) -> str:
    return str(contract.get("dialect", {}).get("decimalChar", ","))


def _type_words(ftype: str, contract: dict[str, Any]) -> str:
    if ftype == "integer":
        return _("Heltal uden decimaler og tusindtalsseparator, fx 12.")
    if ftype == "number":
        if _decimal(contract) == ",":
            return _("Tal med decimalkomma og uden tusindtalsseparator, fx 12,5.")
        return _("Tal med decimalpunktum og uden tusindtalsseparator, fx 12.5.")
    if ftype == "date":
        return _("Dato som ÅÅÅÅ-MM-DD, fx 2026-11-30.")
    return _("Tekst.")


def _length_words(rule: str, length: int) -> str:
    if rule == "minLength":
        return _("Mindst %(n)s tegn.") % {"n": length}
    return _("Tekst, højst %(n)s tegn.") % {"n": length}


def _bound_words(rule: str, limit: Any, ftype: str, contract: dict[str, Any]) -> str:
    shown = str(limit).replace(".", _decimal(contract)) if ftype == "number" else str(limit)
    if ftype == "date":
        if rule == "minimum":
            return _("Tidligst %(limit)s.") % {"limit": shown}
        return _("Senest %(limit)s.") % {"limit": shown}
    if rule == "minimum":
        return _("Mindst %(limit)s.") % {"limit": shown}
    return _("Højst %(limit)s.") % {"limit": shown}


# --- rules between columns ------------------------------------------------------------------


def _cross_target(rule: Any) -> str:
    """The column a cross-field rule's errors are reported in (as the validator does)."""
    if not isinstance(rule, dict):
        return ""
    return str(rule.get("field") or rule.get("limit") or "")


def _describe_cross(rule: dict[str, Any]) -> str:
    kind = rule.get("rule")
    if kind == "equals_prefix":
        return _("«%(field)s» skal være de første %(length)s tegn af «%(of)s».") % {
            "field": rule["field"],
            "length": rule["length"],
            "of": rule["of"],
        }
    if kind == "sum_lte":
        return _(
            "Summen af %(fields)s må ikke være større end «%(limit)s» (tomme felter tæller som 0)."
        ) % {"fields": ", ".join(f"«{f}»" for f in rule["fields"]), "limit": rule["limit"]}
    if kind == "required_if":
        when = rule["when"]
        return _("«%(field)s» skal udfyldes, når «%(other)s» er et af: %(values)s.") % {
            "field": rule["field"],
            "other": when["field"],
            "values": ", ".join(str(v) for v in when["in"]),
        }
    if kind == "gte":
        return _("«%(field)s» må ikke ligge før «%(other)s», når begge er udfyldt.") % {
            "field": rule["field"],
            "other": rule["other"],
        }
    if kind == "lte":
        return _("«%(field)s» må ikke ligge efter «%(other)s», når begge er udfyldt.") % {
            "field": rule["field"],
            "other": rule["other"],
        }
    if kind == "date_in_period":
        return _("«%(field)s» skal være en dato i leverancens måned.") % {"field": rule["field"]}
    return _("Reglen «%(rule)s».") % {"rule": kind}


# --- patterns -------------------------------------------------------------------------------


@dataclass
class _Piece:
    """One atom of a pattern with its repeat count: a digit, a literal, a class or a group."""

    kind: str  # "digit", "literal", "class", "group"
    low: int = 1
    high: int | None = 1  # None: no upper bound
    text: str = ""  # the literal character, the class's inside, or the group's source
    alternatives: list[list[_Piece]] = field(default_factory=list)


class _Unreadable(Exception):
    """The pattern uses something the reader does not describe."""


def _parse(pattern: str) -> list[_Piece]:
    pieces, end = _parse_sequence(pattern, 0)
    if end != len(pattern):
        raise _Unreadable(pattern)
    return pieces


def _parse_sequence(pattern: str, at: int) -> tuple[list[_Piece], int]:
    """Pieces up to the end, a `|` or a `)`; returns them and where it stopped."""
    pieces: list[_Piece] = []
    while at < len(pattern) and pattern[at] not in "|)":
        piece, at = _parse_atom(pattern, at)
        at = _parse_repeat(pattern, at, piece)
        pieces.append(piece)
    return pieces, at


def _parse_atom(pattern: str, at: int) -> tuple[_Piece, int]:
    char = pattern[at]
    if char == "\\":
        escaped = pattern[at + 1 : at + 2]
        if escaped == "d":
            return _Piece("digit"), at + 2
        if escaped and not escaped.isalnum():
            return _Piece("literal", text=escaped), at + 2
        raise _Unreadable(pattern)
    if char == "[":
        end = pattern.find("]", at + 1)
        if end < 0 or "\\" in pattern[at:end] or pattern[at + 1 : at + 2] == "^":
            raise _Unreadable(pattern)
        return _Piece("class", text=pattern[at + 1 : end]), end + 1
    if char == "(":
        start = at + 1 + (2 if pattern.startswith("?:", at + 1) else 0)
        alternatives: list[list[_Piece]] = []
        at = start
        while True:
            sequence, at = _parse_sequence(pattern, at)
            alternatives.append(sequence)
            if at >= len(pattern):
                raise _Unreadable(pattern)
            if pattern[at] == ")":
                return _Piece("group", text=pattern[start:at], alternatives=alternatives), at + 1
            at += 1  # past "|"
    if char in ".^$*+?{":
        raise _Unreadable(pattern)
    return _Piece("literal", text=char), at + 1


_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")


def _parse_repeat(pattern: str, at: int, piece: _Piece) -> int:
    if at >= len(pattern):
        return at
    char = pattern[at]
    if char in "?*+":
        piece.low, piece.high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[char]
        return at + 1
    found = _REPEAT.match(pattern, at)
    if found is None:
        return at
    piece.low = int(found.group(1))
    if found.group(2) is None:
        piece.high = piece.low
    else:
        piece.high = int(found.group(3)) if found.group(3) else None
    return found.end()


def _count_words(piece: _Piece, one: str, many: str) -> str:
    """ "3 cifre", "1–10 cifre", "mindst 1 ciffer" …"""
    low, high = piece.low, piece.high
    if high is None:
        return _("mindst %(n)s %(what)s") % {"n": low, "what": one if low == 1 else many}
    if low == high:
        return f"{low} {one if low == 1 else many}"
    return f"{low}–{high} {many}"


def _piece_words(piece: _Piece) -> str:
    if piece.kind == "digit":
        return _count_words(piece, _("ciffer"), _("cifre"))
    if piece.kind == "literal":
        return (
            f"«{piece.text}»"
            if piece.low == piece.high == 1
            else _count_words(piece, f"«{piece.text}»", f"«{piece.text}»")
        )
    if piece.kind == "class":
        what = _("tegn blandt %(chars)s") % {"chars": piece.text}
        return _count_words(piece, what, what)
    if piece.text == MONTH_GROUP:
        return _("en måned 01–12")
    inner = _("et af: %(choices)s") % {
        "choices": ", ".join(_sequence_words(alt) for alt in piece.alternatives)
    }
    if len(piece.alternatives) == 1:
        inner = _sequence_words(piece.alternatives[0])
    if piece.low == piece.high == 1:
        return inner
    return _("(%(inner)s) gentaget %(count)s gange") % {
        "inner": inner,
        "count": f"{piece.low}" if piece.low == piece.high else _range(piece),
    }


def _range(piece: _Piece) -> str:
    if piece.high is None:
        return _("mindst %(n)s") % {"n": piece.low}
    return f"{piece.low}–{piece.high}"


def _merged(pieces: list[_Piece]) -> list[_Piece]:
    """Runs of single literal characters as one literal ("ab" rather than «a», «b»)."""
    merged: list[_Piece] = []
    for piece in pieces:
        single = piece.kind == "literal" and piece.low == piece.high == 1
        previous = merged[-1] if merged else None
        if (
            single
            and previous is not None
            and previous.kind == "literal"
            and (previous.low == previous.high == 1)
        ):
            previous.text += piece.text
        else:
            merged.append(_Piece(piece.kind, piece.low, piece.high, piece.text, piece.alternatives))
    return merged


def _sequence_words(pieces: list[_Piece]) -> str:
    return ", ".join(_piece_words(p) for p in _merged(pieces))


def _piece_example(piece: _Piece) -> str:
    count = piece.low if piece.low > 0 else 0
    if piece.kind == "digit":
        # "1234…" reads as an example; a single digit is "1".
        return ("1234567890" * (count // 10 + 1))[:count]
    if piece.kind == "literal":
        return piece.text * count
    if piece.kind == "class":
        return piece.text[:1] * count
    if piece.text == MONTH_GROUP:
        return "11" * count
    return "".join(_piece_example(p) for p in piece.alternatives[0]) * count


def describe_pattern(pattern: str) -> str:
    """A pattern in words with an example, e.g. "6 cifre, fx 123456"."""
    try:
        pieces = _parse(pattern)
    except _Unreadable:
        return _("Skal have formen %(pattern)s (et regulært udtryk).") % {"pattern": pattern}
    example = pattern_example(pattern)
    if [p.kind for p in pieces] == ["digit", "group"] and pieces[1].text == MONTH_GROUP:
        return _period_words()
    if len(pieces) == 1 and pieces[0].kind == "digit":
        words = _piece_words(pieces[0])
    else:
        words = _("Formen: %(pieces)s") % {"pieces": _sequence_words(pieces)}
    if example is None:
        return f"{words[:1].upper()}{words[1:]}."
    return _("%(words)s, fx %(example)s.") % {
        "words": f"{words[:1].upper()}{words[1:]}",
        "example": example,
    }


def pattern_example(pattern: str) -> str | None:
    """A value the pattern takes, or None when the reader cannot make one."""
    try:
        pieces = _parse(pattern)
    except _Unreadable:
        return None
    if [p.kind for p in pieces] == ["digit", "group"] and pieces[1].text == MONTH_GROUP:
        example = EXAMPLE_PERIOD
    else:
        example = "".join(_piece_example(p) for p in pieces)
    return example if re.fullmatch(pattern, example) else None


# --- examples -------------------------------------------------------------------------------


def example_value(contract: dict[str, Any], column: str) -> str | None:
    """An example of one column's value taken on its own (the template adds the rules between
    columns); None when none can be made (a pattern outside the reader's subset)."""
    spec = _field(contract, column)
    cons = spec.get("constraints", {})
    ftype = spec.get("type", "string")
    portal = _portal(contract)
    if column == portal.get("kommune_field"):
        return "101"
    if column == portal.get("period_field"):
        return EXAMPLE_PERIOD
    if column in portal.get("cpr_fields", []):
        return "0101901234"  # a made-up number whose first six digits are a real date
    if "enum" in cons:
        return str(cons["enum"][0])
    if "pattern" in cons:
        return pattern_example(str(cons["pattern"]))
    if ftype in ("integer", "number"):
        return _number_example(cons, ftype, _decimal(contract))
    if ftype == "date":
        return str(cons.get("minimum", "2026-11-01"))
    length = max(int(cons.get("minLength", 0)), 1)
    return ("eksempel" * (length // 8 + 1))[: max(length, min(8, cons.get("maxLength", 8)))]


def _number_example(cons: dict[str, Any], ftype: str, decimal: str) -> str:
    value = cons.get("minimum", 0)
    if "maximum" in cons and value > cons["maximum"]:
        value = cons["maximum"]
    if ftype == "integer":
        return str(int(value))
    return f"{value:g}".replace(".", decimal)


def _portal(contract: dict[str, Any]) -> dict[str, Any]:
    portal = contract.get("portal", {})
    return portal if isinstance(portal, dict) else {}


def _field(contract: dict[str, Any], column: str) -> dict[str, Any]:
    for spec in contract.get("schema", {}).get("fields", []):
        if isinstance(spec, dict) and spec.get("name") == column:
            return spec
    return {"name": column}


class RuleWords:
    """`describe_rule` for one contract with a memory: a report has up to 1,000 rows but few
    (column, rule) pairs. A delivery without a contract (never validated) gets the words that
    need none."""

    def __init__(self, contract: dict[str, Any] | None) -> None:
        self.contract = contract or {}
        self._said: dict[tuple[str, str], str] = {}

    def __call__(self, column: str, rule: str) -> str:
        key = (column, rule)
        if key not in self._said:
            self._said[key] = describe_rule(self.contract, column=column, rule=rule)
        return self._said[key]
