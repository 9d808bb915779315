"""Each person's choice: immediate mails or one daily digest; and a kommune consultant's
choice, per event, of which news of their kommuner reaches them and how."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
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
    NotificationPreference,
)


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
    events, kommuner = None, []
    if user_role(request.user) == Role.CONSULTANT:
        events = ConsultantEventsForm(data, preference=preference, prefix="event")
        kommuner = list(request.user.kommuner.order_by("name").values_list("name", flat=True))
    if request.method == "POST" and form.is_valid() and (events is None or events.is_valid()):
        preference = form.save(commit=False)
        if events is not None:
            events.apply()
        preference.save()
        messages.success(request, _("Dit valg er gemt."))
        return redirect("notifications:preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "events": events, "kommuner": kommuner},
    )
