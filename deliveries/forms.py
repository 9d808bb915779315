from __future__ import annotations

from typing import Any, TypeVar, cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries import access
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import OWED_EXPECTED_STATES, ReceiptVerdict
from flisportal.lib.periods import is_period
from flisportal.lib.widgets import PlainSelect
from routes.models import DataArea, Endpoint, ITSystem, Kommune, Route, User

# The name of the upload form's second button: the same form, checked without sending
# (deliveries.services.check) instead of uploaded.
CHECK_BUTTON = "kontrol"


def _check_button() -> Submit:
    button = Submit(
        CHECK_BUTTON, _("Kontrollér uden at sende"), css_id="check-submit", css_class="ms-2"
    )
    # An outlined button beside the filled «Upload»: the one that sends stays the main one.
    button.field_classes = "btn btn-outline-primary"
    return button


class DeliveryUploadForm(forms.Form):
    """The upload page's form: it offers what the user may upload to and turns the choices into
    a route. Whether the upload may become a delivery (the route, the period, a correction, the
    same file again) is the intake service's to say; the view shows its refusal on this form."""

    it_system = forms.ModelChoiceField(
        label=gettext_lazy("It-system"), queryset=ITSystem.objects.none(), empty_label=None
    )
    data_area = forms.ModelChoiceField(
        label=gettext_lazy("Dataområde"), queryset=DataArea.objects.all()
    )
    kommune = forms.ModelChoiceField(
        label=gettext_lazy("Kommune"),
        queryset=Kommune.objects.none(),
        help_text=gettext_lazy(
            "Kun kommuner med en etableret rute og en underskrevet databehandleraftale."
        ),
    )
    period = forms.CharField(
        label=gettext_lazy("Periode"),
        max_length=7,
        help_text=gettext_lazy("Måneden udtrækket dækker, ÅÅÅÅ-MM (fx 2026-10)."),
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("ÅÅÅÅ-MM"), "inputmode": "numeric"}
        ),
    )
    environment = forms.ModelChoiceField(
        label=gettext_lazy("Miljø"), queryset=Endpoint.objects.none(), empty_label=None
    )
    file = forms.FileField(
        label=gettext_lazy("Fil"),
        help_text=gettext_lazy(".csv eller .zip med præcis én .csv-fil."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.zip"}),
    )
    redelivery_confirmed = forms.BooleanField(
        label=gettext_lazy(
            "Genlevering: send filen igen, selv om præcis den samme fil er leveret før"
        ),
        required=False,
    )

    def __init__(
        self, *args: Any, user: User, upload_refusal: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.upload_refusal = upload_refusal
        if upload_refusal:
            # The handler stopped the file on its way in, so there is no file: say why, rather
            # than "this field is required".
            self.fields["file"].required = False
        self.route: Route | None = None
        # The choices are pre-filtered for display through the access module; the intake
        # service asks it again when the upload arrives.
        self.routes = access.sender_routes(user)
        cast(forms.ModelChoiceField, self.fields["it_system"]).queryset = ITSystem.objects.filter(
            pk__in=self.routes.values("sender_system")
        )
        # A kommune is offered only where the route also has a signed databehandleraftale.
        cast(forms.ModelChoiceField, self.fields["kommune"]).queryset = Kommune.objects.filter(
            pk__in=access.uploadable_routes(user).values("kommune")
        )
        cast(forms.ModelChoiceField, self.fields["data_area"]).queryset = DataArea.objects.filter(
            pk__in=self.routes.values("data_area")
        )
        cast(forms.ModelChoiceField, self.fields["environment"]).queryset = Endpoint.objects.filter(
            pk__in=self.routes.values("endpoint")
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Div(
                Div(Field("it_system"), css_class="col-md-6"),
                Div(Field("data_area"), css_class="col-md-6"),
                Div(Field("kommune"), css_class="col-md-6"),
                Div(Field("period"), css_class="col-md-3"),
                Div(Field("environment"), css_class="col-md-3"),
                css_class="row",
            ),
            Field("file"),
            Field("redelivery_confirmed"),
            Submit("upload", _("Upload"), css_id="upload-submit"),
            _check_button(),
        )

    def clean_period(self) -> str:
        # Only the typing is tidied here; whether it is a period is the intake service's rule.
        return str(self.cleaned_data["period"]).strip()

    def clean_file(self) -> Any:
        if self.upload_refusal:
            raise forms.ValidationError(self.upload_refusal)
        return self.cleaned_data.get("file")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        system, area, kommune, endpoint = (
            data.get("it_system"),
            data.get("data_area"),
            data.get("kommune"),
            data.get("environment"),
        )
        if not all((system, area, kommune, endpoint)):
            return data
        # The choices become the route they name among those offered; whether the user may
        # upload to it (its agreement, above all) is asked by the intake service on upload.
        route = (
            self.routes.filter(
                sender_system=system, data_area=area, kommune=kommune, endpoint=endpoint
            )
            .select_related("sender_system__vendor", "data_area", "kommune", "endpoint")
            .first()
        )
        if route is None:
            raise forms.ValidationError(
                _(
                    "%(system)s har ingen etableret rute for %(area)s i %(kommune)s "
                    "på %(endpoint)s. Vælg en anden kombination, eller bestil ruten først."
                )
                % {"system": system, "area": area, "kommune": kommune, "endpoint": endpoint}
            )
        self.route = route
        return data

    def error_list(self) -> list[str]:
        """Every error as one line "Label: message", for the upload script to show."""
        lines: list[str] = []
        for name, messages in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            lines.extend(f"{label}: {m}" if label else str(m) for m in messages)
        return lines


_Rows = TypeVar("_Rows", bound="QuerySet[Any]")


class _ListFilterForm(forms.Form):
    """What the delivery list and the inbox filter on alike: data area, the user's kommuner and
    a period, in small controls."""

    # Fields that filter on the model field of the same name, or on the path in `paths`.
    simple_filters: tuple[str, ...] = ("data_area", "kommune", "period")
    paths: dict[str, str] = {}

    data_area = forms.ModelChoiceField(
        label=gettext_lazy("Dataområde"),
        queryset=DataArea.objects.all(),
        required=False,
        widget=PlainSelect,
    )
    kommune = forms.ModelChoiceField(
        label=gettext_lazy("Kommune"),
        queryset=Kommune.objects.none(),
        required=False,
        widget=PlainSelect,
    )
    period = forms.CharField(
        label=gettext_lazy("Periode"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("ÅÅÅÅ-MM")}),
    )

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["kommune"]).queryset = Kommune.objects.for_user(
            user
        )
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = (
                "form-select form-select-sm" if is_select else "form-control form-control-sm"
            )

    def clean_period(self) -> str:
        value = self.cleaned_data["period"].strip()
        if value and not is_period(value):
            raise forms.ValidationError(_("Skriv perioden som ÅÅÅÅ-MM."))
        return value

    def filter(self, rows: _Rows) -> _Rows:
        """The rows that match the valid filters (all of them if the form is invalid)."""
        if not self.is_valid():
            return rows
        lookups = {
            self.paths.get(name, name): self.cleaned_data.get(name) for name in self.simple_filters
        }
        return rows.filter(**{path: value for path, value in lookups.items() if value})


