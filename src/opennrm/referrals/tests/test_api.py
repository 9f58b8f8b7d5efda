"""The referrals API for every role: scoped like the pages (404 for what is not visible or not allowed on an
object, 403 for a role without the endpoint's permission), the consent gate, the provider's need-to-know view."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.core.models import AuditEntry
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery
from opennrm.referrals.tests.factories import (
    DOCUMENT_NUMBER,
    FAMILY_NAME,
    GIVEN_NAME,
    NARRATIVE,
    consent_to,
    scenario,
)

pytestmark = pytest.mark.django_db

ROLES = list(Role)
MISSING_ID = "aaaaaaaaaaaaaaaaaaaaaaaa"
API = "/api/v1"


def has(role: Role, *perms: Perm) -> bool:
    return bool(ROLE_PERMISSIONS[role] & set(perms))


def agency_of(s, side: str):
    return {"sender": s.sender, "provider": s.provider_agency, "other": s.other_agency}[side]


def sees(role: Role, side: str) -> bool:
    return (side == "sender" and has(role, Perm.CASE_VIEW, Perm.REFERRAL_SEND)) or (
        side == "provider" and has(role, Perm.REFERRAL_RESPOND, Perm.SERVICE_RECORD)
    )


def post(client, path, data=None):
    return client.post(path, data or {}, content_type="application/json")


# --- catalogue ------------------------------------------------------------------------------------------


def test_the_catalogue_lists_the_countrys_active_services():
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    body = client.get(f"{API}/services/").json()
    codes = {s["code"] for s in body["results"]}
    assert {"shelter", "medical", "legal_aid", "interpretation"} <= codes
    shelter = next(s for s in body["results"] if s["code"] == "shelter")
    assert (
        shelter["country"] == "GE"
        and shelter["names"]["ka"] == "თავშესაფარი"
        and "given_name" in shelter["needs"]
    )
    ua = client.get(f"{API}/services/?country=UA").json()["results"]
    assert ua and all(s["country"] == "UA" for s in ua)


def test_the_api_needs_credentials():
    assert Client().get(f"{API}/referrals/").status_code == 401
    assert Client().get(f"{API}/services/").status_code == 401


# --- list, detail, inbox: role matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_list_and_detail_for_each_role_on_each_side(role, side):
    s = scenario()
    referral = s.refer()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    listing = client.get(f"{API}/referrals/")
    detail = client.get(f"{API}/referrals/{referral.public_id}/")
    if sees(role, side):
        assert listing.status_code == 200
        assert [r["id"] for r in listing.json()["results"]] == [referral.public_id]
        assert detail.status_code == 200 and detail.json()["case_reference"] == s.case.reference
    else:
        may_list = has(role, Perm.CASE_VIEW, Perm.REFERRAL_SEND, Perm.REFERRAL_RESPOND, Perm.SERVICE_RECORD)
        assert listing.status_code == (200 if may_list else 403)
        if may_list:
            assert listing.json()["results"] == []
        assert detail.status_code == 404
    assert client.get(f"{API}/referrals/{MISSING_ID}/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_inbox_for_each_role(role):
    s = scenario()
    referral = s.refer()
    response = logged_in_client(member(role, agency=s.provider_agency)).get(f"{API}/referrals/inbox/")
    if has(role, Perm.REFERRAL_RESPOND):
        assert response.status_code == 200
        assert [r["id"] for r in response.json()["results"]] == [referral.public_id]
    else:
        assert response.status_code == 403


def test_the_list_holds_no_free_text_and_no_identity():
    s = scenario()
    s.refer(reason="Needs a bed; speaks Russian.")
    body = logged_in_client(s.provider).get(f"{API}/referrals/").content.decode()
    assert "Needs a bed" not in body and GIVEN_NAME not in body


# --- create: the consent gate -------------------------------------------------------------------------------


def create(client, s, **changes):
    data = {
        "case": s.case.public_id,
        "service": "shelter",
        "to_agency": s.provider_agency.public_id,
        "reason": "A bed for a month.",
    }
    data.update(changes)
    return post(client, f"{API}/referrals/", data)


def test_create_without_consent_is_refused_and_writes_nothing():
    s = scenario()
    response = create(logged_in_client(s.case_worker), s)
    assert response.status_code == 400
    assert response.json()["code"] == "consent_required"
    assert not Referral.objects.exists()


def test_create_with_consent():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    response = create(logged_in_client(s.case_worker), s)
    assert response.status_code == 201
    body = response.json()
    referral = Referral.objects.get()
    assert body["id"] == referral.public_id and body["status"] == "pending" and body["basis"] == "consent"
    assert body["from_agency"]["id"] == s.sender.public_id and body["actions"] == ["withdraw"]


def test_create_for_a_child_on_a_lawful_basis_is_audited():
    s = scenario(child=True)
    response = create(logged_in_client(s.case_worker), s, override_basis="child_best_interests")
    assert response.status_code == 201 and response.json()["basis"] == "child_best_interests"
    assert AuditEntry.objects.filter(action="referral.consent_override", target_id=s.case.public_id).exists()


def test_create_on_a_legal_obligation_needs_the_justification():
    s = scenario()
    client = logged_in_client(s.case_worker)
    response = create(client, s, override_basis="legal_obligation")
    assert response.status_code == 400 and response.json()["code"] == "justification_required"
    assert (
        create(client, s, override_basis="legal_obligation", override_justification="art. 18").status_code
        == 201
    )


@pytest.mark.parametrize("role", [r for r in ROLES if r != Role.CASE_WORKER])
def test_roles_that_do_not_refer_cannot_create(role):
    s = scenario()
    consent_to(s.case, s.provider_agency)
    assert create(logged_in_client(member(role, agency=s.sender)), s).status_code == 403
    assert not Referral.objects.exists()


def test_a_case_worker_of_another_agency_gets_404_like_a_missing_case():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    client = logged_in_client(member(Role.CASE_WORKER, agency=s.other_agency))
    assert create(client, s).status_code == 404
    assert create(client, s, case=MISSING_ID).status_code == 404
    assert not Referral.objects.exists()


def test_create_validates_the_service_and_the_agencies():
    s = scenario()
    client = logged_in_client(s.case_worker)
    response = create(
        client, s, service="massage", to_agency=MISSING_ID, from_agency=s.other_agency.public_id
    )
    assert response.status_code == 400
    assert set(response.json()) == {"service", "to_agency", "from_agency"}


# --- acts: role matrix --------------------------------------------------------------------------------

ACTS = {
    "accept": ({}, ReferralStatus.PENDING, "provider", Perm.REFERRAL_RESPOND, ReferralStatus.ACCEPTED),
    "decline": (
        {"reason": "Full."},
        ReferralStatus.PENDING,
        "provider",
        Perm.REFERRAL_RESPOND,
        ReferralStatus.DECLINED,
    ),
    "complete": ({}, ReferralStatus.ACCEPTED, "provider", Perm.REFERRAL_RESPOND, ReferralStatus.COMPLETED),
    "withdraw": ({}, ReferralStatus.PENDING, "sender", Perm.REFERRAL_SEND, ReferralStatus.WITHDRAWN),
}


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("role", ROLES)
def test_acts_for_each_role_on_each_side(role, act, side):
    data, needs, acting_side, perm, after = ACTS[act]
    s = scenario()
    referral = s.accepted() if needs == ReferralStatus.ACCEPTED else s.refer()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    response = post(client, f"{API}/referrals/{referral.public_id}/{act}/", data)
    if side == acting_side and has(role, perm):
        assert response.status_code == 200
        assert response.json()["status"] == after
    else:
        assert response.status_code == 404
    assert Referral.objects.get().status == (after if response.status_code == 200 else needs)


def test_an_act_out_of_order_is_a_400_with_the_reason():
    s = scenario()
    referral = s.refer()
    response = post(
        logged_in_client(s.provider), f"{API}/referrals/{referral.public_id}/decline/", {"reason": ""}
    )
    assert response.status_code == 400
    assert Referral.objects.get().status == ReferralStatus.PENDING


# --- deliveries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["sender", "provider", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_deliveries_for_each_role_on_each_side(role, side):
    s = scenario()
    referral = s.accepted()
    client = logged_in_client(member(role, agency=agency_of(s, side)))
    path = f"{API}/referrals/{referral.public_id}/deliveries/"
    today = timezone.localdate().isoformat()
    created = post(client, path, {"start_date": today, "description": "Night stay"})
    listed = client.get(path)
    if side == "provider" and has(role, Perm.SERVICE_RECORD):
        assert created.status_code == 201 and created.json()["start_date"] == today
    else:
        assert created.status_code == 404
    if sees(role, side):
        assert listed.status_code == 200
        assert len(listed.json()) == ServiceDelivery.objects.count()
    else:
        assert listed.status_code == 404


def test_delivery_date_rules_answer_400():
    s = scenario()
    referral = s.accepted()
    path = f"{API}/referrals/{referral.public_id}/deliveries/"
    client = logged_in_client(s.provider)
    response = post(client, path, {"start_date": "2999-01-01"})
    assert response.status_code == 400 and response.json()["code"] == "future_date"
    assert not ServiceDelivery.objects.exists()


# --- the provider's view of the person ---------------------------------------------------------------------


def test_the_shelter_provider_gets_only_what_a_shelter_needs():
    s = scenario()
    referral = s.refer()
    response = logged_in_client(s.provider).get(f"{API}/referrals/{referral.public_id}/person/")
    assert response.status_code == 200
    person = response.json()["person"]
    assert person["given_name"] == GIVEN_NAME and person["family_name"] == FAMILY_NAME
    assert set(person) == {
        "given_name",
        "family_name",
        "sex",
        "age_group",
        "languages",
        "is_child",
        "guardian",
    }
    raw = response.content.decode()
    for hidden in (DOCUMENT_NUMBER, NARRATIVE, "1994-03-17", "date_of_birth", "documents", "narrative"):
        assert hidden not in raw
    read = AuditEntry.objects.get(action="person.read", actor=s.provider.public_id)
    assert read.fields == ["given_name", "family_name", "sex", "languages"]


@pytest.mark.parametrize("who", ["case_worker", "other_provider", "coordinator", "after_decline"])
def test_nobody_else_gets_the_person(who):
    s = scenario()
    referral = s.refer()
    user = {
        "case_worker": s.case_worker,
        "other_provider": member(Role.SERVICE_PROVIDER, agency=s.other_agency),
        "coordinator": member(Role.COORDINATOR, agency=s.sender, scope=Scope.NATIONAL),
        "after_decline": s.provider,
    }[who]
    if who == "after_decline":
        post(
            logged_in_client(s.provider),
            f"{API}/referrals/{referral.public_id}/decline/",
            {"reason": "Full."},
        )
    response = logged_in_client(user).get(f"{API}/referrals/{referral.public_id}/person/")
    assert response.status_code == 404
    assert GIVEN_NAME not in response.content.decode()
    assert not AuditEntry.objects.filter(action="person.read").exists()


def test_the_justification_is_for_the_sending_side_only():
    s = scenario()
    referral = s.refer(override_basis="legal_obligation", override_justification="Criminal Code art. 143")
    sender = logged_in_client(s.case_worker).get(f"{API}/referrals/{referral.public_id}/").json()
    provider = logged_in_client(s.provider).get(f"{API}/referrals/{referral.public_id}/").json()
    assert sender["override_justification"] == "Criminal Code art. 143"
    assert provider["override_justification"] == "" and provider["basis"] == "legal_obligation"


# --- schema -------------------------------------------------------------------------------------------------


def test_the_schema_documents_the_referral_endpoints():
    response = logged_in_client(member(Role.CASE_WORKER)).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/services/",
        "/api/v1/referrals/",
        "/api/v1/referrals/inbox/",
        "/api/v1/referrals/{public_id}/",
        "/api/v1/referrals/{public_id}/person/",
        "/api/v1/referrals/{public_id}/accept/",
        "/api/v1/referrals/{public_id}/decline/",
        "/api/v1/referrals/{public_id}/complete/",
        "/api/v1/referrals/{public_id}/withdraw/",
        "/api/v1/referrals/{public_id}/deliveries/",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/referrals/"] and "get" in paths["/api/v1/referrals/"]
