"""The referral and anonymous notification pages: who may use them, what a refused referral leaves behind (nothing),
and the duplicate check that runs before anything is created."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases.models import Case, CaseEvent, Consent, Notification, Person
from opennrm.cases.services import IntakeData, refer_person
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

REFERRERS = [r for r in Role if Perm.CASE_REFER in ROLE_PERMISSIONS[r]]
OTHERS = [r for r in Role if r not in REFERRERS]


def state_fund():
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    member(Role.CASE_WORKER, agency=fund)
    return fund


def referral(**overrides) -> dict:
    data = {
        "consent": "yes",
        "given_name": "Nino",
        "family_name": "Beridze",
        "date_of_birth": "1990-05-31",
        "sex": "feminine",
        "citizenship": "GE",
        "first_contact_date": timezone.localdate().isoformat(),
        "region": "GE-TB",
        "exploitation_forms": ["forced_labour"],
        "exploitation_country": "TR",
        "narrative": "Worked without pay in a hotel.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def existing_case(owner, *, given="Nino", family="Beridze", born=dt.date(1990, 5, 31), document="") -> Case:
    actor = member(Role.CASE_WORKER, agency=owner)
    return refer_person(
        actor=actor,
        referring_agency=owner,
        owning_agency=owner,
        consent_given=True,
        data=IntakeData(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            document_type="passport",
            document_number=document,
        ),
    )


def errors_of(response) -> str:
    """The text of the error summary of a page."""
    match = re.search(r'<div class="error-summary".*?</div>', response.content.decode(), re.S)
    return match.group(0) if match else ""


# --- who may use the pages -------------------------------------------------------------------------


@pytest.mark.parametrize("role", REFERRERS)
@pytest.mark.parametrize("path", ["/cases/refer/", "/cases/notify/"])
def test_referrers_get_the_forms(role, path):
    state_fund()
    client = logged_in_client(member(role))
    response = client.get(path)
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


@pytest.mark.parametrize("role", OTHERS)
@pytest.mark.parametrize("path", ["/cases/refer/", "/cases/notify/"])
def test_other_roles_get_404(role, path):
    client = logged_in_client(member(role))
    assert client.get(path).status_code == 404
    assert client.post(path, referral()).status_code == 404
    assert Case.objects.count() == 0 and Notification.objects.count() == 0


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_cannot_probe_duplicates(role):
    existing_case(state_fund())
    client = logged_in_client(member(role))
    assert client.post("/cases/refer/duplicates/", referral()).status_code == 404


@pytest.mark.parametrize("path", ["/cases/refer/", "/cases/notify/", "/cases/refer/duplicates/"])
def test_anonymous_users_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login")


def test_the_referral_form_is_in_order_and_accessible():
    state_fund()
    html = logged_in_client(member(Role.FIRST_RESPONDER)).get("/cases/refer/").content.decode()
    assert html.index("Does the person consent") < html.index("Given name")
    assert "A child (under 18) needs no consent" in html
    assert html.count("<legend>") >= 5
    assert 'autocomplete="off"' in html
    # The State Fund is the default agency that takes the case.
    assert re.search(r'<option value="\w+" selected>State Fund</option>', html)


# --- a referral ------------------------------------------------------------------------------------------


def test_a_first_responder_refers_and_lands_on_the_case():
    fund = state_fund()
    police = AgencyFactory(name="Police", kind=AgencyKind.LAW_ENFORCEMENT)
    responder = member(Role.FIRST_RESPONDER, agency=police, scope=Scope.OWN)
    response = logged_in_client(responder).post("/cases/refer/", referral())
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.public_id}/"
    assert case.owning_agency == fund and case.referring_agency == police and case.created_by == responder
    assert case.person.given_name == "Nino" and case.person.date_of_birth == dt.date(1990, 5, 31)
    assert list(case.exploitation_forms.values_list("form", flat=True)) == ["forced_labour"]
    assert Consent.objects.get(case=case).given


def test_a_referral_the_user_may_not_see_ends_on_a_confirmation_with_the_reference_only(monkeypatch):
    state_fund()
    responder = member(Role.FIRST_RESPONDER, scope=Scope.OWN)
    client = logged_in_client(responder)
    from opennrm.cases.views import intake

    monkeypatch.setattr(intake, "visible_cases", lambda access: Case.objects.none())
    response = client.post("/cases/refer/", referral(), follow=True)
    case = Case.objects.get()
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/cases/refer/?received=1"
    assert case.reference in html
    assert "Nino" not in html and case.public_id not in html
    # The confirmation is shown once.
    assert client.get("/cases/refer/?received=1")["Location"] == "/cases/refer/"


def test_a_child_is_referred_without_consent():
    state_fund()
    born = timezone.localdate().replace(year=timezone.localdate().year - 15)
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    response = client.post(
        "/cases/refer/", referral(consent=None, date_of_birth=born.isoformat(), guardian="Mother: Maia")
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.is_child and case.guardian == "Mother: Maia"
    assert Consent.objects.get(case=case).basis == "child_best_interests"


@pytest.mark.parametrize("consent", [None, "no"])
def test_an_adult_without_consent_is_not_saved_and_is_offered_the_anonymous_notification(consent):
    state_fund()
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    response = client.post("/cases/refer/", referral(consent=consent, document_number="AB123"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "cannot be referred with their identity" in errors_of(response)
    assert Person.objects.count() == 0 and Case.objects.count() == 0
    if consent == "no":  # a refusal: the identity is not even kept on the screen
        assert 'value="Nino"' not in html and "AB123" not in html and "Worked without pay" not in html
    else:  # not answered yet: nothing is lost, the user answers and sends again
        assert 'value="Nino"' in html
    # The way to the anonymous notification carries the situation over, never the identity.
    link = re.search(r'href="(/cases/notify/\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "sex=feminine" in link and "region=GE-TB" in link and "exploitation_forms=forced_labour" in link
    assert "age=" in link
    for identifying in ("Nino", "Beridze", "1990", "AB123", "hotel"):
        assert identifying not in link
    notify = client.get(link).content.decode()
    assert '<option value="GE-TB" selected>' in notify
    assert re.search(r'value="forced_labour" id="[^"]+" checked', notify)


def test_no_identity_is_looked_up_without_consent(monkeypatch):
    state_fund()
    from opennrm.cases import identity

    def fail(**kwargs):
        raise AssertionError("identity looked up without consent")

    monkeypatch.setattr(identity, "find_candidates", fail)
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    assert client.post("/cases/refer/", referral(consent="no")).status_code == 200
    assert (
        "No existing case"
        not in client.post("/cases/refer/duplicates/", referral(consent="no")).content.decode()
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"date_of_birth": "2999-01-01"}, "The date of birth cannot be in the future."),
        ({"first_contact_date": "2999-01-01"}, "The date of first contact cannot be in the future."),
        ({"date_of_birth": "1850-01-01"}, "more than 120 years ago"),
        ({"region": "XX-ZZ"}, "Select a valid choice"),
        ({"exploitation_forms": ["slavery_of_the_mind"]}, "Select a valid choice"),
        ({"citizenship": "QQ"}, "Select a valid choice"),
        ({"given_name": ""}, "This field is required."),
    ],
)
def test_bad_input_is_refused_with_a_form_error_and_nothing_is_saved(overrides, message):
    state_fund()
    response = logged_in_client(member(Role.CASE_WORKER)).post("/cases/refer/", referral(**overrides))
    assert response.status_code == 200
    assert message in errors_of(response)
    assert Person.objects.count() == 0 and Case.objects.count() == 0
    # What the user typed is still in the form.
    assert (
        'value="Worked without pay' in response.content.decode()
        or "Worked without pay" in response.content.decode()
    )


def test_service_errors_are_translated():
    """The refusal of the service is shown in the user's language (catalogues compiled as `make pytest` does)."""
    state_fund()
    client = logged_in_client(member(Role.CASE_WORKER))
    response = client.post("/cases/refer/", referral(date_of_birth="2999-01-01"), HTTP_ACCEPT_LANGUAGE="uk")
    assert response.status_code == 200
    summary = errors_of(response)
    assert "Дата народження не може бути в майбутньому." in summary
    assert "The date of birth cannot be in the future." not in summary
    assert Person.objects.count() == 0


