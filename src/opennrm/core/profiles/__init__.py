"""Country profiles: the facts of each country's National Referral Mechanism, kept as data.

One YAML file per country (`ge.yaml`, `ua.yaml`, ...) next to this module, validated against
`schema.json` when loaded. Nothing country-specific lives in code: deadlines, amounts, authorities,
calendars and regions are read from the profile of the instance (`settings.OPENNRM_COUNTRY`).
The format and the placeholders that must be confirmed locally are described in
`docs/country-profiles.md`.

Deadline conventions (stated once, used everywhere):

- ``hours``: elapsed time; start + N hours, whatever the calendar and clock changes.
- ``working_days``: the same time of day on the N-th *following* working day in the profile's time zone.
  A working day is a day that is neither a weekend day nor a public holiday of the profile's calendar
  (a Saturday the government declares a working day counts as one). The start day never counts, even
  when it is a working day; a start on a weekend or holiday counts from the next working day.
- ``calendar_days``: the same time of day N calendar days later in the profile's time zone.

A local time that does not exist (the hour skipped when clocks go forward) moves forward by the gap.
"""

from __future__ import annotations

import enum
import functools
import gettext as gettext_module
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
import jsonschema
import pycountry
import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

__all__ = [
    "PROFILES_DIR",
    "Authority",
    "AuthorityKind",
    "Compensation",
    "CountryProfile",
    "Deadline",
    "DeadlineUnit",
    "Duration",
    "HolidayCalendar",
    "LabourInspection",
    "LocalText",
    "Region",
    "Retention",
    "ShelterStay",
    "Source",
    "StatusValidity",
    "UnknownProfileError",
    "active_profile",
    "get_profile",
    "load_profile_file",
    "load_profiles",
    "validate_all",
]

PROFILES_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PROFILES_DIR / "schema.json"


class UnknownProfileError(LookupError):
    """No profile ships for the requested country code."""


# --- text in several languages ------------------------------------------------------------------


def _active_language() -> str:
    if not settings.configured:
        return "en"
    return translation.get_language() or settings.LANGUAGE_CODE


@dataclass(frozen=True, slots=True)
class LocalText:
    """Text shown to users. The profile gives English, and may give other languages.

    `str()` answers in the active Django language: the profile's own text for that language if it
    has one, else the project's translation of the English text, else the English text.
    """

    texts: tuple[tuple[str, str], ...]

    @classmethod
    def from_data(cls, value: str | Mapping[str, str]) -> LocalText:
        if isinstance(value, str):
            return cls((("en", value.strip()),))
        return cls(tuple((lang.lower(), text.strip()) for lang, text in value.items()))

    @property
    def en(self) -> str:
        return dict(self.texts)["en"]

    def in_language(self, language: str) -> str:
        texts = dict(self.texts)
        language = language.lower()
        for candidate in (language, language.split("-")[0]):
            if candidate in texts:
                return texts[candidate]
        if language == "en" or not settings.configured:
            return texts["en"]
        with translation.override(language):
            return translation.gettext(texts["en"])

    def __str__(self) -> str:
        return self.in_language(_active_language())


def _text(value: Any) -> LocalText:
    return LocalText.from_data(value)


def _optional_text(value: Any) -> LocalText | None:
    return None if value is None else LocalText.from_data(value)


# --- the parts of a profile ---------------------------------------------------------------------


class DeadlineUnit(enum.StrEnum):
    HOURS = "hours"
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


class AuthorityKind(enum.StrEnum):
    MULTI_AGENCY_BODY = "multi_agency_body"
    GOVERNMENT_BODY = "government_body"
    CRIMINAL_JUSTICE = "criminal_justice"


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """The `holidays` package calendar used to count working days."""

    country: str
    subdivision: str | None
    categories: tuple[str, ...] | None
    note: LocalText | None

    def for_year(self, year: int) -> holidays_lib.HolidayBase:
        return _holiday_calendar(self.country, self.subdivision, self.categories, year)


@dataclass(frozen=True, slots=True)
class Authority:
    """One identification route: the body that grants victim status, and how."""

    key: str
    name: LocalText
    kind: AuthorityKind
    description: LocalText
    htcds_decision_org: str | None


@dataclass(frozen=True, slots=True)
class Deadline:
    """A decision clock. When `configured` is false, amount and unit are a placeholder to flag."""

    amount: int
    unit: DeadlineUnit
    starts: LocalText
    configured: bool
    decision: LocalText | None
    note: LocalText | None
    source: LocalText | None


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: str  # days | months | years


@dataclass(frozen=True, slots=True)
class StatusValidity:
    maximum: Duration
    renewable: bool
    note: LocalText | None
    source: LocalText | None


