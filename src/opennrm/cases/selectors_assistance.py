"""Reads for the screening, decision and assistance parts of a case: the sections of the case page, the decision
maker's view of a case, and the look-ups of the objects those pages act on.

Every look-up starts from `visible_cases(access)`: an object of a case the user may not see does not exist for
them. Identifying text (notes, decision reasons, plan objectives, file names, the narrative) is loaded only for
users who may read identity on the case, and each time it is shown the read is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Model
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from opennrm.accounts.access import Access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases import screening as instruments
from opennrm.cases.choices import CaseStatus, DecisionOutcome, TraffickingStatus, htcds_snake_choices
from opennrm.cases.models import (
    Attachment,
    Case,
    Compensation,
    Decision,
    Note,
    Person,
    Screening,
    SupportPlanItem,
)
from opennrm.cases.selectors import can_do, can_read_identity, visible_cases
from opennrm.cases.workflow import TRANSITIONS
from opennrm.core import audit
from opennrm.core.profiles import Compensation as CompensationRule
from opennrm.core.profiles import CountryProfile, DeadlineUnit, active_profile

# Statuses from which a case may be screened (services.record_screening) or sent for a decision.
SCREENABLE = (CaseStatus.REFERRED, CaseStatus.SCREENED)
REQUESTABLE = (CaseStatus.REFERRED, CaseStatus.SCREENED)
CHILD_FOR_SCREENING = 17  # an age under 18, for a child whose exact age is unknown


# --- looking up what a page acts on ------------------------------------------------------------------


def case_object[M: Model](
    access: Access, model: type[M], public_id: str, *, perm: Perm | None = None, identity: bool = False
) -> M | None:
    """The object (`Decision`, `SupportPlanItem`, `Attachment`, `Compensation`) with this public id, if its case
    is visible to the user and, with `perm`, the user may do that act on the case, and, with `identity`, may read
    identifying data on it. None otherwise: forbidden looks exactly like missing."""
    obj = (
        model._default_manager.select_related("case")
        .filter(public_id=public_id, case__in=visible_cases(access))
        .first()
    )
    if obj is None:
        return None
    case: Case = obj.case  # type: ignore[attr-defined]
    if perm is not None and not can_do(access, perm, case):
        return None
    if identity and not can_read_identity(access, case):
        return None
    return obj


# --- clocks ------------------------------------------------------------------------------------------


def describe_rule(rule: str) -> str:
    """The stored deadline rule ("48 hours", "5 working_days") in words, in the active language."""
    amount_text, _sep, unit = rule.partition(" ")
    try:
        amount = int(amount_text)
    except ValueError:
        return rule
    if unit == DeadlineUnit.HOURS:
        return ngettext("%(n)d hour", "%(n)d hours", amount) % {"n": amount}
    if unit == DeadlineUnit.WORKING_DAYS:
        return ngettext("%(n)d working day", "%(n)d working days", amount) % {"n": amount}
    if unit == DeadlineUnit.CALENDAR_DAYS:
        return ngettext("%(n)d calendar day", "%(n)d calendar days", amount) % {"n": amount}
    return rule


@dataclass(frozen=True)
class Clock:
    """Where a pending decision stands against its stored deadline."""

    deadline_at: datetime
    overdue: bool
    text: str  # "1 day, 3 hours left" or "OVERDUE by 2 hours"


def clock(deadline_at: datetime, now: datetime | None = None) -> Clock:
    now = now or timezone.now()
    if deadline_at <= now:
        return Clock(deadline_at, True, _("OVERDUE by %(time)s") % {"time": timesince(deadline_at, now)})
    return Clock(deadline_at, False, _("%(time)s left") % {"time": timeuntil(deadline_at, now)})


def route_name(profile: CountryProfile, key: str) -> str:
    try:
        return str(profile.authority(key).name)
    except LookupError:
        return key  # a route of an earlier version of the profile


# --- screening ---------------------------------------------------------------------------------------


def screening_age(case: Case) -> int | None:
    """The age used to choose a screening list: the recorded age; a child of unknown age counts as a child."""
    if case.age_at_exploitation is not None:
        return case.age_at_exploitation
    return CHILD_FOR_SCREENING if case.is_child else None


def case_forms(case: Case) -> list[str]:
    return sorted(case.exploitation_forms.values_list("form", flat=True))


def choice_key(choice: instruments.InstrumentChoice) -> str:
    return f"{choice.instrument.id}|{choice.instrument.version}|{choice.instrument_list.id}"


@dataclass(frozen=True)
class ScreeningSetup:
    """What the screening page offers for a case: the forms of exploitation, the lists that fit the person, the
    one chosen."""

    forms: list[tuple[str, str]]  # (value, label): the case's forms first
    form: str  # "" until one is chosen
    choices: list[instruments.InstrumentChoice]
    chosen: instruments.InstrumentChoice | None


def screening_setup(case: Case, *, form: str = "", choice: str = "") -> ScreeningSetup:
    recorded = case_forms(case)
    labels = dict(instruments.FormOfExploitation.choices)
    ordered = [f for f in recorded if f in labels] + [f for f in labels if f not in recorded]
    forms = [(value, str(labels[value])) for value in ordered]
    if form not in labels:
        form = next((f for f in recorded if f in labels), "")
    if not form:
        return ScreeningSetup(forms=forms, form="", choices=[], chosen=None)
    choices = instruments.choose_instrument(age=screening_age(case), form=form)
    chosen = next((c for c in choices if choice_key(c) == choice), choices[0] if choices else None)
    return ScreeningSetup(forms=forms, form=form, choices=choices, chosen=chosen)


@dataclass(frozen=True)
class ScreeningRow:
    screening: Screening
    conclusion_label: str
    reason: str  # in the active language when the instrument version is still loaded, else as recorded
    result: instruments.ScreeningResult | None


def _conclusion_label(value: str) -> str:
    try:
        return str(instruments.Conclusion(value).label)
    except ValueError:
        return value


def _re_evaluate(screening: Screening) -> instruments.ScreeningResult | None:
    """The recorded screening evaluated again with exactly the instrument it used (same digest), so that its
    explanation reads in the user's language. None when that instrument version is no longer loaded."""
    try:
        instrument = instruments.get_instrument(
            screening.instrument_id, screening.instrument_version, digest=screening.instrument_digest
        )
        return instruments.evaluate(
            instrument=instrument, list_id=screening.list_id, found=set(screening.found)
        )
    except (LookupError, ValueError, instruments.InstrumentConflictError):
        return None