class DeliveryFilterForm(_ListFilterForm):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[("", "---------"), *DeliveryStatus.choices],
        required=False,
        widget=PlainSelect,
    )

    simple_filters = (*_ListFilterForm.simple_filters, "status")


class OutstandingFilterForm(_ListFilterForm):
    """The filters of the periods still owed; data area and kommune are the route's."""

    state = forms.ChoiceField(
        label=gettext_lazy("Tilstand"),
        choices=[
            ("", "---------"),
            *((state.value, state.label) for state in OWED_EXPECTED_STATES),
        ],
        required=False,
        widget=PlainSelect,
    )

    simple_filters = (*_ListFilterForm.simple_filters, "state")
    paths = {"data_area": "route__data_area", "kommune": "route__kommune"}


class ReceiptFilterForm(_ListFilterForm):
    """The inbox's filters and search; every choice list is scoped to the user."""

    system = forms.ModelChoiceField(
        label=gettext_lazy("Modtagersystem"),
        queryset=ITSystem.objects.none(),
        required=False,
        widget=PlainSelect,
    )
    verdict = forms.ChoiceField(
        label=gettext_lazy("Vurdering"),
        choices=[("", "---------"), *ReceiptVerdict.choices],
        required=False,
        widget=PlainSelect,
    )
    q = forms.CharField(
        label=gettext_lazy("Søg"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("filnavn, afsender, id …")}),
    )

    field_order = ["system", "kommune", "data_area", "verdict", "period", "q"]

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        cast(forms.ModelChoiceField, self.fields["system"]).queryset = ITSystem.objects.for_user(
            user
        ).filter(is_recipient=True)
        # Choosing the recipient system shows its inbox at once (portal.js; no inline script).
        self.fields["system"].widget.attrs["data-submit-on-change"] = ""

    simple_filters = (*_ListFilterForm.simple_filters, "verdict")

    def filter(self, rows: _Rows) -> _Rows:
        """The receipts that match the valid filters (all of them if the form is invalid)."""
        receipts = super().filter(rows)
        if not self.is_valid():
            return receipts
        data = self.cleaned_data
        if data.get("system"):
            receipts = receipts.filter(recipient_system=data["system"])
        if data.get("q"):
            term = data["q"].strip()
            receipts = receipts.filter(
                Q(file_name__icontains=term)
                | Q(sender__icontains=term)
                | Q(filetransfer_uuid__iexact=term)
                | Q(senders_file_id__iexact=term)
            )
        return receipts
