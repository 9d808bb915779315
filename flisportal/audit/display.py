"""The Revisionslog page's view of an entry: before and after as a table people can read.

Entries are stored as the workflows wrote them (field attnames, ids, ISO times in UTC) and are
never changed here: this only reads them. Labels come from the model the entry is about (its
`object_type` is the model's `app_label.model`); names of referenced rows are fetched in one
query per referenced model for the whole page, so the page's query count does not grow with
the number of entries. The audit app sits below the registry and deliveries, so models are
found through the app registry and pages by URL name, never by importing those apps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flisportal.audit.models import AuditEntry
from flisportal.lib.links import link_former
from flisportal.lib.periods import date_text, local_time_text

# Referenced rows shown by name: only models whose name is in their own columns, fetched with
# `values_list` so no `__str__` can pull in further rows (one query per model, never per row).
NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "routes.kommune": ("code", "name"),
    "routes.dataarea": ("name",),
    "routes.vendor": ("name",),
    "routes.itsystem": ("name",),
    "routes.user": ("username",),
}

# Objects with a page of their own, by the URL name that takes the object's primary key.
OBJECT_PAGES: dict[str, str] = {
    "routes.route": "routes:route_detail",
    "routes.vendor": "routes:vendor_overview_for",
    "routes.sftpuser": "routes:sftp_user_detail",
}


# Keys that are not a field of the entry's model (login sources, retention counts, …), in the
# words of the page. A key missing here is shown as written, so a new one is still visible.
EXTRA_LABELS: dict[str, Any] = {
    "access_attempts": gettext_lazy("Loginforsøg"),
    "agreement_override": gettext_lazy("Begrundelse for manglende databehandleraftale"),
    "access_logs": gettext_lazy("Loginlog"),
    "address": gettext_lazy("Adresse"),
    "all": gettext_lazy("Alle"),
    "codes_left": gettext_lazy("Koder tilbage"),
    "count": gettext_lazy("Antal"),
    "device": gettext_lazy("Enhed"),
    "devices": gettext_lazy("Enheder"),
    "expired_before": gettext_lazy("Udløbet før"),
    "expired_by": gettext_lazy("Udløbet senest"),
    "fetched_at": gettext_lazy("Hentet"),
    "file": gettext_lazy("Fil"),
    "files": gettext_lazy("Filer"),
    "idempotency_key": gettext_lazy("Idempotensnøgle"),
    "kind": gettext_lazy("Metode"),
    "logs_older_than": gettext_lazy("Log ældre end"),
    "message": gettext_lazy("Besked"),
    "note": gettext_lazy("Note"),
    "older_than": gettext_lazy("Ældre end"),
    "reason": gettext_lazy("Årsag"),
    "sessions_ended": gettext_lazy("Sessioner afsluttet"),
    "sha256": gettext_lazy("SHA-256"),
    "size": gettext_lazy("Størrelse"),
    "source": gettext_lazy("Adresse"),
    "staged_files": gettext_lazy("Mellemlagrede filer"),
    "state": gettext_lazy("Tilstand"),
    "status": gettext_lazy("Status"),
    "statuses": gettext_lazy("Statusser"),
    "token": gettext_lazy("Nøgle"),
    "token_name": gettext_lazy("Nøglens navn"),
    "user_agent": gettext_lazy("Browser"),
    "verdict": gettext_lazy("Dom"),
}
# Coded values of those keys, in words.
EXTRA_VALUES: dict[str, dict[str, Any]] = {
    "kind": {
        "totp": gettext_lazy("godkendelsesapp"),
        "recovery": gettext_lazy("gendannelseskode"),
        "webauthn": gettext_lazy("sikkerhedsnøgle"),
        "provider": gettext_lazy("login via identitetsudbyder"),
    },
    "reason": {"retention": gettext_lazy("opbevaringstiden er udløbet")},
}


# What each action of the log means, in words; a model's own create/change/delete (the admin's
# and the signals' entries) are named from the model. An action missing here is shown as written.
ACTION_LABELS: dict[str, Any] = {
    "api_token.create": gettext_lazy("API-nøgle oprettet"),
    "api_token.revoke": gettext_lazy("API-nøgle tilbagekaldt"),
    "auth.login": gettext_lazy("Logget ind"),
    "auth.login_failed": gettext_lazy("Mislykket login"),
    "auth.login_failed_repeated": gettext_lazy("Gentagne mislykkede login"),
    "axes.deleted": gettext_lazy("Loginforsøg slettet (opbevaring)"),
    "contract.load": gettext_lazy("Datakontrakt indlæst"),
    "delivery.create": gettext_lazy("Leverance uploadet"),
    "delivery.file_deleted": gettext_lazy("Leverancens fil slettet (opbevaring)"),
    "delivery.status": gettext_lazy("Leverancens status ændret"),
    "delivery.upload_api": gettext_lazy("Leverance uploadet via API"),
    "filecheck.deleted": gettext_lazy("Filkontroller slettet (opbevaring)"),
    "idempotencykey.deleted": gettext_lazy("API-idempotensnøgler slettet (opbevaring)"),
    "outgoingmail.deleted": gettext_lazy("Mails slettet (opbevaring)"),
    "receipt.file_deleted": gettext_lazy("Kvitteringens fil slettet (opbevaring)"),
    "receipt.orphans_deleted": gettext_lazy("Forældreløse kvitteringsfiler slettet"),
    "route.agreement_override": gettext_lazy(
        "Rute etableret uden underskrevet databehandleraftale"
    ),
    "route.order": gettext_lazy("Rute anmodet"),
    "route.status": gettext_lazy("Rutens status ændret"),
    "session.ended": gettext_lazy("Session afsluttet"),
    "sftp_key.create": gettext_lazy("SSH-nøgle oprettet"),
    "sftp_key.state": gettext_lazy("SSH-nøglens tilstand ændret"),
    "sso.login": gettext_lazy("Logget ind via identitetsudbyder"),
    "sso.refused": gettext_lazy("Login via identitetsudbyder afvist"),
    "sso.role_mapped": gettext_lazy("Rolle tildelt via identitetsudbyder"),
    "twofactor.device_removed": gettext_lazy("Totrinsenhed fjernet"),
    "twofactor.enrolled": gettext_lazy("Totrinsenhed tilføjet"),
    "twofactor.failed": gettext_lazy("Forkert totrinskode"),
    "twofactor.recovery_code_used": gettext_lazy("Gendannelseskode brugt"),
    "twofactor.recovery_codes_renewed": gettext_lazy("Nye gendannelseskoder"),
    "twofactor.role_requirement": gettext_lazy("Krav om totrinslogin ændret"),
    "twofactor.verified": gettext_lazy("Totrinslogin gennemført"),
    "uploadbatch.deleted": gettext_lazy("Samlede uploads slettet (opbevaring)"),
    "user.offboarded": gettext_lazy("Bruger deaktiveret"),
}
MODEL_ACTIONS: dict[str, Any] = {
    "create": gettext_lazy("%(model)s oprettet"),
    "change": gettext_lazy("%(model)s ændret"),
    "delete": gettext_lazy("%(model)s slettet"),
}


def action_label(action: str) -> str:
    """The action in words: «Rutens status ændret» for `route.status`, «Kommune ændret» for
    `routes.kommune.change`."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    label, _dot, verb = action.rpartition(".")
    model = _model(label)
    if model is None or verb not in MODEL_ACTIONS:
        return action
    name = str(model._meta.verbose_name)
    return str(MODEL_ACTIONS[verb]) % {"model": name[:1].upper() + name[1:]}


