"""Data contract documents: reading the shipped JSON files and checking a document before it is
accepted (a contract the validator cannot run must never become active).

A document has four parts: `notice`/`illustrative` (what it is), `dialect` (CSV dialect),
`schema` (a Frictionless Table Schema) and `portal` (the portal's own rules: kommune and period
columns, CPR columns and declarative cross-field rules).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ILLUSTRATIVE_NOTICE = "Illustrativ – ikke KOMBITs format"

FIELD_TYPES = {"string", "integer", "number", "date"}
CONSTRAINTS = {"required", "pattern", "enum", "minimum", "maximum", "minLength", "maxLength"}
CROSS_RULES: dict[str, tuple[str, ...]] = {
    # rule name: the keys it must have
    "equals_prefix": ("field", "of", "length"),
    "sum_lte": ("fields", "limit"),
    "required_if": ("field", "when"),
    "gte": ("field", "other"),
    "lte": ("field", "other"),
    "date_in_period": ("field",),
}
# The encoding a file is sent to the recipients in, unless the contract's dialect names another
# in `sendEncoding`. A file uploaded in another of the accepted `encodings` is converted before
# it is pushed: FLIS reads the bytes it receives, and the metadata has no field for a charset.
DEFAULT_SEND_ENCODING = "utf-8"
SEND_ENCODINGS = ("utf-8", "cp1252")
# Encodings that already are the send encoding: a UTF-8 byte order mark is allowed UTF-8.
SAME_ENCODING = {"utf-8-sig": "utf-8"}


def shipped_contract_paths() -> list[Path]:
    return sorted(CONTRACTS_DIR.glob("*.json"))


def read_contract(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def contract_problems(document: Any) -> list[str]:
    """Everything wrong with a contract document, in Danish; empty when it can be used."""
    if not isinstance(document, dict):
        return ["Kontrakten skal være et JSON-objekt."]
    missing = [
        f"Nøglen «{key}» mangler."
        for key in ("data_area", "version", "dialect", "schema")
        if key not in document
    ]
    if missing:
        return missing
    problems = [*_identity_problems(document), *_dialect_problems(document["dialect"])]
    schema = document["schema"]
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or not fields:
        problems.append("«schema.fields» skal være en liste med mindst én kolonne.")
        return problems
    field_problems, types = _field_problems(fields)
    problems.extend(field_problems)
    # Looked up in a list, not the dict: a hostile document may name a column by a list or an
    # object, which is simply unknown here rather than an unhashable-key crash.
    names = list(types)
    for key in schema.get("primaryKey", []) or []:
        if key not in names:
            problems.append(f"Primærnøglen nævner den ukendte kolonne «{key}».")
    portal = document.get("portal", {})
    if not isinstance(portal, dict):
        return [*problems, "«portal» skal være et objekt."]
    problems.extend(_portal_problems(portal, names, types))
    return problems


def _identity_problems(document: dict[str, Any]) -> list[str]:
    """The version, and the notice an illustrative contract must carry."""
    problems: list[str] = []
    if not isinstance(document["version"], str) or not document["version"].strip():
        problems.append("«version» skal være en ikke-tom tekst.")
    elif len(document["version"]) > 40:
        problems.append("«version» må højst være 40 tegn.")
    if document.get("illustrative") and document.get("notice") != ILLUSTRATIVE_NOTICE:
        problems.append(f"En illustrativ kontrakt skal have notice «{ILLUSTRATIVE_NOTICE}».")
    return problems


def _dialect_problems(dialect: Any) -> list[str]:
    if (
        not isinstance(dialect, dict)
        or not isinstance(dialect.get("delimiter"), str)
        or len(dialect.get("delimiter", "")) != 1
    ):
        return ["«dialect.delimiter» skal være ét tegn, fx «;»."]
    if dialect.get("decimalChar", ",") not in (",", "."):
        return ["«dialect.decimalChar» skal være «,» eller «.»."]
    if dialect.get("sendEncoding", DEFAULT_SEND_ENCODING) not in SEND_ENCODINGS:
        return [
            "«dialect.sendEncoding» skal være en af "
            + ", ".join(f"«{name}»" for name in SEND_ENCODINGS)
            + "."
        ]
    return []


def send_encoding(document: dict[str, Any] | None) -> str:
    """The encoding a delivery under this contract reaches its recipients in."""
    dialect = (document or {}).get("dialect") or {}
    return str(dialect.get("sendEncoding", DEFAULT_SEND_ENCODING))


def needs_conversion(encoding: str, *, send: str) -> bool:
    """Whether a file found to be in `encoding` must be converted before it is sent in `send`.
    An unknown encoding (a delivery made before the validator recorded one) is sent as it is."""
    return bool(encoding) and SAME_ENCODING.get(encoding, encoding) != send


def _field_problems(fields: list[Any]) -> tuple[list[str], dict[str, str]]:
    """What is wrong with the columns, and the type of every named column (the rest of the
    document may only mention these)."""
    problems: list[str] = []
    types: dict[str, str] = {}
    for index, spec in enumerate(fields, start=1):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            problems.append(f"Kolonne nr. {index} har intet navn.")
            continue
        name = spec["name"]
        if name in types:
            problems.append(f"Kolonnen «{name}» står to gange.")
        ftype = spec.get("type", "string")
        types[name] = ftype
        if ftype not in FIELD_TYPES:
            problems.append(
                f"Kolonnen «{name}» har typen «{ftype}»; portalen kender "
                f"{', '.join(sorted(FIELD_TYPES))}."
            )
        constraints = spec.get("constraints", {})
        if not isinstance(constraints, dict):
            problems.append(f"«constraints» for «{name}» skal være et objekt.")
            continue
        problems.extend(_constraint_problems(name, ftype, constraints))
    return problems, types


def _constraint_problems(name: str, ftype: str, constraints: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, value in constraints.items():
        if key not in CONSTRAINTS:
            problems.append(f"Kolonnen «{name}» har den ukendte regel «{key}».")
        elif key == "pattern":
            try:
                re.compile(value)
            except (re.error, TypeError):
                problems.append(f"Mønsteret for «{name}» er ikke et gyldigt regulært udtryk.")
        elif key == "enum" and (not isinstance(value, list) or not value):
            problems.append(f"«enum» for «{name}» skal være en ikke-tom liste.")
        elif key in ("minLength", "maxLength") and not isinstance(value, int):
            problems.append(f"«{key}» for «{name}» skal være et heltal.")
        elif key in ("minimum", "maximum"):
            numeric = ftype in ("integer", "number")
            if numeric and not isinstance(value, int | float):
                problems.append(f"«{key}» for «{name}» skal være et tal.")
            if ftype == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
                problems.append(f"«{key}» for «{name}» skal være en dato ÅÅÅÅ-MM-DD.")
    return problems


def _portal_problems(portal: dict[str, Any], names: list[str], types: dict[str, str]) -> list[str]:
    """Columns named by the portal's own rules must exist; each cross-field rule must be whole."""
    problems: list[str] = []
    for key in ("kommune_field", "period_field"):
        if portal.get(key) and portal[key] not in names:
            problems.append(f"«portal.{key}» nævner den ukendte kolonne «{portal[key]}».")
    for name in portal.get("cpr_fields", []):
        if name not in names:
            problems.append(f"«portal.cpr_fields» nævner den ukendte kolonne «{name}».")
    for index, rule in enumerate(portal.get("rules", []), start=1):
        problems.extend(_rule_problems(index, rule, types))
    return problems