@dataclass(frozen=True, slots=True)
class Compensation:
    """One-off state compensation. When `configured` is false the amount is not set or not confirmed."""

    amount_rule: str  # fixed | subsistence_minimum
    amount: Decimal | None
    amount_as_of: date | None
    currency: str
    basis: LocalText
    since_year: int | None
    condition: LocalText | None
    preserves_right_to_sue: bool | None
    configured: bool
    note: LocalText | None
    source: LocalText | None


@dataclass(frozen=True, slots=True)
class ShelterStay:
    initial: Duration | None
    maximum: Duration
    note: LocalText | None
    source: LocalText | None


@dataclass(frozen=True, slots=True)
class Retention:
    """Years after closure after which a case is de-identified; `configured` false while a placeholder."""

    closed_case_years: int
    configured: bool
    note: LocalText | None


@dataclass(frozen=True, slots=True)
class LabourInspection:
    """What follows a referral from a labour inspection (optional section; absent: nobody else is alerted)."""

    notify_police_on_referral: bool = False
    police_agency_kind: str = "law_enforcement"


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: LocalText
    type: str


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str | None
    note: str | None


# --- the profile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryProfile:
    """The validated profile of one country. Build it with `load_profile_file`, not by hand."""

    code: str
    version: str
    valid_from: date
    name: LocalText
    currency: str
    languages: tuple[str, ...]
    time_zone: str
    law: LocalText
    holidays: HolidayCalendar
    authorities: tuple[Authority, ...]
    decision_deadline: Deadline
    child_decision_deadline: Deadline | None
    status_validity: StatusValidity | None
    compensation: Compensation | None
    shelter_stay: ShelterStay | None
    reflection_period_days: int
    retention: Retention
    regions: tuple[Region, ...]
    sources: tuple[Source, ...]
    path: Path = field(compare=False, repr=False)
    labour_inspection: LabourInspection = LabourInspection()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    # working days and deadlines

    def is_working_day(self, d: date) -> bool:
        """False on weekends and on the public holidays of the profile's calendar."""
        return bool(self.holidays.for_year(d.year).is_working_day(d))

    def deadline(self, *, child: bool = False) -> Deadline:
        """The clock that applies: the child deadline for a child when the profile has one."""
        if child and self.child_decision_deadline is not None:
            return self.child_decision_deadline
        return self.decision_deadline

    def decision_deadline_from(self, start: datetime, *, child: bool = False) -> datetime:
        """When the identification decision is due, for a clock started at `start` (an aware datetime).

        The answer is an aware datetime in the profile's time zone; the conventions for each unit are
        in the module docstring. It is computed even when the deadline is a placeholder: check
        `deadline(child=...).configured` and flag the date when it is false.
        """
        return self.add_deadline(self.deadline(child=child), start)

    def add_deadline(self, deadline: Deadline, start: datetime) -> datetime:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("A deadline needs an aware datetime (use django.utils.timezone.now()).")
        zone = self.zone
        if deadline.unit is DeadlineUnit.HOURS:
            return (start.astimezone(UTC) + timedelta(hours=deadline.amount)).astimezone(zone)
        local = start.astimezone(zone)
        if deadline.unit is DeadlineUnit.CALENDAR_DAYS:
            day = local.date() + timedelta(days=deadline.amount)
        else:
            day = self.nth_working_day_after(local.date(), deadline.amount)
        return _local_datetime(day, local.timetz().replace(tzinfo=None), zone)

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The n-th working day after `d` (`d` itself never counts)."""
        if n < 1:
            raise ValueError("n must be at least 1.")
        counted = 0
        while counted < n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                counted += 1
        return d

    def reflection_period_end(self, first_contact: date) -> date:
        """Last day of the recovery and reflection period that starts on the day of first contact.

        Day 1 is the day after first contact, so with 30 days a first contact on 1 March ends on
        31 March; the period runs to the end of that day.
        """
        return first_contact + timedelta(days=self.reflection_period_days)

    def de_identification_due(self, closed_on: date) -> date:
        """Date from which a case closed on `closed_on` is due for de-identification.

        While `retention.configured` is false the period is a placeholder: report, do not act.
        """
        years = self.retention.closed_case_years
        try:
            return closed_on.replace(year=closed_on.year + years)
        except ValueError:  # 29 February into a non-leap year
            return closed_on.replace(year=closed_on.year + years, day=28)

    # regions and authorities

    def region_name(self, code: str, *, language: str | None = None) -> str:
        """Name of an ISO 3166-2 region of this country, in the active (or given) language."""
        region = self._regions_by_code().get(code.upper())
        if region is None:
            from opennrm.core.reference import UnknownCodeError

            raise UnknownCodeError(f"{code!r} is not a region of the {self.code} profile.")
        return _region_display(region, language or _active_language())

    def region_choices(self, *, language: str | None = None) -> list[tuple[str, str]]:
        """(code, name) of the regions, sorted by name in the active (or given) language.

        Pass the bound method itself as `choices` so the names follow the language of each request.
        """
        language = language or _active_language()
        named = [(region.code, _region_display(region, language)) for region in self.regions]
        return sorted(named, key=lambda item: item[1].casefold())

    def authority(self, key: str) -> Authority:
        for authority in self.authorities:
            if authority.key == key:
                return authority
        from opennrm.core.reference import UnknownCodeError

        raise UnknownCodeError(f"{key!r} is not an identification authority of the {self.code} profile.")

    def authority_choices(self) -> list[tuple[str, str]]:
        return [(authority.key, str(authority.name)) for authority in self.authorities]

    def placeholders(self) -> tuple[str, ...]:
        """Fields of this profile whose values are placeholders not yet confirmed for the country.

        The UI shows them to administrators and flags every date or amount computed from them.
        """
        pending = []
        if not self.decision_deadline.configured:
            pending.append("decision_deadline")
        if self.child_decision_deadline is not None and not self.child_decision_deadline.configured:
            pending.append("child_decision_deadline")
        if self.compensation is not None and not self.compensation.configured:
            pending.append("compensation")
        if not self.retention.configured:
            pending.append("retention")
        return tuple(pending)

    def _regions_by_code(self) -> dict[str, Region]:
        return {region.code: region for region in self.regions}


def _local_datetime(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """`wall` on `day` in `zone`; a non-existent local time moves forward by the gap."""
    naive = datetime.combine(day, wall)
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


@functools.lru_cache(maxsize=256)
def _holiday_calendar(
    country: str, subdivision: str | None, categories: tuple[str, ...] | None, year: int
) -> holidays_lib.HolidayBase:
    # The previous year is included so that a holiday observed across New Year is not missed.
    # expand=False: the object is never mutated after construction, so sharing it between threads is safe.
    return holidays_lib.country_holidays(
        country, subdiv=subdivision, years=(year - 1, year), categories=categories, expand=False
    )


@functools.lru_cache(maxsize=32)
def _iso3166_2(language: str) -> gettext_module.NullTranslations:
    locale = translation.to_locale(language)
    return gettext_module.translation(
        "iso3166-2", pycountry.LOCALES_DIR, languages=[locale, locale.split("_")[0]], fallback=True
    )


def _region_display(region: Region, language: str) -> str:
    texts = dict(region.name.texts)
    for candidate in (language.lower(), language.lower().split("-")[0]):
        if candidate in texts:
            return texts[candidate]
    return _iso3166_2(language).gettext(texts["en"])


# --- loading and validation ---------------------------------------------------------------------


class _ProfileLoader(yaml.SafeLoader):
    """YAML without surprises: dates stay strings (the schema checks them) and only true/false are booleans
    (so that a country code NO or a language code no are not read as false)."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_ProfileLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|false)$"), list("tf"))


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _fail(path: Path, problems: Iterable[str]) -> ImproperlyConfigured:
    listed = "\n".join(f"  - {problem}" for problem in problems)
    return ImproperlyConfigured(f"Country profile {path} is invalid:\n{listed}")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ProfileLoader)  # noqa: S506 - safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(path, [f"cannot be read: {exc}"]) from exc
    if not isinstance(data, dict):
        raise _fail(path, ["$: the file must hold a mapping of fields"])
    return data


