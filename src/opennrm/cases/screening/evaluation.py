"""Applying an instrument's rule to the indicators found. The public names are re-exported by the package.

The result is advice to the decision maker, never the decision: it says which dimensions are positive and
why, which rule it applied, and how sure the instrument is (its verification status and provenance).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from .model import (
    Combination,
    Conclusion,
    CountRule,
    DimensionKind,
    DimensionsRule,
    Instrument,
    InstrumentList,
    Population,
    Requirement,
    Strength,
    Text,
    VerificationStatus,
    active_language,
)

RESULT_FORMAT = 1

STANDING_NOTE = _(
    "This screening is advice to the decision maker, never the decision: the competent authority decides on "
    "identification."
)

# Reason codes, stored with the result; the sentences below render them.
NO_INDICATORS_LOADED = "no_indicators_loaded"
DIMENSIONS_WITHOUT_INDICATORS = "dimensions_without_indicators"
RULE_MET = "rule_met"
RULE_NOT_MET = "rule_not_met"
THRESHOLD_MET = "threshold_met"
BELOW_THRESHOLD = "below_threshold"

R_NO_INDICATORS = _(
    "Cannot conclude: this list has no indicators loaded. The country must load its indicators before it "
    "can be used."
)
RULE_FOR = {
    Population.ADULT: _("the rule for adults"),
    Population.CHILD: _("the rule for children"),
}
R_RULE_MET = _("Presumed victim: %(rule)s is met. %(requirements)s")
R_RULE_NOT_MET = _("Not indicated: %(rule)s is not met. %(requirements)s")
R_DIMENSIONS_WITHOUT_INDICATORS = _(
    "Cannot conclude: %(rule)s is not met, but these dimensions have no indicators loaded, so the answer "
    "cannot be negative: %(dimensions)s. %(requirements)s"
)
R_REQUIREMENT = ngettext_lazy(
    "%(kind)s: at least %(at_least)d positive dimension needed, %(count)d found (%(dimensions)s).",
    "%(kind)s: at least %(at_least)d positive dimensions needed, %(count)d found (%(dimensions)s).",
    "at_least",
)
R_POSITIVE_DIMENSION = _("%(dimension)s, positive with %(combination)s")
R_NONE = _("none")
R_THRESHOLD_MET = ngettext_lazy(
    "Presumed victim: %(count)d indicator found, at least %(threshold)d needed (a threshold chosen by the "
    "configuring country, not by the publisher of the instrument): %(indicators)s.",
    "Presumed victim: %(count)d indicators found, at least %(threshold)d needed (a threshold chosen by the "
    "configuring country, not by the publisher of the instrument): %(indicators)s.",
    "count",
)
R_BELOW_THRESHOLD = ngettext_lazy(
    "Not indicated: %(count)d indicator found, fewer than the %(threshold)d needed (a threshold chosen by "
    "the configuring country, not by the publisher of the instrument).",
    "Not indicated: %(count)d indicators found, fewer than the %(threshold)d needed (a threshold chosen by "
    "the configuring country, not by the publisher of the instrument).",
    "count",
)
C_STRONG = _("%(count)d strong")
C_MEDIUM = _("%(count)d medium")
C_WEAK = _("%(count)d weak")
C_MEDIUM_OR_WEAK = _("%(count)d medium or weak")
CAVEAT_INSTRUMENT = _("The instrument is %(status)s: %(summary)s")
CAVEAT_LIST = _("This list is %(status)s: %(summary)s")
CAVEAT_PROVENANCE = _("Source: %(summary)s")


def _plain(value: str | None) -> str | None:
    """Choices members as the plain strings they stand for (for JSON)."""
    return None if value is None else str.__str__(value)


@dataclass(frozen=True, slots=True)
class FoundIndicator:
    id: str
    label: Text
    strength: Strength | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label.en, "strength": _plain(self.strength)}


@dataclass(frozen=True, slots=True)
class DimensionResult:
    id: str
    label: Text
    kind: DimensionKind | None
    indicators_loaded: int
    found: tuple[FoundIndicator, ...]
    positive: bool | None  # None when the rule does not grade dimensions (count rules)
    combinations_met: tuple[Combination, ...]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(indicator.strength.value for indicator in self.found if indicator.strength)
        return {strength: counted[strength] for strength in Strength.values}

    @property
    def combination(self) -> Combination | None:
        """The first combination of the rule (in the file's order) that made the dimension positive."""
        return self.combinations_met[0] if self.combinations_met else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label.en,
            "kind": _plain(self.kind),
            "indicators_loaded": self.indicators_loaded,
            "found": [indicator.as_dict() for indicator in self.found],
            "counts": self.counts,
            "positive": self.positive,
            "combination": self.combination.as_dict() if self.combination else None,
            "combinations_met": [combination.as_dict() for combination in self.combinations_met],
        }


