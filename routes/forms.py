"""Forms of the route and key pages. They validate and convert; crispy does the layout."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from routes.bulk import BulkOrderChoices, BulkTransitionChoices
from routes.models import (
    ROUTE_TRANSITIONS,
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    Region,
    Route,
    RouteStatus,
)
from routes.validators import normalize_kommune_code, validate_cvr, validate_public_key

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise  # a lazy gettext string (stubs only)

# An OpenSSH private key is a few KiB; anything much larger is not one.
MAX_PRIVATE_KEY_BYTES = 64 * 1024


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class SystemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        vendor = obj.vendor.name if obj.vendor_id else _("ingen leverandør")
        return f"{obj.name} ({vendor})"


def end_of_day(day: date | None) -> datetime | None:
    """A key 'expires on' a day: it is valid through that day, Danish time."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time(23, 59)))


def _helper(submit_label: str, *, action: str = "", method: str = "post") -> FormHelper:
    helper = FormHelper()
    helper.form_method = method
    if action:
        helper.form_action = action
    helper.add_input(Submit("submit", submit_label))
    return helper


class KommunePickForm(forms.Form):
    kommune = forms.ModelChoiceField(
        label=_("Kommune"),
        queryset=Kommune.objects.order_by("code"),
        to_field_name="code",
        empty_label=_("Vælg kommune …"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(str(_("Vis ruter")), method="get")
        self.helper.form_class = "row row-cols-lg-auto g-2 align-items-end"
        self.helper.disable_csrf = True


def _order_reference_field(help_text: _StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=_("Bestillingsreference (Digitaliseringskataloget)"),
        max_length=100,
        required=False,
        help_text=help_text,
    )


def _note_field() -> forms.CharField:
    return forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class _RouteOrderFields(forms.Form):
    """What every route order names, for one kommune or for many: data area, sender system,
    endpoint (exttest offered first), and the order reference and date when it is already
    ordered. The subclasses add the recipients and the kommune(r)."""

    # Each empty first option says what to choose, not Django's «---------».
    data_area = forms.ModelChoiceField(
        label=_("Dataområde"), queryset=DataArea.objects.all(), empty_label=_("Vælg dataområde")
    )
    sender_system = SystemChoiceField(
        label=_("Afsendersystem (fagsystem)"),
        queryset=ITSystem.objects.filter(is_sender=True).select_related("vendor"),
        empty_label=_("Vælg afsendersystem"),
    )
    endpoint = forms.ModelChoiceField(
        label=_("Miljø (endpoint)"), queryset=Endpoint.objects.all(), empty_label=_("Vælg miljø")
    )
    ordered_on = forms.DateField(label=_("Bestilt den"), required=False, widget=DateInput())
    note = _note_field()

    @staticmethod
    def _initial(**more: Any) -> dict[str, Any]:
        return {"endpoint": Endpoint.objects.filter(slug="exttest").first(), **more}


def _order_prefill(prefill: Mapping[str, str]) -> dict[str, Any]:
    """A new order's fields from a link's query (the onboarding checklist's «Bestil igen»):
    data area and sender system by id, endpoint by slug. Anything else, or a value that is not
    one, is left out: the form then starts as usual, and its choices still decide."""
    initial: dict[str, Any] = {}
    for name in ("data_area", "sender_system"):
        value = prefill.get(name, "")
        if value.isascii() and value.isdigit():
            initial[name] = int(value)
    slug = prefill.get("endpoint", "")
    if slug:
        endpoint = Endpoint.objects.filter(slug=slug).first()
        if endpoint is not None:
            initial["endpoint"] = endpoint
    return initial


class RouteOrderForm(_RouteOrderFields):
    """A new route order for one kommune (myndighed)."""

    field_order = [
        "data_area",
        "sender_system",
        "recipient_systems",
        "endpoint",
        "sender_authority",
        "recipient_authority",
        "order_reference",
        "ordered_on",
        "note",
    ]
    recipient_systems = forms.ModelMultipleChoiceField(
        label=_("Modtagersystemer"),
        queryset=ITSystem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("FLIS og/eller kommunens eget LIS. En rute kan have flere modtagere."),
    )
    sender_authority = forms.CharField(
        label=_("Afsendermyndighed (CVR)"), max_length=8, validators=[validate_cvr]
    )
    recipient_authority = forms.CharField(
        label=_("Modtagermyndighed (CVR)"), max_length=8, validators=[validate_cvr]
    )
    order_reference = _order_reference_field(
        _("Udfyld, hvis ruten allerede er bestilt: så registreres den som bestilt.")
    )

    def __init__(
        self,
        *args: Any,
        kommune: Kommune,
        action: str = "",
        prefill: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "initial",
            self._initial(
                sender_authority=kommune.cvr,
                recipient_authority=kommune.cvr,
                **_order_prefill(prefill or {}),
            ),
        )
        super().__init__(*args, **kwargs)
        self.kommune = kommune
        recipients = ITSystem.objects.filter(is_recipient=True).filter(
            Q(kommune__isnull=True) | Q(kommune=kommune)
        )
        self.fields["recipient_systems"].queryset = recipients  # type: ignore[attr-defined]
        self.helper = _helper(str(_("Registrér bestilling")), action=action)


def _override_field() -> forms.CharField:
    return forms.CharField(
        label=_("Begrundelse for at etablere uden underskrevet databehandleraftale"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Kun i produktion, og kun når aftalen mangler. Begrundelsen gemmes i rutens "
            "historik og i revisionsloggen."
        ),
    )


class RouteTransitionForm(forms.Form):
    new_status = forms.ChoiceField(label=_("Ny status"))
    order_reference = _order_reference_field(_("Kræves, når ruten markeres som bestilt."))
    on_date = forms.DateField(label=_("Dato"), required=False, widget=DateInput())
    note = _note_field()
    # Only on a production route without a signed agreement (`needs_override`).
    agreement_override = _override_field()

    def __init__(
        self,
        *args: Any,
        route: Route,
        action: str = "",
        needs_override: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "initial", {"on_date": timezone.localdate(), "order_reference": route.order_reference}
        )
        super().__init__(*args, **kwargs)
        self.fields["new_status"].choices = [  # type: ignore[attr-defined]
            (status.value, status.label) for status in route.next_statuses()
        ]
        if not needs_override:
            del self.fields["agreement_override"]
        self.helper = _helper(str(_("Flyt ruten")), action=action)


def parse_kommune_codes(text: str) -> list[Kommune]:
    """Kommune codes separated by commas, spaces or new lines, each with or without a leading
    zero. Every bad or unknown code is named in the error."""
    tokens = [t for t in re.split(r"[\s,;]+", text or "") if t]
    bad: list[str] = []
    codes: list[str] = []
    for token in tokens:
        try:
            code = normalize_kommune_code(token)
        except ValidationError:
            bad.append(token)
            continue
        if code not in codes:
            codes.append(code)
    errors = []
    if bad:
        errors.append(
            ValidationError(
                _(
                    "Ikke en kommunekode: %(codes)s. Kommunekoden skal være tre cifre, evt. med "
                    "et foranstillet 0 (fx 101 eller 0101)."
                ),
                code="kommune_code",
                params={"codes": ", ".join(bad)},
            )
        )
    found = {k.code: k for k in Kommune.objects.filter(code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        errors.append(
            ValidationError(
                _("Ingen kommune har koden %(codes)s."),
                code="unknown_kommune",
                params={"codes": ", ".join(unknown)},
            )
        )
    if errors:
        raise ValidationError(errors)
    return [found[code] for code in codes]


class BulkOrderForm(_RouteOrderFields):
    """The same data area from the same sender system for many kommuner at once."""

    field_order = [
        "data_area",
        "sender_system",
        "recipient_systems",
        "endpoint",
        "kommune_codes",
        "region",
        "order_reference",
        "ordered_on",
        "note",
    ]
    recipient_systems = forms.ModelMultipleChoiceField(
        label=_("Modtagersystemer"),
        # A kommune's own LIS receives only for that kommune: not offered for many at once.
        queryset=ITSystem.objects.filter(is_recipient=True, kommune__isnull=True),
        widget=forms.CheckboxSelectMultiple,
    )
    kommune_codes = forms.CharField(
        label=_("Kommunekoder"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "101, 147, 0751"}),
        help_text=_("Adskil med komma, mellemrum eller linjeskift. 101 og 0101 er det samme."),
    )
    region = forms.ChoiceField(
        label=_("… og/eller alle kommuner i en region"),
        required=False,
        choices=[("", "—"), *Region.choices],
    )
    order_reference = _order_reference_field(_("Udfyld, hvis ruterne allerede er bestilt."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", self._initial())
        super().__init__(*args, **kwargs)
        self.helper = _helper(str(_("Forhåndsvis bestillingen")))

    def choices(self) -> BulkOrderChoices:
        data = self.cleaned_data
        return BulkOrderChoices(
            kommuner=tuple(data["kommuner"]),
            data_area=data["data_area"],
            sender_system=data["sender_system"],
            recipient_systems=tuple(data["recipient_systems"]),
            endpoint=data["endpoint"],
            order_reference=data["order_reference"],
            ordered_on=data["ordered_on"],
            note=data["note"],
        )

    def clean_kommune_codes(self) -> list[Kommune]:
        return parse_kommune_codes(self.cleaned_data.get("kommune_codes", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kommuner: list[Kommune] = list(cleaned.get("kommune_codes") or [])
        if cleaned.get("region"):
            known = {k.pk for k in kommuner}
            kommuner += [
                k
                for k in Kommune.objects.filter(region=cleaned["region"]).order_by("code")
                if k.pk not in known
            ]
        if not kommuner and "kommune_codes" not in self.errors:
            self.add_error("kommune_codes", _("Angiv mindst én kommune eller en region."))
        cleaned["kommuner"] = kommuner
        return cleaned


class BulkTransitionFilterForm(forms.Form):
    """Which routes the bulk status change lists: those in one status, narrowed at will."""

    status = forms.ChoiceField(
        label=_("Ruter med status"),
        choices=[
            (s.value, s.label)
            for s in (RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.ESTABLISHED)
        ],
        initial=RouteStatus.ORDERED,
    )
    endpoint = forms.ModelChoiceField(
        label=_("Miljø"), queryset=Endpoint.objects.all(), required=False, empty_label=_("Alle")
    )
    data_area = forms.ModelChoiceField(
        label=_("Dataområde"),
        queryset=DataArea.objects.all(),
        required=False,
        empty_label=_("Alle"),
    )
    region = forms.ChoiceField(
        label=_("Region"), required=False, choices=[("", _("Alle")), *Region.choices]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(str(_("Vis ruter")), method="get")
        self.helper.form_class = "row row-cols-lg-auto g-2 align-items-end"
        self.helper.disable_csrf = True

    def filter(self, routes: Any) -> Any:
        """`routes` narrowed by the chosen filters (in `status` if nothing valid was chosen)."""
        data = self.cleaned_data if self.is_valid() else {}
        routes = routes.filter(status=data.get("status") or RouteStatus.ORDERED)
        if data.get("endpoint"):
            routes = routes.filter(endpoint=data["endpoint"])
        if data.get("data_area"):
            routes = routes.filter(data_area=data["data_area"])
        if data.get("region"):
            routes = routes.filter(kommune__region=data["region"])
        return routes


class RouteIdsField(forms.Field):
    """The ids of the selected routes (checkboxes named `routes`)."""

    widget = forms.MultipleHiddenInput
    hidden_widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> tuple[int, ...]:
        try:
            ids = tuple(sorted({int(v) for v in value or ()}))
        except (TypeError, ValueError):
            raise ValidationError(_("Ukendt rute i udvalget. Indlæs siden igen.")) from None
        if not ids:
            raise ValidationError(_("Vælg mindst én rute."))
        return ids


class BulkTransitionForm(forms.Form):
    """Move the selected routes one step together, with one note."""

    routes = RouteIdsField(label=_("Ruter"))
    new_status = forms.ChoiceField(
        label=_("Flyt til status"),
        choices=[
            (s.value, s.label)
            for s in (
                RouteStatus.ORDERED,
                RouteStatus.ESTABLISHED,
                RouteStatus.RETIRED,
                RouteStatus.REJECTED,
            )
        ],
    )
    order_reference = _order_reference_field(
        _("Kun ved «bestilt»: gives til de valgte ruter, der ikke har en reference.")
    )
    on_date = forms.DateField(label=_("Dato"), required=False, widget=DateInput())
    note = _note_field()
    agreement_override = _override_field()

    def __init__(self, *args: Any, from_status: str = RouteStatus.ORDERED, **kwargs: Any) -> None:
        # The usual next step from the listed status is offered first (bestilt → etableret).
        step = ROUTE_TRANSITIONS.get(from_status, ())
        kwargs.setdefault(
            "initial", {"on_date": timezone.localdate(), "new_status": step[0] if step else ""}
        )
        super().__init__(*args, **kwargs)
        self.helper = _helper(str(_("Forhåndsvis statusskiftet")))
        self.helper.form_tag = False
        # The routes are the table's checkboxes, not a field of the form's own.
        self.helper.layout = Layout(
            "new_status", "order_reference", "on_date", "note", "agreement_override"
        )

    def choices(self) -> BulkTransitionChoices:
        data = self.cleaned_data
        return BulkTransitionChoices(
            route_ids=data["routes"],
            new_status=data["new_status"],
            order_reference=data["order_reference"],
            on_date=data["on_date"],
            note=data["note"],
            agreement_override=data["agreement_override"],
        )


class KeyGenerateForm(forms.Form):
    """Generate a first key, or rotate to a new one."""

    algorithm = forms.ChoiceField(
        label=_("Nøgletype"),
        choices=[
            ("rsa", _("RSA 4096 (anbefalet: det bruger Serviceplatformens klienter)")),
            ("ed25519", _("Ed25519")),
        ],
        initial="rsa",
        widget=forms.RadioSelect,
    )
    expires_on = forms.DateField(
        label=_("Udløber den"),
        required=False,
        widget=DateInput(),
        help_text=_("Valgfri. Portalen minder om nøgler, der snart udløber."),
    )

    def __init__(self, *args: Any, submit_label: str, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _helper(submit_label, action=action)

    def clean_expires_on(self) -> datetime | None:
        expires_at = end_of_day(self.cleaned_data.get("expires_on"))
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError(_("Udløbsdatoen skal ligge i fremtiden."))
        return expires_at


class KeyUploadForm(forms.Form):
    """An existing private key (administrators only)."""

    private_key = forms.FileField(
        label=_("Privat nøgle (OpenSSH- eller PEM-fil)"),
        help_text=_("Gemmes krypteret og vises aldrig igen."),
    )
    passphrase = forms.CharField(
        label=_("Adgangsfrase"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Kun hvis filen er krypteret."),
    )
    public_key = forms.CharField(
        label=_("Offentlig nøgle (valgfri kontrol)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "ssh-rsa AAAA… kommentar"}),
        validators=[validate_public_key],
        help_text=_("Hvis den er udfyldt, skal den private nøgle passe til den."),
    )
    expires_on = forms.DateField(label=_("Udløber den"), required=False, widget=DateInput())

    def __init__(self, *args: Any, action: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # crispy adds enctype="multipart/form-data" itself for a form with a file field.
        self.helper = _helper(str(_("Upload nøgle")), action=action)

    def clean_private_key(self) -> bytes:
        upload = self.cleaned_data["private_key"]
        if upload.size > MAX_PRIVATE_KEY_BYTES:
            raise ValidationError(_("Filen er for stor til at være en privat nøgle."))
        return bytes(upload.read())

    def clean_expires_on(self) -> datetime | None:
        expires_at = end_of_day(self.cleaned_data.get("expires_on"))
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError(_("Udløbsdatoen skal ligge i fremtiden."))
        return expires_at
