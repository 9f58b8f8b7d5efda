"""Administrators register partners and watch deliveries here. Payloads are never shown: they may hold personal
data, and administrators see no case data."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from opennrm.accounts.models import User
from opennrm.cooperation import messaging, partners
from opennrm.cooperation.models import (
    InboxMessage,
    OutboxMessage,
    Partner,
    PartnerKey,
    PartnerStatus,
    Rejection,
)
from opennrm.core.admin_audit import AuditedModelAdmin
from opennrm.core.adminsite import AdministratorOnlyAdmin, _can_administer


class PartnerKeyInline(admin.TabularInline):
    """Keys are shown, never edited here: a key changed in a form would no longer match its id. Keys arrive
    through `coop_partner add`, which checks them, and are revoked with `coop_partner revoke-key`."""

    model = PartnerKey
    extra = 0
    fields = ["purpose", "key_id", "public_key", "created_at", "revoked_at"]
    readonly_fields = ["purpose", "key_id", "public_key", "created_at", "revoked_at"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_administer(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(AuditedModelAdmin, AdministratorOnlyAdmin):
    list_display = ["code", "country", "name", "base_url", "is_hub", "status"]
    list_filter = ["status", "is_hub"]
    fields = ["code", "country", "name", "base_url", "is_hub", "status", "revoked_at"]
    # The status changes only through the revoke action (final, audited); the code is the partner's identity.
    readonly_fields = ["code", "country", "status", "revoked_at"]
    inlines = [PartnerKeyInline]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `coop_partner add` registers a partner from its card, keys included

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the messages exchanged keep their partner

    @admin.action(description=_("Revoke the selected partners (final)"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        user = cast(User, request.user)
        for partner in queryset.filter(status=PartnerStatus.ACTIVE):
            partners.revoke_partner(actor=user, partner=partner)
        messages.success(request, _("The selected partners are revoked."))


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
    list_select_related = ["partner"]
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
        user = cast(User, request.user)
        chosen = list(queryset.select_related("partner"))
        scheduled = sum(messaging.retry_now(actor=user, message=message) for message in chosen)
        if scheduled:
            messages.success(
                request,
                ngettext(
                    "Delivery of %(count)d message will be attempted now.",
                    "Delivery of %(count)d messages will be attempted now.",
                    scheduled,
                )
                % {"count": scheduled},
            )
        if scheduled < len(chosen):
            messages.warning(
                request, _("Messages already delivered, or to a revoked partner, are not sent again.")
            )


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "partner", "type", "sent_at", "message_id"]
    list_filter = ["type", "partner"]
    list_select_related = ["partner"]
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