def _schema_problems(data: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.append(_explain(error))
    return problems


def _explain(error: jsonschema.ValidationError) -> str:
    """One line for an error; for a oneOf, the reason inside the branch that was meant, not "not valid
    under any of the given schemas"."""
    while error.context:
        # A type mismatch at the same place only says that the value is not of that branch's type.
        meant = [
            sub
            for sub in error.context
            if not (sub.validator == "type" and sub.absolute_path == error.absolute_path)
        ]
        if not meant:
            expected = " or ".join(repr(sub.validator_value) for sub in error.context)
            return f"{error.json_path}: {error.instance!r} is not of type {expected}"
        error = max(meant, key=lambda sub: len(sub.absolute_path))
    return f"{error.json_path}: {error.message}"


def _semantic_problems(data: dict[str, Any], path: Path) -> list[str]:
    """Checks JSON Schema cannot express: real codes, zones, calendars, dates."""
    problems = []
    code = data["code"]
    if path.suffix == ".yaml" and path.stem.upper() != code:
        problems.append(f"$.code: {code!r} does not match the file name {path.name!r}")
    if pycountry.countries.get(alpha_2=code) is None:
        problems.append(f"$.code: {code!r} is not an ISO 3166-1 alpha-2 code")
    try:
        date.fromisoformat(data["valid_from"])
    except ValueError:
        problems.append(f"$.valid_from: {data['valid_from']!r} is not a date")
    currencies = [("$.currency", data["currency"])]
    if data["compensation"]:
        currencies.append(("$.compensation.currency", data["compensation"]["currency"]))
    for where, currency in currencies:
        if pycountry.currencies.get(alpha_3=currency) is None:
            problems.append(f"{where}: {currency!r} is not an ISO 4217 currency code")
    for index, language in enumerate(data["languages"]):
        if _iso639(language) is None:
            problems.append(f"$.languages[{index}]: {language!r} is not an ISO 639 language code")
    try:
        ZoneInfo(data["time_zone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"$.time_zone: {data['time_zone']!r} is not a known IANA time zone")
    problems.extend(_calendar_problems(data["holidays"], data["valid_from"]))
    keys = [authority["key"] for authority in data["authorities"]]
    for key in sorted({key for key in keys if keys.count(key) > 1}):
        problems.append(f"$.authorities: the key {key!r} is used more than once")
    seen: set[str] = set()
    for index, region in enumerate(data["regions"]):
        subdivision = pycountry.subdivisions.get(code=region["code"])
        if subdivision is None or subdivision.country_code != code:
            problems.append(
                f"$.regions[{index}].code: {region['code']!r} is not an ISO 3166-2 code of {code}"
            )
        if region["code"] in seen:
            problems.append(f"$.regions[{index}].code: {region['code']!r} is listed twice")
        seen.add(region["code"])
    compensation = data["compensation"]
    if compensation and compensation["amount_as_of"]:
        try:
            date.fromisoformat(compensation["amount_as_of"])
        except ValueError:
            problems.append(f"$.compensation.amount_as_of: {compensation['amount_as_of']!r} is not a date")
    return problems


def _calendar_problems(calendar: dict[str, Any], valid_from: str) -> list[str]:
    country = calendar["country"]
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        return [f"$.holidays.country: the holidays package has no calendar for {country!r}"]
    subdivision = calendar.get("subdivision")
    if subdivision is not None and subdivision not in supported[country]:
        return [
            f"$.holidays.subdivision: {subdivision!r} is not a subdivision of {country} in the holidays "
            f"package (known: {', '.join(supported[country]) or 'none'})"
        ]
    try:
        year = int(valid_from[:4])
        holidays_lib.country_holidays(
            country, subdiv=subdivision, years=year, categories=calendar.get("categories")
        )
    except (NotImplementedError, ValueError) as exc:
        return [f"$.holidays: {exc}"]
    return []


def _iso639(code: str) -> Any:
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code)
    return pycountry.languages.get(alpha_3=code)


def _duration(data: dict[str, Any] | None) -> Duration | None:
    return None if data is None else Duration(amount=data["amount"], unit=data["unit"])


def _deadline(data: dict[str, Any] | None) -> Deadline | None:
    if data is None:
        return None
    return Deadline(
        amount=data["amount"],
        unit=DeadlineUnit(data["unit"]),
        starts=_text(data["starts"]),
        configured=data["configured"],
        decision=_optional_text(data.get("decision")),
        note=_optional_text(data.get("note")),
        source=_optional_text(data.get("source")),
    )


def _build(data: dict[str, Any], path: Path) -> CountryProfile:
    calendar = data["holidays"]
    compensation = data["compensation"]
    validity = data["status_validity"]
    shelter = data["shelter_stay"]
    retention = data["retention"]
    decision_deadline = _deadline(data["decision_deadline"])
    assert decision_deadline is not None  # required by the schema
    return CountryProfile(
        code=data["code"],
        version=data["version"],
        valid_from=date.fromisoformat(data["valid_from"]),
        name=_text(data["name"]),
        currency=data["currency"],
        languages=tuple(data["languages"]),
        time_zone=data["time_zone"],
        law=_text(data["law"]),
        holidays=HolidayCalendar(
            country=calendar["country"],
            subdivision=calendar.get("subdivision"),
            categories=tuple(calendar["categories"]) if calendar.get("categories") else None,
            note=_optional_text(calendar.get("note")),
        ),
        authorities=tuple(
            Authority(
                key=authority["key"],
                name=_text(authority["name"]),
                kind=AuthorityKind(authority["kind"]),
                description=_text(authority["description"]),
                htcds_decision_org=authority.get("htcds_decision_org"),
            )
            for authority in data["authorities"]
        ),
        decision_deadline=decision_deadline,
        child_decision_deadline=_deadline(data["child_decision_deadline"]),
        status_validity=None
        if validity is None
        else StatusValidity(
            maximum=Duration(**validity["maximum"]),
            renewable=validity["renewable"],
            note=_optional_text(validity.get("note")),
            source=_optional_text(validity.get("source")),
        ),
        compensation=None
        if compensation is None
        else Compensation(
            amount_rule=compensation["amount_rule"],
            amount=None if compensation["amount"] is None else Decimal(str(compensation["amount"])),
            amount_as_of=date.fromisoformat(compensation["amount_as_of"])
            if compensation.get("amount_as_of")
            else None,
            currency=compensation["currency"],
            basis=_text(compensation["basis"]),
            since_year=compensation.get("since_year"),
            condition=_optional_text(compensation.get("condition")),
            preserves_right_to_sue=compensation.get("preserves_right_to_sue"),
            configured=compensation["configured"],
            note=_optional_text(compensation.get("note")),
            source=_optional_text(compensation.get("source")),
        ),
        shelter_stay=None
        if shelter is None
        else ShelterStay(
            initial=_duration(shelter.get("initial")),
            maximum=Duration(**shelter["maximum"]),
            note=_optional_text(shelter.get("note")),
            source=_optional_text(shelter.get("source")),
        ),
        reflection_period_days=data["reflection_period_days"],
        retention=Retention(
            closed_case_years=retention["closed_case_years"],
            configured=retention["configured"],
            note=_optional_text(retention.get("note")),
        ),
        regions=tuple(
            Region(code=region["code"], name=_text(region["name"]), type=region.get("type", ""))
            for region in data["regions"]
        ),
        sources=tuple(
            Source(title=" ".join(source["title"].split()), url=source.get("url"), note=source.get("note"))
            for source in data["sources"]
        ),
        path=path,
        labour_inspection=LabourInspection(**data.get("labour_inspection", {})),
    )


def load_profile_file(path: Path) -> CountryProfile:
    """Read, validate and build one profile; `ImproperlyConfigured` names the file and the JSON path."""
    data = _read(path)
    problems = _schema_problems(data)
    if problems:
        raise _fail(path, problems)
    problems = _semantic_problems(data, path)
    if problems:
        raise _fail(path, problems)
    return _build(data, path)


def _load_directory(directory: Path) -> dict[str, CountryProfile]:
    profiles: dict[str, CountryProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile_file(path)
        profiles[profile.code] = profile
    if not profiles:
        raise ImproperlyConfigured(f"No country profile (*.yaml) found in {directory}.")
    return profiles


@functools.cache
def _shipped_profiles() -> dict[str, CountryProfile]:
    return _load_directory(PROFILES_DIR)


def load_profiles() -> dict[str, CountryProfile]:
    """Every shipped profile by ISO code, validated. Read once per process."""
    return dict(_shipped_profiles())


def get_profile(code: str) -> CountryProfile:
    profiles = _shipped_profiles()
    try:
        return profiles[code.upper()]
    except KeyError:
        raise UnknownProfileError(
            f"No country profile for {code!r}; profiles exist for {', '.join(sorted(profiles))}."
        ) from None


def active_profile() -> CountryProfile:
    """The profile of this instance, chosen by `settings.OPENNRM_COUNTRY`."""
    code = getattr(settings, "OPENNRM_COUNTRY", "")
    try:
        return get_profile(code)
    except UnknownProfileError as exc:
        raise ImproperlyConfigured(f"OPENNRM_COUNTRY={code!r}: {exc}") from None


def validate_all(directory: Path | None = None) -> None:
    """Validate every profile (and, for the shipped ones, that OPENNRM_COUNTRY names one of them).

    Raises `ImproperlyConfigured` with the file and the JSON path of each problem. Meant for
    `CoreConfig.ready()`, so that a broken profile stops the platform at start-up, not mid-case.
    """
    if directory is None:
        _shipped_profiles.cache_clear()  # read the files again, and keep what was validated
        profiles = _shipped_profiles()
    else:
        profiles = _load_directory(directory)
    if directory is None and settings.configured:
        code = str(getattr(settings, "OPENNRM_COUNTRY", "")).upper()
        if code not in profiles:
            raise ImproperlyConfigured(
                f"OPENNRM_COUNTRY={code!r} has no country profile; profiles exist for "
                f"{', '.join(sorted(profiles))}."
            )