def test_a_service_domain_error_is_shown_on_the_form(monkeypatch):
    """Whatever rule the service refuses on becomes a form error, with the input kept."""
    state_fund()
    from opennrm.cases.views import intake
    from opennrm.core.errors import DomainError

    def refuse(**kwargs):
        raise DomainError("Unknown code for form of exploitation: x", code="unknown_code")

    monkeypatch.setattr(intake, "refer_person", refuse)
    response = logged_in_client(member(Role.CASE_WORKER)).post("/cases/refer/", referral())
    assert "Unknown code for form of exploitation: x" in errors_of(response)
    assert 'value="Beridze"' in response.content.decode()


# --- duplicates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        {"given_name": "Tamar", "family_name": "Other", "document_number": "ab 12-345"},  # exact: document
        {"given_name": "ნინო", "family_name": "ბერიძე"},  # exact: name + date of birth, Georgian script
        {"given_name": "Nino", "family_name": "Berdze"},  # fuzzy: a typo
    ],
)
def test_a_visible_duplicate_is_shown_with_its_reference_before_anything_is_created(typed):
    fund = state_fund()
    case = existing_case(fund, document="AB12345")
    worker = member(Role.CASE_WORKER, agency=fund)
    client = logged_in_client(worker)
    response = client.post("/cases/refer/", referral(**typed))
    html = response.content.decode()
    assert response.status_code == 200
    assert "This person may already be known" in html
    assert case.reference in html and f"/cases/{case.public_id}/" in html
    assert Case.objects.count() == 1
    # "Create anyway" creates the second case.
    token = re.search(r'name="confirm" value="([0-9a-f]+)"', html).group(1)
    response = client.post("/cases/refer/", {**referral(**typed), "confirm": token})
    assert response.status_code == 302
    assert Case.objects.count() == 2


