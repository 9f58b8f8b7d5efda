"""The column layout of the Counter Trafficking Data Collaborative's global k-anonymised dataset (CTDC), both ways.

`ctdc_rows()` yields one row per victim in that layout, de-identified: cases (not those found not to be victims),
anonymous notifications, and records imported from CTDC-layout files. It reads only clear statistics columns,
never an encrypted one, so it decrypts nothing. It is the RAW layout: CTDC publishes its dataset only after
k-anonymisation (k = 11), which the public release (`stats.release`) applies on top of these rows.

Columns (`COLUMNS`, in the order of CTDC's 2021 release) and the values OpenNRM writes
  yearOfRegistration          year of the first contact (cases, notifications)
  Datasource                  "Case Management"
  gender                      Female (feminine), Male (masculine), Transgender/NonConforming (transgender and
                              non-conforming), empty when not specified
  ageBroad                    0--8, 9--17, 18--20, 21--23, 24--26, 27--29, 30--38, 39--47, 48+; empty if unknown
  majorityStatus              Minor / Adult (at registration); empty when the age is unknown (a notification is
                              always an adult)
  majorityStatusAtExploit     Minor / Adult from the age when exploited; majorityEntry is always empty (OpenNRM
                              does not record the age at entry into the situation)
  citizenship                 ISO 3166-1 alpha-2
  meansOfControl<Method>      1/0 for each method when any method is recorded, else empty, with
                              meansOfControlNotSpecified = 1. From HTCDS vic_MethodsOfControl: PhysicalThreats and
                              ThreatensChildrenFamily -> Threats, ThreatsLawEnforcement -> ThreatOfLawEnforcement,
                              PsychoactiveSubstance -> PsychoactiveSubstances, the others by name. CTDC's
                              RestrictsMovement and UsesChildren have no HTCDS counterpart: 0 when methods are known.
  is<Form>                    1/0 when any form of exploitation is recorded, else empty. ForcedLabour, ChildLabour
                              and ForcedBegging -> isForcedLabour; SexualExploitation -> isSexualExploit;
                              ForcedMarriage, ForcedMilitaryByNonStateActors, OrganRemoval -> their column;
                              Servitude -> isSlaveryAndPractices; ForcedAdoption, Surrogacy, Other -> isOtherExploit;
                              isSexAndLabour when both.
  typeOfLabour<Industry>      only for forced labour (else empty): from vic_ForcedLabourIndustry (ISIC section)
                              A -> Agriculture, B -> MiningOrDrilling, C -> Manufacturing, F -> Construction,
                              H -> Transportation, I -> Hospitality, T -> DomesticWork, any other section -> Other;
                              ForcedBegging -> Begging; no industry -> NotSpecified. Aquafarming (inside ISIC A),
                              IllicitActivities and Peddling cannot be told apart in HTCDS and are always 0.
  typeOfSex<Type>             only for sexual exploitation with types recorded (else empty), one to one with
                              vic_TypeOfSexExploitation
  isAbduction                 1 when a perpetrator's role is Kidnapper, 0 when other roles are recorded, else empty
  RecruiterRelationship       the label of the relation below
  CountryOfExploitation       country of the first exploitation event (notifications: their country)
  recruiterRelation<Relation> from vic_RelationshipToTrafficker: Familial -> Family, Acquainted -> Friend,
                              Unaquainted -> Other; none recorded -> Unknown = 1 and the others empty. Lost: HTCDS
                              has no intimate-partner value (a partner is recorded as Familial or Acquainted), so
                              recruiterRelationIntimatePartner is always 0, and "Friend" stands for any acquaintance.
  *Concatenated               the labels of the columns set to 1, separated by ";"
Booleans are "1", "0" or "" (unknown / not applicable), never -99.

The import reads the same layout (column names matched without regard to case; CTDC's older "-99" and "00" for
missing are read as empty; concatenated columns are ignored, they are recomputed) into `ImportedStatisticRecord`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from opennrm.accounts.access import Access
from opennrm.accounts.roles import Perm, Scope
from opennrm.cases.choices import AgeGroup, EventType, TraffickingStatus, snake
from opennrm.cases.models import Case, CaseExploitation, Notification, TraffickingEvent
from opennrm.core.reference import is_valid_country
from opennrm.stats.htcds import Problem, shown_choice, shown_country
from opennrm.stats.models import ImportedStatisticRecord

CHILD_AGE = 18
DATASOURCE = "Case Management"

MEANS = (
    ("DebtBondage", "Debt bondage"),
    ("TakesEarnings", "Takes earnings"),
    ("RestrictsFinancialAccess", "Restricts financial access"),
    ("Threats", "Threats"),
    ("PsychologicalAbuse", "Psychological abuse"),
    ("PhysicalAbuse", "Physical abuse"),
    ("SexualAbuse", "Sexual abuse"),
    ("FalsePromises", "False promises"),
    ("PsychoactiveSubstances", "Psychoactive substances"),
    ("RestrictsMovement", "Restricts movement"),
    ("RestrictsMedicalCare", "Restricts medical care"),
    ("ExcessiveWorkingHours", "Excessive working hours"),
    ("UsesChildren", "Uses children"),
    ("ThreatOfLawEnforcement", "Threat of law enforcement"),
    ("WithholdsNecessities", "Withholds necessities"),
    ("WithholdsDocuments", "Withholds documents"),
    ("Other", "Other"),
    ("NotSpecified", "Not specified"),
)
FORMS = (
    ("isForcedLabour", "Forced labour"),
    ("isSexualExploit", "Sexual exploitation"),
    ("isOtherExploit", "Other exploitation"),
    ("isSexAndLabour", "Sexual exploitation and forced labour"),
    ("isForcedMarriage", "Forced marriage"),
    ("isForcedMilitary", "Forced military"),
    ("isOrganRemoval", "Organ removal"),
    ("isSlaveryAndPractices", "Slavery and similar practices"),
)
LABOUR = (
    ("Agriculture", "Agriculture"),
    ("Aquafarming", "Aquafarming"),
    ("Begging", "Begging"),
    ("Construction", "Construction"),
    ("DomesticWork", "Domestic work"),
    ("Hospitality", "Hospitality"),
    ("IllicitActivities", "Illicit activities"),
    ("Manufacturing", "Manufacturing"),
    ("MiningOrDrilling", "Mining or drilling"),
    ("Peddling", "Peddling"),
    ("Transportation", "Transportation"),
    ("Other", "Other"),
    ("NotSpecified", "Not specified"),
)
SEX = (
    ("Prostitution", "Prostitution"),
    ("Pornography", "Pornography"),
    ("RemoteInteractiveServices", "Remote interactive services"),
    ("PrivateSexualServices", "Private sexual services"),
)
RELATIONS = (
    ("IntimatePartner", "Intimate partner"),
    ("Friend", "Friend"),
    ("Family", "Family"),
    ("Other", "Other"),
    ("Unknown", "Unknown"),
)

MEANS_COLUMNS = tuple(f"meansOfControl{name}" for name, _label in MEANS)
FORM_COLUMNS = tuple(name for name, _label in FORMS)
LABOUR_COLUMNS = tuple(f"typeOfLabour{name}" for name, _label in LABOUR)
SEX_COLUMNS = tuple(f"typeOfSex{name}" for name, _label in SEX)
RELATION_COLUMNS = tuple(f"recruiterRelation{name}" for name, _label in RELATIONS)
CONCATENATED = {
    "meansOfControlConcatenated": (MEANS_COLUMNS, [label for _n, label in MEANS]),
    "typeOfExploitConcatenated": (FORM_COLUMNS, [label for _n, label in FORMS]),
    "typeOfLabourConcatenated": (LABOUR_COLUMNS, [label for _n, label in LABOUR]),
    "typeOfSexConcatenated": (SEX_COLUMNS, [label for _n, label in SEX]),
    "RecruiterRelationship": (RELATION_COLUMNS, [label for _n, label in RELATIONS]),
}
BOOLEAN_COLUMNS = (
    *MEANS_COLUMNS,
    *FORM_COLUMNS,
    *LABOUR_COLUMNS,
    *SEX_COLUMNS,
    "isAbduction",
    *RELATION_COLUMNS,
)
COLUMNS = (
    "yearOfRegistration",
    "Datasource",
    "gender",
    "ageBroad",
    "majorityStatus",
    "majorityStatusAtExploit",
    "majorityEntry",
    "citizenship",
    *MEANS_COLUMNS,
    "meansOfControlConcatenated",
    *FORM_COLUMNS,
    "typeOfExploitConcatenated",
    *LABOUR_COLUMNS,
    "typeOfLabourConcatenated",
    *SEX_COLUMNS,
    "typeOfSexConcatenated",
    "isAbduction",
    "RecruiterRelationship",
    "CountryOfExploitation",
    *RELATION_COLUMNS,
)

AGE_BROAD = {
    AgeGroup.A0_8: "0--8",
    AgeGroup.A9_17: "9--17",
    AgeGroup.A18_20: "18--20",
    AgeGroup.A21_23: "21--23",
    AgeGroup.A24_26: "24--26",
    AgeGroup.A27_29: "27--29",
    AgeGroup.A30_38: "30--38",
    AgeGroup.A39_47: "39--47",
    AgeGroup.A48: "48+",
}
CHILD_GROUPS = (AgeGroup.A0_8, AgeGroup.A9_17)
GENDER = {
    "feminine": "Female",
    "masculine": "Male",
    "transgender_feminine": "Transgender/NonConforming",
    "transgender_masculine": "Transgender/NonConforming",
    "non_conforming": "Transgender/NonConforming",
}
GENDER_IMPORT = {
    "female": "feminine",
    "woman": "feminine",
    "male": "masculine",
    "man": "masculine",
    "transgender/nonconforming": "non_conforming",
    "transgender": "non_conforming",
    "nonconforming": "non_conforming",
    "unknown": "non_specified_unknown",
}
MEANS_FROM_HTCDS = {
    snake("PhysicalThreats"): "Threats",
    snake("ThreatsLawEnforcement"): "ThreatOfLawEnforcement",
    snake("ThreatensChildrenFamily"): "Threats",
    snake("DebtBondage"): "DebtBondage",
    snake("FalsePromises"): "FalsePromises",
    snake("PhysicalAbuse"): "PhysicalAbuse",
    snake("SexualAbuse"): "SexualAbuse",
    snake("TakesEarnings"): "TakesEarnings",
    snake("RestrictsFinancialAccess"): "RestrictsFinancialAccess",
    snake("RestrictsMedicalCare"): "RestrictsMedicalCare",
    snake("WithholdsNecessities"): "WithholdsNecessities",
    snake("PsychologicalAbuse"): "PsychologicalAbuse",
    snake("PsychoactiveSubstance"): "PsychoactiveSubstances",
    snake("ExcessiveWorkingHours"): "ExcessiveWorkingHours",
    snake("WithholdsDocuments"): "WithholdsDocuments",
    snake("Other"): "Other",
}
FORM_FROM_HTCDS = {
    snake("ForcedLabour"): "isForcedLabour",
    snake("ChildLabour"): "isForcedLabour",
    snake("ForcedBegging"): "isForcedLabour",
    snake("SexualExploitation"): "isSexualExploit",
    snake("ForcedMarriage"): "isForcedMarriage",
    snake("ForcedMilitaryByNonStateActors"): "isForcedMilitary",
    snake("OrganRemoval"): "isOrganRemoval",
    snake("Servitude"): "isSlaveryAndPractices",
    snake("ForcedAdoption"): "isOtherExploit",
    snake("Surrogacy"): "isOtherExploit",
    snake("Other"): "isOtherExploit",
}
# Import: the OpenNRM form a CTDC exploitation column stands for (statistics of imported records).
FORM_TO_HTCDS = {
    "isForcedLabour": "forced_labour",
    "isSexualExploit": "sexual_exploitation",
    "isForcedMarriage": "forced_marriage",
    "isForcedMilitary": "forced_military_by_non_state_actors",
    "isOrganRemoval": "organ_removal",
    "isSlaveryAndPractices": "servitude",
    "isOtherExploit": "other",
}
LABOUR_FROM_INDUSTRY = {
    snake("A_AgricultureForestryAndFishing"): "Agriculture",
    snake("B_MiningAndQuarrying"): "MiningOrDrilling",
    snake("C_Manufacturing"): "Manufacturing",
    snake("F_Construction"): "Construction",
    snake("H_TransportationAndStorage"): "Transportation",
    snake("I_AccommodationAndFoodServiceActivities"): "Hospitality",
    snake("T_ActivitiesOfHouseholdsAsEmployers"): "DomesticWork",
}
SEX_FROM_HTCDS = {
    snake("Prostitution"): "Prostitution",
    snake("Pornography"): "Pornography",
    snake("RemoteInteractiveServices"): "RemoteInteractiveServices",
    snake("PrivateSexualServices"): "PrivateSexualServices",
}
RELATION_FROM_HTCDS = {"familial": "Family", "acquainted": "Friend", "unaquainted": "Other"}
KIDNAPPER = "kidnapper"


# --- building rows -----------------------------------------------------------------------------------------


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _majority(age: int | None) -> str:
    if age is None:
        return ""
    return "Minor" if age < CHILD_AGE else "Adult"


def _set_group(row: dict[str, str], prefix: str, names: tuple[str, ...], chosen: set[str]) -> None:
    for name in names:
        row[f"{prefix}{name}"] = _flag(name in chosen)


def _concatenate(row: dict[str, str]) -> None:
    for column, (columns, labels) in CONCATENATED.items():
        row[column] = ";".join(
            label for name, label in zip(columns, labels, strict=True) if row.get(name) == "1"
        )


def build_row(
    *,
    year: int,
    sex: str,
    age_group: str,
    is_child: bool | None,
    age_at_exploitation: int | None,
    citizenship: str,
    forms: Collection[str],
    methods: Collection[str] = (),
    industry: str = "",
    sex_types: Collection[str] = (),
    roles: Collection[str] = (),
    relationship: str = "",
    exploitation_country: str = "",
) -> dict[str, str]:
    """One CTDC row from OpenNRM's statistics fields (HTCDS vocabulary)."""
    row = dict.fromkeys(COLUMNS, "")
    row["yearOfRegistration"] = str(year)
    row["Datasource"] = DATASOURCE
    row["gender"] = GENDER.get(sex, "")
    row["ageBroad"] = AGE_BROAD.get(AgeGroup(age_group), "") if age_group in AgeGroup.values else ""
    if is_child is not None:
        row["majorityStatus"] = "Minor" if is_child else "Adult"
    row["majorityStatusAtExploit"] = _majority(age_at_exploitation)
    row["citizenship"] = citizenship
    if methods:
        _set_group(row, "meansOfControl", tuple(n for n, _l in MEANS), {MEANS_FROM_HTCDS[m] for m in methods})
    else:
        row["meansOfControlNotSpecified"] = "1"
    if forms:
        chosen = {FORM_FROM_HTCDS[f] for f in forms if f in FORM_FROM_HTCDS}
        if "isForcedLabour" in chosen and "isSexualExploit" in chosen:
            chosen.add("isSexAndLabour")
        for column in FORM_COLUMNS:
            row[column] = _flag(column in chosen)
        if "isForcedLabour" in chosen:
            labour = {LABOUR_FROM_INDUSTRY.get(industry, "Other")} if industry else set()
            if "forced_begging" in forms:
                labour.add("Begging")
            _set_group(row, "typeOfLabour", tuple(n for n, _l in LABOUR), labour or {"NotSpecified"})
        if "isSexualExploit" in chosen and sex_types:
            _set_group(row, "typeOfSex", tuple(n for n, _l in SEX), {SEX_FROM_HTCDS[s] for s in sex_types})
    if roles:
        row["isAbduction"] = _flag(KIDNAPPER in roles)
    if relationship in RELATION_FROM_HTCDS:
        _set_group(
            row, "recruiterRelation", tuple(n for n, _l in RELATIONS), {RELATION_FROM_HTCDS[relationship]}
        )
    else:
        row["recruiterRelationUnknown"] = "1"
    row["CountryOfExploitation"] = exploitation_country
    _concatenate(row)
    return row


