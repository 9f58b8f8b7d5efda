"""Bulk generation of cases for the benchmarks: real encryption and real blind indexes, but no services.

Living 100,000 cases through the services (as the demo does for 500) would take over an hour, so rows are
written with `bulk_create` in batches:

- identity is encrypted for real: `bulk_create` prepares each value through the model fields' `get_prep_value`,
  which is `opennrm.core.crypto` (AES-256-GCM with the instance keyring), so the database holds the same
  ciphertext as with the services, and reading a page decrypts it;
- blind indexes are the real ones: `opennrm.cases.identity.index_entries(person)` for every person;
- people and the facts of their case come from the demo's generator (`opennrm.cases.demo.People`), statuses in
  the demo's shares; a decision row for every case that reached one (open ones, some overdue, included);
- `created_at` is spread over the three years (the automatic timestamps are switched off while inserting).

Not written: timelines, audit entries, consents, screenings, plans; the case list does not read them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.utils import timezone

from opennrm.accounts.models import Agency, User
from opennrm.cases import choices, identity
from opennrm.cases.choices import CaseStatus, ClosureReason, DecisionOutcome, TraffickingStatus
from opennrm.cases.demo import FATES, People
from opennrm.cases.models import Case, CaseCounter, CaseExploitation, Decision, IdentityIndex, Person
from opennrm.cases.services import IntakeData
from opennrm.core.profiles import active_profile

STATUS_OF_FATE = {
    "referred": CaseStatus.REFERRED,
    "screened": CaseStatus.SCREENED,
    "pending": CaseStatus.DECISION_PENDING,
    "pending_overdue": CaseStatus.DECISION_PENDING,
    "appeal_pending": CaseStatus.DECISION_PENDING,
    "identified": CaseStatus.IDENTIFIED,
    "not_identified": CaseStatus.NOT_IDENTIFIED,
    "closed_early": CaseStatus.CLOSED,
    "closed_identified": CaseStatus.CLOSED,
    "closed_not_identified": CaseStatus.CLOSED,
}
WINDOW = dt.timedelta(days=3 * 365)


@dataclass
class Generated:
    cases: int
    people: int
    index_entries: int
    decisions: int
    statuses: Counter[str]


@contextmanager
def automatic_timestamps_off(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let `created_at`/`updated_at` keep the values given (auto_now_add would overwrite them with now)."""
    changed: list[tuple[models.DateTimeField[object, object], bool, bool]] = []
    for model in model_classes:
        for name in ("created_at", "updated_at"):
            field = model._meta.get_field(name)
            assert isinstance(field, models.DateTimeField)
            changed.append((field, field.auto_now, field.auto_now_add))
            field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in changed:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def generate(
    *,
    count: int,
    agencies: Sequence[Agency],
    weights: Sequence[float],
    created_by: User,
    decided_by: User,
    seed: int = 2026,
    batch_size: int = 2000,
    now: dt.datetime | None = None,
    progress: bool = True,
) -> Generated:
    """Insert `count` cases owned by `agencies` (in the proportions `weights`); returns what was written."""
    rng = random.Random(seed)
    people = People(rng)
    now = now or timezone.now()
    profile = active_profile()
    fates = [fate for fate, _share in FATES]
    shares = [share for _fate, share in FATES]
    counters: Counter[int] = Counter()
    result = Generated(cases=0, people=0, index_entries=0, decisions=0, statuses=Counter())
    deadline = profile.deadline()
    with automatic_timestamps_off(Person, Case, Decision):
        for start in range(0, count, batch_size):
            size = min(batch_size, count - start)
            rows = []
            for _ in range(size):
                fate = rng.choices(fates, weights=shares)[0]
                requested = _requested(fate, now, rng, deadline.amount)
                if requested is not None:  # an open decision: in time, or overdue
                    created = requested - dt.timedelta(hours=rng.uniform(2, 240))
                elif fate in ("referred", "screened"):  # early stages are recent
                    created = now - dt.timedelta(days=60) * rng.random()
                else:
                    created = now - WINDOW * rng.random()
                first_contact = timezone.localtime(created, profile.zone).date()
                intake, _abroad, _child = people.intake(first_contact)
                rows.append((fate, created, requested, intake))
            with transaction.atomic():
                persons = [_person(intake, created) for _fate, created, _requested_at, intake in rows]
                Person.objects.bulk_create(persons)
                entries = [
                    IdentityIndex(person=person, kind=kind, digest=digest)
                    for person in persons
                    for kind, digest in sorted(identity.index_entries(person))
                ]
                IdentityIndex.objects.bulk_create(entries)
                cases = []
                for (fate, created, _requested_at, intake), person in zip(rows, persons, strict=True):
                    counters[created.year] += 1
                    owner = rng.choices(agencies, weights=weights)[0]
                    cases.append(
                        _case(
                            intake,
                            person,
                            fate,
                            created,
                            owner,
                            rng.choice(agencies),
                            created_by,
                            f"{profile.code}-{created.year}-{counters[created.year]:05d}",
                        )
                    )
                Case.objects.bulk_create(cases)
                CaseExploitation.objects.bulk_create(
                    [
                        CaseExploitation(case=case, form=form)
                        for case, (_fate, _created, _requested_at, intake) in zip(cases, rows, strict=True)
                        for form in dict.fromkeys(intake.exploitation_forms)
                    ]
                )
                decisions = [
                    _decision(
                        case,
                        fate,
                        requested or created + dt.timedelta(hours=rng.uniform(2, 120)),
                        now,
                        rng,
                        created_by,
                        decided_by,
                        deadline.amount,
                    )
                    for case, (fate, created, requested, _intake) in zip(cases, rows, strict=True)
                    if fate not in ("referred", "screened", "closed_early")
                ]
                Decision.objects.bulk_create(decisions)
            result.cases += len(cases)
            result.people += len(persons)
            result.index_entries += len(entries)
            result.decisions += len(decisions)
            result.statuses.update(case.status for case in cases)
            if progress:
                print(f"  {result.cases:>7} cases", end="\r", flush=True)
    for year, last in counters.items():
        CaseCounter.objects.update_or_create(country=profile.code, year=year, defaults={"last": last})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if progress:
        print()
    return result


