"""The case list: scoped, filtered, searched by reference or through the blind indexes, names only for readers of
identity (and audited), paginated without N+1 queries."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases import services
from opennrm.cases.models import Case, Decision
from opennrm.cases.services import IntakeData, refer_person
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

LISTERS = [r for r in Role if ROLE_PERMISSIONS[r] & {Perm.CASE_VIEW, Perm.CASE_REFER}]
OTHERS = [r for r in Role if r not in LISTERS]


@pytest.fixture
def fund():
    return AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)


@pytest.fixture
def worker(fund):
    return member(Role.CASE_WORKER, agency=fund)


def make_case(
    owner,
    actor,
    *,
    given="Nino",
    family="Beridze",
    born=dt.date(1990, 5, 31),
    document="",
    forms=("forced_labour",),
    region="GE-TB",
    age=None,
) -> Case:
    return refer_person(
        actor=actor,
        referring_agency=owner,
        owning_agency=owner,
        consent_given=True,
        data=IntakeData(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            age_estimate=age,
            document_type="passport",
            document_number=document,
            exploitation_forms=list(forms),
            region=region,
        ),
    )


def references(response) -> list[str]:
    return re.findall(
        r'<th scope="row"><a href="/cases/\w+/">([A-Z]{2}-\d{4}-\d{5})</a></th>', response.content.decode()
    )


# --- who may list --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", LISTERS)
def test_roles_that_see_cases_get_the_list(role):
    assert logged_in_client(member(role)).get("/cases/").status_code == 200


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_get_404(role):
    assert logged_in_client(member(role)).get("/cases/").status_code == 404


def test_anonymous_users_are_sent_to_log_in(client):
    assert client.get("/cases/")["Location"].startswith("/accounts/login")


def test_the_list_holds_only_cases_in_scope(fund, worker):
    mine = make_case(fund, worker)
    other = AgencyFactory(name="Other NGO")
    theirs = make_case(other, member(Role.CASE_WORKER, agency=other), given="Tamar")
    response = logged_in_client(worker).get("/cases/")
    assert references(response) == [mine.reference]
    assert theirs.reference not in response.content.decode()
    assert "Other NGO" not in response.content.decode()  # not even as a filter choice
    national = member(Role.COORDINATOR, agency=AgencyFactory(name="Council"), scope=Scope.NATIONAL)
    assert sorted(references(logged_in_client(national).get("/cases/"))) == sorted(
        [mine.reference, theirs.reference]
    )


def test_a_first_responder_lists_only_their_own_referrals(fund, worker):
    responder = member(Role.FIRST_RESPONDER, scope=Scope.OWN)
    own = make_case(fund, responder)
    make_case(fund, worker, given="Tamar")
    assert references(logged_in_client(responder).get("/cases/")) == [own.reference]


# --- names ---------------------------------------------------------------------------------------------


def test_a_coordinator_sees_no_names(fund, worker):
    case = make_case(fund, worker)
    coordinator = member(Role.COORDINATOR, agency=AgencyFactory(name="Council"), scope=Scope.NATIONAL)
    html = logged_in_client(coordinator).get("/cases/").content.decode()
    assert case.reference in html
    assert "Nino" not in html and "Beridze" not in html and "Given name" not in html
    assert not AuditEntry.objects.filter(action="case.list_read").exists()


def test_a_case_worker_sees_given_names_only_and_the_page_is_audited_once(fund, worker):
    cases = [make_case(fund, worker, given=f"Nino{i}", family=f"Family{i}") for i in range(3)]
    html = logged_in_client(worker).get("/cases/").content.decode()
    for i in range(3):
        assert f"Nino{i}" in html and f"Family{i}" not in html
    entry = AuditEntry.objects.get(action="case.list_read")
    assert entry.actor == worker.public_id and entry.fields == ["given_name"]
    assert sorted(entry.details["cases"]) == sorted(c.public_id for c in cases)


# --- search ----------------------------------------------------------------------------------------------


def test_search_by_reference_exact_or_prefix(fund, worker):
    first, second = make_case(fund, worker), make_case(fund, worker, given="Tamar")
    client = logged_in_client(worker)
    assert references(client.get("/cases/", {"q": first.reference})) == [first.reference]
    assert references(client.get("/cases/", {"q": first.reference.lower()})) == [first.reference]
    prefix = first.reference[:-1]
    assert sorted(references(client.get("/cases/", {"q": prefix}))) == sorted(
        [first.reference, second.reference]
    )
    assert references(client.get("/cases/", {"q": "XX-1999"})) == []


@pytest.mark.parametrize(
    "term",
    [
        "Nino Beridze",
        "nino  BERIDZE",
        "ნინო ბერიძე",
        "Nino Beridze 1990-05-31",
        "Nino Beridze 31.05.1990",
        "ab 12-345",
    ],
)
def test_search_by_identity_through_the_blind_index(fund, worker, term):
    case = make_case(fund, worker, document="AB12345")
    make_case(fund, worker, given="Tamar", family="Kapanadze", born=dt.date(1985, 1, 1), document="ZZ1")
    assert references(logged_in_client(worker).get("/cases/", {"q": term})) == [case.reference]


def test_search_by_name_is_exact_and_a_wrong_date_finds_nothing(fund, worker):
    make_case(fund, worker)
    client = logged_in_client(worker)
    assert references(client.get("/cases/", {"q": "Nino"})) == []
    assert references(client.get("/cases/", {"q": "Nino Beridze 1991-05-31"})) == []


def test_a_user_without_identity_rights_cannot_search_by_name(fund, worker):
    case = make_case(fund, worker, document="AB12345")
    coordinator = member(Role.COORDINATOR, agency=AgencyFactory(name="Council"), scope=Scope.NATIONAL)
    client = logged_in_client(coordinator)
    assert references(client.get("/cases/", {"q": "Nino Beridze"})) == []
    assert references(client.get("/cases/", {"q": "AB12345"})) == []
    assert references(client.get("/cases/", {"q": case.reference})) == [case.reference]


def test_search_terms_are_not_written_to_the_audit_log(fund, worker):
    make_case(fund, worker)
    logged_in_client(worker).get("/cases/", {"q": "Nino Beridze"})
    for entry in AuditEntry.objects.all():
        assert "Beridze" not in str(entry.details) and "Beridze" not in str(entry.fields)


# --- filters ---------------------------------------------------------------------------------------------


def test_filters(fund, worker):
    adult = make_case(fund, worker, forms=("forced_labour",), region="GE-TB")
    child = make_case(
        fund, worker, given="Luka", born=None, age=12, forms=("sexual_exploitation",), region="GE-IM"
    )
    other_owner = AgencyFactory(name="Imereti NGO", kind=AgencyKind.NGO)
    coordinator = member(Role.COORDINATOR, agency=AgencyFactory(name="Council"), scope=Scope.NATIONAL)
    elsewhere = make_case(other_owner, member(Role.CASE_WORKER, agency=other_owner), given="Eka")
    decision = services.request_decision(actor=worker, case=adult, route=_route())
    client = logged_in_client(coordinator)

    def listed(**params):
        return sorted(references(client.get("/cases/", params)))

    assert listed(child="yes") == [child.reference]
    assert listed(child="no") == sorted([adult.reference, elsewhere.reference])
    assert listed(form="sexual_exploitation") == [child.reference]
    assert listed(region="GE-IM") == [child.reference]
    assert listed(status="decision_pending") == [adult.reference]
    assert listed(agency=other_owner.public_id) == [elsewhere.reference]
    assert listed(overdue="on") == []
    Decision.objects.filter(pk=decision.pk).update(deadline_at=timezone.now() - timedelta(minutes=1))
    assert listed(overdue="on") == [adult.reference]
    # A filter value that is not a choice is ignored, not an error page.
    assert client.get("/cases/", {"status": "nonsense"}).status_code == 200


def _route() -> str:
    from opennrm.core.profiles import active_profile

    return active_profile().authorities[0].key


# --- pages and queries -----------------------------------------------------------------------------------


def test_fifty_a_page_and_the_filters_stay_in_the_page_links(fund, worker):
    for i in range(51):
        make_case(fund, worker, given=f"P{i}", forms=("forced_labour",))
    client = logged_in_client(worker)
    first = client.get("/cases/", {"form": "forced_labour", "child": "no"})
    assert len(references(first)) == 50
    html = first.content.decode()
    link = re.search(r'<a href="([^"]+)" rel="next">', html).group(1).replace("&amp;", "&")
    assert "form=forced_labour" in link and "child=no" in link and "page=2" in link
    assert len(references(client.get("/cases/" + link))) == 1
    # One audit entry per page, naming that page's cases.
    assert [len(e.details["cases"]) for e in AuditEntry.objects.filter(action="case.list_read")] == [50, 1]


def test_the_number_of_queries_does_not_grow_with_the_cases(fund, worker):
    client = logged_in_client(worker)
    make_case(fund, worker)
    client.get("/cases/")
    with CaptureQueriesContext(connection) as few:
        client.get("/cases/")
    for i in range(10):
        make_case(fund, worker, given=f"N{i}", forms=("forced_labour", "forced_begging"))
    with CaptureQueriesContext(connection) as many:
        client.get("/cases/")
    assert len(many) == len(few)


# --- the home page panel ---------------------------------------------------------------------------------


def test_the_home_panel_counts_open_cases_and_waiting_decisions(fund, worker, rf):
    from django.template.loader import render_to_string

    from opennrm.cases.views.listing import home_panel

    make_case(fund, worker)
    assigned = make_case(fund, worker, given="Tamar")
    services.update_case(actor=worker, case=assigned, expected_version=1, changes={"case_worker": worker})
    decider = member(Role.DECISION_MAKER, agency=AgencyFactory(name="Permanent Group"), scope=Scope.NATIONAL)
    services.request_decision(actor=worker, case=assigned, route=_route())

    def panel_for(user):
        request = rf.get("/")
        request.user = user
        return home_panel(request)

    mine = panel_for(worker)
    assert mine.context["mine"] == 2 and mine.context["open"] == 2 and mine.context["may_refer"]
    html = render_to_string(mine.template, {"ctx": mine.context})
    assert "/cases/refer/" in html and "open cases of mine" in html
    queue = panel_for(decider)
    assert queue.context["decides"] and queue.context["queue"] == 1 and queue.context["overdue"] == 0
    assert "/cases/decisions/" in render_to_string(queue.template, {"ctx": queue.context})
    assert panel_for(member(Role.AUDITOR)) is None
