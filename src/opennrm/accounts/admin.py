from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import request_access
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import Perm
from opennrm.core import audit
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

    # Like AdministratorOnlyAdmin: the administrator role, not Django's permission table (which grants nothing,
    # so without these the memberships would silently be missing from the user page).
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_access(request).has(Perm.USERS_MANAGE)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_access(request).has(Perm.USERS_MANAGE)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_access(request).has(Perm.USERS_MANAGE)

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

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        # Django's password view does not go through save_model: audit it here.
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            audit.record(
                actor=request.user,  # type: ignore[arg-type]
                action="accounts.user.password_changed",
                target=user,
                details={"via": "admin"},
            )
        return response


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    list_display = ["user", "agency", "role", "scope", "valid_from", "expires_at", "revoked_at"]
    list_filter = ["role", "scope", "agency"]
    search_fields = ["user__username", "agency__name"]
    autocomplete_fields = ["user", "agency"]
    readonly_fields = ["public_id"]
