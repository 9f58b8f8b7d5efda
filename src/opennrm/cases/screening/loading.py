"""Reading, validating and choosing screening instruments. The public names are re-exported by the package."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .model import (
    Combination,
    CountRule,
    Dimension,
    DimensionKind,
    DimensionsRule,
    FormOfExploitation,
    Indicator,
    IndicatorVerification,
    Instrument,
    InstrumentList,
    Population,
    Provenance,
    Requirement,
    Strength,
    Text,
    Verification,
    VerificationStatus,
    version_key,
)

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PACKAGE_DIR / "schema.json"
INSTRUMENTS_DIR = PACKAGE_DIR / "instruments"
EXTRA_DIRS_SETTING = "OPENNRM_SCREENING_DIRS"

Registry = Mapping[tuple[str, str], Instrument]


class InstrumentFileError(ImproperlyConfigured):
    """An instrument file that cannot be read or does not follow the format. Names the file and, for each
    problem, the JSON path ($.lists[0].dimensions[2].indicators[1].strength)."""

    def __init__(self, path: Path, problems: Iterable[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"Screening instrument file {path} is invalid:\n{listed}")


class InstrumentConflictError(ImproperlyConfigured):
    """Two files publish the same instrument id and version with different content."""


class UnknownInstrumentError(LookupError):
    """No loaded instrument has this id (and version)."""


# --- reading one file ---------------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} appears twice in the same object")
        data[key] = value
    return data


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstrumentFileError(path, [f"cannot be read: {exc}"]) from exc
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InstrumentFileError(path, [f"not valid JSON: {exc}"]) from exc
    except ValueError as exc:
        raise InstrumentFileError(path, [f"not valid: {exc}"]) from exc
    if not isinstance(data, dict):
        raise InstrumentFileError(path, ["$: the file must hold one JSON object"])
    return data


def _schema_problems(data: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems: list[str] = []
    for error in errors:
        problem = f"{error.json_path}: {error.message}"
        if problem not in problems:
            problems.append(problem)
    return problems


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _semantic_problems(data: dict[str, Any]) -> list[str]:
    """What JSON Schema cannot say: unique ids, coverage, a rule every list can satisfy, honest verification."""
    problems: list[str] = []
    lists = data["lists"]
    rule = data["rule"]
    for list_id in _duplicates(item["id"] for item in lists):
        problems.append(f"$.lists: the list id {list_id!r} is used more than once")
    pairs: dict[tuple[str, str], str] = {}
    for index, item in enumerate(lists):
        where = f"$.lists[{index}]"
        for dimension_id in _duplicates(dimension["id"] for dimension in item["dimensions"]):
            problems.append(f"{where}.dimensions: the dimension id {dimension_id!r} is used more than once")
        indicator_ids = [ind["id"] for dimension in item["dimensions"] for ind in dimension["indicators"]]
        for indicator_id in _duplicates(indicator_ids):
            problems.append(
                f"{where}: the indicator id {indicator_id!r} is used more than once in the list "
                "(indicator ids must be unique within a list, across its dimensions)"
            )
        for form in item["forms_of_exploitation"]:
            other = pairs.setdefault((item["population"], form), item["id"])
            if other != item["id"]:
                problems.append(
                    f"{where}: the lists {other!r} and {item['id']!r} both cover {item['population']} / {form}; "
                    "an instrument has one list per population and form of exploitation"
                )
        problems.extend(_list_rule_problems(item, where, rule))
        problems.extend(_verification_problems(item, where, data))
    covered = {
        "populations": {item["population"] for item in lists},
        "forms_of_exploitation": {form for item in lists for form in item["forms_of_exploitation"]},
    }
    for key, listed in covered.items():
        declared = set(data[key])
        if declared != listed:
            problems.append(
                f"$.{key}: {sorted(declared)} must be exactly those of the lists, which are {sorted(listed)}"
            )
    if rule["type"] == "dimensions":
        for population in data["populations"]:
            if population not in rule["conclusion"]:
                problems.append(f"$.rule.conclusion: no conclusion rule for the population {population!r}")
    return problems


def _list_rule_problems(item: dict[str, Any], where: str, rule: dict[str, Any]) -> list[str]:
    """A rule that a list could never satisfy is a mistake in the file, not a negative screening."""
    problems: list[str] = []
    if rule["type"] == "dimensions":
        requirements = rule["conclusion"].get(item["population"], {}).get("all_of", [])
        for requirement in requirements:
            available = sum(
                1 for dimension in item["dimensions"] if dimension.get("kind") == requirement["kind"]
            )
            if available < requirement["at_least"]:
                problems.append(
                    f"{where}.dimensions: the rule for {item['population']} needs {requirement['at_least']} "
                    f"positive {requirement['kind']} dimension(s), but the list has {available}"
                )
    else:
        loaded = sum(len(dimension["indicators"]) for dimension in item["dimensions"])
        threshold = rule["threshold"]["value"]
        if loaded and loaded < threshold:
            problems.append(
                f"{where}: the list has {loaded} indicator(s), fewer than the threshold $.rule.threshold.value "
                f"({threshold}), so it could never conclude"
            )
    return problems


def _verification_problems(item: dict[str, Any], where: str, data: dict[str, Any]) -> list[str]:
    """Nothing may claim to be verified while something inside it is not."""
    problems: list[str] = []
    list_status = item.get("verification", data["verification"])["status"]
    instrument_status = data["verification"]["status"]
    if instrument_status == VerificationStatus.VERIFIED and list_status != VerificationStatus.VERIFIED:
        problems.append(
            f"$.verification.status: 'verified', but {where}.verification.status is {list_status!r}; "
            "use 'partial'"
        )
    if list_status == VerificationStatus.VERIFIED:
        for d_index, dimension in enumerate(item["dimensions"]):
            for i_index, indicator in enumerate(dimension["indicators"]):
                status = indicator.get("verification", {}).get("status", VerificationStatus.VERIFIED)
                if status != VerificationStatus.VERIFIED:
                    problems.append(
                        f"{where}.verification.status: 'verified', but "
                        f"{where}.dimensions[{d_index}].indicators[{i_index}] is {status!r}; use 'partial'"
                    )
    return problems


def content_digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an instrument: key order and whitespace do not count."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _indicator(data: dict[str, Any]) -> Indicator:
    verification = data.get("verification")
    return Indicator(
        id=data["id"],
        label=Text.from_data(data, "label"),
        strength=Strength(data["strength"]) if "strength" in data else None,
        description=Text.optional(data, "description"),
        description_origin=data.get("description_origin"),
        verification=(
            IndicatorVerification(VerificationStatus(verification["status"]), verification["provenance"])
            if verification
            else None
        ),
        source_id=data.get("source_id"),
        note=data.get("note"),
    )


def _list(data: dict[str, Any], default_verification: Verification) -> InstrumentList:
    return InstrumentList(
        id=data["id"],
        population=Population(data["population"]),
        forms_of_exploitation=tuple(data["forms_of_exploitation"]),
        title=Text.from_data(data, "title"),
        verification=(
            Verification.from_data(data["verification"]) if "verification" in data else default_verification
        ),
        note=Text.optional(data, "note"),
        dimensions=tuple(
            Dimension(
                id=dimension["id"],
                label=Text.from_data(dimension, "label"),
                kind=DimensionKind(dimension["kind"]) if "kind" in dimension else None,
                description=Text.optional(dimension, "description"),
                indicators=tuple(_indicator(indicator) for indicator in dimension["indicators"]),
            )
            for dimension in data["dimensions"]
        ),
    )


def _rule(data: dict[str, Any]) -> DimensionsRule | CountRule:
    verification = Verification.from_data(data["verification"]) if "verification" in data else None
    if data["type"] == "dimensions":
        return DimensionsRule(
            combinations=tuple(
                Combination(**combination) for combination in data["dimension_positive_if_any"]
            ),
            conclusion=tuple(
                (
                    Population(population),
                    tuple(Requirement(DimensionKind(req["kind"]), req["at_least"]) for req in rule["all_of"]),
                )
                for population, rule in data["conclusion"].items()
            ),
            text=Text.from_data(data, "text"),
            source=data["source"],
            verification=verification,
            notes=tuple(data.get("notes", ())),
        )
    return CountRule(
        threshold=data["threshold"]["value"],
        threshold_chosen_by=data["threshold"]["chosen_by"],
        justification=data["threshold"]["justification"],
        text=Text.from_data(data, "text"),
        source=data["source"],
        below_threshold_note=Text.optional(data, "below_threshold_note"),
        verification=verification,
        notes=tuple(data.get("notes", ())),
    )


def _build(data: dict[str, Any], path: Path) -> Instrument:
    verification = Verification.from_data(data["verification"])
    return Instrument(
        id=data["id"],
        version=data["version"],
        title=Text.from_data(data, "title"),
        description=Text.optional(data, "description"),
        publisher=data["publisher"],
        year=data["year"],
        provenance=Provenance.from_data(data["provenance"]),
        verification=verification,
        populations=tuple(Population(population) for population in data["populations"]),
        forms_of_exploitation=tuple(data["forms_of_exploitation"]),
        lists=tuple(_list(item, verification) for item in data["lists"]),
        rule=_rule(data["rule"]),
        digest=content_digest(data),
        path=path,
    )


def validate_instrument_file(path: Path | str) -> Instrument:
    """Read and check one instrument file; the parsed instrument, or `InstrumentFileError` naming the file and
    the JSON path of every problem."""
    path = Path(path)
    data = _read(path)
    problems = _schema_problems(data)
    if problems:
        raise InstrumentFileError(path, problems)
    problems = _semantic_problems(data)
    if problems:
        raise InstrumentFileError(path, problems)
    return _build(data, path)


# --- loading a set of instruments ---------------------------------------------------------------


def load_instruments(
    directory: Path | None = None, *, extra_dirs: Iterable[Path | str] = ()
) -> dict[tuple[str, str], Instrument]:
    """Every `*.json` instrument in `directory` (default: the instruments that ship) and in each of
    `extra_dirs` (a country's own instruments), keyed by (id, version).

    A published instrument never changes: the same id and version loaded twice with different content
    raises `InstrumentConflictError`; the same content twice (a copy) is accepted once.
    """
    directories = [directory or INSTRUMENTS_DIR, *(Path(extra) for extra in extra_dirs)]
    loaded: dict[tuple[str, str], Instrument] = {}
    for folder in directories:
        if not folder.is_dir():
            raise ImproperlyConfigured(f"Screening instrument folder {folder} does not exist")
        for path in sorted(folder.glob("*.json")):
            instrument = validate_instrument_file(path)
            _add(loaded, instrument)
    return loaded


def _add(loaded: dict[tuple[str, str], Instrument], instrument: Instrument) -> None:
    existing = loaded.get(instrument.key)
    if existing is not None:
        if existing.digest != instrument.digest:
            raise InstrumentConflictError(
                f"Screening instrument {instrument.id} version {instrument.version} is published twice with "
                f"different content: {existing.path} (digest {existing.digest}) and {instrument.path} "
                f"(digest {instrument.digest}). A published version never changes: give the new content a "
                "new version."
            )
        return
    for other in loaded.values():
        if other.id == instrument.id and version_key(other.version) == version_key(instrument.version):
            raise InstrumentConflictError(
                f"Screening instrument {instrument.id}: versions {other.version!r} ({other.path}) and "
                f"{instrument.version!r} ({instrument.path}) are the same version written differently."
            )
    loaded[instrument.key] = instrument


@functools.cache
def _default_registry() -> Registry:
    from django.conf import settings

    extra = getattr(settings, EXTRA_DIRS_SETTING, ()) if settings.configured else ()
    return MappingProxyType(load_instruments(extra_dirs=extra))


def default_instruments() -> Registry:
    """The instruments of this instance: those that ship plus the folders of `settings.OPENNRM_SCREENING_DIRS`
    (environment variable OPENNRM_SCREENING_DIRS, separated by `:`). Loaded once; `reload_instruments()`
    reads them again."""
    return _default_registry()


def reload_instruments() -> None:
    _default_registry.cache_clear()


def get_instrument(
    instrument_id: str, version: str, *, digest: str | None = None, instruments: Registry | None = None
) -> Instrument:
    """One instrument version. With `digest` (as stored on a screening), also checks that the loaded file is
    exactly the one that screening used."""
    registry = default_instruments() if instruments is None else instruments
    try:
        instrument = registry[(instrument_id, version)]
    except KeyError:
        known = sorted(version for (other, version) in registry if other == instrument_id)
        raise UnknownInstrumentError(
            f"No screening instrument {instrument_id!r} version {version!r} is loaded"
            + (f"; loaded versions: {', '.join(known)}" if known else "")
        ) from None
    if digest is not None and digest != instrument.digest:
        raise InstrumentConflictError(
            f"Screening instrument {instrument_id} version {version} has changed since it was used: recorded "
            f"digest {digest}, loaded file {instrument.path} has digest {instrument.digest}."
        )
    return instrument


def latest(instrument_id: str, *, instruments: Registry | None = None) -> Instrument:
    """The highest version of an instrument (versions compare as numbers)."""
    registry = default_instruments() if instruments is None else instruments
    versions = [instrument for (other, _version), instrument in registry.items() if other == instrument_id]
    if not versions:
        raise UnknownInstrumentError(f"No screening instrument {instrument_id!r} is loaded")
    return max(versions, key=lambda instrument: version_key(instrument.version))


# --- choosing a list for a person -----------------------------------------------------------------

ADULT_AGE = 18

AGE_UNKNOWN_NOTE = _(
    "The age is not known, so the lists for adults and for children are both offered. If the person may be "
    "under 18, use the list for children."
)
EMPTY_LIST_NOTE = _(
    "This list has no indicators loaded: it cannot give a conclusion until the country loads them."
)


@dataclass(frozen=True, slots=True)
class InstrumentChoice:
    """A list of an instrument that fits the person. Unpacks as (instrument, instrument_list)."""

    instrument: Instrument
    instrument_list: InstrumentList
    age_unknown: bool

    @property
    def usable(self) -> bool:
        return self.instrument_list.has_indicators

    @property
    def notes(self) -> tuple[str | Promise, ...]:
        notes: list[str | Promise] = []
        if self.age_unknown:
            notes.append(AGE_UNKNOWN_NOTE)
        if not self.usable:
            notes.append(EMPTY_LIST_NOTE)
        return tuple(notes)

    def __iter__(self) -> Iterator[Instrument | InstrumentList]:
        yield self.instrument
        yield self.instrument_list


def choose_instrument(
    *, age: int | None, form: str, instruments: Registry | None = None
) -> list[InstrumentChoice]:
    """The lists that fit a person of `age` (under 18 is a child; None: unknown, so both adult and child lists
    are offered, and each choice says so) for the form of exploitation `form` (a `FormOfExploitation` value).

    Only the latest version of each instrument is offered. Lists with indicators come first; empty lists
    are still offered (their evaluation says it cannot conclude), with a note.
    """
    if form not in FormOfExploitation.values:
        raise ValueError(
            f"Unknown form of exploitation {form!r}; expected one of {FormOfExploitation.values}"
        )
    if age is not None and age < 0:
        raise ValueError(f"Age cannot be negative: {age}")
    if age is None:
        populations = {Population.ADULT, Population.CHILD}
    else:
        populations = {Population.CHILD if age < ADULT_AGE else Population.ADULT}
    registry = default_instruments() if instruments is None else instruments
    newest = {instrument.id for instrument in registry.values()}
    choices = [
        InstrumentChoice(instrument=instrument, instrument_list=item, age_unknown=age is None)
        for instrument in sorted((latest(i, instruments=registry) for i in newest), key=lambda i: i.id)
        for item in instrument.lists
        if item.population in populations and form in item.forms_of_exploitation
    ]
    return sorted(choices, key=lambda choice: not choice.usable)
