"""The session list in the admin, read only: rows are written by the portal as people log in.

django-otp's own admin for authenticators is taken away: removing someone's authenticator goes
through the user's session page (twofactor:user_sessions), which writes the audit row; the
admin's delete would not, and its change form shows the secret key."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.twofactor.models import UserSession


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


admin.site.unregister(TOTPDevice)
