from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from deliveries.serviceplatform.models import PlatformDecision, RegisteredKey
from routes.keys import fingerprint_of, parse_public_key
from routes.models import SftpUser


@admin.register(PlatformDecision)
class PlatformDecisionAdmin(admin.ModelAdmin):
    """What the stand-in decided for each trigger. Read-only: the rows are its log."""

    list_display = (
        "at",
        "sender_username",
        "file_name",
        "outcome",
        "error_codes",
        "recipients",
        "endpoint",
    )
    list_filter = ("outcome", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("sender_username", "file_name", "senders_file_id", "file_transfer_uuid")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RegisteredKeyForm(forms.ModelForm):
    """Pasting a public key plays "KOMBIT registers the key": the stand-in accepts it from the
    next login on."""

    class Meta:
        model = RegisteredKey
        fields = ("endpoint", "username", "public_key")

    def clean_public_key(self) -> str:
        return parse_public_key(self.cleaned_data["public_key"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        endpoint, username = data.get("endpoint"), data.get("username")
        if endpoint is not None and not endpoint.is_standin:
            self.add_error(
                "endpoint",
                _("Kun en lokal stand-in har sit eget nøgleregister; vælg stand-in-endpointet."),
            )
        elif endpoint is not None and username:
            if not SftpUser.objects.filter(endpoint=endpoint, username=username).exists():
                self.add_error(
                    "username",
                    _("Der er ingen SFTP-bruger med det navn på endpointet. Opret brugeren først."),
                )
        if data.get("public_key"):
            self.instance.fingerprint = fingerprint_of(data["public_key"])
            # The fingerprint is not a form field, so the form's own constraint check skips it.
            if (
                endpoint is not None
                and RegisteredKey.objects.filter(
                    endpoint=endpoint, username=username, fingerprint=self.instance.fingerprint
                ).exists()
            ):
                self.add_error("public_key", _("Nøglen er allerede registreret for brugeren."))
        return data


@admin.register(RegisteredKey)
class RegisteredKeyAdmin(admin.ModelAdmin):
    """The stand-in's register of public keys, KOMBIT's side of a key rotation. Adding a row
    registers a key; deleting one withdraws it (the next login with it is refused)."""

    form = RegisteredKeyForm
    list_display = ("username", "fingerprint", "registered_at", "endpoint")
    list_filter = ("endpoint",)
    list_select_related = ("endpoint",)
    search_fields = ("username", "fingerprint")
    readonly_fields = ("fingerprint", "registered_at")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A registered key is replaced by registering another, as in the Administrationsmodul.
        return False