def test_create_anyway_holds_only_for_the_identity_that_was_checked():
    fund = state_fund()
    existing_case(fund)
    client = logged_in_client(member(Role.CASE_WORKER, agency=fund))
    html = client.post("/cases/refer/", referral()).content.decode()
    token = re.search(r'name="confirm" value="([0-9a-f]+)"', html).group(1)
    response = client.post("/cases/refer/", {**referral(family_name="Berdze"), "confirm": token})
    assert response.status_code == 200 and "This person may already be known" in response.content.decode()
    assert Case.objects.count() == 1


def test_a_duplicate_in_another_agency_shows_only_the_agency_name():
    other = AgencyFactory(name="Imereti Women's Support Centre", kind=AgencyKind.NGO)
    hidden = existing_case(other, document="AB12345")
    state_fund()
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    live = client.post("/cases/refer/duplicates/", referral(family_name="Berdze")).content.decode()
    assert "A possible existing case is held by Imereti Women&#x27;s Support Centre — contact them." in live
    assert hidden.reference not in live and hidden.public_id not in live
    assert "Nino" not in live and "Beridze" not in live and "0.9" not in live
    page = client.post("/cases/refer/", referral()).content.decode()
    section = re.search(r'<section class="duplicates".*?</section>', page, re.S).group(0)
    assert "Imereti Women&#x27;s Support Centre" in section
    assert hidden.reference not in page and hidden.public_id not in page
    assert "Nino" not in section and "Beridze" not in section
    assert Case.objects.count() == 1


def test_the_duplicate_check_is_audited_without_identity():
    fund = state_fund()
    case = existing_case(fund)
    user = member(Role.CASE_WORKER, agency=fund)
    logged_in_client(user).post("/cases/refer/duplicates/", referral())
    entry = AuditEntry.objects.filter(action="case.duplicate_check").get()
    assert entry.actor == user.public_id
    assert entry.details == {"shown": [case.public_id], "hidden": 0}


def test_the_live_check_says_nothing_when_there_is_nothing():
    state_fund()
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    html = client.post("/cases/refer/duplicates/", referral(), HTTP_HX_REQUEST="true").content.decode()
    assert "No existing case found" in html
    assert "<html" not in html
    assert client.get("/cases/refer/duplicates/").status_code == 405


# --- anonymous notification -------------------------------------------------------------------------------


def test_an_anonymous_notification_is_filed_without_identity():
    police = AgencyFactory(name="Police", kind=AgencyKind.LAW_ENFORCEMENT)
    responder = member(Role.FIRST_RESPONDER, agency=police)
    client = logged_in_client(responder)
    form = client.get("/cases/notify/").content.decode()
    for field in ("given_name", "family_name", "date_of_birth", "document_number", "phone"):
        assert f'name="{field}"' not in form
    response = client.post(
        "/cases/notify/",
        {
            "first_contact_date": timezone.localdate().isoformat(),
            "sex": "masculine",
            "age": "34",
            "citizenship": "UZ",
            "region": "GE-TB",
            "exploitation_forms": ["forced_labour"],
            "exploitation_country": "GE",
        },
        follow=True,
    )
    assert "Notification filed" in response.content.decode()
    notification = Notification.objects.get()
    assert notification.referring_agency == police and notification.age_group == "30-38"
    assert Person.objects.count() == 0 and CaseEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"age": "15"}, "A child is always referred"),
        ({"first_contact_date": "2999-01-01"}, "cannot be in the future"),
        ({"region": "XX-ZZ"}, "Select a valid choice"),
    ],
)
def test_a_bad_notification_is_refused(overrides, message):
    client = logged_in_client(member(Role.FIRST_RESPONDER))
    data = {
        "first_contact_date": timezone.localdate().isoformat(),
        "sex": "masculine",
        "age": "34",
        **overrides,
    }
    response = client.post("/cases/notify/", data)
    assert response.status_code == 200
    assert message in errors_of(response)
    assert Notification.objects.count() == 0
