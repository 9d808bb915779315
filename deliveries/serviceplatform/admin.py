from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from deliveries.serviceplatform.models import PlatformDecision


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