def _case_rows(cases: QuerySet[Case]) -> Iterator[dict[str, str]]:
    """Rows of cases, from clear columns only (values(): nothing is decrypted)."""
    cases = cases.exclude(trafficking_status=TraffickingStatus.NOT_VICTIM)
    fields = (
        "pk",
        "first_contact_date",
        "person__sex",
        "person__citizenship",
        "age_group",
        "is_child",
        "age_at_exploitation",
        "methods_of_control",
        "forced_labour_industry",
        "sexual_exploitation_types",
        "perpetrator_roles",
        "relationship_to_trafficker",
    )
    batch: list[dict[str, Any]] = []
    for values in cases.order_by("first_contact_date", "pk").values(*fields).iterator(chunk_size=500):
        batch.append(values)
        if len(batch) == 500:
            yield from _case_batch(batch)
            batch = []
    if batch:
        yield from _case_batch(batch)


def _case_batch(batch: list[dict[str, Any]]) -> Iterator[dict[str, str]]:
    ids = [v["pk"] for v in batch]
    forms: dict[int, set[str]] = {}
    for case_id, form in CaseExploitation.objects.filter(case_id__in=ids).values_list("case_id", "form"):
        forms.setdefault(case_id, set()).add(form)
    countries: dict[int, str] = {}
    events = TraffickingEvent.objects.filter(case_id__in=ids, type=EventType.EXPLOITATION).order_by(
        F("date").asc(nulls_last=True), "id"
    )
    for case_id, country in events.values_list("case_id", "country"):
        countries.setdefault(case_id, country)
    for v in batch:
        known_age = v["age_group"] != AgeGroup.UNKNOWN
        yield build_row(
            year=v["first_contact_date"].year,
            sex=v["person__sex"],
            age_group=v["age_group"],
            is_child=True if v["is_child"] else (False if known_age else None),
            age_at_exploitation=v["age_at_exploitation"],
            citizenship=v["person__citizenship"],
            forms=forms.get(v["pk"], set()),
            methods=set(v["methods_of_control"]),
            industry=v["forced_labour_industry"],
            sex_types=set(v["sexual_exploitation_types"]),
            roles=set(v["perpetrator_roles"]),
            relationship=v["relationship_to_trafficker"],
            exploitation_country=countries.get(v["pk"], ""),
        )


