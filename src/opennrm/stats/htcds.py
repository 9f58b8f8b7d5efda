"""OpenNRM cases in IOM's Human Trafficking Case Data Standard 2.0 (HTCDS), both ways.

One HTCDS record is one case: its person (prs_), victim context (vic_), perpetrator roles (per_), case (cas_),
consent (con_), and the case's historic trafficking events (hte_) and support plan (spl_), which repeat.

Formats
- JSON: JSON Lines (`.jsonl`), one object per record, keys = HTCDS field names. Multi-select picklists are
  lists of HTCDS value names, checkboxes are booleans, dates are `YYYY-MM-DD`, empty values are null. The
  repeating objects are lists under the keys `hte` and `spl` (the prefixes of their HTCDS objects), each item
  keyed by HTCDS field names. The import also takes a single JSON list of such objects.
- CSV: one row per record, UTF-8, a header of HTCDS field names. Multi-select values are separated by `;`;
  checkboxes are `true`/`false`; the repeating objects take one column per field and occurrence:
  `hte_Type[1]`, `hte_Country[1]`, ... `hte_Type[2]` (a plain `hte_Type` is read as `hte_Type[1]`). A cell that
  starts with `=`, `+`, `-`, `@` or a tab is written with a leading `'` so that spreadsheets do not run it as a
  formula; the import removes that quote again.
- `cas_Id`, the record identifier, is the one column that is not an HTCDS 2.0 field name (HTCDS, modelled on
  Salesforce objects, leaves the record Id implicit). OpenNRM writes the case reference; an import uses it to
  recognise a record it has already imported, and keeps it as the case reference when it is an OpenNRM reference
  of this country that is still free.

What is exported (`EXPORTED_FIELDS`), from which OpenNRM field
  prs_FirstName, prs_SecondName      Person.given_name, family_name
  prs_Birthdate                      Person.date_of_birth
  prs_Gender                         Person.sex
  prs_Deceased                       true when the case was closed because the person died
  prs_PrimaryLanguage, prs_SecondaryLanguage
                                     Person.languages[0], [1], as ISO 639-2 codes (a third language is lost)
  prs_Citizenship                    Person.citizenship, then other_citizenships (ISO 3166-1 alpha-2)
  prs_IdentityNumber                 every document number, `; `-separated (document types are lost: an import
                                     records them as "other document")
  prs_MobilePhone, prs_HomePhone     the first and second phone contacts; prs_Email the first e-mail (other
                                     contacts, messengers, are lost)
  prs_MailingStreet                  Person.address (one free text; an import joins prs_MailingStreet, City,
                                     State, PostalCode and Country into it)
  vic_TraffickingStatus              Case.trafficking_status
  vic_TraffickingStatusDecisionMakingOrg
                                     the identification route of an identified victim, through the country
                                     profile (authority's `htcds_decision_org`, else its kind)
  vic_RelationshipToTrafficker, vic_AgeWhenTrafficked (Case.age_at_exploitation), vic_MethodOfRecruitment,
  vic_MethodsOfControl, vic_TypeOfExploitation (CaseExploitation), vic_ForcedLabourIndustry,
  vic_TypeOfSexExploitation, per_RoleInProcess (Case.perpetrator_roles)
  cas_Status                         Active for an open case; Closed, or ClosedReferred when it was closed as
                                     referred elsewhere
  cas_ReasonForCaseClosure           the closure reason's English label (import: that label or the code;
                                     any other text is not kept and the reason becomes "other")
  cas_ReferringOrganisation          the referring agency's name (import: an agency of that exact name, else
                                     the importing agency, with a warning)
  cas_IncomingReferralDate           Case.first_contact_date
  con_Consent                        true when the person (or a guardian) consented to the processing of their
                                     data and has not withdrawn it; false for a child referred in their best
                                     interests, or a case kept under a legal obligation
  hte_Type, hte_Country, hte_City, hte_Date, hte_Description
                                     TraffickingEvent.type, country, place, date, details
  spl_Type, spl_Objectives, spl_ActionPlan, spl_PlannedEndDate, spl_ActualEndDate
                                     SupportPlanItem.type, objective, action, planned_end, actual_end

HTCDS fields with no OpenNRM counterpart (`NOT_EXPORTED`: an import warns once that their values were not kept)
  org_* (the organisation object; agencies are not exported), prs_Salutation, prs_Title, prs_MiddleName,
  prs_MaritalStatus, prs_NumberOfChildren, prs_HighestLevelOfEducation, prs_MailingLongitude/Latitude,
  vic_RecruitmentWebsitesAndApps, vic_ExploitationWebsitesAndApps, vic_LocationOfRecruitment,
  vic_LocationOfExploitation (OpenNRM records places as trafficking events), per_RoleDetails, per_Organisation,
  cas_CaseOwner, cas_ReferringPrimaryCaseWorker, cas_ReferredPrimaryCaseWorker (staff are not exported),
  cas_ReasonForIncomingReferral, cas_IncomingReferralDetails, cas_ReferredOrganisation,
  cas_ReasonForOutgoingReferral, cas_OutgoingReferralDate, cas_OutgoingReferralDetails (service referrals live
  in the referrals app and are not part of this export), cco_CaseComment (notes are internal working notes),
  hte_Street, hte_State, hte_PostalCode, hte_Longitude, hte_Latitude, and the deprecated vic_Vulnerabilities,
  vic_DetailsOfVulnerabilities (vic_AgreementToManagePersonalData is read as con_Consent when that is absent).

OpenNRM data HTCDS cannot carry: other names and spellings, document types, region, narrative, guardian,
screenings, decisions and their dates (identified_at), closure date, compensation, notes, attachments, referrals
and shelter stays. An imported case is therefore created as referred, identified, not identified or closed
according to cas_Status and vic_TraffickingStatus, without its history; a closed one is closed on the import date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pycountry
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone, translation

from opennrm.accounts.access import Access
from opennrm.accounts.roles import Perm, Scope
from opennrm.cases import choices
from opennrm.cases.choices import CaseStatus, ClosureReason, ConsentBasis, ConsentPurpose, TraffickingStatus
from opennrm.cases.models import Case, Consent, SupportPlanItem, TraffickingEvent
from opennrm.cases.selectors import scope_filter
from opennrm.core.profiles import AuthorityKind, active_profile
from opennrm.core.reference import (
    UnknownCodeError,
    htcds_field,
    htcds_fields,
    htcds_picklist,
    is_valid_country,
    language_code,
)

RECORD_ID = "cas_Id"
EVENT_KEY = "hte"
PLAN_KEY = "spl"
EVENT_FIELDS = ("hte_Type", "hte_Country", "hte_City", "hte_Date", "hte_Description")
PLAN_FIELDS = ("spl_Type", "spl_Objectives", "spl_ActionPlan", "spl_PlannedEndDate", "spl_ActualEndDate")
# Case-level fields, in the order of IOM's field list.
CASE_FIELDS = (
    "prs_FirstName",
    "prs_SecondName",
    "prs_Birthdate",
    "prs_Gender",
    "prs_Deceased",
    "prs_PrimaryLanguage",
    "prs_SecondaryLanguage",
    "prs_Citizenship",
    "prs_IdentityNumber",
    "prs_Email",
    "prs_HomePhone",
    "prs_MobilePhone",
    "prs_MailingStreet",
    "vic_TraffickingStatus",
    "vic_TraffickingStatusDecisionMakingOrg",
    "vic_RelationshipToTrafficker",
    "vic_AgeWhenTrafficked",
    "vic_MethodOfRecruitment",
    "vic_MethodsOfControl",
    "vic_TypeOfExploitation",
    "vic_ForcedLabourIndustry",
    "vic_TypeOfSexExploitation",
    "per_RoleInProcess",
    "cas_Status",
    "cas_ReasonForCaseClosure",
    "cas_ReferringOrganisation",
    "cas_IncomingReferralDate",
    "con_Consent",
)
EXPORTED_FIELDS = (*CASE_FIELDS, *EVENT_FIELDS, *PLAN_FIELDS)
# Read by the import, never written by the export.
IMPORT_ONLY_FIELDS = (
    "prs_MailingCity",
    "prs_MailingState",
    "prs_MailingPostalCode",
    "prs_MailingCountry",
    "vic_AgreementToManagePersonalData",
)
NOT_EXPORTED = tuple(
    f.name for f in htcds_fields() if f.name not in EXPORTED_FIELDS and f.name not in IMPORT_ONLY_FIELDS
)
# Values of these fields identify a person, or are free text that may: never shown in an import report.
IDENTIFYING_FIELDS = frozenset(
    {
        "prs_FirstName",
        "prs_SecondName",
        "prs_MiddleName",
        "prs_Birthdate",
        "prs_IdentityNumber",
        "prs_Email",
        "prs_HomePhone",
        "prs_MobilePhone",
        "prs_MailingStreet",
        "prs_MailingCity",
        "prs_MailingState",
        "prs_MailingPostalCode",
        "cas_ReasonForCaseClosure",
        "cas_ReferringOrganisation",
        "hte_City",
        "hte_Description",
        "spl_Objectives",
        "spl_ActionPlan",
        RECORD_ID,
    }
)
REQUIRED_FIELDS = ("prs_FirstName", "cas_IncomingReferralDate")
MULTI_PICKLISTS = {
    "vic_MethodOfRecruitment": "methods_of_recruitment",
    "vic_MethodsOfControl": "methods_of_control",
    "vic_TypeOfSexExploitation": "sexual_exploitation_types",
    "per_RoleInProcess": "perpetrator_roles",
}
SINGLE_PICKLISTS = {
    "vic_RelationshipToTrafficker": "relationship_to_trafficker",
    "vic_ForcedLabourIndustry": "forced_labour_industry",
}
MAX_LENGTHS = {"prs_FirstName": 200, "prs_SecondName": 200, "hte_City": 120, "cas_ReferringOrganisation": 200}
KIND_DECISION_ORG = {
    AuthorityKind.MULTI_AGENCY_BODY: "Other",
    AuthorityKind.GOVERNMENT_BODY: "NonPoliceGovernmentalOrganization",
    AuthorityKind.CRIMINAL_JUSTICE: "CourtOrProsecution",
}
# Bases of a data-processing consent that are the person's (or a guardian's) own consent.
CONSENTING_BASES = (ConsentBasis.CONSENT, ConsentBasis.GUARDIAN)
CHILD_AGE = 18
MAX_AGE = 120
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_COLUMN = re.compile(r"^(hte|spl)_([A-Za-z]+)(?:\[(\d{1,3})\])?$")
MAX_OCCURRENCES = 200
INVALID = "__invalid__"


# --- who may export identified data ----------------------------------------------------------------------


def exportable_cases(access: Access) -> QuerySet[Case]:
    """Cases whose HTCDS record (identifying data) the user may export.

    Identified data leaves OpenNRM only through the people who hold it: a case worker (who reads identity AND runs
    cases) for the cases their agency OWNS; with national scope in both permissions, every case. Coordinators and
    analysts have no identity permission and export the de-identified CTDC layout instead; decision makers read
    identity to decide but do not run cases, and cannot export them. Cases merely referred to or by the agency
    stay with their owner."""
    identity = scope_filter(access, Perm.CASE_VIEW_IDENTITY)
    runs = scope_filter(access, Perm.CASE_EDIT)
    if identity is None or runs is None:
        return Case.objects.none()
    cases = Case.objects.filter(identity).filter(runs)
    if access.is_national(Perm.CASE_VIEW_IDENTITY) and access.is_national(Perm.CASE_EDIT):
        return cases
    owned = access.agency_ids_with(Perm.CASE_EDIT, min_scope=Scope.AGENCY) & access.agency_ids_with(
        Perm.CASE_VIEW_IDENTITY, min_scope=Scope.AGENCY
    )
    return cases.filter(owning_agency_id__in=owned)


def may_export_identified(access: Access) -> bool:
    return access.has(Perm.CASE_VIEW_IDENTITY) and access.has(Perm.CASE_EDIT)


# --- export ------------------------------------------------------------------------------------------------


def _iso639_2(code: str) -> str:
    if len(code) == 3:
        return code
    language = pycountry.languages.get(alpha_2=code)
    return str(language.alpha_3) if language is not None else code


def _multi(picklist: str, values: Iterable[str]) -> list[str]:
    """HTCDS value names in the picklist's own order (stable across exports)."""
    wanted = set(values)
    return [
        choices.to_htcds(picklist, v) for v, _label in choices.htcds_snake_choices(picklist) if v in wanted
    ]


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _english(label: Any) -> str:
    with translation.override("en"):
        return str(label)


