"""What a vendor needs before sending: a template file that passes the contract, and what
changed between two versions of a contract.

Both are computed from the contract documents themselves, never written by hand, so they
cannot fall behind a new version: the template's example row is built from the same rules the
validator checks (a test runs the validator on the template of every shipped contract), and the
changes are found by comparing two documents column by column and rule by rule, in the words of
`deliveries.rules.describe_rule`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.utils.translation import gettext as _

from deliveries.rules import cross_rules, describe_rule, example_value, rule_codes
from flisportal.lib.periods import period_compact


def template_row(contract: dict[str, Any], *, kommune_code: str, period: str) -> dict[str, str]:
    """One example row that passes the contract for `kommune_code` and `period` (YYYY-MM):
    each column's own example, then adjusted for the rules between columns."""
    fields = contract["schema"]["fields"]
    portal = contract.get("portal", {})
    row = {f["name"]: example_value(contract, f["name"]) or "" for f in fields}
    if portal.get("kommune_field"):
        row[portal["kommune_field"]] = kommune_code
    if portal.get("period_field"):
        row[portal["period_field"]] = period_compact(period)
    # Every date on the first day of the delivery's month: it lies in the period
    # (date_in_period), and equal dates satisfy both gte and lte between two date columns.
    for spec in fields:
        if spec.get("type") == "date" and "minimum" not in spec.get("constraints", {}):
            row[spec["name"]] = f"{period}-01"
    for rule in portal.get("rules", []):
        if rule.get("rule") == "equals_prefix":
            row[rule["field"]] = row[rule["of"]][: int(rule["length"])]
    return row


def template_csv(contract: dict[str, Any], *, kommune_code: str, period: str) -> bytes:
    """The header and one example row, in the contract's dialect and first encoding."""
    dialect = contract["dialect"]
    names = [f["name"] for f in contract["schema"]["fields"]]
    row = template_row(contract, kommune_code=kommune_code, period=period)
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=dialect["delimiter"],
        quotechar=dialect.get("quoteChar", '"'),
        lineterminator="\r\n",
    )
    writer.writerow(names)
    writer.writerow([row[name] for name in names])
    return out.getvalue().encode(template_encoding(contract))


def template_encoding(contract: dict[str, Any]) -> str:
    encodings = contract["dialect"].get("encodings") or ["utf-8"]
    return str(encodings[0])


def contract_changes(older: dict[str, Any], newer: dict[str, Any]) -> list[str]:
    """What changed from `older` to `newer`, one sentence each, in the active language:
    columns added and removed, each kept column's rules added, removed or changed, the rules
    between columns, the primary key and the dialect."""
    old_names = [f["name"] for f in older["schema"]["fields"]]
    new_names = [f["name"] for f in newer["schema"]["fields"]]
    changes = [
        _("Ny kolonne «%(name)s».") % {"name": name} for name in new_names if name not in old_names
    ]
    changes += [
        _("Kolonnen «%(name)s» er fjernet.") % {"name": name}
        for name in old_names
        if name not in new_names
    ]
    for name in new_names:
        if name in old_names:
            changes += _column_changes(older, newer, name)
    changes += _cross_changes(older, newer)
    old_key = older["schema"].get("primaryKey") or []
    new_key = newer["schema"].get("primaryKey") or []
    if old_key != new_key:
        changes.append(
            _("Primærnøglen er ændret fra %(old)s til %(new)s.")
            % {"old": " + ".join(old_key) or "–", "new": " + ".join(new_key) or "–"}
        )
    for key, label in (("delimiter", _("Skilletegnet")), ("decimalChar", _("Decimaltegnet"))):
        before, after = older["dialect"].get(key), newer["dialect"].get(key)
        if before != after:
            changes.append(
                _("%(what)s er ændret fra «%(old)s» til «%(new)s».")
                % {"what": label, "old": before, "new": after}
            )
    return changes


def _column_changes(older: dict[str, Any], newer: dict[str, Any], name: str) -> list[str]:
    before = {
        code: describe_rule(older, column=name, rule=code) for code in rule_codes(older, name)
    }
    after = {code: describe_rule(newer, column=name, rule=code) for code in rule_codes(newer, name)}
    changes = []
    for code, words in after.items():
        if code not in before:
            changes.append(_("«%(name)s»: ny regel – %(words)s") % {"name": name, "words": words})
        elif before[code] != words:
            changes.append(
                _("«%(name)s»: «%(old)s» er nu «%(new)s»")
                % {"name": name, "old": before[code], "new": words}
            )
    for code, words in before.items():
        if code not in after:
            changes.append(
                _("«%(name)s»: reglen er fjernet – %(words)s") % {"name": name, "words": words}
            )
    return changes


def _cross_changes(older: dict[str, Any], newer: dict[str, Any]) -> list[str]:
    before = [words for _code, words in cross_rules(older)]
    after = [words for _code, words in cross_rules(newer)]
    changes = [_("Ny regel: %(words)s") % {"words": w} for w in after if w not in before]
    changes += [_("Reglen er fjernet: %(words)s") % {"words": w} for w in before if w not in after]
    return changes
