"""The referral pages for every role: the inbox, a referral and its acts, the referral form, the case panel.

Allowed roles succeed; other roles get 404, like a member of another agency, like an id that does not exist.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import MembershipFactory, logged_in_client, member
from opennrm.cases.choices import ConsentPurpose
from opennrm.cases.models import Consent
from opennrm.cases.services import close_case
from opennrm.core.models import AuditEntry
from opennrm.referrals import services
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery
from opennrm.referrals.panels import case_panel
from opennrm.referrals.tests.factories import (
    DOCUMENT_NUMBER,
    FAMILY_NAME,
    GIVEN_NAME,
    NARRATIVE,
    PHONE,
    catalogue_service,
    consent_to,
    scenario,
)

pytestmark = pytest.mark.django_db

ROLES = list(Role)
MISSING_ID = "aaaaaaaaaaaaaaaaaaaaaaaa"


def has(role: Role, *perms: Perm) -> bool:
    return bool(ROLE_PERMISSIONS[role] & set(perms))


def agency_of(s, side: str):
    return {"sender": s.sender, "provider": s.provider_agency, "other": s.other_agency}[side]


def page_404_like_missing(client, path: str, hidden_id: str) -> None:
    response, missing = client.get(path), client.get(path.replace(hidden_id, MISSING_ID))
    assert response.status_code == 404
    assert missing.status_code == 404


# --- role matrix: pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_inbox_for_the_roles_that_answer_referrals(role):
    s = scenario()
    referral = s.refer()
    client = logged_in_client(member(role, agency=s.provider_agency))
    response = client.get("/referrals/")
    if has(role, Perm.REFERRAL_RESPOND):
        assert response.status_code == 200
        html = response.content.decode()
        assert f"/referrals/{referral.public_id}/" in html and s.case.reference in html
    else:
        assert response.status_code == 404


def test_the_inbox_of_another_agency_is_empty():
    s = scenario()
    s.refer()
    html = (
        logged_in_client(member(Role.SERVICE_PROVIDER, agency=s.other_agency))
        .get("/referrals/")
        .content.decode()
    )
    assert s.case.reference not in html


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_referral_page_for_each_role_on_each_side(role, side):
    s = scenario()
    referral = s.refer()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    path = f"/referrals/{referral.public_id}/"
    allowed = (side == "sender" and has(role, Perm.CASE_VIEW, Perm.REFERRAL_SEND)) or (
        side == "provider" and has(role, Perm.REFERRAL_RESPOND, Perm.SERVICE_RECORD)
    )
    if allowed:
        response = client.get(path)
        assert response.status_code == 200
        assert s.case.reference in response.content.decode()
    else:
        page_404_like_missing(client, path, referral.public_id)


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_referral_form_for_each_role_on_each_side(role, side):
    s = scenario()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    path = f"/referrals/case/{s.case.public_id}/new/"
    if side == "sender" and has(role, Perm.REFERRAL_SEND):
        response = client.get(path)
        assert response.status_code == 200
        assert 'name="service"' in response.content.decode()
    else:
        page_404_like_missing(client, path, s.case.public_id)
        assert client.post(path, {"service": catalogue_service().pk}).status_code == 404


# --- role matrix: acts ----------------------------------------------------------------------------------

ACTS = {
    # act: (path suffix, data, the status it needs first, the side that acts, the permission, status after)
    "accept": (
        "accept/",
        {},
        ReferralStatus.PENDING,
        "provider",
        Perm.REFERRAL_RESPOND,
        ReferralStatus.ACCEPTED,
    ),
    "decline": (
        "decline/",
        {"reason": "Full tonight."},
        ReferralStatus.PENDING,
        "provider",
        Perm.REFERRAL_RESPOND,
        ReferralStatus.DECLINED,
    ),
    "complete": (
        "complete/",
        {},
        ReferralStatus.ACCEPTED,
        "provider",
        Perm.REFERRAL_RESPOND,
        ReferralStatus.COMPLETED,
    ),
    "withdraw": (
        "withdraw/",
        {},
        ReferralStatus.PENDING,
        "sender",
        Perm.REFERRAL_SEND,
        ReferralStatus.WITHDRAWN,
    ),
}


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("role", ROLES)
def test_acts_for_each_role_on_each_side(role, act, side):
    suffix, data, needs, acting_side, perm, after = ACTS[act]
    s = scenario()
    referral = s.accepted() if needs == ReferralStatus.ACCEPTED else s.refer()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    response = client.post(f"/referrals/{referral.public_id}/{suffix}", data)
    if side == acting_side and has(role, perm):
        assert response.status_code == 302
        assert response["Location"] == f"/referrals/{referral.public_id}/"
        assert Referral.objects.get().status == after
    else:
        assert response.status_code == 404
        assert Referral.objects.get().status == needs


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_recording_a_service_for_each_role_on_each_side(role, side):
    s = scenario()
    referral = s.accepted()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    today = timezone.localdate().isoformat()
    response = client.post(f"/referrals/{referral.public_id}/deliveries/", {"start_date": today})
    if side == "provider" and has(role, Perm.SERVICE_RECORD):
        assert response.status_code == 302
        assert ServiceDelivery.objects.get().start_date.isoformat() == today
    else:
        assert response.status_code == 404
        assert not ServiceDelivery.objects.exists()


def test_acts_answer_only_post():
    s = scenario()
    referral = s.refer()
    client = logged_in_client(s.provider)
    for suffix in ("accept/", "decline/", "complete/", "withdraw/", "deliveries/"):
        assert client.get(f"/referrals/{referral.public_id}/{suffix}").status_code == 405
    assert Referral.objects.get().status == ReferralStatus.PENDING


# --- what the pages show ----------------------------------------------------------------------------------


def test_the_shelter_provider_sees_the_given_name_but_not_the_rest_of_the_identity():
    s = scenario()
    referral = s.refer(reason="Needs a bed tonight.")
    response = logged_in_client(s.provider).get(f"/referrals/{referral.public_id}/")
    html = response.content.decode()
    person = re.search(r'<dl class="facts" id="provider-view">(.*?)</dl>', html, re.S).group(1)
    assert GIVEN_NAME in person and FAMILY_NAME in person
    for hidden in (DOCUMENT_NUMBER, NARRATIVE, PHONE, "1994", "17.03", "03/17", "passport", "Passport"):
        assert hidden not in html, hidden
    assert "Needs a bed tonight." in html
    read = AuditEntry.objects.get(action="person.read", actor=s.provider.public_id)
    assert read.fields == ["given_name", "family_name", "sex", "languages"]
    assert read.target_id == s.case.person.public_id
    assert AuditEntry.objects.filter(
        action="referral.read", actor=s.provider.public_id, fields=["reason"]
    ).exists()
    # The provider answers from here.
    assert f'action="/referrals/{referral.public_id}/accept/"' in html
    assert f'action="/referrals/{referral.public_id}/decline/"' in html
    assert "withdraw/" not in html


def test_the_sending_side_sees_what_the_provider_is_shown_but_no_identity_here():
    s = scenario()
    referral = s.refer()
    html = logged_in_client(s.case_worker).get(f"/referrals/{referral.public_id}/").content.decode()
    assert GIVEN_NAME not in html and FAMILY_NAME not in html
    assert "given name" in html and "languages" in html  # the fields the shelter is shown, by name
    assert f'action="/referrals/{referral.public_id}/withdraw/"' in html
    assert "accept/" not in html
    assert f'href="/cases/{s.case.public_id}/"' in html
    assert not AuditEntry.objects.filter(action="person.read").exists()


def test_after_a_decline_the_provider_no_longer_sees_the_person():
    s = scenario()
    referral = s.refer()
    client = logged_in_client(s.provider)
    client.post(f"/referrals/{referral.public_id}/decline/", {"reason": "No place."})
    html = client.get(f"/referrals/{referral.public_id}/").content.decode()
    assert GIVEN_NAME not in html
    assert "No place." in html


def test_declining_without_a_reason_shows_the_error_and_changes_nothing():
    s = scenario()
    referral = s.refer()
    response = logged_in_client(s.provider).post(f"/referrals/{referral.public_id}/decline/", {"reason": ""})
    assert response.status_code == 200
    assert 'class="field has-error"' in response.content.decode()
    assert Referral.objects.get().status == ReferralStatus.PENDING


def test_a_refused_act_is_explained_and_changes_nothing():
    s = scenario()
    referral = s.refer()
    close_case(actor=s.case_worker, case=s.case, reason="other")
    client = logged_in_client(s.provider)
    response = client.post(f"/referrals/{referral.public_id}/accept/", follow=True)
    assert "no longer be accepted" in response.content.decode()
    assert Referral.objects.get().status == ReferralStatus.PENDING


def test_deliveries_are_listed_and_bad_dates_are_form_errors():
    s = scenario()
    referral = s.accepted()
    client = logged_in_client(s.provider)
    path = f"/referrals/{referral.public_id}/deliveries/"
    today = timezone.localdate()
    future = client.post(path, {"start_date": (today + dt.timedelta(days=2)).isoformat()})
    assert future.status_code == 200 and "cannot be in the future" in future.content.decode()
    backwards = client.post(
        path, {"start_date": today.isoformat(), "end_date": (today - dt.timedelta(days=1)).isoformat()}
    )
    assert "cannot be before the start date" in backwards.content.decode()
    assert not ServiceDelivery.objects.exists()
    client.post(path, {"start_date": today.isoformat(), "description": "Medical check-up"})
    html = client.get(f"/referrals/{referral.public_id}/").content.decode()
    assert "Medical check-up" in html
    reads = AuditEntry.objects.filter(action="referral.read", actor=s.provider.public_id)
    assert any("deliveries.description" in entry.fields for entry in reads)


# --- the referral form ----------------------------------------------------------------------------------


def form_data(s, **changes):
    data = {
        "service": catalogue_service().pk,
        "to_agency": s.provider_agency.pk,
        "reason": "A bed for a month.",
    }
    data.update(changes)
    return data


def new_referral_path(s) -> str:
    return f"/referrals/case/{s.case.public_id}/new/"


def test_without_consent_the_form_asks_for_it_and_sends_nothing():
    s = scenario()
    response = logged_in_client(s.case_worker).post(new_referral_path(s), form_data(s))
    assert response.status_code == 200
    html = response.content.decode()
    assert "has not consented" in html and 'role="alert"' in html
    assert not Referral.objects.exists()


def test_the_form_shows_the_consents_on_file():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    html = logged_in_client(s.case_worker).get(new_referral_path(s)).content.decode()
    consents = re.search(r'<ul id="consents">(.*?)</ul>', html, re.S).group(1)
    assert s.provider_agency.name in consents and s.other_agency.name not in consents
    assert "consent on file" in html


def test_the_persons_consent_given_now_is_recorded_with_the_referral():
    s = scenario()
    response = logged_in_client(s.case_worker).post(new_referral_path(s), form_data(s, consent_now="on"))
    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/referrals/{referral.public_id}/"
    consent = Consent.objects.get(purpose=ConsentPurpose.REFERRAL)
    assert consent.agency == s.provider_agency and referral.consent == consent
    assert referral.from_agency == s.sender and referral.reason == "A bed for a month."


def test_a_refused_referral_does_not_keep_the_consent_recorded_with_it():
    s = scenario()
    # The agency does not provide medical care: the referral is refused, and the consent with it.
    response = logged_in_client(s.case_worker).post(
        new_referral_path(s), form_data(s, consent_now="on", service=catalogue_service("legal_aid").pk)
    )
    assert response.status_code == 200
    assert "does not provide" in response.content.decode()
    assert not Referral.objects.exists()
    assert not Consent.objects.filter(purpose=ConsentPurpose.REFERRAL).exists()


def test_a_legal_obligation_needs_its_justification_in_the_form():
    s = scenario()
    client = logged_in_client(s.case_worker)
    response = client.post(new_referral_path(s), form_data(s, override_basis="legal_obligation"))
    assert response.status_code == 200 and not Referral.objects.exists()
    client.post(
        new_referral_path(s),
        form_data(
            s,
            override_basis="legal_obligation",
            override_justification="Law on Combating Trafficking, art. 18",
        ),
    )
    assert Referral.objects.get().override_basis == "legal_obligation"
    assert AuditEntry.objects.filter(action="referral.consent_override").exists()


def test_child_bases_are_offered_for_a_child_only():
    adult = scenario()
    html = logged_in_client(adult.case_worker).get(new_referral_path(adult)).content.decode()
    assert 'value="child_best_interests"' not in html and 'value="legal_obligation"' in html
    child = scenario(child=True)
    client = logged_in_client(child.case_worker)
    assert 'value="child_best_interests"' in client.get(new_referral_path(child)).content.decode()
    client.post(new_referral_path(child), form_data(child, override_basis="child_best_interests"))
    assert Referral.objects.get().override_basis == "child_best_interests"


def test_consent_and_an_override_together_are_refused():
    s = scenario()
    response = logged_in_client(s.case_worker).post(
        new_referral_path(s),
        form_data(s, consent_now="on", override_basis="legal_obligation", override_justification="art. 1"),
    )
    assert response.status_code == 200 and not Referral.objects.exists()
    assert not Consent.objects.filter(purpose=ConsentPurpose.REFERRAL).exists()


def test_a_user_of_several_agencies_chooses_on_whose_behalf():
    s = scenario()
    national = member(Role.CASE_WORKER, agency=s.other_agency, scope=Scope.NATIONAL)
    MembershipFactory(user=national, agency=s.sender, role=Role.CASE_WORKER)
    client = logged_in_client(national)
    html = client.get(new_referral_path(s)).content.decode()
    assert 'name="from_agency"' in html
    consent_to(s.case, s.provider_agency)
    client.post(new_referral_path(s), form_data(s, from_agency=s.other_agency.pk))
    assert Referral.objects.get().from_agency == s.other_agency
    single = logged_in_client(s.case_worker).get(new_referral_path(s)).content.decode()
    assert 'name="from_agency"' not in single


# --- the case panel -------------------------------------------------------------------------------------


def panel_for(user, case):
    request = RequestFactory().get("/")
    request.user = user
    return case_panel(request, case)


def test_the_case_panel_lists_the_referrals_and_offers_the_form_to_who_may_refer():
    s = scenario()
    referral = s.refer()
    panel = panel_for(s.case_worker, s.case)
    assert panel is not None and panel.template == "referrals/_case_panel.html"
    assert panel.context["referrals"] == [referral] and panel.context["can_refer"] is True
    html = render_to_string(panel.template, {"ctx": panel.context, "case": s.case})
    assert f"/referrals/{referral.public_id}/" in html and new_referral_path(s) in html


def test_the_case_panel_of_a_provider_shows_only_their_referral_and_no_form():
    s = scenario()
    mine = s.refer()
    consent_to(s.case, s.other_agency)
    services.refer_to_service(
        actor=s.case_worker,
        case=s.case,
        service=catalogue_service(),
        to_agency=s.other_agency,
        from_agency=s.sender,
    )
    panel = panel_for(s.provider, s.case)
    assert panel.context["referrals"] == [mine] and panel.context["can_refer"] is False
    html = render_to_string(panel.template, {"ctx": panel.context, "case": s.case})
    assert "/new/" not in html


def test_no_case_panel_for_who_has_nothing_to_see_in_it():
    s = scenario()
    assert panel_for(member(Role.DECISION_MAKER, agency=s.sender), s.case) is None
    close_case(actor=s.case_worker, case=s.case, reason="other")
    assert panel_for(s.case_worker, s.case) is None