# Words for a side that has no value to show, so a cell is never blank (a blank cell cannot be
# told from a page that failed to render). The stored entries can tell two cases apart: the key
# is there with nothing in it ("", None, []): the field was empty; or the key is not on that side
# at all (a creation's before, a deletion's after, a note that only the new step has): there was
# no value.
EMPTY = gettext_lazy("(tom)")
ABSENT = gettext_lazy("(ingen)")


@dataclass(frozen=True)
class FieldRow:
    label: str
    before: str
    after: str
    changed: bool
    # True when `before` / `after` is one of the words above rather than a value: the page
    # shows it muted, so a value that happens to read «(tom)» still looks like a value.
    before_blank: bool = False
    after_blank: bool = False


@dataclass(frozen=True)
class EntryView:
    entry: AuditEntry
    action_text: str
    at_text: str
    object_url: str
    rows: list[FieldRow]


def _model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, key: str) -> models.Field[Any, Any] | None:
    if model is None:
        return None
    try:
        # get_field knows both the name ("kommune") and the attname ("kommune_id") snapshots use.
        field = model._meta.get_field(key)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) else None


def _related_label(field: models.Field[Any, Any] | None) -> str | None:
    if field is None or not field.is_relation or field.related_model is None:
        return None
    related = field.related_model
    if isinstance(related, str):
        return None
    label = related._meta.label_lower
    return label if label in NAME_FIELDS else None


def _ids(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int | str)]
    return [value] if isinstance(value, int | str) else []