@dataclass(frozen=True, slots=True)
class RequirementResult:
    kind: DimensionKind
    at_least: int
    positive: tuple[DimensionResult, ...]
    without_indicators: tuple[DimensionResult, ...]

    @property
    def met(self) -> bool:
        return len(self.positive) >= self.at_least

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": _plain(self.kind),
            "at_least": self.at_least,
            "positive_dimensions": [dimension.id for dimension in self.positive],
            "dimensions_without_indicators": [dimension.id for dimension in self.without_indicators],
            "met": self.met,
        }


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """What an instrument's rule says about the indicators found, with everything needed to explain it."""

    instrument: Instrument
    instrument_list: InstrumentList
    found: tuple[str, ...]
    dimensions: tuple[DimensionResult, ...]
    requirements: tuple[RequirementResult, ...]  # dimensions rules only
    conclusion: Conclusion
    reason_code: str

    @property
    def instrument_id(self) -> str:
        return self.instrument.id

    @property
    def instrument_version(self) -> str:
        return self.instrument.version

    @property
    def instrument_digest(self) -> str:
        return self.instrument.digest

    @property
    def verification_status(self) -> VerificationStatus:
        """The instrument's status; the list may be less sure (`instrument_list.verification`)."""
        return self.instrument.verification.status

    @property
    def provenance_summary(self) -> Text:
        return self.instrument.provenance.summary

    @property
    def note(self) -> Promise:
        """The standing note: advice to the decision maker, never the decision."""
        return STANDING_NOTE

    @property
    def found_count(self) -> int:
        return len(self.found)

    @property
    def threshold(self) -> int | None:
        rule = self.instrument.rule
        return rule.threshold if isinstance(rule, CountRule) else None

    def reason(self, language: str | None = None) -> str:
        """Why the conclusion is what it is, in `language` (default: the active language)."""
        with _language(language):
            return _render_reason(self, language)

    def caveats(self, language: str | None = None) -> list[str]:
        """What the person screening must know about how sure the instrument is, in `language`."""
        with _language(language):
            return _render_caveats(self, language)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable record of the result, to store with the screening. Ids and English labels are
        stored; `reason`, `caveats` and `note` are rendered in the active language (`language`)."""
        rule = self.instrument.rule
        item = self.instrument_list
        rule_data: dict[str, Any]
        if isinstance(rule, CountRule):
            rule_data = {
                "type": rule.type,
                "threshold": rule.threshold,
                "threshold_chosen_by": rule.threshold_chosen_by,
            }
        else:
            rule_data = {
                "type": rule.type,
                "dimension_positive_if_any": [combination.as_dict() for combination in rule.combinations],
                "conclusion": {
                    "all_of": [
                        {"kind": _plain(requirement.kind), "at_least": requirement.at_least}
                        for requirement in rule.requirements(item.population)
                    ]
                },
            }
        return {
            "format": RESULT_FORMAT,
            "instrument": {
                "id": self.instrument.id,
                "version": self.instrument.version,
                "digest": self.instrument.digest,
                "title": self.instrument.title.en,
                "publisher": self.instrument.publisher,
                "year": self.instrument.year,
                "verification": {
                    "status": _plain(self.instrument.verification.status),
                    "summary": self.instrument.verification.summary.en,
                },
                "provenance_summary": self.instrument.provenance.summary.en,
            },
            "list": {
                "id": item.id,
                "population": _plain(item.population),
                "forms_of_exploitation": list(item.forms_of_exploitation),
                "title": item.title.en,
                "verification": {
                    "status": _plain(item.verification.status),
                    "summary": item.verification.summary.en,
                },
            },
            "rule": rule_data,
            "found": list(self.found),
            "found_count": self.found_count,
            "dimensions": [dimension.as_dict() for dimension in self.dimensions],
            "requirements": [requirement.as_dict() for requirement in self.requirements],
            "conclusion": _plain(self.conclusion),
            "reason_code": self.reason_code,
            "reason": self.reason(),
            "caveats": self.caveats(),
            "note": str(STANDING_NOTE),
            "language": active_language(),
        }


@contextlib.contextmanager
def _language(language: str | None) -> Iterator[None]:
    if language is None:
        yield
        return
    with translation.override(language):
        yield


def _join(parts: list[str]) -> str:
    return "; ".join(parts) if parts else str(R_NONE)


def _describe_combination(combination: Combination) -> str:
    parts = [
        template % {"count": count}
        for template, count in (
            (C_STRONG, combination.strong),
            (C_MEDIUM, combination.medium),
            (C_WEAK, combination.weak),
            (C_MEDIUM_OR_WEAK, combination.medium_or_weak),
        )
        if count
    ]
    return " + ".join(parts)


def _render_requirements(result: ScreeningResult, language: str | None) -> str:
    sentences = []
    for requirement in result.requirements:
        dimensions = [
            R_POSITIVE_DIMENSION
            % {
                "dimension": dimension.label.in_language(language),
                "combination": _describe_combination(dimension.combination) if dimension.combination else "",
            }
            for dimension in requirement.positive
        ]
        sentences.append(
            R_REQUIREMENT
            % {
                "kind": str(DimensionKind(requirement.kind).label).capitalize(),
                "at_least": requirement.at_least,
                "count": len(requirement.positive),
                "dimensions": _join(dimensions),
            }
        )
    return " ".join(sentences)


def _render_reason(result: ScreeningResult, language: str | None) -> str:
    rule_for = str(RULE_FOR[Population(result.instrument_list.population)])
    code = result.reason_code
    if code == NO_INDICATORS_LOADED:
        return str(R_NO_INDICATORS)
    if code in (THRESHOLD_MET, BELOW_THRESHOLD):
        rule = result.instrument.rule
        assert isinstance(rule, CountRule)
        found = [indicator for dimension in result.dimensions for indicator in dimension.found]
        values = {
            "count": len(found),
            "threshold": rule.threshold,
            "indicators": _join([indicator.label.in_language(language) for indicator in found]),
        }
        if code == THRESHOLD_MET:
            return R_THRESHOLD_MET % values
        text = R_BELOW_THRESHOLD % values
        if found and rule.below_threshold_note:
            text = f"{text} {rule.below_threshold_note.in_language(language)}"
        return text
    requirements = _render_requirements(result, language)
    if code == RULE_MET:
        return R_RULE_MET % {"rule": rule_for, "requirements": requirements}
    if code == RULE_NOT_MET:
        return R_RULE_NOT_MET % {"rule": rule_for, "requirements": requirements}
    empty = [
        dimension.label.in_language(language)
        for requirement in result.requirements
        if not requirement.met
        for dimension in requirement.without_indicators
    ]
    return R_DIMENSIONS_WITHOUT_INDICATORS % {
        "rule": rule_for,
        "dimensions": _join(empty),
        "requirements": requirements,
    }


def _render_caveats(result: ScreeningResult, language: str | None) -> list[str]:
    instrument = result.instrument
    item = result.instrument_list
    caveats = []
    if instrument.verification.status != VerificationStatus.VERIFIED:
        caveats.append(
            CAVEAT_INSTRUMENT
            % {
                "status": VerificationStatus(instrument.verification.status).label,
                "summary": instrument.verification.summary.in_language(language),
            }
        )
    if item.verification != instrument.verification:
        caveats.append(
            CAVEAT_LIST
            % {
                "status": VerificationStatus(item.verification.status).label,
                "summary": item.verification.summary.in_language(language),
            }
        )
    if item.note:
        caveats.append(item.note.in_language(language))
    caveats.append(CAVEAT_PROVENANCE % {"summary": instrument.provenance.summary.in_language(language)})
    return caveats


# --- evaluation -----------------------------------------------------------------------------------


def _dimension_results(
    instrument: Instrument, item: InstrumentList, found: AbstractSet[str]
) -> tuple[DimensionResult, ...]:
    rule = instrument.rule
    results = []
    for dimension in item.dimensions:
        hits = tuple(
            FoundIndicator(indicator.id, indicator.label, indicator.strength)
            for indicator in dimension.indicators
            if indicator.id in found
        )
        counts = Counter(indicator.strength.value for indicator in hits if indicator.strength)
        met: tuple[Combination, ...] = ()
        positive: bool | None = None
        if isinstance(rule, DimensionsRule):
            met = tuple(combination for combination in rule.combinations if combination.met_by(counts))
            positive = bool(met)
        results.append(
            DimensionResult(
                id=dimension.id,
                label=dimension.label,
                kind=dimension.kind,
                indicators_loaded=len(dimension.indicators),
                found=hits,
                positive=positive,
                combinations_met=met,
            )
        )
    return tuple(results)


def _requirement_results(
    requirements: tuple[Requirement, ...], dimensions: tuple[DimensionResult, ...]
) -> tuple[RequirementResult, ...]:
    return tuple(
        RequirementResult(
            kind=requirement.kind,
            at_least=requirement.at_least,
            positive=tuple(d for d in dimensions if d.kind == requirement.kind and d.positive),
            without_indicators=tuple(
                d for d in dimensions if d.kind == requirement.kind and not d.indicators_loaded
            ),
        )
        for requirement in requirements
    )


def evaluate(*, instrument: Instrument, list_id: str, found: AbstractSet[str]) -> ScreeningResult:
    """Apply the instrument's rule to the indicator ids `found` in the list `list_id`.

    - A list without any indicator loaded never answers "not indicated": it cannot conclude.
    - Under a dimensions rule, a negative answer also needs every dimension the unmet requirements count on
      to have indicators loaded; otherwise it cannot conclude.
    - Unknown indicator ids raise `ValueError`.
    """
    item = instrument.get_list(list_id)
    known = {indicator.id for indicator in item.indicators}
    unknown = sorted(set(found) - known)
    if unknown:
        raise ValueError(
            f"Unknown indicator id(s) for list {item.id!r} of screening instrument {instrument.id} version "
            f"{instrument.version}: {', '.join(unknown)}"
        )
    dimensions = _dimension_results(instrument, item, found)
    rule = instrument.rule
    requirements: tuple[RequirementResult, ...] = ()
    if not item.has_indicators:
        conclusion, code = Conclusion.CANNOT_CONCLUDE, NO_INDICATORS_LOADED
    elif isinstance(rule, CountRule):
        if len(found) >= rule.threshold:
            conclusion, code = Conclusion.PRESUMED_VICTIM, THRESHOLD_MET
        else:
            conclusion, code = Conclusion.NOT_INDICATED, BELOW_THRESHOLD
    else:
        requirements = _requirement_results(rule.requirements(item.population), dimensions)
        if all(requirement.met for requirement in requirements):
            conclusion, code = Conclusion.PRESUMED_VICTIM, RULE_MET
        elif any(requirement.without_indicators for requirement in requirements if not requirement.met):
            conclusion, code = Conclusion.CANNOT_CONCLUDE, DIMENSIONS_WITHOUT_INDICATORS
        else:
            conclusion, code = Conclusion.NOT_INDICATED, RULE_NOT_MET
    return ScreeningResult(
        instrument=instrument,
        instrument_list=item,
        found=tuple(sorted(found)),
        dimensions=dimensions,
        requirements=requirements,
        conclusion=conclusion,
        reason_code=code,
    )
