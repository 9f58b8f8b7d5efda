"""Audit trail for the Django admin: every add, change, delete and change-form view leaves an audit entry.

Use it as the base (or first mixin) of a ModelAdmin:

    @admin.register(Agency)
    class AgencyAdmin(AuditedModelAdmin):
        ...

Entries carry field NAMES only (what was changed, what was shown), never values. The admin runs each
change in one transaction, so the entry and the change are committed or rolled back together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin
from django.db import models
from django.forms import BaseForm, BaseFormSet
from django.http import HttpRequest, HttpResponse

from opennrm.core import audit

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = admin.ModelAdmin

# Form fields that are formset plumbing, not data.
_FORMSET_FIELDS = frozenset({"DELETE", "ORDER"})


class AuditedModelAdmin(_ModelAdmin):
    def save_model(self, request: HttpRequest, obj: models.Model, form: BaseForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit.record(
            actor=_actor(request),
            action=_action(obj, "changed" if change else "created"),
            target=obj,
            details={"via": "admin", "changed": sorted(form.changed_data)},
        )

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        # Recorded first, while the object still has its primary key; the admin's transaction makes the
        # entry and the deletion one unit.
        audit.record(
            actor=_actor(request), action=_action(obj, "deleted"), target=obj, details={"via": "admin"}
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        actor = _actor(request)
        for obj in queryset:
            audit.record(actor=actor, action=_action(obj, "deleted"), target=obj, details={"via": "admin"})
        super().delete_queryset(request, queryset)

    def save_formset(
        self, request: HttpRequest, form: BaseForm, formset: BaseFormSet[Any], change: bool
    ) -> None:
        actor = _actor(request)
        for deleted in formset.deleted_forms:
            obj = deleted.instance
            if obj.pk is not None:
                audit.record(
                    actor=actor, action=_action(obj, "deleted"), target=obj, details={"via": "admin"}
                )
        super().save_formset(request, form, formset, change)
        for obj in getattr(formset, "new_objects", []):
            audit.record(actor=actor, action=_action(obj, "created"), target=obj, details={"via": "admin"})
        for obj, changed in getattr(formset, "changed_objects", []):
            audit.record(
                actor=actor,
                action=_action(obj, "changed"),
                target=obj,
                details={"via": "admin", "changed": sorted(changed)},
            )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: models.Model | None = None,
    ) -> HttpResponse:
        # Showing an existing object's form is a read of every field on it, and of every inline row shown.
        if obj is not None and obj.pk is not None and not add:
            actor = _actor(request)
            adminform = context["adminform"]
            names = [*adminform.form.fields, *_names(adminform.readonly_fields)]
            audit.record_read(actor=actor, target=obj, fields=names, details={"via": "admin"})
            for inline in context.get("inline_admin_formsets", []):
                readonly = _names(inline.readonly_fields)
                for inline_form in inline.formset.initial_forms:
                    shown = inline_form.instance
                    if shown.pk is None:
                        continue
                    fields = [name for name in inline_form.fields if name not in _FORMSET_FIELDS]
                    audit.record_read(
                        actor=actor, target=shown, fields=[*fields, *readonly], details={"via": "admin"}
                    )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


def _actor(request: HttpRequest) -> audit.Actor | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return cast("audit.Actor", user)


def _action(obj: models.Model, verb: str) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}"


def _names(readonly_fields: Any) -> list[str]:
    # Read-only fields may be callables; only named attributes say which data was shown.
    return [name for name in readonly_fields if isinstance(name, str)]
