"""Forms of the pages that read several apps. They validate and convert; crispy does the
layout."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from flisportal.front.coverage import ONLY_GAPS, ONLY_OVERDUE
from routes.models import DataArea, Region, User, Vendor


class CoverageFilterForm(forms.Form):
    """The coverage dashboard's filters (a GET form: the filters are in the URL, so the CSV
    link repeats them)."""

    region = forms.ChoiceField(
        label=_("Region"), required=False, choices=[("", _("Alle regioner")), *Region.choices]
    )
    vendor = forms.ModelChoiceField(
        label=_("Leverandør"),
        required=False,
        queryset=Vendor.objects.none(),
        empty_label=_("Alle leverandører"),
    )
    area = forms.ModelChoiceField(
        label=_("Dataområde"),
        required=False,
        queryset=DataArea.objects.all(),
        to_field_name="code",
        empty_label=_("Alle dataområder"),
    )
    search = forms.CharField(
        label=_("Kommune"),
        required=False,
        max_length=100,
        strip=True,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Navn eller kode"), "autocomplete": "off"}
        ),
    )
    only = forms.ChoiceField(
        label=_("Vis"),
        required=False,
        choices=[
            ("", _("Alle kommuner")),
            (ONLY_GAPS, _("Kun huller")),
            (ONLY_OVERDUE, _("Kun overskredne")),
        ],
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.for_user(user)  # type: ignore[attr-defined]
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.add_input(Submit("submit", str(_("Filtrér"))))
        self.helper.form_class = "row row-cols-lg-auto g-2 align-items-end mb-3"
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Field("region", wrapper_class="col"),
            Field("vendor", wrapper_class="col"),
            Field("area", wrapper_class="col"),
            Field("search", wrapper_class="col"),
            Field("only", wrapper_class="col"),
        )


class TrendsFilterForm(CoverageFilterForm):
    """The Udvikling page's filters: the coverage dashboard's, and how many months back."""

    months = forms.TypedChoiceField(
        label=_("Periode"),
        required=False,
        coerce=int,
        choices=[(12, _("Seneste 12 måneder")), (24, _("Seneste 24 måneder"))],
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.helper.layout = Layout(
            Field("months", wrapper_class="col"),
            Field("region", wrapper_class="col"),
            Field("vendor", wrapper_class="col"),
            Field("area", wrapper_class="col"),
        )
