"""The forms of Samlet upload: the environment a batch goes to, and one row's route and period.

What a row may be sent on is what the user may upload to (`access.uploadable_routes`); the
intake service asks again when the batch is confirmed."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries import access
from deliveries.forms import ROUTE_EMPTY_LABEL
from flisportal.lib.periods import is_period
from routes.models import Endpoint, Route, User


class BatchEnvironmentForm(forms.Form):
    """The environment (endpoint) the batch's files go to: a vendor with both an exttest and a
    produktion route for a kommune and area would otherwise have every row ambiguous."""

    environment = forms.ModelChoiceField(
        label=gettext_lazy("Miljø"),
        queryset=Endpoint.objects.none(),
        required=False,
        empty_label=gettext_lazy("Alle miljøer"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["environment"]).queryset = Endpoint.objects.filter(
            pk__in=access.sender_routes(user).values("endpoint")
        )
        self.fields["environment"].widget.attrs["class"] = "form-select"


class _RouteChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        route = cast(Route, obj)
        system = f"{route.sender_system} ({route.endpoint.slug})"
        return f"{route.kommune} · {route.data_area} · {system}"


class BatchFileForm(forms.Form):
    """One row of the preview set by hand: the route (kommune, area, system, environment),
    the period, and whether the same bytes may be delivered again."""

    route = _RouteChoice(
        label=gettext_lazy("Rute"), queryset=Route.objects.none(), empty_label=ROUTE_EMPTY_LABEL
    )
    period = forms.CharField(
        label=gettext_lazy("Periode"),
        max_length=7,
        help_text=gettext_lazy("Måneden udtrækket dækker, ÅÅÅÅ-MM (fx 2026-10)."),
        widget=forms.TextInput(attrs={"placeholder": "ÅÅÅÅ-MM", "inputmode": "numeric"}),
    )
    redelivery_confirmed = forms.BooleanField(
        label=gettext_lazy(
            "Genlevering: send filen igen, selv om præcis den samme fil er leveret før"
        ),
        required=False,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["route"]).queryset = (
            access.uploadable_routes(user)
            .select_related("kommune", "data_area", "sender_system", "endpoint")
            .order_by("kommune__code", "data_area__sort_order", "endpoint__slug")
        )
        self.fields["route"].widget.attrs["class"] = "form-select"
        self.fields["period"].widget.attrs["class"] = "form-control"
        self.fields["redelivery_confirmed"].widget.attrs["class"] = "form-check-input"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        route, period = cleaned.get("route"), cleaned.get("period")
        if route is not None and period:
            # The route's own bounds, as intake asks them: no month before the route was
            # established, none that has not begun.
            outside = route.period_refusal(period, now=timezone.now())
            if outside is not None:
                self.add_error("period", outside)
        return cleaned

    def clean_period(self) -> str:
        value = str(self.cleaned_data["period"]).strip()
        if not is_period(value):
            raise forms.ValidationError(
                _("Skriv perioden som ÅÅÅÅ-MM, fx 2026-10 (fik «%(value)s»).") % {"value": value}
            )
        return value
