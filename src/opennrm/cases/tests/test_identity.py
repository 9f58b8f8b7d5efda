"""Duplicate detection through the blind indexes: exact (document, name + date of birth, in any script) and fuzzy
(typos), without plaintext in the index."""

from __future__ import annotations

import datetime as dt

import pytest

from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases import identity, services
from opennrm.cases.models import Case, IdentityIndex
from opennrm.cases.services import IntakeData, refer_person

pytestmark = pytest.mark.django_db

BORN = dt.date(1990, 5, 31)


@pytest.fixture
def worker():
    return member(Role.CASE_WORKER, agency=AgencyFactory(name="State Fund"))


def refer(worker, *, given="Nino", family="Beridze", born=BORN, document="AB12345") -> Case:
    agency = worker.memberships.get().agency
    return refer_person(
        actor=worker,
        referring_agency=agency,
        owning_agency=agency,
        consent_given=True,
        data=IntakeData(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            document_type="passport",
            document_number=document,
        ),
    )


def found(**kwargs) -> list[tuple[str, bool, str]]:
    return [(c.case.reference, c.exact, c.reason) for c in identity.find_candidates(**kwargs)]


def test_the_same_document_number_is_an_exact_match_however_it_is_written(worker):
    case = refer(worker)
    assert found(given_name="Someone", family_name="Else", document_numbers=["ab 12-345"]) == [
        (case.reference, True, "document")
    ]


@pytest.mark.parametrize(("given", "family"), [("ნინო", "ბერიძე"), ("Нино", "Беридзе"), ("NINO", "beridze")])
def test_name_and_date_of_birth_match_in_any_script(worker, given, family):
    case = refer(worker)
    assert found(given_name=given, family_name=family, date_of_birth=BORN) == [
        (case.reference, True, "name_dob")
    ]


@pytest.mark.parametrize(("given", "family"), [("Nino", "Berdze"), ("Nino", "Beridse"), ("Nina", "Beridze")])
def test_a_typo_is_a_fuzzy_match(worker, given, family):
    case = refer(worker)
    matches = identity.find_candidates(given_name=given, family_name=family, date_of_birth=BORN)
    assert [(c.case.reference, c.exact, c.reason) for c in matches] == [(case.reference, False, "similar")]
    assert identity.FUZZY_THRESHOLD <= matches[0].score < 1


def test_a_different_person_is_not_a_candidate(worker):
    refer(worker)
    assert found(given_name="Tamar", family_name="Kapanadze", date_of_birth=BORN) == []
    # The same name born years apart is another person.
    assert found(given_name="Nino", family_name="Berdze", date_of_birth=dt.date(1975, 1, 1)) == []


def test_the_person_being_edited_is_not_their_own_duplicate(worker):
    case = refer(worker)
    assert (
        found(given_name="Nino", family_name="Beridze", date_of_birth=BORN, exclude_person=case.person) == []
    )


def test_exact_matches_come_before_fuzzy_ones(worker):
    fuzzy = refer(worker, family="Berdze", document="X1")
    exact = refer(worker, document="X2")
    references = [
        r for r, _exact, _reason in found(given_name="Nino", family_name="Beridze", date_of_birth=BORN)
    ]
    assert references == [exact.reference, fuzzy.reference]


def test_the_index_holds_no_plaintext_and_follows_identity_changes(worker):
    case = refer(worker)
    digests = list(IdentityIndex.objects.filter(person=case.person).values_list("digest", flat=True))
    assert digests and all(
        len(d) == 32 and "nino" not in d.lower() and "ab12345" not in d.lower() for d in digests
    )
    services.update_identity(
        actor=worker,
        case=case,
        expected_version=case.version,
        changes={"documents": [{"type": "passport", "number": "CD999"}]},
    )
    assert found(given_name="x", document_numbers=["AB12345"]) == []
    assert found(given_name="x", document_numbers=["CD999"]) == [(case.reference, True, "document")]


def test_other_names_are_searched_too(worker):
    case = refer(worker)
    services.update_identity(
        actor=worker,
        case=case,
        expected_version=case.version,
        changes={"other_names": ["Nina Beridze-Lomidze"]},
    )
    assert found(given_name="Nina", family_name="Beridze-Lomidze", date_of_birth=BORN) == [
        (case.reference, True, "name_dob")
    ]
