"""Factories and a small scenario builder for the referrals tests.

Cases are made the way the mechanism makes them (`refer_person`), so they carry real encrypted identity, a
timeline and consents. `Scenario` is a sending agency (State Fund) with a case worker and a case, and a shelter
with a service provider: most tests need exactly that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import factory

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.choices import ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case, Consent
from opennrm.cases.services import IntakeData, refer_person
from opennrm.referrals import services
from opennrm.referrals.models import Referral, ServiceCategory, ServiceType

GIVEN_NAME = "Nino"
FAMILY_NAME = "Beridzeshvili"
DATE_OF_BIRTH = dt.date(1994, 3, 17)
DOCUMENT_NUMBER = "13AB778421"
PHONE = "+995555010203"
NARRATIVE = "Recruited in Batumi by a cousin with a false job offer."
GUARDIAN = "Tamar Beridzeshvili, aunt"


def make_case(*, agency: Agency, actor: User | None = None, child: bool = False, **changes: object) -> Case:
    """A case referred by `agency` (which also owns it), with a full identity."""
    actor = actor or member(Role.CASE_WORKER, agency=agency)
    data = IntakeData(
        given_name=GIVEN_NAME,
        family_name=FAMILY_NAME,
        date_of_birth=dt.date(2012, 5, 1) if child else DATE_OF_BIRTH,
        sex="feminine",
        citizenship="GE",
        languages=["ka", "ru"],
        phone=PHONE,
        document_type="passport",
        document_number=DOCUMENT_NUMBER,
        narrative=NARRATIVE,
        guardian=GUARDIAN if child else "",
        exploitation_forms=["forced_labour"],
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return refer_person(
        actor=actor, referring_agency=agency, owning_agency=agency, data=data, consent_given=True
    )


def consent_to(case: Case, agency: Agency, *, actor: User | None = None) -> Consent:
    actor = actor or case.created_by
    return Consent.objects.create(
        case=case,
        purpose=ConsentPurpose.REFERRAL,
        agency=agency,
        given=True,
        basis=ConsentBasis.CONSENT,
        recorded_by=actor,
    )


def ensure_catalogue() -> None:
    """The data migration loads the catalogue, but a transactional test (browser journeys) empties every table
    when it ends: later tests load it again, exactly as the migration does."""
    if not ServiceType.objects.exists():
        from opennrm.referrals import catalogue

        catalogue.load(ServiceType, catalogue.read())


def catalogue_service(code: str = "shelter", country: str = "GE") -> ServiceType:
    """A service of the shipped catalogue."""
    ensure_catalogue()
    return ServiceType.objects.get(country=country, code=code)


class ServiceTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceType

    country = "GE"
    code = factory.Sequence(lambda n: f"test_service_{n}")
    category = ServiceCategory.OTHER
    names = factory.LazyAttribute(lambda o: {"en": f"Test service {o.code}"})
    needs = factory.LazyFunction(lambda: ["given_name"])
    provider_kinds = factory.LazyFunction(list)


class ReferralFactory(factory.django.DjangoModelFactory):
    """A pending referral resting on the person's consent (no alerts, audit or timeline: use the services for
    those)."""

    class Meta:
        model = Referral

    from_agency = factory.SubFactory(AgencyFactory, kind=AgencyKind.STATE_FUND)
    to_agency = factory.SubFactory(AgencyFactory, kind=AgencyKind.SHELTER)
    created_by = factory.LazyAttribute(lambda o: member(Role.CASE_WORKER, agency=o.from_agency))
    case = factory.LazyAttribute(lambda o: make_case(agency=o.from_agency, actor=o.created_by))
    service = factory.LazyFunction(catalogue_service)
    consent = factory.LazyAttribute(lambda o: consent_to(o.case, o.to_agency, actor=o.created_by))
    reason = "Safe accommodation for about a month."


@dataclass
class Scenario:
    sender: Agency
    provider_agency: Agency
    other_agency: Agency
    case_worker: User
    provider: User
    case: Case

    def refer(self, service: str = "shelter", **kwargs: object) -> Referral:
        """A referral sent through the service, with consent recorded first unless an override is given."""
        if not kwargs.get("override_basis"):
            consent_to(self.case, self.provider_agency)
        return services.refer_to_service(
            actor=self.case_worker,
            case=self.case,
            service=catalogue_service(service),
            to_agency=self.provider_agency,
            from_agency=self.sender,
            **kwargs,  # type: ignore[arg-type]
        )

    def accepted(self, service: str = "shelter") -> Referral:
        return services.accept_referral(actor=self.provider, referral=self.refer(service))


def scenario(*, child: bool = False) -> Scenario:
    sender = AgencyFactory(kind=AgencyKind.STATE_FUND)
    provider_agency = AgencyFactory(kind=AgencyKind.SHELTER)
    other_agency = AgencyFactory(kind=AgencyKind.SHELTER)
    case_worker = member(Role.CASE_WORKER, agency=sender)
    provider = member(Role.SERVICE_PROVIDER, agency=provider_agency, scope=Scope.AGENCY)
    case = make_case(agency=sender, actor=case_worker, child=child)
    return Scenario(sender, provider_agency, other_agency, case_worker, provider, case)