def _names(entries: Iterable[AuditEntry]) -> dict[str, dict[str, str]]:
    """Names of every referenced row on the page, one query per referenced model."""
    wanted: dict[str, set[Any]] = defaultdict(set)
    for entry in entries:
        model = _model(entry.object_type)
        for side in (entry.before, entry.after):
            if not isinstance(side, dict):
                continue
            for key, value in side.items():
                label = _related_label(_field(model, key))
                if label is not None:
                    wanted[label].update(_ids(value))
    names: dict[str, dict[str, str]] = {}
    for label, ids in wanted.items():
        related = apps.get_model(label)
        columns = NAME_FIELDS[label]
        found = related._default_manager.filter(pk__in=ids).values_list("pk", *columns)
        names[label] = {str(pk): " ".join(str(part) for part in rest) for pk, *rest in found}
    return names


def _text(
    value: Any, field: models.Field[Any, Any] | None, names: dict[str, dict[str, str]]
) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Ja") if value else _("Nej")
    label = _related_label(field)
    if label is not None:
        known = names.get(label, {})
        return ", ".join(known.get(str(v), f"#{v}") for v in _ids(value))
    if field is not None and field.choices and isinstance(value, int | str):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, str) and isinstance(field, models.DateTimeField | models.DateField):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if isinstance(field, models.DateTimeField) and moment.tzinfo is not None:
            return local_time_text(moment, seconds=False)
        # A date field's "2026-07-01" parses as midnight; a naive date-time keeps its day.
        return date_text(moment.date())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _label(key: str, field: models.Field[Any, Any] | None) -> str:
    if field is None:
        return str(EXTRA_LABELS.get(key, key))
    text = str(field.verbose_name)
    return text[:1].upper() + text[1:]


def _rows(entry: AuditEntry, names: dict[str, dict[str, str]]) -> list[FieldRow]:
    before, after = entry.before, entry.after
    if not isinstance(before, dict | None) or not isinstance(after, dict | None):
        # Not a record of fields (a list or a bare value): shown as it is, as one row.
        before_text, before_blank = _bare_cell(before)
        after_text, after_blank = _bare_cell(after)
        return [
            FieldRow(
                _("Værdi"), before_text, after_text, before != after, before_blank, after_blank
            )
        ]
    before, after = before or {}, after or {}
    both = entry.before is not None and entry.after is not None
    model = _model(entry.object_type)
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        field = _field(model, key)
        before_text, before_blank = _cell(key, before, field, names)
        after_text, after_blank = _cell(key, after, field, names)
        rows.append(
            FieldRow(
                label=_label(key, field),
                before=before_text,
                after=after_text,
                # Only an update changes a field; a creation or a deletion shows one side.
                changed=both and before.get(key) != after.get(key),
                before_blank=before_blank,
                after_blank=after_blank,
            )
        )
    return rows


def _cell(
    key: str, side: dict[str, Any], field: models.Field[Any, Any] | None, names: dict[str, Any]
) -> tuple[str, bool]:
    """What one side's cell shows, and whether that is a word for "no value" (EMPTY, ABSENT)."""
    if key not in side:
        return str(ABSENT), True
    text = _value_text(key, side[key], field, names)
    # Spaces alone would leave the cell as blank as nothing at all.
    if not text.strip():
        return str(EMPTY), True
    return text, False


def _bare_cell(value: Any) -> tuple[str, bool]:
    """The one-row fallback's cell, by the same rule: no side at all is ABSENT."""
    if value is None:
        return str(ABSENT), True
    text = "" if value in ([], {}) else str(value)
    return (str(EMPTY), True) if not text.strip() else (text, False)


def _value_text(
    key: str, value: Any, field: models.Field[Any, Any] | None, names: dict[str, Any]
) -> str:
    if field is None:
        words = EXTRA_VALUES.get(key, {})
        if isinstance(value, str) and value in words:
            return str(words[value])
        moment = _moment(value)
        if moment is not None:
            return local_time_text(moment, seconds=False)
    return _text(value, field, names)


def _moment(value: Any) -> datetime | None:
    """An ISO date-time with its zone, as workflows write times into an entry's extra keys."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _object_links() -> dict[str, Callable[..., str]]:
    formers = {}
    for label, viewname in OBJECT_PAGES.items():
        try:
            formers[label] = link_former(viewname, "int")
        except NoReverseMatch:
            # A page that is not mounted (a slimmed-down URLconf) is simply not linked.
            continue
    return formers


def entry_views(entries: list[AuditEntry]) -> list[EntryView]:
    """The page's entries, readable, with a fixed number of queries for any number of them."""
    names = _names(entries)
    links = _object_links()
    views = []
    for entry in entries:
        former = links.get(entry.object_type)
        # A deleted object has no page left to link to.
        linkable = former and entry.object_id.isdigit() and not entry.action.endswith(".delete")
        url = former(entry.object_id) if former and linkable else ""
        views.append(
            EntryView(
                entry=entry,
                action_text=action_label(entry.action),
                at_text=local_time_text(entry.at),
                object_url=url,
                rows=_rows(entry, names),
            )
        )
    return views