def _notification_rows(notifications: QuerySet[Notification]) -> Iterator[dict[str, str]]:
    fields = (
        "first_contact_date",
        "sex",
        "age_group",
        "citizenship",
        "exploitation_forms",
        "exploitation_country",
    )
    for v in notifications.order_by("first_contact_date", "pk").values(*fields).iterator(chunk_size=500):
        yield build_row(
            year=v["first_contact_date"].year,
            sex=v["sex"],
            age_group=v["age_group"],
            is_child=False,  # a child is always referred, never notified
            age_at_exploitation=None,
            citizenship=v["citizenship"],
            forms=set(v["exploitation_forms"]),
            exploitation_country=v["exploitation_country"],
        )


def _imported_rows(records: QuerySet[ImportedStatisticRecord]) -> Iterator[dict[str, str]]:
    for stored in (
        records.order_by("year_of_registration", "pk").values_list("ctdc", flat=True).iterator(chunk_size=500)
    ):
        row = {column: str(stored.get(column, "")) for column in COLUMNS}
        _concatenate(row)
        yield row


def ctdc_rows(
    *,
    cases: QuerySet[Case] | None = None,
    notifications: QuerySet[Notification] | None = None,
    imported: QuerySet[ImportedStatisticRecord] | None = None,
) -> Iterator[dict[str, str]]:
    """Every victim as one CTDC row (a dict keyed by `COLUMNS`, values as strings in CTDC's conventions).

    Each argument narrows one source; None means all of it, `.none()` leaves it out. Cases found not to be victims
    are never included. Nothing is decrypted. For the public release, k-anonymise these rows before publishing."""
    yield from _case_rows(Case.objects.all() if cases is None else cases)
    yield from _notification_rows(Notification.objects.all() if notifications is None else notifications)
    yield from _imported_rows(ImportedStatisticRecord.objects.all() if imported is None else imported)


