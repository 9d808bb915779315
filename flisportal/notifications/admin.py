"""Administrators see every outgoing mail with its status, attempts and last error, and can
send a failed one again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from flisportal.notifications import models, services


@admin.register(models.OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "to", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("to", "subject", "key")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in models.OutgoingMail._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Send fejlede mails igen"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[models.OutgoingMail]) -> None:
        count = sum(
            services.mail_retry(mail_id=pk)
            for pk in queryset.filter(status=models.MailStatus.FAILED).values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(n)d mail sendes igen.", "%(n)d mails sendes igen.", count) % {"n": count},
            messages.SUCCESS,
        )


@admin.register(models.NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "cadence")
    list_filter = ("cadence",)
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)


@admin.register(models.NotificationKommuneChoice)
class NotificationKommuneChoiceAdmin(admin.ModelAdmin):
    list_display = ("user", "kommune", "event", "choice")
    list_filter = ("event", "choice")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)
    list_select_related = ("user", "kommune")