def screenings_of(case: Case, *, explain: bool = False) -> list[ScreeningRow]:
    rows = []
    for screening in case.screenings.select_related("screened_by").defer("notes").order_by("-created_at"):
        result = _re_evaluate(screening) if explain else None
        reason = result.reason() if result else str(screening.result.get("reason", ""))
        rows.append(ScreeningRow(screening, _conclusion_label(screening.conclusion), reason, result))
    return rows


@dataclass(frozen=True)
class ScreeningSection:
    rows: list[ScreeningRow]
    can_screen: bool
    screenable: bool


def screening_section(*, access: Access, case: Case) -> ScreeningSection:
    screenable = case.status in SCREENABLE
    return ScreeningSection(
        rows=screenings_of(case),
        can_screen=screenable and can_do(access, Perm.CASE_EDIT, case),
        screenable=screenable,
    )


# --- identification decision -------------------------------------------------------------------------


@dataclass(frozen=True)
class PastDecision:
    decision: Decision
    route: str
    within_deadline: bool | None
    reasons: str | None  # None: not shown to this user
    members: list[str] | None


@dataclass(frozen=True)
class DecisionSection:
    pending: Decision | None
    pending_route: str
    clock: Clock | None
    rule: str
    starts: str
    placeholder: bool  # the profile's deadline is a placeholder not confirmed for the country
    past: list[PastDecision]
    identity: bool
    can_request: bool
    can_appeal: bool
    routes: list[tuple[str, str]]
    validity: bool  # the profile limits the validity of the status
    valid_until: date | None


