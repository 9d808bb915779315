from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from flisportal.sso.models import IdentityProvider, RoleMapping, SsoLink
from routes.keys import encrypt_private_key


class IdentityProviderForm(forms.ModelForm):
    """The client secret is write-only: typed once, stored encrypted with the portal's key
    encryption keys, never shown again. A named environment variable wins over it."""

    client_secret = forms.CharField(
        label=_("klienthemmelighed"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Gemmes krypteret og vises ikke igen. Lad feltet stå tomt for at beholde den "
            "gemte, eller brug en miljøvariabel i stedet."
        ),
    )

    class Meta:
        model = IdentityProvider
        fields = [
            "name",
            "slug",
            "issuer",
            "client_id",
            "client_secret_env",
            "client_secret",
            "scopes",
            "groups_claim",
            "mfa_acr_values",
            "password_login_disabled",
            "enabled",
        ]


class RoleMappingInline(admin.TabularInline):
    model = RoleMapping
    extra = 1
    autocomplete_fields = ["vendor", "kommune"]


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    form = IdentityProviderForm
    list_display = ["name", "slug", "issuer", "enabled", "password_login_disabled", "has_secret"]
    inlines = [RoleMappingInline]

    def save_model(
        self, request: HttpRequest, obj: IdentityProvider, form: Any, change: bool
    ) -> None:
        # Encrypted here, in the one place a secret is typed in; an empty field keeps the old.
        secret = form.cleaned_data.get("client_secret")
        if secret:
            obj.client_secret_encrypted = encrypt_private_key(secret.encode())
        super().save_model(request, obj, form, change)

    @admin.display(boolean=True, description=_("hemmelighed sat"))
    def has_secret(self, obj: IdentityProvider) -> bool:
        return bool(obj.client_secret_env or obj.client_secret_encrypted)


@admin.register(SsoLink)
class SsoLinkAdmin(admin.ModelAdmin):
    list_display = ["user", "provider", "subject", "last_login_at"]
    list_filter = ["provider"]
    search_fields = ["user__username", "user__email", "subject"]
    readonly_fields = [
        "provider",
        "user",
        "issuer",
        "subject",
        "granted",
        "created_at",
        "last_login_at",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A link is made by a login through the provider, never typed in.
        return False
