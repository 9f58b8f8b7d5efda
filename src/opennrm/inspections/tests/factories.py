"""A small inspection world for the tests: a labour inspection agency and its inspector, the State Fund and its
case worker, the police, and inspections and screenings made through the services (never by hand)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases import screening as instruments
from opennrm.inspections import services
from opennrm.inspections.models import Inspection, WorkerScreening

DELPHI = "ilo_ec_delphi_2009"
ILO_11 = "ilo_forced_labour_11_2012"
EMPLOYER = "Demo Greenhouses LLC"
TAX_ID = "DEMO-404551234"
FINDINGS = "Passports of six workers kept in the office safe."


def presumed_found(list_id: str = "adult_labour") -> set[str]:
    """Indicators of the shipped ILO-EC list that make every dimension the rule needs positive."""
    item = instruments.latest(DELPHI).get_list(list_id)
    wanted = {"deceptive_recruitment", "exploitative_conditions", "coercion_at_destination"}
    return {i.id for d in item.dimensions if d.id in wanted for i in d.indicators}


def negative_found(list_id: str = "adult_labour") -> set[str]:
    """One indicator of exploitative conditions: no dimension positive, the rule not met."""
    item = instruments.latest(DELPHI).get_list(list_id)
    dimension = next(d for d in item.dimensions if d.id == "exploitative_conditions")
    return {next(i.id for i in dimension.indicators if i.strength != instruments.Strength.STRONG)}


@dataclass
class World:
    labour: Agency
    inspector: User
    fund: Agency
    case_worker: User
    police: Agency
    officer: User
    other_labour: Agency
    other_inspector: User
    inspections: list[Inspection] = field(default_factory=list)

    def inspect(self, actor: User | None = None, **changes: object) -> Inspection:
        values: dict[str, object] = {
            "employer_name": EMPLOYER,
            "employer_identifiers": [{"type": "tax_id", "value": TAX_ID}],
            "sector": "a_agriculture_forestry_and_fishing",
            "region": "GE-KA",
            "date": timezone.localdate() - dt.timedelta(days=1),
            "joint_with_police": False,
            "workers_present": 20,
            "workers_interviewed": 6,
            "findings": FINDINGS,
        }
        values.update(changes)
        inspection = services.record_inspection(actor=actor or self.inspector, agency=self.labour, **values)
        self.inspections.append(inspection)
        return inspection

    def screen(
        self,
        inspection: Inspection | None = None,
        *,
        list_id: str = "adult_labour",
        age: int | None = 34,
        found: set[str] | None = None,
        instrument: str = DELPHI,
        actor: User | None = None,
    ) -> WorkerScreening:
        if inspection is None:
            inspection = self.inspections[-1] if self.inspections else self.inspect()
        latest = instruments.latest(instrument)
        screening = services.start_screening(
            actor=actor or self.inspector,
            inspection=inspection,
            instrument_id=latest.id,
            instrument_version=latest.version,
            list_id=list_id,
            age=age,
            sex="masculine",
            citizenship="UZ",
        )
        if found:
            services.save_draft(
                actor=actor or self.inspector,
                screening=screening,
                expected_version=screening.version,
                found=found,
            )
        return screening


def staff(role: Role, agency: Agency, scope: Scope = Scope.AGENCY) -> User:
    """A member without a usable password (tests log in with `logged_in_client`; no password hashing)."""
    return member(role, agency=agency, scope=scope, user__password=None)


def world(*, inspector_scope: Scope = Scope.OWN) -> World:
    labour = AgencyFactory(name="Labour Inspection Service", kind=AgencyKind.LABOUR_INSPECTION)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    police = AgencyFactory(name="Police", kind=AgencyKind.LAW_ENFORCEMENT)
    other = AgencyFactory(name="Other Labour Inspectorate", kind=AgencyKind.LABOUR_INSPECTION)
    return World(
        labour=labour,
        inspector=staff(Role.FIRST_RESPONDER, labour, inspector_scope),
        fund=fund,
        case_worker=staff(Role.CASE_WORKER, fund),
        police=police,
        officer=staff(Role.FIRST_RESPONDER, police, Scope.OWN),
        other_labour=other,
        other_inspector=staff(Role.FIRST_RESPONDER, other, Scope.AGENCY),
    )