def _requestable(case: Case, profile: CountryProfile) -> bool:
    if case.status in REQUESTABLE:
        return True
    # renewal of a time-limited status
    validity = profile.status_validity
    return case.status == CaseStatus.IDENTIFIED and validity is not None and validity.renewable


def decision_section(
    *, access: Access, actor: User, case: Case, now: datetime | None = None
) -> DecisionSection:
    profile = active_profile()
    identity = can_read_identity(access, case)
    decisions = list(
        case.decisions.order_by("-requested_at")
        if identity
        else case.decisions.defer("reasons").order_by("-requested_at")
    )
    pending = next((d for d in decisions if not d.outcome), None)
    past = [
        PastDecision(
            decision=d,
            route=route_name(profile, d.route),
            within_deadline=(d.decided_at <= d.deadline_at) if d.decided_at else None,
            reasons=d.reasons if identity else None,
            members=list(d.members) if identity else None,
        )
        for d in decisions
        if d.outcome
    ]
    if identity and past:
        audit.record_read(
            actor=actor,
            target=case,
            fields=["decisions.reasons", "decisions.members"],
            action="decision.reasons.read",
            details={"decisions": len(past)},
        )
    deadline = profile.deadline(child=case.is_child)
    return DecisionSection(
        pending=pending,
        pending_route=route_name(profile, pending.route) if pending else "",
        clock=clock(pending.deadline_at, now) if pending else None,
        rule=describe_rule(pending.deadline_rule)
        if pending
        else describe_rule(f"{deadline.amount} {deadline.unit}"),
        starts=str(deadline.starts),
        placeholder=not deadline.configured,
        past=past,
        identity=identity,
        can_request=pending is None
        and _requestable(case, profile)
        and can_do(access, Perm.DECISION_REQUEST, case),
        can_appeal=case.status == CaseStatus.NOT_IDENTIFIED
        and any(p.decision.outcome == DecisionOutcome.REFUSED for p in past)
        and can_do(access, Perm.DECISION_REQUEST, case),
        routes=profile.authority_choices(),
        validity=profile.status_validity is not None,
        valid_until=case.status_valid_until,
    )


@dataclass(frozen=True)
class DecisionFile:
    """What the decision maker reads to decide: the request and its clock, the case facts, the screenings."""

    decision: Decision
    route: str
    clock: Clock
    rule: str
    placeholder: bool
    forms: list[str]
    sex: str
    citizenship: str
    region: str
    narrative: str | None  # None: not shown to this user
    screenings: list[ScreeningRow]
    earlier: list[PastDecision]


def decision_file(
    *, access: Access, actor: User, decision: Decision, now: datetime | None = None
) -> DecisionFile:
    profile = active_profile()
    case = decision.case
    identity = can_read_identity(access, case)
    narrative = None
    if identity:
        narrative = Case.objects.values_list("narrative", flat=True).get(pk=case.pk)
        audit.record_read(actor=actor, target=case, fields=["narrative"], action="case.narrative.read")
    labels = dict(htcds_snake_choices("vic_TypeOfExploitation"))
    # Only the facts in clear: loading the person would decrypt the identity, which this page does not show.
    sex, citizenship = Person.objects.values_list("sex", "citizenship").get(pk=case.person_id)
    region = ""
    if case.region:
        try:
            region = profile.region_name(case.region)
        except LookupError:
            region = case.region
    earlier = [
        PastDecision(
            decision=d,
            route=route_name(profile, d.route),
            within_deadline=(d.decided_at <= d.deadline_at) if d.decided_at else None,
            reasons=None,
            members=None,
        )
        for d in case.decisions.exclude(pk=decision.pk)
        .exclude(outcome="")
        .defer("reasons")
        .order_by("-decided_at")
    ]
    return DecisionFile(
        decision=decision,
        route=route_name(profile, decision.route),
        clock=clock(decision.deadline_at, now),
        rule=describe_rule(decision.deadline_rule),
        placeholder=not profile.deadline(child=case.is_child).configured,
        forms=[str(labels.get(f, f)) for f in case_forms(case)],
        sex=str(dict(htcds_snake_choices("prs_Gender")).get(sex, sex)),
        citizenship=citizenship,
        region=region,
        narrative=narrative,
        screenings=screenings_of(case, explain=True),
        earlier=earlier,
    )