# --- who may export ----------------------------------------------------------------------------------------


def may_export(access: Access) -> bool:
    return access.has(Perm.STATS_EXPORT)


def scoped_sources(
    access: Access,
) -> tuple[QuerySet[Case], QuerySet[Notification], QuerySet[ImportedStatisticRecord]]:
    """What a user with `stats.export` reaches, through each membership's scope: national -> everything; agency ->
    what the agency owns or referred (and the statistics imported for it); own -> what the user filed."""
    memberships = access.memberships_with(Perm.STATS_EXPORT)
    if not memberships:
        return Case.objects.none(), Notification.objects.none(), ImportedStatisticRecord.objects.none()
    if any(m.scope == Scope.NATIONAL for m in memberships):
        return Case.objects.all(), Notification.objects.all(), ImportedStatisticRecord.objects.all()
    agencies = {m.agency_id for m in memberships if m.scope == Scope.AGENCY}
    cases = (
        Q(owning_agency_id__in=agencies)
        | Q(referring_agency_id__in=agencies)
        | Q(created_by_id=access.user_id)
    )
    notifications = Q(referring_agency_id__in=agencies) | Q(created_by_id=access.user_id)
    imported = Q(agency_id__in=agencies) | Q(job__created_by_id=access.user_id)
    return (
        Case.objects.filter(cases),
        Notification.objects.filter(notifications),
        ImportedStatisticRecord.objects.filter(imported),
    )


