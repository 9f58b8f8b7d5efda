from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from opennrm.accounts.access import request_access
from opennrm.accounts.roles import Perm


def _nav(request: HttpRequest) -> dict[str, bool]:
    access = request_access(request)
    return {
        "audit": access.has(Perm.AUDIT_VIEW),
        "admin": access.has(Perm.USERS_MANAGE),
        "cases": access.has(Perm.CASE_VIEW) or access.has(Perm.CASE_REFER),
        "refer": access.has(Perm.CASE_REFER),
        "queue": access.has(Perm.DECISION_MAKE),
        "inbox": access.has(Perm.REFERRAL_RESPOND),
        "stats": access.has(Perm.STATS_VIEW),
        "exchange": access.has(Perm.STATS_EXPORT)
        or (access.has(Perm.CASE_EDIT) and access.has(Perm.CASE_VIEW_IDENTITY)),
        "shelters": any(access.has(p) for p in (Perm.SHELTER_OPERATE, Perm.SHELTER_OVERSEE, Perm.STATS_VIEW)),
        "cross_border_inbox": access.is_national(Perm.TRANSNATIONAL_RECEIVE),
        "cross_border_sent": access.has(Perm.TRANSNATIONAL_SEND),
        "hub": settings.OPENNRM_COOP_IS_HUB and access.has(Perm.STATS_VIEW),
        "duplicates": access.is_national(Perm.CASE_VIEW),
        "inspections": any(
            m.agency.kind == "labour_inspection" for m in access.memberships_with(Perm.INSPECTION_RECORD)
        )
        or (access.is_national(Perm.CASE_VIEW) and access.has(Perm.STATS_VIEW)),
    }


def platform(request: HttpRequest) -> dict[str, Any]:
    return {
        "OPENNRM_COUNTRY": settings.OPENNRM_COUNTRY,
        "LANGUAGES": settings.LANGUAGES,
        "nav": SimpleLazyObject(lambda: _nav(request)),
    }