# --- assistance ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSection:
    items: list[SupportPlanItem]
    identity: bool  # objectives and actions are shown
    can_edit: bool


def plan_section(*, access: Access, actor: User, case: Case) -> PlanSection:
    identity = can_read_identity(access, case)
    items = case.plan_items.all() if identity else case.plan_items.defer("objective", "action")
    rows = list(items.order_by("actual_end", "planned_end", "id"))
    if identity and rows:
        audit.record_read(
            actor=actor,
            target=case,
            fields=["plan_items.objective", "plan_items.action"],
            action="plan.read",
            details={"items": len(rows)},
        )
    return PlanSection(
        items=rows,
        identity=identity,
        can_edit=case.status != CaseStatus.CLOSED and can_do(access, Perm.CASE_EDIT, case),
    )


@dataclass(frozen=True)
class NotesSection:
    notes: list[Note] | None  # None: not shown to this user
    can_add: bool


def notes_section(*, access: Access, actor: User, case: Case) -> NotesSection:
    notes = None
    if can_read_identity(access, case):
        notes = list(case.notes.select_related("author").order_by("-created_at", "-id"))
        if notes:
            audit.record_read(
                actor=actor,
                target=case,
                fields=["notes.body"],
                action="note.read",
                details={"notes": len(notes)},
            )
    return NotesSection(
        notes=notes,
        can_add=notes is not None
        and case.status != CaseStatus.CLOSED
        and can_do(access, Perm.CASE_EDIT, case),
    )


@dataclass(frozen=True)
class AttachmentsSection:
    attachments: list[Attachment] | None  # None: not shown to this user
    can_add: bool
    limit_mb: float


def attachments_section(*, access: Access, actor: User, case: Case) -> AttachmentsSection:
    from django.conf import settings

    attachments = None
    if can_read_identity(access, case):
        attachments = list(
            case.attachments.select_related("uploaded_by").defer("file").order_by("-created_at")
        )
        if attachments:
            audit.record_read(
                actor=actor,
                target=case,
                fields=["attachments.original_name"],
                action="attachment.list.read",
                details={"attachments": len(attachments)},
            )
    return AttachmentsSection(
        attachments=attachments,
        can_add=attachments is not None
        and case.status != CaseStatus.CLOSED
        and can_do(access, Perm.CASE_EDIT, case),
        limit_mb=round(settings.OPENNRM_MAX_UPLOAD_BYTES / 1e6, 1),
    )


@dataclass(frozen=True)
class CompensationSection:
    rule: CompensationRule | None  # None: the profile has no state compensation
    compensation: Compensation | None
    granted: bool  # the victim status is granted (the condition of the compensation)
    can_approve: bool
    can_pay: bool


def compensation_section(*, access: Access, case: Case) -> CompensationSection:
    rule = active_profile().compensation
    if rule is None:
        return CompensationSection(
            rule=None, compensation=None, granted=False, can_approve=False, can_pay=False
        )
    compensation = Compensation.objects.filter(case=case).first()
    allowed = can_do(access, Perm.COMPENSATION_APPROVE, case)
    granted = case.trafficking_status == TraffickingStatus.ACTUAL
    return CompensationSection(
        rule=rule,
        compensation=compensation,
        granted=granted,
        can_approve=allowed and compensation is None and rule.amount is not None and granted,
        can_pay=allowed and compensation is not None and compensation.paid_at is None,
    )


@dataclass(frozen=True)
class ClosureSection:
    closed: bool
    closable: bool
    pending_decision: bool
    can_edit: bool


def closure_section(*, access: Access, case: Case) -> ClosureSection:
    status = CaseStatus(case.status)
    return ClosureSection(
        closed=status == CaseStatus.CLOSED,
        closable=CaseStatus.CLOSED in TRANSITIONS[status],
        pending_decision=status == CaseStatus.DECISION_PENDING,
        can_edit=can_do(access, Perm.CASE_EDIT, case),
    )