def _requested(fate: str, now: dt.datetime, rng: random.Random, hours: int) -> dt.datetime | None:
    """When the open decision of a case pending one was requested; None for the other cases."""
    if fate == "pending":
        return now - dt.timedelta(hours=rng.uniform(1, hours - 4))
    if fate in ("pending_overdue", "appeal_pending"):
        return now - dt.timedelta(hours=rng.uniform(hours + 2, 30 * 24))
    return None


def _person(intake: IntakeData, created: dt.datetime) -> Person:
    number = intake.document_number
    return Person(
        given_name=intake.given_name,
        family_name=intake.family_name,
        date_of_birth=intake.date_of_birth,
        documents=[{"type": intake.document_type or "other", "number": number}] if number else [],
        contacts=[],
        sex=intake.sex,
        birth_year=intake.date_of_birth.year if intake.date_of_birth else None,
        citizenship=intake.citizenship,
        languages=intake.languages,
        created_at=created,
        updated_at=created,
    )


def _case(
    intake: IntakeData,
    person: Person,
    fate: str,
    created: dt.datetime,
    owner: Agency,
    referrer: Agency,
    created_by: User,
    reference: str,
) -> Case:
    status = STATUS_OF_FATE[fate]
    born = intake.date_of_birth
    first_contact = intake.first_contact_date or created.date()
    age = intake.age_estimate
    if born is not None:
        age = (
            first_contact.year
            - born.year
            - ((first_contact.month, first_contact.day) < (born.month, born.day))
        )
    granted = fate in ("identified", "closed_identified")
    refused = fate in ("not_identified", "closed_not_identified")
    closed = status == CaseStatus.CLOSED
    reason = ""
    if closed:
        reason = (
            ClosureReason.ASSISTANCE_COMPLETED
            if granted
            else ClosureReason.NOT_A_VICTIM
            if refused
            else ClosureReason.LOST_CONTACT
        )
    return Case(
        reference=reference,
        country=active_profile().code,
        person=person,
        status=status,
        trafficking_status=(
            TraffickingStatus.ACTUAL
            if granted
            else TraffickingStatus.NOT_VICTIM
            if refused
            else TraffickingStatus.POSSIBLE
        ),
        referring_agency=referrer,
        owning_agency=owner,
        created_by=created_by,
        first_contact_date=first_contact,
        region=intake.region,
        age_at_exploitation=age,
        age_group=choices.age_group(age),
        is_child=age is not None and age < 18,
        guardian=intake.guardian,
        narrative=intake.narrative,
        reflection_period_ends=active_profile().reflection_period_end(first_contact),
        identified_at=created + dt.timedelta(days=3) if granted else None,
        identification_route="permanent_group" if granted else "",
        closed_at=created + dt.timedelta(days=120) if closed else None,
        closure_reason=reason,
        created_at=created,
        updated_at=created,
    )


def _decision(
    case: Case,
    fate: str,
    requested: dt.datetime,
    now: dt.datetime,
    rng: random.Random,
    requested_by: User,
    decided_by: User,
    hours: int,
) -> Decision:
    open_ = case.status == CaseStatus.DECISION_PENDING
    granted = fate in ("identified", "closed_identified")
    deadline = active_profile().decision_deadline_from(requested, child=case.is_child)
    decided = min(now, requested + dt.timedelta(hours=rng.uniform(2, hours + 24)))
    return Decision(
        case=case,
        route="permanent_group",
        requested_by=requested_by,
        requested_at=requested,
        deadline_at=deadline,
        deadline_rule=f"{hours} hours",
        outcome="" if open_ else DecisionOutcome.GRANTED if granted else DecisionOutcome.REFUSED,
        decided_at=None if open_ else decided,
        decided_by=None if open_ else decided_by,
        reasons="" if open_ else "Generated for the benchmark.",
        created_at=requested,
        updated_at=decided if not open_ else requested,
    )