# --- import ------------------------------------------------------------------------------------------------

_MISSING = {"", "-99", "00", "n/a", "null", "none"}  # never "NA": it is Namibia
_AGE = re.compile(r"^0?(\d{1,2})\s*-{1,2}\s*0?(\d{1,2})$")
AGE_IMPORT = {
    (0, 8): AgeGroup.A0_8,
    (9, 17): AgeGroup.A9_17,
    (18, 20): AgeGroup.A18_20,
    (21, 23): AgeGroup.A21_23,
    (24, 26): AgeGroup.A24_26,
    (27, 29): AgeGroup.A27_29,
    (30, 38): AgeGroup.A30_38,
    (39, 47): AgeGroup.A39_47,
}
_BY_LOWER = {c.casefold(): c for c in COLUMNS}
IMPORT_IGNORED = frozenset(CONCATENATED)


def canonical_column(name: str) -> str:
    """The CTDC column a header names (case-insensitive), or "" when none."""
    return _BY_LOWER.get(name.strip().casefold(), "")


DATASOURCES = {
    "casemanagement": "Case Management",
    "counselling/hotline": "Counselling / Hotline",
    "hotline": "Hotline",
}


def _shown(value: str, pattern: str) -> str:
    """The value when its shape cannot hold a name (digits, dashes): shown in the report; else ""."""
    return value if re.fullmatch(pattern, value) else ""


