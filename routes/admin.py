from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flisportal.audit.admin import AuditedAdminMixin
from routes import models


@admin.register(models.User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    # Roles: a consultant's kommuner and the groups a user is in.
    audit_m2m = ("kommuner", "groups")
    list_display = ("username", "get_full_name", "email", "vendor", "is_staff", "is_active")
    list_filter = ("is_staff", "is_active", "vendor")
    list_select_related = ("vendor",)
    search_fields = ("username", "first_name", "last_name", "email")
    filter_horizontal = ("kommuner", "groups", "user_permissions")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Rolle i portalen"), {"fields": ("vendor", "kommuner")}),
    )


class ITSystemInline(admin.TabularInline):
    model = models.ITSystem
    fields = ("name", "uuid", "is_sender", "is_recipient")
    extra = 0
    show_change_link = True


class AgreementInline(admin.TabularInline):
    model = models.ProcessingAgreement
    fields = ("kommune", "status", "signed_on", "ends_on", "document_reference")
    autocomplete_fields = ("kommune",)
    extra = 0


@admin.register(models.Kommune)
class KommuneAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "cvr", "region")
    list_filter = ("region",)
    search_fields = ("code", "name", "cvr")


@admin.register(models.DataArea)
class DataAreaAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "code", "infref", "due_day", "grace_days", "retention_days")
    list_editable = ("due_day", "grace_days", "retention_days")
    search_fields = ("name", "code", "infref")
    readonly_fields = ("code",)


@admin.register(models.Vendor)
class VendorAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "cvr", "contact_name", "contact_email", "contact_phone")
    search_fields = ("name", "cvr", "contact_name", "contact_email")
    inlines = (ITSystemInline, AgreementInline)


class SftpUserInline(admin.TabularInline):
    model = models.SftpUser
    fields = ("endpoint", "username")
    extra = 0
    show_change_link = True


@admin.register(models.ITSystem)
class ITSystemAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "uuid", "vendor", "kommune", "is_sender", "is_recipient")
    list_filter = ("is_sender", "is_recipient", "vendor")
    list_select_related = ("vendor", "kommune")
    search_fields = ("name", "uuid", "vendor__name")
    autocomplete_fields = ("vendor", "kommune")
    inlines = (SftpUserInline,)


@admin.register(models.Endpoint)
class EndpointAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "host",
        "port",
        "has_host_key",
        "is_standin",
        "large_writes",
        "parallel_connections",
    )
    list_filter = ("is_standin",)
    search_fields = ("slug", "name", "host")

    @admin.display(boolean=True, description=_("værtsnøgle fastlåst"))
    def has_host_key(self, obj: models.Endpoint) -> bool:
        return bool(obj.host_key.strip())


# Key material is read-only in the back office: keys are made, uploaded and rotated on the SFTP
# user's page in the portal, where the private key is encrypted before it is stored. The
# encrypted bytes are never displayed here.
KEY_FIELDS = (
    "state",
    "algorithm",
    "fingerprint",
    "public_key",
    "origin",
    "created_by",
    "created_at",
    "expires_at",
    "retired_at",
)


class SftpKeyInline(admin.TabularInline):
    model = models.SftpKey
    fields = ("state", "algorithm", "fingerprint", "origin", "created_at", "expires_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.SftpKey]:
        return super().get_queryset(request).defer("encrypted_private_key")


@admin.register(models.SftpUser)
class SftpUserAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("username", "it_system", "vendor", "endpoint")
    list_filter = ("endpoint", "it_system__vendor")
    list_select_related = ("it_system__vendor", "endpoint")
    search_fields = ("username", "it_system__name", "it_system__uuid")
    autocomplete_fields = ("it_system",)
    inlines = (SftpKeyInline,)

    @admin.display(description=_("leverandør"), ordering="it_system__vendor__name")
    def vendor(self, obj: models.SftpUser) -> str:
        return obj.it_system.vendor.name if obj.it_system.vendor else "–"

    def view_on_site(self, obj: models.SftpUser) -> str:
        return reverse("routes:sftp_user_detail", args=[obj.pk])


@admin.register(models.SftpKey)
class SftpKeyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("fingerprint", "sftp_user", "algorithm", "state", "created_at", "expires_at")
    list_filter = ("state", "algorithm", "origin", "sftp_user__endpoint")
    list_select_related = ("sftp_user__endpoint",)
    search_fields = ("fingerprint", "sftp_user__username")
    fields = ("sftp_user", *KEY_FIELDS)
    readonly_fields = fields
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.SftpKey]:
        return super().get_queryset(request).defer("encrypted_private_key")


@admin.register(models.ProcessingAgreement)
class ProcessingAgreementAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("kommune", "vendor", "status", "signed_on", "ends_on", "document_reference")
    list_filter = ("status", "vendor", "kommune__region")
    list_select_related = ("kommune", "vendor")
    search_fields = ("kommune__name", "kommune__code", "vendor__name", "document_reference")
    autocomplete_fields = ("kommune", "vendor")
    date_hierarchy = "signed_on"


class RouteEventInline(admin.TabularInline):
    model = models.RouteEvent
    fields = ("at", "old_status", "new_status", "actor", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[models.RouteEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(models.Route)
class RouteAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = (
        "kommune",
        "data_area",
        "sender_system",
        "endpoint",
        "status",
        "order_reference",
        "ordered_on",
        "established_on",
    )
    list_filter = ("status", "data_area", "endpoint", "sender_system__vendor", "kommune__region")
    list_select_related = ("kommune", "data_area", "sender_system", "endpoint")
    search_fields = (
        "kommune__name",
        "kommune__code",
        "sender_system__name",
        "sender_system__uuid",
        "order_reference",
    )
    autocomplete_fields = ("kommune", "sender_system")
    filter_horizontal = ("recipient_systems",)
    # The lifecycle moves only through the route page, which writes a history row per step.
    readonly_fields = ("status", "ordered_on", "established_on", "retired_on")
    inlines = (RouteEventInline,)

    def save_model(self, request: HttpRequest, obj: models.Route, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            models.RouteEvent.objects.create(
                route=obj,
                old_status="",
                new_status=obj.status,
                actor=request.user if isinstance(request.user, models.User) else None,
                note=str(_("Oprettet i administrationen.")),
            )


@admin.register(models.RouteEvent)
class RouteEventAdmin(admin.ModelAdmin):
    list_display = ("at", "route", "old_status", "new_status", "actor")
    list_filter = ("new_status",)
    list_select_related = ("route__kommune", "route__data_area", "route__sender_system", "actor")
    search_fields = ("route__kommune__name", "note", "actor__username")
    readonly_fields = ("route", "old_status", "new_status", "actor", "note", "at")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
