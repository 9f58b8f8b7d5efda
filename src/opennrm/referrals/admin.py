from __future__ import annotations

from django.contrib import admin

from opennrm.core.admin_audit import AuditedModelAdmin
from opennrm.core.adminsite import AdministratorOnlyAdmin
from opennrm.referrals.models import ServiceType


@admin.register(ServiceType)
class ServiceTypeAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    """The catalogue. `manage.py load_catalogue` reloads it from catalogue.yaml and overwrites edits made here
    to the services the file lists: change the file for anything that should last."""

    list_display = ["code", "name", "country", "category", "is_active"]
    list_filter = ["country", "category", "is_active"]
    search_fields = ["code"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    fields = [
        "public_id",
        "country",
        "code",
        "category",
        "names",
        "needs",
        "provider_kinds",
        "is_active",
        "created_at",
        "updated_at",
    ]
    ordering = ["country", "category", "code"]