def decision_org(case: Case) -> str | None:
    if case.trafficking_status != TraffickingStatus.ACTUAL or not case.identification_route:
        return None
    try:
        authority = active_profile().authority(case.identification_route)
    except UnknownCodeError:
        return None
    return authority.htcds_decision_org or KIND_DECISION_ORG.get(authority.kind)


def route_for(org: str) -> str:
    """The identification route of this country's profile that exports as `org` ("" when none does)."""
    for authority in active_profile().authorities:
        if (authority.htcds_decision_org or KIND_DECISION_ORG.get(authority.kind)) == org:
            return authority.key
    return ""


def has_consent(consents: Iterable[Consent]) -> bool:
    return any(
        c.purpose == ConsentPurpose.DATA_PROCESSING
        and c.given
        and c.withdrawn_at is None
        and c.basis in CONSENTING_BASES
        for c in consents
    )


def export_queryset(cases: QuerySet[Case]) -> QuerySet[Case]:
    """`cases` with everything a record needs fetched in a fixed number of queries."""
    return (
        cases.select_related("person", "referring_agency")
        .prefetch_related(
            "exploitation_forms",
            Prefetch(
                "events", queryset=TraffickingEvent.objects.order_by(F("date").asc(nulls_last=True), "id")
            ),
            Prefetch(
                "plan_items",
                queryset=SupportPlanItem.objects.order_by(F("planned_end").asc(nulls_last=True), "id"),
            ),
            Prefetch("consents", queryset=Consent.objects.filter(purpose=ConsentPurpose.DATA_PROCESSING)),
        )
        .order_by("first_contact_date", "id")
    )


