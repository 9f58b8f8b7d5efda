from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency, Membership, User
from opennrm.core.admin_audit import AuditedModelAdmin
from opennrm.core.adminsite import AdministratorOnlyAdmin


@admin.register(Agency)
class AgencyAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    list_display = ["name", "kind", "country", "region", "is_active"]
    list_filter = ["kind", "country", "is_active"]
    search_fields = ["name", "short_name"]
    readonly_fields = ["public_id"]


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["agency", "role", "scope", "valid_from", "expires_at", "revoked_at"]
    autocomplete_fields = ["agency"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(AuditedModelAdmin, AdministratorOnlyAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = AdminUserCreationForm
    list_display = ["username", "first_name", "last_name", "is_active", "last_login"]
    list_filter = ["is_active"]
    readonly_fields = ["public_id", "last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("public_id", "username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email", "preferred_language")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
    )
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    list_display = ["user", "agency", "role", "scope", "valid_from", "expires_at", "revoked_at"]
    list_filter = ["role", "scope", "agency"]
    search_fields = ["user__username", "agency__name"]
    autocomplete_fields = ["user", "agency"]
    readonly_fields = ["public_id"]
