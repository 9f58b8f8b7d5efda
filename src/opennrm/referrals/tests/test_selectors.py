"""Who sees which referral, the inbox, and what a provider may know of the person (need to know, audited)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from opennrm.accounts.access import access_for
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.services import withdraw_consent
from opennrm.core.models import AuditEntry
from opennrm.referrals import services
from opennrm.referrals.models import ReferralStatus
from opennrm.referrals.selectors import inbox, provider_view, referrals_visible_to
from opennrm.referrals.tests.factories import (
    FAMILY_NAME,
    GIVEN_NAME,
    GUARDIAN,
    ReferralFactory,
    ServiceTypeFactory,
    consent_to,
    scenario,
)

pytestmark = pytest.mark.django_db


def visible(user):
    return set(referrals_visible_to(access_for(user)))


def test_the_sending_side_and_the_receiving_agency_see_the_referral_and_nobody_else():
    s = scenario()
    referral = s.refer()
    consent_to(s.case, s.other_agency)
    to_other = services.refer_to_service(
        actor=s.case_worker,
        case=s.case,
        service=referral.service,
        to_agency=s.other_agency,
        from_agency=s.sender,
    )
    assert visible(s.case_worker) == {referral, to_other}
    # A provider sees the referrals to its agency, not the case's other referrals.
    assert visible(s.provider) == {referral}
    assert visible(member(Role.SERVICE_PROVIDER, agency=s.other_agency)) == {to_other}
    assert visible(member(Role.CASE_WORKER, agency=AgencyFactory())) == set()
    assert visible(member(Role.COORDINATOR, agency=AgencyFactory(), scope=Scope.NATIONAL)) == {
        referral,
        to_other,
    }
    for role in (Role.ANALYST, Role.ADMINISTRATOR, Role.AUDITOR, Role.FIRST_RESPONDER):
        assert visible(member(role, agency=s.sender)) == set(), role
        assert visible(member(role, agency=s.provider_agency)) == set(), role


def test_a_provider_keeps_seeing_a_finished_referral_but_not_the_case():
    s = scenario()
    referral = s.refer()
    services.decline_referral(actor=s.provider, referral=referral, reason="Full.")
    assert visible(s.provider) == {referral}
    with pytest.raises(PermissionDenied):
        provider_view(actor=s.provider, referral=referral)


def test_the_inbox_holds_what_was_sent_to_the_users_agencies():
    s = scenario()
    mine = s.refer()
    elsewhere = ReferralFactory()
    assert list(inbox(access_for(s.provider))) == [mine]
    assert list(inbox(access_for(s.provider), status=ReferralStatus.ACCEPTED)) == []
    assert list(inbox(access_for(s.case_worker))) == []
    assert elsewhere not in inbox(access_for(member(Role.SERVICE_PROVIDER, agency=s.provider_agency)))


def test_a_shelter_provider_sees_only_what_a_shelter_needs_and_the_read_is_audited():
    s = scenario(child=True)
    consent_to(s.case, s.provider_agency)
    referral = s.refer()

    shown = provider_view(actor=s.provider, referral=referral)

    assert list(shown) == [
        "given_name",
        "family_name",
        "sex",
        "age_group",
        "languages",
        "is_child",
        "guardian",
    ]
    assert shown["given_name"] == GIVEN_NAME and shown["family_name"] == FAMILY_NAME
    assert shown["guardian"] == GUARDIAN and shown["is_child"] is True
    for hidden in ("date_of_birth", "documents", "contacts", "address", "narrative", "other_names"):
        assert hidden not in shown
    person_read = AuditEntry.objects.get(action="person.read", actor=s.provider.public_id)
    assert person_read.target_id == s.case.person.public_id
    assert person_read.fields == ["given_name", "family_name", "sex", "languages"]
    case_read = AuditEntry.objects.get(action="case.read", actor=s.provider.public_id)
    assert case_read.target_id == s.case.public_id
    assert case_read.fields == ["age_group", "is_child", "guardian"]
    assert case_read.details == {"referral": referral.public_id}


def test_the_needs_of_another_service_give_other_fields():
    s = scenario()
    service = ServiceTypeFactory(needs=["date_of_birth", "documents", "narrative"])
    consent_to(s.case, s.other_agency)
    referral = services.refer_to_service(
        actor=s.case_worker, case=s.case, service=service, to_agency=s.other_agency, from_agency=s.sender
    )
    reader = member(Role.SERVICE_PROVIDER, agency=s.other_agency)
    shown = provider_view(actor=reader, referral=referral)
    assert set(shown) == {"date_of_birth", "documents", "narrative"}
    assert shown["documents"][0]["number"] == "13AB778421"


@pytest.mark.parametrize("who", ["case_worker", "other_provider", "coordinator"])
def test_nobody_but_the_receiving_agency_gets_the_provider_view(who):
    s = scenario()
    referral = s.refer()
    actor = {
        "case_worker": s.case_worker,
        "other_provider": member(Role.SERVICE_PROVIDER, agency=s.other_agency),
        "coordinator": member(Role.COORDINATOR, agency=s.provider_agency, scope=Scope.NATIONAL),
    }[who]
    with pytest.raises(PermissionDenied):
        provider_view(actor=actor, referral=referral)
    assert not AuditEntry.objects.filter(action="person.read").exists()


def test_after_withdrawal_the_provider_view_is_closed():
    s = scenario()
    referral = s.accepted()
    services.withdraw_referral(actor=s.case_worker, referral=referral)
    referral.refresh_from_db()
    with pytest.raises(PermissionDenied):
        provider_view(actor=s.provider, referral=referral)


def test_when_the_person_withdraws_their_consent_the_provider_view_closes():
    s = scenario()
    referral = s.refer()
    assert provider_view(actor=s.provider, referral=referral)
    withdraw_consent(actor=s.case_worker, consent=referral.consent)
    with pytest.raises(PermissionDenied):
        provider_view(actor=s.provider, referral=referral)