def case_record(case: Case) -> dict[str, Any]:
    """The HTCDS record of a case, JSON-shaped. Decrypts the person's identity: callers audit the read."""
    person = case.person
    contacts = cast(list[dict[str, Any]], person.contacts)
    documents = cast(list[dict[str, Any]], person.documents)
    phones = [str(c.get("value", "")) for c in contacts if c.get("kind") == "phone" and c.get("value")]
    emails = [str(c.get("value", "")) for c in contacts if c.get("kind") == "email" and c.get("value")]
    numbers = [str(d.get("number", "")).strip() for d in documents if str(d.get("number", "")).strip()]
    languages = [_iso639_2(code) for code in person.languages]
    closed = case.status == CaseStatus.CLOSED
    if not closed:
        status = "Active"
    else:
        status = (
            choices.CLOSURE_HTCDS_STATUS.get(ClosureReason(case.closure_reason), "Closed")
            if case.closure_reason
            else "Closed"
        )
    return {
        RECORD_ID: case.reference,
        "prs_FirstName": person.given_name,
        "prs_SecondName": person.family_name or None,
        "prs_Birthdate": _date(person.date_of_birth),
        "prs_Gender": choices.to_htcds("prs_Gender", person.sex),
        "prs_Deceased": closed and case.closure_reason == ClosureReason.DECEASED,
        "prs_PrimaryLanguage": languages[0] if languages else None,
        "prs_SecondaryLanguage": languages[1] if len(languages) > 1 else None,
        "prs_Citizenship": [c for c in [person.citizenship, *person.other_citizenships] if c],
        "prs_IdentityNumber": "; ".join(numbers) or None,
        "prs_Email": emails[0] if emails else None,
        "prs_HomePhone": phones[1] if len(phones) > 1 else None,
        "prs_MobilePhone": phones[0] if phones else None,
        "prs_MailingStreet": person.address or None,
        "vic_TraffickingStatus": choices.to_htcds("vic_TraffickingStatus", case.trafficking_status),
        "vic_TraffickingStatusDecisionMakingOrg": decision_org(case),
        "vic_RelationshipToTrafficker": choices.to_htcds(
            "vic_RelationshipToTrafficker", case.relationship_to_trafficker
        )
        if case.relationship_to_trafficker
        else None,
        "vic_AgeWhenTrafficked": case.age_at_exploitation,
        "vic_MethodOfRecruitment": _multi("vic_MethodOfRecruitment", case.methods_of_recruitment),
        "vic_MethodsOfControl": _multi("vic_MethodsOfControl", case.methods_of_control),
        "vic_TypeOfExploitation": _multi(
            "vic_TypeOfExploitation", [f.form for f in case.exploitation_forms.all()]
        ),
        "vic_ForcedLabourIndustry": choices.to_htcds("vic_ForcedLabourIndustry", case.forced_labour_industry)
        if case.forced_labour_industry
        else None,
        "vic_TypeOfSexExploitation": _multi("vic_TypeOfSexExploitation", case.sexual_exploitation_types),
        "per_RoleInProcess": _multi("per_RoleInProcess", case.perpetrator_roles),
        "cas_Status": status,
        "cas_ReasonForCaseClosure": _english(ClosureReason(case.closure_reason).label)
        if closed and case.closure_reason
        else None,
        "cas_ReferringOrganisation": case.referring_agency.name,
        "cas_IncomingReferralDate": case.first_contact_date.isoformat(),
        "con_Consent": has_consent(case.consents.all()),
        EVENT_KEY: [
            {
                "hte_Type": choices.to_htcds("hte_Type", event.type),
                "hte_Country": event.country or None,
                "hte_City": event.place or None,
                "hte_Date": _date(event.date),
                "hte_Description": event.details or None,
            }
            for event in case.events.all()
        ],
        PLAN_KEY: [
            {
                "spl_Type": choices.to_htcds("spl_Type", item.type),
                "spl_Objectives": item.objective or None,
                "spl_ActionPlan": item.action or None,
                "spl_PlannedEndDate": _date(item.planned_end),
                "spl_ActualEndDate": _date(item.actual_end),
            }
            for item in case.plan_items.all()
        ],
    }


