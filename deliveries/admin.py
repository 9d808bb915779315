from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries import models
from deliveries.services.contracts import contract_load
from deliveries.services.rule_failures import rule_failures_remove
from deliveries.validation import declined_by_screen


class ContractUploadForm(forms.Form):
    document = forms.FileField(
        label=gettext_lazy("Kontrakt (JSON)"),
        help_text=gettext_lazy(
            "Et JSON-dokument med dialect, schema (Frictionless Table Schema) og portal."
        ),
    )
    activate = forms.BooleanField(
        label=gettext_lazy("Gør versionen aktiv (nye leverancer valideres mod den)"),
        required=False,
        initial=True,
    )

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > 5 * 1024 * 1024:
            raise ValidationError(_("Kontrakten må højst fylde 5 MB."))
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValidationError(
                _("Filen er ikke gyldig JSON i UTF-8: %(e)s") % {"e": exc}
            ) from None


@admin.register(models.DataContract)
class DataContractAdmin(admin.ModelAdmin):
    list_display = (
        "data_area",
        "version",
        "is_active",
        "is_illustrative",
        "loaded_at",
        "loaded_by",
    )
    list_filter = ("data_area", "is_active", "is_illustrative")
    readonly_fields = (
        "data_area",
        "version",
        "document",
        "is_illustrative",
        "is_active",
        "loaded_at",
        "loaded_by",
        "source",
    )
    actions = ["activate"]
    change_list_template = "admin/deliveries/datacontract/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new versions come through "Indlæs ny version", which validates them

    def get_urls(self) -> list[Any]:
        return [
            path(
                "load/", self.admin_site.admin_view(self.load_view), name="deliveries_contract_load"
            ),
            *super().get_urls(),
        ]

    def load_view(self, request: HttpRequest) -> HttpResponse:
        form = ContractUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                contract = contract_load(
                    document=form.cleaned_data["document"],
                    user=request.user,  # type: ignore[arg-type]
                    source=str(getattr(request.FILES.get("document"), "name", "")),
                    activate=form.cleaned_data["activate"],
                )
            except ValidationError as error:
                for message in error.messages:
                    form.add_error("document", message)
            else:
                self.message_user(request, _("Kontrakt %(c)s er indlæst.") % {"c": contract})
                if declined_by_screen(contract.document):
                    self.message_user(
                        request,
                        _(
                            "Filer efter denne version tjekkes uden rækkefilteret, fordi den "
                            "bruger noget, filteret ikke kender (fx et mønster med \\s, \\w "
                            "eller punktum, eller en ny slags regel). Resultatet er det samme, "
                            "men valideringen tager omkring tre gange så lang tid."
                        ),
                        level=messages.WARNING,
                    )
                return redirect("admin:deliveries_datacontract_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": _("Indlæs ny kontraktversion"),
            "opts": self.model._meta,
        }
        return render(request, "admin/deliveries/datacontract/load.html", context)

    @admin.action(description=gettext_lazy("Gør den valgte version aktiv"))
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Vælg præcis én version."), level=messages.ERROR)
            return
        contract = queryset.get()
        with transaction.atomic():
            models.DataContract.objects.filter(data_area=contract.data_area).update(is_active=False)
            models.DataContract.objects.filter(pk=contract.pk).update(is_active=True)
        self.message_user(request, _("%(c)s er nu aktiv.") % {"c": contract})


class DeliveryEventInline(admin.TabularInline):
    model = models.DeliveryEvent
    extra = 0
    can_delete = False
    readonly_fields = ("old_status", "new_status", "actor", "actor_label", "message", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("uuid", "data_area", "kommune", "period", "it_system", "status", "uploaded_at")
    list_filter = ("status", "data_area", "endpoint")
    search_fields = ("uuid", "kommune__name", "original_filename", "sha256")
    list_select_related = ("data_area", "kommune", "it_system")
    inlines = [DeliveryEventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Status only changes through services (conditional update + event row).
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # An administrator may still delete a delivery (its events and listed errors go with it):
    # a rejected one is first taken out of Udvikling's failed-rules roll-up, in the same
    # transaction, so the page keeps counting what the listed errors say.
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            rule_failures_remove(deliveries=[obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            rule_failures_remove(deliveries=queryset)
            super().delete_queryset(request, queryset)


# --- Serviceplatform stand-in ---


@admin.register(models.ReceiptProblem)
class ReceiptProblemAdmin(admin.ModelAdmin):
    """Receipts in senders' IN/ that the portal could not read or match to a delivery. The files
    stay on the server; this list is where administrators learn about them. Read-only, but an
    administrator may delete a row once the file has been dealt with."""

    list_display = (
        "file_name",
        "sftp_user",
        "reason",
        "times_seen",
        "first_seen_at",
        "last_seen_at",
    )
    list_filter = ("endpoint",)
    list_select_related = ("sftp_user", "endpoint")
    search_fields = ("file_name", "senders_file_id", "file_transfer_uuid", "reason")
    readonly_fields = (
        "endpoint",
        "sftp_user",
        "file_name",
        "reason",
        "senders_file_id",
        "file_transfer_uuid",
        "content",
        "first_seen_at",
        "last_seen_at",
        "times_seen",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Hent-side receipts. Read-only: they record what a recipient fetched; the inbox
    (/indbakke/) is where people work with them."""

    list_display = (
        "fetched_at",
        "recipient_system",
        "file_name",
        "kommune",
        "data_area",
        "verdict",
        "delivery",
    )
    list_filter = ("verdict", "recipient_system", "data_area")
    list_select_related = ("recipient_system", "kommune", "data_area", "delivery")
    search_fields = ("file_name", "sender", "filetransfer_uuid", "senders_file_id")
    date_hierarchy = "fetched_at"
    # The stored file has no URL (private storage): its name is shown instead, and the
    # download goes through the inbox's scoped view.
    exclude = ("read_by", "file")
    readonly_fields = ("stored_as",)

    @admin.display(description=gettext_lazy("gemt som"))
    def stored_as(self, obj: models.Receipt) -> str:
        return obj.file.name or "–"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
