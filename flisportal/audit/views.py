"""The audit log page: administrators search and export everything, consultants see the
entries about their kommuner; anyone else gets 404."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from flisportal.audit.display import action_label, entry_views
from flisportal.audit.models import AuditEntry
from flisportal.lib.csvexport import csv_download, stamped
from flisportal.lib.roles import Role, user_role

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Søg"), required=False, max_length=100)
    # A choice of the actions in the log rather than free text: nobody has to know that a
    # route order is written `route.order`.
    action = forms.ChoiceField(label=gettext_lazy("Handling"), required=False)
    since = forms.DateField(
        label=gettext_lazy("Fra dato"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        label=gettext_lazy("Til dato"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, actions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action"]
        assert isinstance(field, forms.ChoiceField)
        # In words, in alphabetical order of the words; the value stays the stored code.
        named = sorted(((action, action_label(action)) for action in actions), key=lambda c: c[1])
        field.choices = [("", _("Alle handlinger")), *named]
        field.error_messages["invalid_choice"] = _(
            "Handlingen %(value)s findes ikke i loggen. Vælg en handling på listen."
        )


def _entries_for(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEntry]]:
    if user_role(request.user) not in (Role.ADMINISTRATOR, Role.CONSULTANT):
        raise Http404
    entries = AuditEntry.objects.for_user(request.user).order_by("-seq")
    # Only the actions the user can see entries of: one query, whatever the log's size.
    form = AuditFilterForm(request.GET or None, actions=entries.actions())
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            entries = entries.filter(
                Q(actor_label__icontains=data["q"])
                | Q(object_repr__icontains=data["q"])
                | Q(object_id=data["q"])
                | Q(action__icontains=data["q"])
            )
        if data["action"]:
            entries = entries.filter(action=data["action"])
        zone = timezone.get_current_timezone()
        if data["since"]:
            entries = entries.filter(at__gte=datetime.combine(data["since"], time.min, zone))
        if data["until"]:
            entries = entries.filter(at__lte=datetime.combine(data["until"], time.max, zone))
    return form, entries


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form, entries = _entries_for(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("side"))
    query = request.GET.copy()
    query.pop("side", None)
    context = {
        "form": form,
        "page": page,
        "views": entry_views(list(page)),
        "query": query.urlencode(),
    }
    return render(request, "audit/audit_log.html", context)


@login_required
@require_GET
def audit_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV (semicolons, BOM), every cell safe from formula injection:
    object names and usernames are typed by people."""
    _form, entries = _entries_for(request)
    header = [
        _("Nr."),
        _("Tidspunkt"),
        _("Aktør"),
        _("Handling"),
        _("Objekttype"),
        _("Objekt-id"),
        _("Objekt"),
        _("Før"),
        _("Efter"),
        _("Hash"),
    ]
    rows = (
        [
            entry.seq,
            timezone.localtime(entry.at).isoformat(timespec="seconds"),
            entry.actor_label,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.object_repr,
            # The export is data, not a page: a side the entry does not have is an empty cell
            # and an empty value stays as stored, never the page's «(tom)» / «(ingen)», so the
            # cells can be checked against the hashed rows and read by other programs.
            "" if entry.before is None else entry.before,
            "" if entry.after is None else entry.after,
            entry.hash,
        ]
        for entry in entries.iterator(chunk_size=2000)
    )
    return csv_download(stamped("revisionslog"), header, rows)
