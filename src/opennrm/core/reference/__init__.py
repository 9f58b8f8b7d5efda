"""Reference lists: HTCDS 2.0 picklists, ISO 3166-1 countries and ISO 639 languages.

- HTCDS picklists come from `htcds/picklists.json`, generated from IOM's CSV by
  `htcds/build_picklists.py` (docs/reference-data.md). Values are the HTCDS value names, used as
  stored values and as keys in HTCDS exports; labels are IOM's English labels, translated through the
  project catalogues (context "HTCDS").
- Country and language names come from pycountry, translated with pycountry's own gettext catalogues
  into the active Django language, falling back to English.

Unknown codes and picklist names raise `UnknownCodeError` with the code in the message.
"""

from __future__ import annotations

import functools
import gettext
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pycountry
from django.utils.functional import Promise
from django.utils.translation import get_language, pgettext_lazy, to_locale

__all__ = [
    "HTCDS_DIR",
    "Choice",
    "FieldDef",
    "UnknownCodeError",
    "countries",
    "country_name",
    "htcds_choices",
    "htcds_field",
    "htcds_fields",
    "htcds_picklist",
    "htcds_picklist_names",
    "is_valid_country",
    "is_valid_htcds_value",
    "is_valid_language",
    "language_code",
    "language_name",
    "languages",
]

HTCDS_DIR = Path(__file__).resolve().parent / "htcds"
HTCDS_CONTEXT = "HTCDS"


class UnknownCodeError(LookupError):
    """A code (country, language, region, picklist name) that the reference list does not know."""


# --- HTCDS 2.0 ----------------------------------------------------------------------------------


class Choice(NamedTuple):
    """One picklist value: the HTCDS value name and IOM's English label. Unpacks as (value, label)."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One HTCDS field, as IOM's field list describes it."""

    name: str  # with its three-letter prefix, e.g. vic_TypeOfExploitation
    prefix: str  # e.g. vic_
    base_name: str  # e.g. TypeOfExploitation
    label: str | None
    section: str
    type: str | None  # as published: Text, Picklist, Multiselect Picklist, Date, ...
    status: str | None  # DRAFT or DEPRECATED
    core: bool
    description: str | None
    notes: str | None
    multiple: bool
    picklist: bool  # True when the values are enumerated in the standard
    code_list: str | None  # "ISO 3166-1" or "ISO 639-2" when the standard points to a code list

    @property
    def deprecated(self) -> bool:
        return self.status == "DEPRECATED"


@functools.cache
def _htcds() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HTCDS_DIR / "picklists.json").read_text(encoding="utf-8"))
    return data


@functools.cache
def _htcds_fields() -> dict[str, FieldDef]:
    return {
        item["name"]: FieldDef(
            name=item["name"],
            prefix=item["prefix"],
            base_name=item["base_name"],
            label=item["label"],
            section=item["section"],
            type=item["type"],
            status=item["status"],
            core=item["core"],
            description=item["description"],
            notes=item["notes"],
            multiple=item["multiple"],
            picklist=item["picklist"],
            code_list=item["code_list"],
        )
        for item in _htcds()["fields"]
    }


@functools.cache
def _htcds_picklists() -> dict[str, tuple[Choice, ...]]:
    return {
        name: tuple(Choice(item["value"], item["label"]) for item in picklist["values"])
        for name, picklist in _htcds()["picklists"].items()
    }


def htcds_fields() -> list[FieldDef]:
    """Every field of HTCDS 2.0 in the order of IOM's field list, deprecated ones included."""
    return list(_htcds_fields().values())


def htcds_field(name: str) -> FieldDef:
    try:
        return _htcds_fields()[name]
    except KeyError:
        raise UnknownCodeError(f"{name!r} is not an HTCDS 2.0 field name (use the prefixed name).") from None


def htcds_picklist_names() -> list[str]:
    return list(_htcds_picklists())


def htcds_picklist(name: str) -> list[Choice]:
    """Values of an enumerated HTCDS picklist, named by its prefixed field name (e.g. cas_Status)."""
    picklists = _htcds_picklists()
    if name in picklists:
        return list(picklists[name])
    field = _htcds_fields().get(name)
    if field is not None and field.code_list:
        helper = "countries()" if field.code_list.startswith("ISO 3166") else "languages()"
        raise UnknownCodeError(
            f"HTCDS field {name!r} takes {field.code_list} codes, not a picklist: use "
            f"opennrm.core.reference.{helper}."
        )
    raise UnknownCodeError(
        f"{name!r} is not an HTCDS 2.0 picklist; picklists are: {', '.join(sorted(picklists))}."
    )


def htcds_choices(name: str) -> list[tuple[str, str | Promise]]:
    """`choices` for a Django field: HTCDS value names with labels translated lazily (context "HTCDS")."""
    return [(choice.value, pgettext_lazy(HTCDS_CONTEXT, choice.label)) for choice in htcds_picklist(name)]


