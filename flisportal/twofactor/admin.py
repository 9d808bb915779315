"""The session list in the admin, read only: rows are written by the portal as people log in.

django-otp's own admin for authenticators is taken away: removing someone's authenticator goes
through the user's session page (twofactor:user_sessions), which writes the audit row; the
admin's delete would not, and its change form shows the secret key."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.audit.services import audit_record, snapshot
from flisportal.twofactor.models import RoleRequirement, UserSession


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "address", "user_agent", "created", "last_seen", "manage_link")
    list_filter = ("last_seen",)
    search_fields = ("user__username", "address")
    readonly_fields = ("key_hash", "user", "created", "last_seen", "user_agent", "address")

    @admin.display(description=_("Sessioner og lukning"))
    def manage_link(self, obj: UserSession) -> str:
        # The audited page for ending all of a user's sessions and deactivating the account.
        url = reverse("twofactor:user_sessions", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, _("Åbn"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RoleRequirement)
class RoleRequirementAdmin(admin.ModelAdmin):
    """Administrators require a second factor of vendor staff or kommune consultants here; it
    applies at each person's next login. Every change is in the audit log."""

    list_display = ("role", "required", "changed_at")
    fields = ("role", "required")

    def save_model(
        self, request: HttpRequest, obj: RoleRequirement, form: Any, change: bool
    ) -> None:
        before = (
            snapshot(RoleRequirement.objects.get(pk=obj.pk), exclude=("changed_at",))
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        audit_record(
            action="twofactor.role_requirement",
            obj=obj,
            actor=request.user,
            before=before,
            after=snapshot(obj, exclude=("changed_at",)),
        )

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Unticking is the way to drop a requirement: it leaves a row that says so.
        return False


admin.site.unregister(TOTPDevice)
