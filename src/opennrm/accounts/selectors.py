from __future__ import annotations

from django.db.models import QuerySet

from opennrm.accounts.access import Access
from opennrm.accounts.models import Agency, ApiToken, Membership, User
from opennrm.accounts.roles import Perm


def agencies_visible_to(access: Access) -> QuerySet[Agency]:
    """Agencies whose page (and staff) the user may see: their own, or all with national staff oversight."""
    if access.is_national(Perm.AGENCY_VIEW_STAFF) or access.is_national(Perm.USERS_MANAGE):
        return Agency.objects.all()
    return Agency.objects.filter(pk__in=access.agency_ids)


def agencies_with_staff_visible_to(access: Access) -> QuerySet[Agency]:
    """Agencies whose staff the user may list: with `agency.view_staff` there, or nationally."""
    if access.is_national(Perm.AGENCY_VIEW_STAFF) or access.is_national(Perm.USERS_MANAGE):
        return Agency.objects.all()
    return Agency.objects.filter(pk__in=access.agency_ids_with(Perm.AGENCY_VIEW_STAFF))


def staff_of(*, access: Access, agency: Agency) -> QuerySet[Membership]:
    """Active memberships of an agency, if the user may list its staff (none otherwise)."""
    return (
        Membership.objects.active()
        .filter(agency=agency, agency__in=agencies_with_staff_visible_to(access))
        .select_related("user")
        .order_by("user__last_name", "user__username", "role")
    )


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)