def is_valid_htcds_value(picklist: str, value: str) -> bool:
    """Whether `value` is allowed in the HTCDS field `picklist`.

    For the fields that point to an ISO code list (citizenship, countries, languages) the code is
    checked against that list. An unknown field name raises `UnknownCodeError`.
    """
    field = _htcds_fields().get(picklist)
    if field is not None and field.code_list:
        if field.code_list.startswith("ISO 3166"):
            return is_valid_country(value)
        return is_valid_language(value)
    return any(choice.value == value for choice in htcds_picklist(picklist))


# --- translations of ISO names ------------------------------------------------------------------


def _language(language: str | None) -> str:
    if language:
        return language
    from django.conf import settings

    return get_language() or settings.LANGUAGE_CODE


@functools.lru_cache(maxsize=64)
def _catalogue(domain: str, language: str) -> gettext.NullTranslations:
    locale = to_locale(language)
    candidates = [locale, locale.split("_")[0]]
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=candidates, fallback=True)


def _translated(domain: str, language: str, *names: str | None) -> str:
    """Translation of the first of `names` the catalogue has; else the first name, in English."""
    catalogue = _catalogue(domain, language)
    known: dict[Any, Any] = getattr(catalogue, "_catalog", {})  # GNUTranslations keeps its messages here
    present = [name for name in names if name]
    for name in present:
        if name in known:
            return catalogue.gettext(name)
    return present[0]


# --- ISO 3166-1 countries -----------------------------------------------------------------------


def is_valid_country(code: str) -> bool:
    """Whether `code` is an ISO 3166-1 alpha-2 country code (upper case)."""
    if not isinstance(code, str) or len(code) != 2 or not code.isascii() or not code.isupper():
        return False
    return pycountry.countries.get(alpha_2=code) is not None


def _country(code: str) -> Any:
    if not is_valid_country(code):
        raise UnknownCodeError(f"{code!r} is not an ISO 3166-1 alpha-2 country code.")
    return pycountry.countries.get(alpha_2=code)


@functools.lru_cache(maxsize=16)
def _country_names(language: str) -> tuple[tuple[str, str], ...]:
    named = [
        (
            country.alpha_2,
            _translated("iso3166-1", language, getattr(country, "common_name", None), country.name),
        )
        for country in pycountry.countries
    ]
    return tuple(sorted(named, key=lambda item: item[1].casefold()))


def countries(*, language: str | None = None) -> list[tuple[str, str]]:
    """(alpha-2 code, name) of every ISO 3166-1 country, names in the active (or given) language, sorted
    by name. Pass the function itself as Django `choices` so that each request gets its language."""
    return list(_country_names(_language(language)))


def country_name(code: str, *, language: str | None = None) -> str:
    country = _country(code)
    return _translated("iso3166-1", _language(language), getattr(country, "common_name", None), country.name)


# --- ISO 639 languages --------------------------------------------------------------------------


def _iso639(code: str) -> Any:
    if not isinstance(code, str) or not code.isascii() or not code.isalpha():
        return None
    code = code.lower()
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code)
    if len(code) == 3:
        return pycountry.languages.get(alpha_3=code) or pycountry.languages.get(bibliographic=code)
    return None


def _canonical(language: Any) -> str:
    return str(getattr(language, "alpha_2", None) or language.alpha_3)


def is_valid_language(code: str) -> bool:
    """Whether `code` is an ISO 639-1, 639-3 or 639-2/B language code."""
    return _iso639(code) is not None


def language_code(code: str) -> str:
    """The code OpenNRM stores for a language: ISO 639-1 when the language has one, else ISO 639-3."""
    language = _iso639(code)
    if language is None:
        raise UnknownCodeError(f"{code!r} is not an ISO 639 language code.")
    return _canonical(language)


@functools.lru_cache(maxsize=32)
def _language_names(language: str, iso639_1_only: bool) -> tuple[tuple[str, str], ...]:
    named = [
        (_canonical(item), _translated("iso639-3", language, item.name))
        for item in pycountry.languages
        if hasattr(item, "alpha_2") or (not iso639_1_only and item.type == "L")
    ]
    return tuple(sorted(named, key=lambda entry: entry[1].casefold()))


def languages(*, language: str | None = None, iso639_1_only: bool = False) -> list[tuple[str, str]]:
    """(code, name) of languages: every ISO 639-1 language, plus the living ISO 639-3 languages that
    have no 639-1 code (unless `iso639_1_only`), named in the active (or given) language."""
    return list(_language_names(_language(language), iso639_1_only))


def language_name(code: str, *, language: str | None = None) -> str:
    item = _iso639(code)
    if item is None:
        raise UnknownCodeError(f"{code!r} is not an ISO 639 language code.")
    return _translated("iso639-3", _language(language), item.name)
