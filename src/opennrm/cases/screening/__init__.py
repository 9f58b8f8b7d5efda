"""Screening instruments, kept as versioned data, and the evaluation of a screening against them.

An instrument is a JSON file validated by `schema.json` (format: docs/screening-instruments.md). The ones
that ship are in `instruments/`; a country adds its own, without code, by putting files in a folder listed
in the environment variable OPENNRM_SCREENING_DIRS (`settings.OPENNRM_SCREENING_DIRS`). Instruments are
keyed by (id, version), and a published version never changes: `Instrument.digest` (SHA-256 of the content) is stored with each
screening, and two files with the same id and version but different content are refused.

    choices = choose_instrument(age=None, form="forced_labour")
    result = evaluate(instrument=choices[0].instrument, list_id=choices[0].instrument_list.id, found={...})
    result.conclusion, result.reason(), result.as_dict()

The conclusion (`presumed_victim`, `not_indicated` or `cannot_conclude`) is advice to the decision maker,
never the decision. Text from instrument files is shown in the user's language from the file's own
`*_translations` and falls back to English; it is never put in the project's gettext catalogues.
"""

from __future__ import annotations

from .evaluation import (
    STANDING_NOTE,
    DimensionResult,
    FoundIndicator,
    RequirementResult,
    ScreeningResult,
    evaluate,
)
from .loading import (
    EXTRA_DIRS_SETTING,
    INSTRUMENTS_DIR,
    SCHEMA_PATH,
    InstrumentChoice,
    InstrumentConflictError,
    InstrumentFileError,
    UnknownInstrumentError,
    choose_instrument,
    content_digest,
    default_instruments,
    get_instrument,
    latest,
    load_instruments,
    reload_instruments,
    validate_instrument_file,
)
from .model import (
    HTCDS_EXPLOITATION_VALUES,
    Combination,
    Conclusion,
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
    Source,
    Strength,
    Text,
    Verification,
    VerificationStatus,
)

__all__ = [
    "EXTRA_DIRS_SETTING",
    "HTCDS_EXPLOITATION_VALUES",
    "INSTRUMENTS_DIR",
    "SCHEMA_PATH",
    "STANDING_NOTE",
    "Combination",
    "Conclusion",
    "CountRule",
    "Dimension",
    "DimensionKind",
    "DimensionResult",
    "DimensionsRule",
    "FormOfExploitation",
    "FoundIndicator",
    "Indicator",
    "IndicatorVerification",
    "Instrument",
    "InstrumentChoice",
    "InstrumentConflictError",
    "InstrumentFileError",
    "InstrumentList",
    "Population",
    "Provenance",
    "Requirement",
    "RequirementResult",
    "ScreeningResult",
    "Source",
    "Strength",
    "Text",
    "UnknownInstrumentError",
    "Verification",
    "VerificationStatus",
    "choose_instrument",
    "content_digest",
    "default_instruments",
    "evaluate",
    "get_instrument",
    "latest",
    "load_instruments",
    "reload_instruments",
    "validate_instrument_file",
]