def records(cases: QuerySet[Case]) -> Iterator[dict[str, Any]]:
    for case in export_queryset(cases):
        yield case_record(case)


# --- CSV layout --------------------------------------------------------------------------------------------


def csv_header(record_list: list[dict[str, Any]]) -> list[str]:
    """cas_Id, the case fields, then the repeating fields once per occurrence (at least once)."""
    events = max([len(r[EVENT_KEY]) for r in record_list] + [1])
    plans = max([len(r[PLAN_KEY]) for r in record_list] + [1])
    return [
        RECORD_ID,
        *CASE_FIELDS,
        *[f"{name}[{n}]" for n in range(1, events + 1) for name in EVENT_FIELDS],
        *[f"{name}[{n}]" for n in range(1, plans + 1) for name in PLAN_FIELDS],
    ]


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(record: dict[str, Any], header: list[str]) -> list[str]:
    flat: dict[str, Any] = {name: record.get(name) for name in (RECORD_ID, *CASE_FIELDS)}
    for key in (EVENT_KEY, PLAN_KEY):
        for n, item in enumerate(record[key], start=1):
            for name, value in item.items():
                flat[f"{name}[{n}]"] = value
    return [csv_cell(flat.get(name)) for name in header]


def uncsv_cell(text: str) -> str:
    """A CSV cell as written: without the quote that protected a formula-like value."""
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


