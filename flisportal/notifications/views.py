"""Each person's choice: immediate mails or one daily digest; and a kommune consultant's
choice, per event, of which news of their kommuner reaches them and how."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from flisportal.lib.roles import Role, user_role
from flisportal.notifications.models import (
    CONSULTANT_DEFAULT_ON,
    ConsultantEvent,
    EventChoice,
    NotificationKommuneChoice,
    NotificationPreference,
)
from flisportal.notifications.selectors import KommuneChoices, kommune_choices_for


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["cadence"]
        widgets = {"cadence": forms.RadioSelect}


@dataclass(frozen=True)
class EventHelp:
    sends: Promise
    example: Promise


# What each event sends and when, in the consultant's words, with the subject its mail has.
EVENT_HELP = {
    ConsultantEvent.OVERDUE: EventHelp(
        gettext_lazy(
            "Når fristen for en måneds udtræk er overskredet, og leverandøren ikke har leveret."
        ),
        gettext_lazy("Frist overskredet: Dagtilbud, Københavns Kommune, 2026-10"),
    ),
    ConsultantEvent.REJECTED: EventHelp(
        gettext_lazy(
            "Når en leverandørs fil for din kommune afvises ved valideringen, med de første "
            "fejl (række, kolonne og regel, aldrig indholdet)."
        ),
        gettext_lazy("Leverance afvist: Dagtilbud, Københavns Kommune, 2026-10"),
    ),
    ConsultantEvent.REFUSED: EventHelp(
        gettext_lazy(
            "Når en fil ikke kunne afleveres til Serviceplatformen efter alle forsøg, eller "
            "Serviceplatformen afviste den."
        ),
        gettext_lazy("Afsendelse fejlet: Dagtilbud, Københavns Kommune, 2026-10"),
    ),
    ConsultantEvent.FETCHED: EventHelp(
        gettext_lazy("Når modtagersystemet har hentet en fil for din kommune."),
        gettext_lazy("Hentet af modtageren: Dagtilbud, Københavns Kommune, 2026-10"),
    ),
    ConsultantEvent.ROUTE_CHANGED: EventHelp(
        gettext_lazy(
            "Når en rute for din kommune bliver bestilt, etableret, afvist eller nedlagt."
        ),
        gettext_lazy("Rute etableret: Dagtilbud, Københavns Kommune"),
    ),
}


class ConsultantEventsForm(forms.Form):
    """One choice per event (none, immediately, daily digest), shown as the person's current
    choice: what they chose, or the default they get without choosing."""

    def __init__(self, *args: object, preference: NotificationPreference, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.preference = preference
        for event in ConsultantEvent:
            self.fields[event.value] = forms.ChoiceField(
                label=event.label,
                choices=EventChoice.choices,
                # Left out (a form of the page before this choice existed): kept as it was.
                required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                initial=preference.event_choice(event),
            )

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "field": self[event.value],
                "help": EVENT_HELP[event],
                "default_on": event in CONSULTANT_DEFAULT_ON,
            }
            for event in ConsultantEvent
        ]

    def apply(self) -> None:
        for event in ConsultantEvent:
            if self.cleaned_data[event.value]:
                setattr(self.preference, event.value, self.cleaned_data[event.value])


KOMMUNE_PREFIX = "kommune"


class KommuneChoicesForm(forms.Form):
    """A consultant of several kommuner: per kommune and event, «som generelt» (no row: the
    general choice above applies) or a choice of its own. Fields exist only for the person's
    own kommuner; a posted field for any other is refused, so nothing is saved for a kommune
    the person does not cover."""

    def __init__(self, *args: object, kommuner: list[KommuneChoices], **kwargs: object):
        super().__init__(*args, prefix=KOMMUNE_PREFIX, **kwargs)  # type: ignore[arg-type,misc]
        self.kommuner = kommuner
        for kommune in kommuner:
            for event in ConsultantEvent:
                # The table's cells have no visible label: the select names its kommune and event.
                label = f"{kommune.name}: {event.label}"
                self.fields[self._name(kommune, event)] = forms.ChoiceField(
                    label=label,
                    choices=[("", gettext_lazy("som generelt")), *EventChoice.choices],
                    required=False,
                    widget=forms.Select(
                        attrs={"class": "form-select form-select-sm", "aria-label": label}
                    ),
                    initial=kommune.choices[event.value],
                )

    @staticmethod
    def _name(kommune: KommuneChoices, event: ConsultantEvent) -> str:
        return f"{kommune.pk}-{event.value}"

    def foreign_fields(self) -> list[str]:
        """Posted kommune choices that are not the person's own: a forged or stale form."""
        own = {self.add_prefix(name) for name in self.fields}
        return [key for key in self.data if key.startswith(f"{KOMMUNE_PREFIX}-") and key not in own]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if self.foreign_fields():
            raise forms.ValidationError(
                _(
                    "Du kan kun vælge notifikationer for dine egne kommuner. Intet er gemt: "
                    "genindlæs siden og vælg igen."
                ),
                code="foreign_kommune",
            )
        return cleaned

    def rows(self) -> list[dict[str, object]]:
        return [
            {"name": k.name, "cells": [self[self._name(k, e)] for e in ConsultantEvent]}
            for k in self.kommuner
        ]

    def save(self, *, user_id: int) -> None:
        for kommune in self.kommuner:
            for event in ConsultantEvent:
                name = self._name(kommune, event)
                # Left out (a form of the page before this table): kept as it was.
                if self.add_prefix(name) not in self.data:
                    continue
                chosen = self.cleaned_data[name]
                if chosen == kommune.choices[event.value]:
                    continue
                if not chosen:
                    NotificationKommuneChoice.objects.filter(
                        user_id=user_id, kommune_id=kommune.pk, event=event
                    ).delete()
                else:
                    NotificationKommuneChoice.objects.update_or_create(
                        user_id=user_id,
                        kommune_id=kommune.pk,
                        event=event,
                        defaults={"choice": chosen},
                    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    # Always the signed-in person's own row: there is no id in the URL to tamper with.
    assert request.user.pk is not None  # login_required
    preference = NotificationPreference.objects.filter(user_id=request.user.pk).first()
    preference = preference or NotificationPreference(user_id=request.user.pk)
    data = request.POST if request.method == "POST" else None
    form = PreferenceForm(data, instance=preference)
    # Only consultants hear of their kommuner's events; for anyone else the choices would
    # promise mails that never come, so they are neither shown nor read.
    events, per_kommune, kommuner = None, None, []
    if user_role(request.user) == Role.CONSULTANT:
        events = ConsultantEventsForm(data, preference=preference, prefix="event")
        kommuner = kommune_choices_for(request.user)
        # One kommune: its own choices would only repeat the general ones, so none are offered
        # unless some were made while the person had more (they still decide the mails, so
        # they stay in sight, and can be set back to «som generelt»).
        chosen = any(choice for k in kommuner for choice in k.choices.values())
        shown = kommuner if len(kommuner) > 1 or chosen else []
        per_kommune = KommuneChoicesForm(data, kommuner=shown)
    forms_ = [f for f in (form, events, per_kommune) if f is not None]
    if request.method == "POST" and all(f.is_valid() for f in forms_):
        with transaction.atomic():
            preference = form.save(commit=False)
            if events is not None:
                events.apply()
            preference.save()
            if per_kommune is not None:
                per_kommune.save(user_id=request.user.pk)
        messages.success(request, _("Dit valg er gemt."))
        return redirect("notifications:preferences")
    forged = per_kommune is not None and bool(per_kommune.foreign_fields())
    context = {
        "form": form,
        "events": events,
        "per_kommune": per_kommune if per_kommune is not None and per_kommune.kommuner else None,
        "kommuner": [k.name for k in kommuner],
        "kommune_errors": per_kommune.non_field_errors() if per_kommune is not None else [],
    }
    # A kommune that is not the person's is a request to refuse, not a typo to correct.
    return render(request, "notifications/preferences.html", context, status=400 if forged else 200)
