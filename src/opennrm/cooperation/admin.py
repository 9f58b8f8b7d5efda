"""Administrators register partners and watch deliveries here. Payloads are never shown: they may hold personal
data, and administrators see no case data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from opennrm.cooperation import messaging
from opennrm.cooperation.models import InboxMessage, OutboxMessage, Partner, PartnerKey, Rejection
from opennrm.core.admin_audit import AuditedModelAdmin
from opennrm.core.adminsite import AdministratorOnlyAdmin


class PartnerKeyInline(admin.TabularInline):
    model = PartnerKey
    extra = 0
    fields = ["purpose", "key_id", "public_key", "created_at", "revoked_at"]
    readonly_fields = ["key_id", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # keys arrive through `coop_partner add`, which checks them and computes their ids


@admin.register(Partner)
class PartnerAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    list_display = ["code", "country", "name", "base_url", "is_hub", "status"]
    list_filter = ["status", "is_hub"]
    fields = ["code", "country", "name", "base_url", "is_hub", "status", "revoked_at"]
    readonly_fields = ["revoked_at"]
    inlines = [PartnerKeyInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the messages exchanged keep their partner


class ReadOnlyAdmin(AdministratorOnlyAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "partner",
        "type",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "type", "partner"]
    fields = [
        "message_id",
        "partner",
        "type",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
        "created_at",
    ]
    actions = ["retry_now"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request) if obj is None else False  # the list's action, not editing

    @admin.action(description=_("Try to deliver the selected messages now"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        for message in queryset:
            messaging.retry_now(message)
        messages.success(request, _("Delivery will be attempted now."))


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "partner", "type", "sent_at", "message_id"]
    list_filter = ["type", "partner"]
    fields = ["message_id", "partner", "type", "sent_at", "created_at"]


@admin.register(Rejection)
class RejectionAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "reason",
        "claimed_sender",
        "claimed_type",
        "claimed_message_id",
        "detail",
        "remote_addr",
    ]
    list_filter = ["reason"]
    fields = ["at", "reason", "claimed_sender", "claimed_type", "claimed_message_id", "detail", "remote_addr"]
