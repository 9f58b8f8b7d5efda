"""The parsed, immutable form of a screening instrument file (format described in docs/screening-instruments.md).

Every value here comes from a data file. Text from data files is shown in the user's language from the
file's own `*_translations`, falling back to English; it never goes through Django's gettext catalogues.
Only the names of fixed concepts (strengths, populations, kinds of dimension, conclusions, forms of
exploitation) are translated by the project catalogues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = [
    "HTCDS_EXPLOITATION_VALUES",
    "Combination",
    "Conclusion",
    "CountRule",
    "Dimension",
    "DimensionKind",
    "DimensionsRule",
    "FormOfExploitation",
    "Indicator",
    "IndicatorVerification",
    "Instrument",
    "InstrumentList",
    "Population",
    "Provenance",
    "Requirement",
    "Source",
    "Strength",
    "Text",
    "Verification",
    "VerificationStatus",
    "active_language",
    "version_key",
]


class Population(models.TextChoices):
    ADULT = "adult", _("adult")
    CHILD = "child", _("child")


class FormOfExploitation(models.TextChoices):
    """HTCDS 2.0 `vic_TypeOfExploitation`, with the HTCDS value names in lower snake case.

    `HTCDS_EXPLOITATION_VALUES` maps each value back to the HTCDS value name (ForcedLabour, ...) used by
    `opennrm.core.reference` and in HTCDS exports. The labels are IOM's, translated in context "HTCDS".
    """

    FORCED_LABOUR = "forced_labour", pgettext_lazy("HTCDS", "Forced labour")
    SEXUAL_EXPLOITATION = "sexual_exploitation", pgettext_lazy("HTCDS", "Sexual exploitation")
    CHILD_LABOUR = "child_labour", pgettext_lazy("HTCDS", "Child labour")
    FORCED_MARRIAGE = "forced_marriage", pgettext_lazy("HTCDS", "Forced marriage")
    SERVITUDE = "servitude", pgettext_lazy("HTCDS", "Servitude")
    FORCED_MILITARY_BY_NON_STATE_ACTORS = (
        "forced_military_by_non_state_actors",
        pgettext_lazy("HTCDS", "Forced military (by non-state actors)"),
    )
    ORGAN_REMOVAL = "organ_removal", pgettext_lazy("HTCDS", "Organ removal")
    FORCED_BEGGING = "forced_begging", pgettext_lazy("HTCDS", "Forced begging")
    FORCED_ADOPTION = "forced_adoption", pgettext_lazy("HTCDS", "Forced adoption")
    SURROGACY = "surrogacy", pgettext_lazy("HTCDS", "Surrogacy")
    OTHER = "other", pgettext_lazy("HTCDS", "Other")


HTCDS_EXPLOITATION_VALUES: Mapping[str, str] = {
    "forced_labour": "ForcedLabour",
    "sexual_exploitation": "SexualExploitation",
    "child_labour": "ChildLabour",
    "forced_marriage": "ForcedMarriage",
    "servitude": "Servitude",
    "forced_military_by_non_state_actors": "ForcedMilitaryByNonStateActors",
    "organ_removal": "OrganRemoval",
    "forced_begging": "ForcedBegging",
    "forced_adoption": "ForcedAdoption",
    "surrogacy": "Surrogacy",
    "other": "Other",
}


class Strength(models.TextChoices):
    STRONG = "strong", _("strong")
    MEDIUM = "medium", _("medium")
    WEAK = "weak", _("weak")


class DimensionKind(models.TextChoices):
    RECRUITMENT = "recruitment", _("recruitment")
    EXPLOITATION = "exploitation", _("exploitation")
    COERCION_AT_DESTINATION = "coercion_at_destination", _("coercion at destination")


class VerificationStatus(models.TextChoices):
    VERIFIED = "verified", _("verified")
    UNVERIFIED = "unverified", _("unverified")
    PARTIAL = "partial", _("partly verified")


class Conclusion(models.TextChoices):
    PRESUMED_VICTIM = "presumed_victim", _("Presumed victim")
    NOT_INDICATED = "not_indicated", _("Not indicated")
    CANNOT_CONCLUDE = "cannot_conclude", _("Cannot conclude")


def active_language() -> str:
    """The active Django language, or English outside a configured Django."""
    from django.conf import settings
    from django.utils import translation

    if not settings.configured:
        return "en"
    return translation.get_language() or settings.LANGUAGE_CODE


def version_key(version: str) -> tuple[int, ...]:
    """Versions compare as numbers, and trailing zeros do not count: 1 == 1.0 < 1.0.1 < 1.10."""
    parts = [int(part) for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class Text:
    """Text from a data file: English, and the file's own translations keyed by language code."""

    en: str
    translations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any], key: str) -> Text:
        translations = data.get(f"{key}_translations", {})
        return cls(data[key], tuple(sorted((lang.lower(), text) for lang, text in translations.items())))

    @classmethod
    def optional(cls, data: Mapping[str, Any], key: str) -> Text | None:
        return cls.from_data(data, key) if key in data else None

    def in_language(self, language: str | None = None) -> str:
        """The text in `language` (default: the active language), then its base language, then English."""
        language = (language or active_language()).lower()
        texts = dict(self.translations)
        for candidate in (language, language.split("-")[0]):
            if candidate in texts:
                return texts[candidate]
        return self.en

    def __str__(self) -> str:
        return self.in_language()


