"""Factories and a small world for the shelters tests.

Cases are made the way the mechanism makes them (`refer_person`), referrals through the referrals services (with
the person's consent), admissions through `services.admit`. `World` is a State Fund with a case worker, a shelter
agency with its shelter and a member of staff, another shelter agency with its own shelter and staff, a national
coordinator and a national analyst.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import factory

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.models import Case
from opennrm.core.profiles import active_profile
from opennrm.referrals import services as referral_services
from opennrm.referrals.models import Referral
from opennrm.referrals.tests.factories import catalogue_service, consent_to, make_case
from opennrm.shelters import services
from opennrm.shelters.models import Placement, Shelter

ADDRESS = "7 Hidden Lane, flat 3, Tbilisi"


class ShelterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shelter

    agency = factory.SubFactory(AgencyFactory, kind=AgencyKind.SHELTER)
    name = factory.Sequence(lambda n: f"Shelter {n}")
    region = "GE-TB"
    address = ADDRESS
    capacity_women = 2
    capacity_men = 1
    capacity_children = 1
    capacity_families = 0


@dataclass
class World:
    fund: Agency
    agency: Agency
    other_agency: Agency
    shelter: Shelter
    other_shelter: Shelter
    case_worker: User
    staff: User
    other_staff: User
    coordinator: User
    analyst: User

    def case(self, **changes: Any) -> Case:
        return make_case(agency=self.fund, actor=self.case_worker, **changes)

    def referral(
        self, case: Case | None = None, *, agency: Agency | None = None, accept: bool = True
    ) -> Referral:
        """A shelter referral of `case` (a new one by default) to `agency` (the shelter's by default)."""
        case = case or self.case()
        agency = agency or self.agency
        consent_to(case, agency, actor=self.case_worker)
        referral = referral_services.refer_to_service(
            actor=self.case_worker,
            case=case,
            service=catalogue_service("shelter", country=case.country),
            to_agency=agency,
            from_agency=self.fund,
        )
        if accept:
            responder = self.staff if agency == self.agency else self.other_staff
            if agency not in (self.agency, self.other_agency):
                responder = member(Role.SERVICE_PROVIDER, agency=agency)
            referral = referral_services.accept_referral(actor=responder, referral=referral)
        return referral

    def admit(
        self,
        *,
        case: Case | None = None,
        category: str = "women",
        shelter: Shelter | None = None,
        actor: User | None = None,
        at: dt.datetime | None = None,
        **kwargs: Any,
    ) -> Placement:
        shelter = shelter or self.shelter
        referral = self.referral(case, agency=shelter.agency)
        return services.admit(
            actor=actor or (self.staff if shelter.agency == self.agency else self.other_staff),
            shelter=shelter,
            referral=referral,
            category=category,
            at=at,
            **kwargs,
        )


def world(**shelter: Any) -> World:
    country = active_profile().code
    region = active_profile().regions[0].code
    fund = AgencyFactory(kind=AgencyKind.STATE_FUND, country=country, region=region)
    agency = AgencyFactory(kind=AgencyKind.SHELTER, country=country, region=region)
    other_agency = AgencyFactory(kind=AgencyKind.SHELTER, country=country, region=region)
    council = AgencyFactory(kind=AgencyKind.MINISTRY, country=country, region=region)
    return World(
        fund=fund,
        agency=agency,
        other_agency=other_agency,
        shelter=ShelterFactory(agency=agency, region=region, **shelter),
        other_shelter=ShelterFactory(agency=other_agency, region=region),
        case_worker=member(Role.CASE_WORKER, agency=fund),
        staff=member(Role.SERVICE_PROVIDER, agency=agency),
        other_staff=member(Role.SERVICE_PROVIDER, agency=other_agency),
        coordinator=member(Role.COORDINATOR, agency=council, scope=Scope.NATIONAL),
        analyst=member(Role.ANALYST, agency=council, scope=Scope.NATIONAL),
    )
