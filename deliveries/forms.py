from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Submit
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries import access
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import OWED_EXPECTED_STATES, Delivery, ReceiptVerdict
from flisportal.lib.periods import is_period
from flisportal.lib.widgets import PlainSelect
from routes.models import DataArea, Endpoint, ITSystem, Kommune, Route, User

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

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


# The empty first option of a route choice (the upload page, a batch's rows): what to do.
ROUTE_EMPTY_LABEL = gettext_lazy("Vælg rute")


class DeliveryUploadForm(forms.Form):
    """The upload page's form: one choice among the routes the user can deliver on, a period
    within what that route can carry, and the file. Whether the upload may become a delivery
    (the route, the period, a correction, a redelivery) is the intake service's to say; the view
    shows its refusal on this form."""

    route = forms.ChoiceField(
        label=gettext_lazy("Rute"),
        help_text=gettext_lazy(
            "Kommune · dataområde · it-system · miljø. Kun etablerede ruter, hvor der er en "
            "underskrevet databehandleraftale med kommunen."
        ),
        error_messages={
            "invalid_choice": gettext_lazy(
                "Vælg en af dine etablerede ruter på listen. Mangler ruten, skal den bestilles "
                "og etableres, og databehandleraftalen med kommunen skal være registreret."
            )
        },
    )
    period = forms.CharField(
        label=gettext_lazy("Periode"),
        max_length=7,
        help_text=gettext_lazy(
            "Måneden udtrækket dækker. Skriv perioden som ÅÅÅÅ-MM; i filen står den som ÅÅÅÅMM, "
            "fx 202611."
        ),
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("ÅÅÅÅ-MM"), "inputmode": "numeric"}
        ),
    )
    file = forms.FileField(
        label=gettext_lazy("Fil"),
        help_text=gettext_lazy(".csv eller .zip med præcis én .csv-fil."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.zip"}),
    )
    redelivery_confirmed = forms.BooleanField(
        label=gettext_lazy(
            "Genlevering: send filen, selv om der allerede er leveret en fil for ruten og perioden"
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
        # The delivery an intake refusal was about (the page links to it).
        self.earlier: Delivery | None = None
        # Offered through the access module; the intake service asks it again on upload.
        self.routes = {
            route.pk: route
            for route in access.uploadable_routes(user)
            .select_related("kommune", "data_area", "sender_system", "endpoint")
            .order_by("kommune__name", "data_area__sort_order", "sender_system__name", "endpoint")
        }
        route_field = cast(forms.ChoiceField, self.fields["route"])
        # The empty first option says what to do, not Django's «---------».
        route_field.choices = [("", ROUTE_EMPTY_LABEL), *_grouped_by_kommune(self.routes.values())]
        # The client-side filter (upload.js) is offered on a long list only.
        route_field.widget.attrs.update(
            {
                "data-filter-label": _("Søg i ruterne"),
                "data-filter-placeholder": _("fx Aarhus skole"),
                "data-filter-none": _("Ingen ruter passer til søgningen."),
            }
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Div(
                Div(Field("route"), css_class="col-md-9"),
                Div(Field("period"), css_class="col-md-3"),
                css_class="row",
            ),
            Field("file"),
            Field("redelivery_confirmed"),
            Submit("upload", _("Upload"), css_id="upload-submit"),
            _check_button(),
        )

    def clean_route(self) -> Route:
        route = self.routes.get(int(self.cleaned_data["route"]))
        if route is None:  # the choices hold only these, so this is a changed list
            raise forms.ValidationError(self.fields["route"].error_messages["invalid_choice"])
        return route

    def clean_period(self) -> str:
        # The format is checked here with the message people read; whether the period is one
        # the route can carry is asked in `clean` once the route is known.
        value = str(self.cleaned_data["period"]).strip()
        if not is_period(value):
            raise forms.ValidationError(
                _("Skriv perioden som ÅÅÅÅ-MM, fx 2026-10 (fik «%(value)s»).") % {"value": value}
            )
        return value

    def clean_file(self) -> Any:
        if self.upload_refusal:
            raise forms.ValidationError(self.upload_refusal)
        return self.cleaned_data.get("file")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        route, period = data.get("route"), data.get("period")
        if route is not None and period:
            # The same rule the intake service holds, asked here so the period is refused
            # before the file is unpacked and stored.
            refusal = route.period_refusal(period, now=timezone.now())
            if refusal is not None:
                self.add_error("period", refusal)
        return data

    def error_list(self) -> list[str]:
        """Every error as one line "Label: message", for the upload script to show."""
        lines: list[str] = []
        for name, messages in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            lines.extend(f"{label}: {m}" if label else str(m) for m in messages)
        return lines


def _grouped_by_kommune(routes: Iterable[Route]) -> list[tuple[str, list[tuple[int, str]]]]:
    """The routes as option groups, one per kommune, each option saying area, system and
    environment ("Skole · SystemX · Produktion"); the order is the routes'."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for route in routes:
        label = f"{route.data_area} · {route.sender_system} · {route.endpoint}"
        groups.setdefault(str(route.kommune), []).append((route.pk, label))
    return list(groups.items())


_Rows = TypeVar("_Rows", bound="QuerySet[Any]")


def _model_filter(label: _StrPromise, queryset: QuerySet[Any]) -> forms.ModelChoiceField:
    """A list filter choosing one row; left empty it reads «Alle» (every row)."""
    return forms.ModelChoiceField(
        label=label,
        queryset=queryset,
        required=False,
        widget=PlainSelect,
        empty_label=gettext_lazy("Alle"),
    )


def _choice_filter(label: _StrPromise, choices: Iterable[tuple[str, Any]]) -> forms.ChoiceField:
    """A list filter choosing one value; left empty it reads «Alle» (every row)."""
    return forms.ChoiceField(
        label=label,
        choices=[("", gettext_lazy("Alle")), *choices],
        required=False,
        widget=PlainSelect,
    )


class _ListFilterForm(forms.Form):
    """What the delivery list and the inbox filter on alike: data area, the user's kommuner and
    a period, in small controls."""

    # Fields that filter on the model field of the same name, or on the path in `paths`.
    simple_filters: tuple[str, ...] = ("data_area", "kommune", "period")
    paths: dict[str, str] = {}

    data_area = _model_filter(gettext_lazy("Dataområde"), DataArea.objects.all())
    kommune = _model_filter(gettext_lazy("Kommune"), Kommune.objects.none())
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
    """The delivery list's filters and search, shared by the page, its CSV export and the
    API's list. It only narrows the rows it is given: the scope per user is the caller's
    `Delivery.objects.for_user()`, so no filter or search term reaches past it."""

    status = _choice_filter(gettext_lazy("Status"), DeliveryStatus.choices)
    it_system = _model_filter(gettext_lazy("It-system"), ITSystem.objects.none())
    endpoint = _model_filter(gettext_lazy("Miljø"), Endpoint.objects.all())
    q = forms.CharField(
        label=gettext_lazy("Søg"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("SendersFileId, filnavn, uploadet af …")}
        ),
    )

    simple_filters = (*_ListFilterForm.simple_filters, "status", "it_system", "endpoint")

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        # Only the sending systems the user's deliveries can come from: another vendor's
        # system is not even named in the choices.
        cast(forms.ModelChoiceField, self.fields["it_system"]).queryset = ITSystem.objects.for_user(
            user
        ).filter(is_sender=True)

    def filter(self, rows: _Rows) -> _Rows:
        """The deliveries that match the valid filters and the search term."""
        deliveries = super().filter(rows)
        if not self.is_valid() or not self.cleaned_data.get("q"):
            return deliveries
        term = self.cleaned_data["q"].strip()
        # The uploader by user name or by name as the page shows it ("Anna Jensen").
        deliveries = deliveries.alias(
            uploader_name=Concat("uploaded_by__first_name", Value(" "), "uploaded_by__last_name")
        )
        found = (
            Q(original_filename__icontains=term)
            | Q(uploaded_by__username__icontains=term)
            | Q(uploader_name__icontains=term)
        )
        try:
            # A SendersFileId matches as the whole id, however it is written (case, braces).
            found |= Q(uuid=uuid.UUID(term))
        except ValueError:
            pass
        return deliveries.filter(found)


class OutstandingFilterForm(_ListFilterForm):
    """The filters of the periods still owed; data area and kommune are the route's."""

    state = _choice_filter(
        gettext_lazy("Tilstand"), [(state.value, state.label) for state in OWED_EXPECTED_STATES]
    )

    simple_filters = (*_ListFilterForm.simple_filters, "state")
    paths = {"data_area": "route__data_area", "kommune": "route__kommune"}


class ReceiptFilterForm(_ListFilterForm):
    """The inbox's filters and search; every choice list is scoped to the user."""

    system = _model_filter(gettext_lazy("Modtagersystem"), ITSystem.objects.none())
    verdict = _choice_filter(gettext_lazy("Vurdering"), ReceiptVerdict.choices)
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