def _rule_problems(index: int, rule: Any, types: dict[str, str]) -> list[str]:
    if not isinstance(rule, dict) or rule.get("rule") not in CROSS_RULES:
        return [f"Regel nr. {index} er ukendt; portalen kender {', '.join(sorted(CROSS_RULES))}."]
    kind = rule["rule"]
    missing = [key for key in CROSS_RULES[kind] if key not in rule]
    if missing:
        return [f"Regel nr. {index} ({kind}) mangler {', '.join(missing)}."]
    mentioned: list[str] = []
    for key in ("field", "of", "limit", "other"):
        if key in rule:
            mentioned.append(rule[key])
    mentioned.extend(rule.get("fields", []))
    if kind == "required_if":
        when = rule["when"]
        if (
            not isinstance(when, dict)
            or "field" not in when
            or not isinstance(when.get("in"), list)
        ):
            return [f"Regel nr. {index} (required_if): «when» skal have «field» og en liste «in»."]
        mentioned.append(when["field"])
    problems = [
        f"Regel nr. {index} ({kind}) nævner den ukendte kolonne «{name}»."
        for name in mentioned
        if name not in types
    ]
    if not problems and kind == "sum_lte":
        for name in [*rule["fields"], rule["limit"]]:
            if types[name] not in ("integer", "number"):
                problems.append(f"Regel nr. {index} (sum_lte): «{name}» er ikke en talkolonne.")
    return problems


def frictionless_schema(document: dict[str, Any]) -> dict[str, Any]:
    """The plain Frictionless Table Schema part (for `frictionless validate`)."""
    return json.loads(json.dumps(document["schema"]))