def _unknown(column: str, value: str, known: Iterable[str]) -> Problem:
    shown, suggestion = shown_choice(value, known)
    return Problem(column, "unknown_value", shown, {"suggestion": suggestion})


def read_row(
    values: Mapping[str, Any], *, today: dt.date | None = None
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Validate one CTDC row (keys = canonical column names). Returns the fields of an `ImportedStatisticRecord`
    (with the normalised row under "ctdc"), or None with the problems."""
    today = today or timezone.localdate()
    problems: list[Problem] = []
    text = {c: ("" if values.get(c) is None else str(values.get(c)).strip()) for c in COLUMNS}
    for column, value in text.items():
        if value.casefold() in _MISSING:
            text[column] = ""
    row = dict.fromkeys(COLUMNS, "")

    year = text["yearOfRegistration"]
    if not year:
        problems.append(Problem("yearOfRegistration", "required"))
    elif not re.fullmatch(r"\d{4}(\.0)?", year) or not 1900 <= int(float(year)) <= today.year:
        problems.append(
            Problem("yearOfRegistration", "bad_year", _shown(year, r"[0-9.]{1,8}"), {"maximum": today.year})
        )
    else:
        row["yearOfRegistration"] = str(int(float(year)))
    if text["Datasource"]:
        source = DATASOURCES.get(text["Datasource"].casefold().replace(" ", ""), "")
        row["Datasource"] = source
        if not source:  # free text is not kept: it could say anything
            unknown = _unknown("Datasource", text["Datasource"], DATASOURCES.values())
            problems.append(dataclasses.replace(unknown, warning=True))

    sex = "non_specified_unknown"
    if text["gender"]:
        key = text["gender"].casefold().replace(" ", "")
        if key in GENDER_IMPORT:
            sex = GENDER_IMPORT[key]
            row["gender"] = GENDER.get(sex, "")
        else:
            problems.append(_unknown("gender", text["gender"], [*GENDER.values(), "Woman", "Man", "Unknown"]))

    age_group = AgeGroup.UNKNOWN
    if text["ageBroad"]:
        match = _AGE.match(text["ageBroad"])
        if text["ageBroad"] == "48+":
            age_group = AgeGroup.A48
        elif match and (int(match[1]), int(match[2])) in AGE_IMPORT:
            age_group = AGE_IMPORT[(int(match[1]), int(match[2]))]
        else:
            problems.append(Problem("ageBroad", "unknown_value", _shown(text["ageBroad"], r"[0-9 +-]{1,10}")))
        row["ageBroad"] = AGE_BROAD.get(age_group, "")

    is_child: bool | None = None
    for column in ("majorityStatus", "majorityStatusAtExploit", "majorityEntry"):
        value = text[column].casefold()
        if value in ("minor", "adult"):
            row[column] = value.capitalize()
        elif value:
            problems.append(_unknown(column, text[column], ["Adult", "Minor"]))
    if row["majorityStatus"]:
        is_child = row["majorityStatus"] == "Minor"
        if age_group != AgeGroup.UNKNOWN and is_child != (age_group in CHILD_GROUPS):
            problems.append(
                Problem("majorityStatus", "inconsistent_age", row["majorityStatus"], {"age": row["ageBroad"]})
            )
    elif age_group != AgeGroup.UNKNOWN:
        is_child = age_group in CHILD_GROUPS

    for column in ("citizenship", "CountryOfExploitation"):
        code = text[column].upper()
        if code and not is_valid_country(code):
            shown, suggestion = shown_country(text[column])
            problems.append(Problem(column, "unknown_country", shown, {"suggestion": suggestion}))
        else:
            row[column] = code

    for column in BOOLEAN_COLUMNS:
        value = text[column].casefold()
        if value in ("1", "1.0", "true", "yes"):
            row[column] = "1"
        elif value in ("0", "0.0", "false", "no"):
            row[column] = "0"
        elif value:
            problems.append(Problem(column, "bad_boolean", _shown(text[column], r"[0-9.+-]{1,5}")))
    _concatenate(row)
    if any(not p.warning for p in problems):
        return None, problems
    forms = sorted({FORM_TO_HTCDS[c] for c in FORM_TO_HTCDS if row[c] == "1"})
    if row["typeOfLabourBegging"] == "1":
        forms = sorted({*forms, "forced_begging"})
    return {
        "year_of_registration": int(row["yearOfRegistration"]),
        "sex": sex,
        "age_group": age_group,
        "is_child": is_child,
        "citizenship": row["citizenship"],
        "exploitation_country": row["CountryOfExploitation"],
        "exploitation_forms": forms,
        "ctdc": {c: v for c, v in row.items() if c not in IMPORT_IGNORED},
    }, problems
