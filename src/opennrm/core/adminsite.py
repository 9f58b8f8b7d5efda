"""The Django admin, for administrators only, behind the same two-factor login and the same audit rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.roles import Perm


def _can_administer(request: HttpRequest) -> bool:
    from opennrm.accounts.access import request_access  # models are not loaded when the admin app config is

    return request_access(request).has(Perm.USERS_MANAGE)


class OpenNRMAdminSite(admin.AdminSite):
    site_header = _("OpenNRM administration")
    site_title = _("OpenNRM administration")
    index_title = _("Agencies, users and memberships")

    def has_permission(self, request: HttpRequest) -> bool:
        # Not Django's is_staff flag: the administrator role of an active membership.
        return request.user.is_active and _can_administer(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("accounts:login") + "?next=" + request.get_full_path())

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["available_apps"] = [
            a
            for a in context["available_apps"]
            if a["app_label"] in {"accounts", "referrals", "shelters", "inspections", "cooperation"}
        ]
        return context


class OpenNRMAdminConfig(AdminConfig):
    default_site = "opennrm.core.adminsite.OpenNRMAdminSite"


class AdministratorOnlyAdmin(admin.ModelAdmin):
    """Model permissions come from the administrator role, not from Django's per-model permission table."""

    def _allowed(self, request: HttpRequest) -> bool:
        return _can_administer(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing is deleted from here: deactivate, revoke, or let it expire
