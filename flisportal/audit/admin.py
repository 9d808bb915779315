"""The audit log in the admin (read only), and the mixin that makes the registry's admin pages
write audit rows: every save, inline change and delete, with before and after."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from flisportal.audit.models import AuditCheckpoint, AuditEntry
from flisportal.audit.services import audit_record, snapshot

# Never in the log: password hashes and the encrypted private halves of keys.
SECRET_FIELDS = ("password", "encrypted_private_key")


def _kommune_id(obj: models.Model) -> int | None:
    if obj._meta.label_lower == "routes.kommune":
        return obj.pk
    return getattr(obj, "kommune_id", None)


def _state(obj: models.Model, m2m: tuple[str, ...]) -> dict[str, Any]:
    data = snapshot(obj, exclude=SECRET_FIELDS)
    for name in m2m:
        data[name] = sorted(getattr(obj, name).values_list("pk", flat=True)) if obj.pk else []
    return data


class AuditedAdminMixin:
    """Put first among a ModelAdmin's bases. `audit_m2m` names many-to-many fields whose
    members belong in the record (a user's kommuner and groups: roles)."""

    audit_m2m: tuple[str, ...] = ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = _state(stored, self.audit_m2m) if stored is not None else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        # Written in save_related, once the many-to-many fields are saved too.
        request._audit_pending = (obj, before, change)  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        pending = getattr(request, "_audit_pending", None)
        if pending is None:
            return
        obj, before, change = pending
        audit_record(
            action=f"{obj._meta.label_lower}.{'change' if change else 'create'}",
            obj=obj,
            before=before,
            after=_state(obj, self.audit_m2m),
            actor=request.user,
            kommune_id=_kommune_id(obj),
        )
        del request._audit_pending  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for obj in formset.new_objects:
            audit_record(
                action=f"{obj._meta.label_lower}.create",
                obj=obj,
                after=_state(obj, ()),
                actor=request.user,
                kommune_id=_kommune_id(obj),
            )
        for obj, changed in formset.changed_objects:
            initial: dict[str, Any] = next(
                (f.initial for f in formset.forms if f.instance is obj), {}
            )
            audit_record(
                action=f"{obj._meta.label_lower}.change",
                obj=obj,
                before={name: initial.get(name) for name in changed},
                after=_state(obj, ()),
                actor=request.user,
                kommune_id=_kommune_id(obj),
            )
        for obj in formset.deleted_objects:
            audit_record(
                action=f"{obj._meta.label_lower}.delete",
                obj=obj,
                object_id=str(obj.pk or ""),
                before=_state(obj, ()),
                actor=request.user,
                kommune_id=_kommune_id(obj),
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = _state(obj, self.audit_m2m)
        label, pk, text, kommune_id = obj._meta.label_lower, obj.pk, str(obj), _kommune_id(obj)
        super().delete_model(request, obj)  # type: ignore[misc]
        audit_record(
            action=f"{label}.delete",
            object_type=label,
            object_id=pk,
            object_repr=text,
            before=before,
            actor=request.user,
            kommune_id=kommune_id,
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # The bulk "delete selected" action: one audit row per object, like a single delete.
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("seq", "at", "shown_actor", "action", "object_type", "shown_object")
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "action", "object_repr", "object_id")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    # In <bdi>: the label or object of an older row may hold a user name a stranger tried, with
    # bidirectional controls that would turn the rest of the list row round.
    @admin.display(description=_("aktør"), ordering="actor_label")
    def shown_actor(self, entry: AuditEntry) -> str:
        return format_html("<bdi>{}</bdi>", entry.actor_label)

    @admin.display(description=_("objekt"), ordering="object_repr")
    def shown_object(self, entry: AuditEntry) -> str:
        return format_html("<bdi>{}</bdi>", entry.object_repr)

    # Append-only: nobody adds, changes or deletes rows here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(admin.ModelAdmin):
    list_display = ("seq", "hash", "verified_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
