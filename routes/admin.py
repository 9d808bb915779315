from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from routes import models


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "get_full_name", "email", "vendor", "is_staff", "is_active")
    list_filter = ("is_staff", "is_active", "vendor")
    list_select_related = ("vendor",)
    filter_horizontal = ("kommuner", "groups", "user_permissions")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Rolle i portalen"), {"fields": ("vendor", "kommuner")}),
    )


@admin.register(models.Kommune)
class KommuneAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "cvr", "region")
    list_filter = ("region",)
    search_fields = ("code", "name", "cvr")


@admin.register(models.DataArea)
class DataAreaAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "infref", "send_service", "fetch_service")
    readonly_fields = ("code",)


@admin.register(models.Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "cvr", "contact_name", "contact_email")
    search_fields = ("name", "cvr")


@admin.register(models.ITSystem)
class ITSystemAdmin(admin.ModelAdmin):
    list_display = ("name", "uuid", "vendor", "kommune", "is_sender", "is_recipient")
    list_filter = ("is_sender", "is_recipient", "vendor")
    list_select_related = ("vendor", "kommune")
    search_fields = ("name", "uuid")


@admin.register(models.Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "host", "port", "is_standin", "large_writes")