# --- import: reading one record ----------------------------------------------------------------------------


@dataclass
class Problem:
    """What was wrong with one field of a row. `value` is set only when it cannot identify anyone."""

    field: str
    code: str
    value: str = ""
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    warning: bool = False


@dataclass
class EventData:
    type: str
    country: str
    place: str = ""
    date: dt.date | None = None
    details: str = ""


@dataclass
class PlanData:
    type: str
    objective: str
    action: str = ""
    planned_end: dt.date | None = None
    actual_end: dt.date | None = None


@dataclass
class CaseData:
    """One HTCDS record in OpenNRM's terms, validated."""

    record_id: str = ""
    given_name: str = ""
    family_name: str = ""
    date_of_birth: dt.date | None = None
    sex: str = "non_specified_unknown"
    languages: list[str] = field(default_factory=list)
    citizenship: str = ""
    other_citizenships: list[str] = field(default_factory=list)
    documents: list[dict[str, str]] = field(default_factory=list)
    contacts: list[dict[str, str]] = field(default_factory=list)
    address: str = ""
    deceased: bool = False
    trafficking_status: str = TraffickingStatus.POSSIBLE
    identification_route: str = ""
    relationship_to_trafficker: str = ""
    forced_labour_industry: str = ""
    age: int | None = None
    methods_of_recruitment: list[str] = field(default_factory=list)
    methods_of_control: list[str] = field(default_factory=list)
    exploitation_forms: list[str] = field(default_factory=list)
    sexual_exploitation_types: list[str] = field(default_factory=list)
    perpetrator_roles: list[str] = field(default_factory=list)
    closed: bool = False
    closure_reason: str = ""
    referring_organisation: str = ""
    first_contact_date: dt.date | None = None
    consent: bool = False
    events: list[EventData] = field(default_factory=list)
    plan: list[PlanData] = field(default_factory=list)

    @property
    def is_child(self) -> bool:
        return self.age is not None and self.age < CHILD_AGE


def classify_column(name: str) -> str:
    """What an import does with a column: "id", "field", "group", "unmapped" (HTCDS, no counterpart), "unknown"."""
    if name == RECORD_ID:
        return "id"
    if name in (EVENT_KEY, PLAN_KEY):
        return "group"
    if name in CASE_FIELDS or name in IMPORT_ONLY_FIELDS:
        return "field"
    match = _COLUMN.match(name)
    if match and f"{match[1]}_{match[2]}" in (*EVENT_FIELDS, *PLAN_FIELDS):
        return "group" if not match[3] or 1 <= int(match[3]) <= MAX_OCCURRENCES else "unknown"
    base = match and f"{match[1]}_{match[2]}"
    if name in NOT_EXPORTED or (base and base in NOT_EXPORTED):
        return "unmapped"
    return "unknown"


def suggest_column(name: str) -> str:
    known = [RECORD_ID, *CASE_FIELDS, *IMPORT_ONLY_FIELDS, *EVENT_FIELDS, *PLAN_FIELDS]
    close = difflib.get_close_matches(name.split("[")[0], known, n=1, cutoff=0.8)
    return close[0] if close else ""


def split_groups(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[int, dict[str, Any]]]]:
    """Case-level values, and the repeating objects by prefix and occurrence. JSON lists under `hte`/`spl` and CSV
    columns `hte_Type[2]` end up alike."""
    flat: dict[str, Any] = {}
    groups: dict[str, dict[int, dict[str, Any]]] = {EVENT_KEY: {}, PLAN_KEY: {}}
    for name, value in values.items():
        if name in (EVENT_KEY, PLAN_KEY) and isinstance(value, list):
            for n, item in enumerate(value, start=1):
                groups[name].setdefault(n, {}).update(item if isinstance(item, dict) else {INVALID: True})
            continue
        match = _COLUMN.match(name)
        if match and f"{match[1]}_{match[2]}" in (*EVENT_FIELDS, *PLAN_FIELDS):
            n = int(match[3] or 1)
            if 1 <= n <= MAX_OCCURRENCES:
                groups[match[1]].setdefault(n, {})[f"{match[1]}_{match[2]}"] = value
            continue
        flat[name] = value
    return flat, groups


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _looks_like(value: Any, pattern: str, max_length: int = 40) -> str:
    """`value` as text when it has the shape of a code (so cannot be a name or free text), else ""."""
    text = str(value).strip() if isinstance(value, str | int | bool) else ""
    return text if len(text) <= max_length and re.fullmatch(pattern, text) else ""