@dataclass(frozen=True, slots=True)
class Verification:
    status: VerificationStatus
    summary: Text
    verified: tuple[str, ...] = ()
    not_verified: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Verification:
        return cls(
            status=VerificationStatus(data["status"]),
            summary=Text.from_data(data, "summary"),
            verified=tuple(data.get("verified", ())),
            not_verified=tuple(data.get("not_verified", ())),
        )


@dataclass(frozen=True, slots=True)
class IndicatorVerification:
    status: VerificationStatus  # verified or unverified
    provenance: str


@dataclass(frozen=True, slots=True)
class Indicator:
    id: str
    label: Text
    strength: Strength | None
    description: Text | None = None
    description_origin: str | None = None  # "source_text" or "paraphrase"
    verification: IndicatorVerification | None = None  # None: as the list says
    source_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Dimension:
    id: str
    label: Text
    kind: DimensionKind | None
    indicators: tuple[Indicator, ...]
    description: Text | None = None


@dataclass(frozen=True, slots=True)
class InstrumentList:
    """One list of an instrument: for one population and one or more forms of exploitation."""

    id: str
    population: Population
    forms_of_exploitation: tuple[str, ...]
    title: Text
    verification: Verification
    dimensions: tuple[Dimension, ...]
    note: Text | None = None

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(indicator for dimension in self.dimensions for indicator in dimension.indicators)

    @property
    def has_indicators(self) -> bool:
        return any(dimension.indicators for dimension in self.dimensions)

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)


@dataclass(frozen=True, slots=True)
class Combination:
    """Minimum numbers of indicators found in one dimension, by strength. Every indicator counts once, under
    its own strength; `medium_or_weak` counts medium and weak indicators together."""

    strong: int = 0
    medium: int = 0
    weak: int = 0
    medium_or_weak: int = 0

    def met_by(self, counts: Mapping[str, int]) -> bool:
        return (
            counts.get("strong", 0) >= self.strong
            and counts.get("medium", 0) >= self.medium
            and counts.get("weak", 0) >= self.weak
            and counts.get("medium", 0) + counts.get("weak", 0)
            >= self.medium_or_weak + self.medium + self.weak
        )

    def as_dict(self) -> dict[str, int]:
        return {
            key: value
            for key, value in (
                ("strong", self.strong),
                ("medium", self.medium),
                ("weak", self.weak),
                ("medium_or_weak", self.medium_or_weak),
            )
            if value
        }


@dataclass(frozen=True, slots=True)
class Requirement:
    """At least `at_least` positive dimensions of `kind`."""

    kind: DimensionKind
    at_least: int


@dataclass(frozen=True, slots=True)
class DimensionsRule:
    """A dimension is positive when any combination is met; the conclusion for a population needs every
    requirement of that population to be met."""

    combinations: tuple[Combination, ...]
    conclusion: tuple[tuple[Population, tuple[Requirement, ...]], ...]
    text: Text
    source: str
    verification: Verification | None = None
    notes: tuple[str, ...] = ()

    type: ClassVar[str] = "dimensions"

    def requirements(self, population: str) -> tuple[Requirement, ...]:
        return dict(self.conclusion)[Population(population)]


@dataclass(frozen=True, slots=True)
class CountRule:
    """Presumed when at least `threshold` indicators of the list are found. The threshold is always the
    configuring country's choice (`threshold_chosen_by`), never the publisher's."""

    threshold: int
    threshold_chosen_by: str
    justification: str
    text: Text
    source: str
    below_threshold_note: Text | None = None
    verification: Verification | None = None
    notes: tuple[str, ...] = ()

    type: ClassVar[str] = "count"


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    publisher: str | None = None
    year: int | None = None
    reference: str | None = None
    urls: tuple[str, ...] = ()
    role: str | None = None
    licence: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where the instrument's text comes from and how it was obtained (shown to the person screening)."""

    summary: Text
    how_obtained: str
    sources: tuple[Source, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(
            summary=Text.from_data(data, "summary"),
            how_obtained=data["how_obtained"],
            sources=tuple(
                Source(
                    title=source["title"],
                    publisher=source.get("publisher"),
                    year=source.get("year"),
                    reference=source.get("reference"),
                    urls=tuple(source.get("urls", ())),
                    role=source.get("role"),
                    licence=source.get("licence"),
                )
                for source in data["sources"]
            ),
            notes=tuple(data.get("notes", ())),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Instrument:
    """A published screening instrument. Identified by (id, version); `digest` is the SHA-256 of its
    content (canonical JSON), so a screening can record exactly what it used."""

    id: str
    version: str
    title: Text
    publisher: str
    year: int
    provenance: Provenance
    verification: Verification
    populations: tuple[Population, ...]
    forms_of_exploitation: tuple[str, ...]
    lists: tuple[InstrumentList, ...]
    rule: DimensionsRule | CountRule
    digest: str
    path: Path | None = None
    description: Text | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.version)

    def get_list(self, list_id: str) -> InstrumentList:
        for instrument_list in self.lists:
            if instrument_list.id == list_id:
                return instrument_list
        known = ", ".join(instrument_list.id for instrument_list in self.lists)
        raise ValueError(
            f"Instrument {self.id} version {self.version} has no list {list_id!r}; its lists are: {known}."
        )

    def __hash__(self) -> int:
        return hash((self.id, self.version, self.digest))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instrument):
            return NotImplemented
        return (self.id, self.version, self.digest) == (other.id, other.version, other.digest)
