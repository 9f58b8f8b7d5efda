"""What a user may do right now: the union of their active memberships.

Computed once per request (`request.access`) from memberships that are valid now; an expired or revoked
membership grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opennrm.accounts.models import Membership
from opennrm.accounts.roles import Perm, Scope

_SCOPE_RANK = {Scope.OWN: 0, Scope.AGENCY: 1, Scope.NATIONAL: 2}


@dataclass(frozen=True)
class Access:
    user_id: int | None
    memberships: tuple[Membership, ...]

    def has(self, perm: Perm) -> bool:
        return any(perm in m.permissions for m in self.memberships)

    def memberships_with(self, perm: Perm) -> list[Membership]:
        return [m for m in self.memberships if perm in m.permissions]

    def is_national(self, perm: Perm) -> bool:
        return any(m.scope == Scope.NATIONAL for m in self.memberships_with(perm))

    def agency_ids_with(self, perm: Perm, *, min_scope: Scope = Scope.OWN) -> set[int]:
        return {
            m.agency_id
            for m in self.memberships_with(perm)
            if _SCOPE_RANK[Scope(m.scope)] >= _SCOPE_RANK[min_scope]
        }

    @property
    def agency_ids(self) -> set[int]:
        return {m.agency_id for m in self.memberships}

    @property
    def primary(self) -> Membership | None:
        return self.memberships[0] if self.memberships else None


NO_ACCESS = Access(user_id=None, memberships=())


def access_for(user: Any, at: datetime | None = None) -> Access:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_ACCESS
    memberships = tuple(
        Membership.objects.active(at).filter(user=user).select_related("agency").order_by("id")
    )
    return Access(user_id=user.pk, memberships=memberships)


def set_acting_agency(access: Access) -> None:
    """Audit entries of this request name the agency of the user's first active membership."""
    from opennrm.core.context import agency_var

    if access.primary is not None:
        agency_var.set(access.primary.agency.public_id)


def request_access(request: Any) -> Access:
    """The request's access, computed at most once per request."""
    cached = getattr(request, "_opennrm_access", None)
    if cached is None or cached.user_id != getattr(request.user, "pk", None):
        cached = access_for(request.user)
        request._opennrm_access = cached
    return cached