def shown_country(value: Any) -> tuple[str, str]:
    """An unknown country code as it may be shown, and the alpha-2 code meant when it is an alpha-3 one.

    Only two capitals, or a real alpha-3 code, are shown: "Eka" in a country column is data, not a typo."""
    text = str(value).strip() if isinstance(value, str) else ""
    if re.fullmatch(r"[A-Z]{2}", text):
        return text, ""
    country = pycountry.countries.get(alpha_3=text.upper()) if re.fullmatch(r"[A-Za-z]{3}", text) else None
    return (text, str(country.alpha_2)) if country is not None else ("", "")


def shown_choice(value: Any, known: Iterable[str]) -> tuple[str, str]:
    """An unknown categorical value as it may be shown (only a near miss of a known value: a typo, never data
    from a shifted column), and the value it was probably meant to be."""
    text = str(value).strip() if isinstance(value, str) else ""
    close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.75)
    if close and _looks_like(text, r"[A-Za-z0-9_/+ -]+"):
        return text, close[0]
    return "", close[0] if close else ""


class RecordReader:
    """Validates one HTCDS record field by field, collecting every problem instead of stopping at the first."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.problems: list[Problem] = []

    def problem(self, name: str, code: str, value: str = "", warning: bool = False, **params: Any) -> None:
        self.problems.append(Problem(field=name, code=code, value=value, params=params, warning=warning))

    # -- scalar kinds

    def text(self, values: Mapping[str, Any], name: str) -> str:
        value = values.get(name)
        if _blank(value):
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(name, "bad_type")
            return ""
        text = str(value).strip()
        limit = MAX_LENGTHS.get(name)
        if limit and len(text) > limit:
            self.problem(name, "too_long", limit=limit)
            return ""
        return text

    def date(self, values: Mapping[str, Any], name: str, *, past: bool = True) -> dt.date | None:
        value = values.get(name)
        if _blank(value):
            return None
        shown = "" if name in IDENTIFYING_FIELDS else _looks_like(value, r"[0-9./: T+Z-]+")
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
                raise ValueError
            parsed = dt.date.fromisoformat(value.strip())
        except ValueError:
            self.problem(name, "bad_date", shown)
            return None
        if past and parsed > self.today:
            self.problem(name, "future_date", shown)
            return None
        return parsed

    def picklist(self, values: Mapping[str, Any], name: str, picklist: str | None = None) -> str:
        value = values.get(name)
        if _blank(value):
            return ""
        if not isinstance(value, str):
            self.problem(name, "bad_type")
            return ""
        return self._code(name, picklist or name, value.strip())

    def multi(self, values: Mapping[str, Any], name: str) -> list[str]:
        value = values.get(name)
        if _blank(value):
            return []
        items = (
            value if isinstance(value, list) else str(value).split(";") if isinstance(value, str) else None
        )
        if items is None or not all(isinstance(i, str) for i in items):
            self.problem(name, "bad_type")
            return []
        found = [self._code(name, name, item.strip()) for item in items if item.strip()]
        return sorted({f for f in found if f})

    def _code(self, name: str, picklist: str, value: str) -> str:
        stored = _picklist_lookup(picklist).get(value.casefold())
        if stored is not None:
            return stored
        shown, suggestion = shown_choice(value, [c.value for c in htcds_picklist(picklist)])
        self.problem(name, "unknown_value", shown, suggestion=suggestion)
        return ""

    def country(self, values: Mapping[str, Any], name: str) -> str:
        value = values.get(name)
        if _blank(value):
            return ""
        code = str(value).strip().upper() if isinstance(value, str) else ""
        if not is_valid_country(code):
            shown, suggestion = shown_country(value)
            self.problem(name, "unknown_country", shown, suggestion=suggestion)
            return ""
        return code

    def countries(self, values: Mapping[str, Any], name: str) -> list[str]:
        value = values.get(name)
        if _blank(value):
            return []
        items = (
            value if isinstance(value, list) else str(value).split(";") if isinstance(value, str) else None
        )
        if items is None or not all(isinstance(i, str) for i in items):
            self.problem(name, "bad_type")
            return []
        found: list[str] = []
        for item in (i.strip().upper() for i in items if i.strip()):
            if not is_valid_country(item):
                shown, suggestion = shown_country(item)
                self.problem(name, "unknown_country", shown, suggestion=suggestion)
            elif item not in found:
                found.append(item)
        return found

    def language(self, values: Mapping[str, Any], name: str) -> str:
        value = values.get(name)
        if _blank(value):
            return ""
        try:
            if not isinstance(value, str):
                raise UnknownCodeError(name)
            return language_code(value.strip())
        except UnknownCodeError:
            self.problem(name, "unknown_language", _looks_like(value, r"[a-z]{2,3}"))
            return ""

    def boolean(self, values: Mapping[str, Any], name: str) -> bool | None:
        value = values.get(name)
        if _blank(value):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().casefold() if isinstance(value, str | int) else ""
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
        self.problem(name, "bad_boolean", _looks_like(value, r"[0-9.+-]+", 5))
        return None

    def age(self, values: Mapping[str, Any], name: str) -> int | None:
        value = values.get(name)
        if _blank(value):
            return None
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not re.fullmatch(r"\d{1,3}", text):
            self.problem(name, "bad_number", _looks_like(value, r"[0-9.,+ -]+", 10))
            return None
        if int(text) > MAX_AGE:
            self.problem(name, "out_of_range", text, minimum=0, maximum=MAX_AGE)
            return None
        return int(text)


@functools.cache
def _picklist_lookup(picklist: str) -> dict[str, str]:
    """Stored value by HTCDS value name, by OpenNRM's stored value, and by IOM's English label (all case-folded)."""
    lookup: dict[str, str] = {}
    for choice in htcds_picklist(picklist):
        stored = choices.snake(choice.value)
        for key in (choice.value, stored, choice.label):
            lookup.setdefault(key.strip().casefold(), stored)
    return lookup


@functools.cache
def _closure_lookup() -> dict[str, str]:
    lookup = {}
    for value, label in ClosureReason.choices:
        lookup[value.casefold()] = value
        lookup[_english(label).casefold()] = value
    return lookup


def read_record(values: Mapping[str, Any], *, today: dt.date | None = None) -> tuple[CaseData, list[Problem]]:
    """Validate one HTCDS record (a CSV row or a JSON object, keys = HTCDS field names)."""
    today = today or timezone.localdate()
    reader = RecordReader(today)
    flat, groups = split_groups(values)
    data = CaseData()
    record_id = flat.get(RECORD_ID)
    data.record_id = (
        str(record_id).strip()[:120] if isinstance(record_id, str | int) and not _blank(record_id) else ""
    )

    for name in REQUIRED_FIELDS:
        if _blank(flat.get(name)):
            reader.problem(name, "required")
    data.given_name = reader.text(flat, "prs_FirstName")
    data.family_name = reader.text(flat, "prs_SecondName")
    data.date_of_birth = reader.date(flat, "prs_Birthdate")
    if data.date_of_birth and data.date_of_birth.year < today.year - MAX_AGE:
        reader.problem("prs_Birthdate", "too_old", maximum=MAX_AGE)
        data.date_of_birth = None
    data.sex = reader.picklist(flat, "prs_Gender") or "non_specified_unknown"
    data.languages = [
        c for c in (reader.language(flat, n) for n in ("prs_PrimaryLanguage", "prs_SecondaryLanguage")) if c
    ]
    citizenships = reader.countries(flat, "prs_Citizenship")
    data.citizenship, data.other_citizenships = (
        (citizenships[0], citizenships[1:]) if citizenships else ("", [])
    )
    numbers = reader.text(flat, "prs_IdentityNumber")
    data.documents = [{"type": "other", "number": n.strip()} for n in numbers.split(";") if n.strip()]
    mobile, home, email = (reader.text(flat, n) for n in ("prs_MobilePhone", "prs_HomePhone", "prs_Email"))
    data.contacts = [
        {"kind": kind, "value": value}
        for kind, value in (("phone", mobile), ("phone", home), ("email", email))
        if value
    ]
    address = [
        reader.text(flat, n)
        for n in ("prs_MailingStreet", "prs_MailingCity", "prs_MailingState", "prs_MailingPostalCode")
    ]
    mailing_country = reader.country(flat, "prs_MailingCountry")
    data.address = ", ".join(part for part in [*address, mailing_country] if part)
    data.deceased = bool(reader.boolean(flat, "prs_Deceased"))

    data.trafficking_status = reader.picklist(flat, "vic_TraffickingStatus") or TraffickingStatus.POSSIBLE
    org = reader.picklist(flat, "vic_TraffickingStatusDecisionMakingOrg")
    if org and data.trafficking_status == TraffickingStatus.ACTUAL:
        htcds_org = choices.to_htcds("vic_TraffickingStatusDecisionMakingOrg", org)
        data.identification_route = route_for(htcds_org)
        if not data.identification_route:
            reader.problem("vic_TraffickingStatusDecisionMakingOrg", "no_route", htcds_org, warning=True)
    for name, attribute in SINGLE_PICKLISTS.items():
        setattr(data, attribute, reader.picklist(flat, name))
    for name, attribute in MULTI_PICKLISTS.items():
        setattr(data, attribute, reader.multi(flat, name))
    data.exploitation_forms = reader.multi(flat, "vic_TypeOfExploitation")
    data.first_contact_date = reader.date(flat, "cas_IncomingReferralDate")
    age = reader.age(flat, "vic_AgeWhenTrafficked")
    if data.date_of_birth and data.first_contact_date:
        born, on = data.date_of_birth, data.first_contact_date
        if born > on:
            reader.problem("prs_Birthdate", "born_after_contact")
        elif age is None:
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    data.age = age

    status = reader.picklist(flat, "cas_Status")
    data.closed = status in ("closed", "closed_referred")
    reason_text = reader.text(flat, "cas_ReasonForCaseClosure")
    if data.closed:
        data.closure_reason = _closure_lookup().get(reason_text.casefold(), "")
        if status == "closed_referred":
            data.closure_reason = ClosureReason.REFERRED_ELSEWHERE
        elif data.deceased:
            data.closure_reason = ClosureReason.DECEASED
        elif not data.closure_reason:
            if reason_text:
                reader.problem("cas_ReasonForCaseClosure", "reason_not_kept", warning=True)
            data.closure_reason = ClosureReason.OTHER
    elif data.deceased:
        reader.problem("prs_Deceased", "deceased_open_case", warning=True)
    data.referring_organisation = reader.text(flat, "cas_ReferringOrganisation")

    consent = reader.boolean(flat, "con_Consent")
    if consent is None and "con_Consent" not in flat:
        consent = reader.boolean(flat, "vic_AgreementToManagePersonalData")
    data.consent = bool(consent)
    if not data.consent and not data.is_child and data.given_name:
        reader.problem("con_Consent", "consent_required")

    for n, item in sorted(groups[EVENT_KEY].items()):
        event = _read_event(reader, item, n)
        if event is not None:
            data.events.append(event)
    for n, item in sorted(groups[PLAN_KEY].items()):
        plan = _read_plan(reader, item, n)
        if plan is not None:
            data.plan.append(plan)
    return data, reader.problems


def _suffixed(reader: RecordReader, n: int, start: int) -> None:
    """Name the occurrence in the problems just added: hte_Country -> hte_Country[2]."""
    for problem in reader.problems[start:]:
        if problem.field.startswith(("hte_", "spl_")) and "[" not in problem.field:
            problem.field = f"{problem.field}[{n}]"


def _read_event(reader: RecordReader, item: dict[str, Any], n: int) -> EventData | None:
    if item.get(INVALID):
        reader.problem(f"{EVENT_KEY}[{n}]", "bad_type")
        return None
    if all(_blank(item.get(name)) for name in EVENT_FIELDS):
        return None
    start = len(reader.problems)
    for name in ("hte_Type", "hte_Country"):
        if _blank(item.get(name)):
            reader.problem(name, "required")
    event = EventData(
        type=reader.picklist(item, "hte_Type"),
        country=reader.country(item, "hte_Country"),
        place=reader.text(item, "hte_City"),
        date=reader.date(item, "hte_Date"),
        details=reader.text(item, "hte_Description"),
    )
    _suffixed(reader, n, start)
    return event


def _read_plan(reader: RecordReader, item: dict[str, Any], n: int) -> PlanData | None:
    if item.get(INVALID):
        reader.problem(f"{PLAN_KEY}[{n}]", "bad_type")
        return None
    if all(_blank(item.get(name)) for name in PLAN_FIELDS):
        return None
    start = len(reader.problems)
    for name in ("spl_Type", "spl_Objectives"):
        if _blank(item.get(name)):
            reader.problem(name, "required")
    plan = PlanData(
        type=reader.picklist(item, "spl_Type"),
        objective=reader.text(item, "spl_Objectives"),
        action=reader.text(item, "spl_ActionPlan"),
        planned_end=reader.date(item, "spl_PlannedEndDate", past=False),
        actual_end=reader.date(item, "spl_ActualEndDate"),
    )
    _suffixed(reader, n, start)
    return plan


def field_label(name: str) -> str:
    """IOM's label of an HTCDS field (for the report), or the name itself."""
    base = name.split("[")[0]
    try:
        return htcds_field(base).label or name
    except UnknownCodeError:
        return name


def exported_field_names(record_list: list[dict[str, Any]]) -> list[str]:
    """The HTCDS field names an export wrote a value for (for the audit entry)."""
    names: set[str] = set()
    for record in record_list:
        names.update(k for k, v in record.items() if k in CASE_FIELDS and not _blank(v) and v is not False)
        for key in (EVENT_KEY, PLAN_KEY):
            for item in record[key]:
                names.update(k for k, v in item.items() if not _blank(v))
    return [name for name in EXPORTED_FIELDS if name in names]
