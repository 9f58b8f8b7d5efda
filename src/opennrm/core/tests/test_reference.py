"""Reference lists: HTCDS 2.0 picklists against IOM's CSV, countries and languages in several languages."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from django import forms
from django.utils import translation

from opennrm.core.reference import (
    HTCDS_DIR,
    UnknownCodeError,
    countries,
    country_name,
    htcds_choices,
    htcds_field,
    htcds_fields,
    htcds_picklist,
    is_valid_country,
    is_valid_htcds_value,
    is_valid_language,
    language_code,
    language_name,
    languages,
)

CSV_PATH = HTCDS_DIR / "htcds_field_standards_2.0.csv"
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"


def csv_picklists() -> dict[str, tuple[list[str], list[str]]]:
    """Value names and labels straight from IOM's CSV, for the fields that enumerate values."""
    found = {}
    with CSV_PATH.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            names = [" ".join(line.split()) for line in row["Value Names (if picklist)"].splitlines()]
            labels = [" ".join(line.split()) for line in row["Value Labels (if picklist)"].splitlines()]
            names, labels = [n for n in names if n], [label for label in labels if label]
            if names and not names[0].startswith("Use ISO"):
                found[row["Field Name including Prefix"]] = (names, labels)
    return found


def is_georgian(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all("\u10a0" <= c <= "\u10ff" for c in letters)


# --- HTCDS ----------------------------------------------------------------------------------------


def test_htcds_picklists_round_trip_from_the_csv() -> None:
    expected = csv_picklists()

    assert len(expected) == 21
    for name, (values, labels) in expected.items():
        choices = htcds_picklist(name)
        assert [choice.value for choice in choices] == values, name
        assert [choice.label for choice in choices] == labels, name


def test_committed_picklists_are_what_the_build_script_makes_of_the_csv() -> None:
    spec = importlib.util.spec_from_file_location("build_picklists", HTCDS_DIR / "build_picklists.py")
    assert spec is not None and spec.loader is not None
    build: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)

    data = build.parse(CSV_PATH)

    assert (HTCDS_DIR / "picklists.json").read_text(encoding="utf-8") == build.render_json(data)
    assert (REFERENCE_DIR / "htcds_messages.py").read_text(encoding="utf-8") == build.render_messages(data)


def test_htcds_fields_keep_their_prefixed_names_and_status() -> None:
    fields = htcds_fields()

    assert len(fields) == 84
    assert all(field.name == field.prefix + field.base_name for field in fields)
    assert {field.prefix for field in fields} == {
        "org_", "prs_", "vic_", "per_", "cas_", "cco_", "hte_", "spl_", "con_",
    }  # fmt: skip
    assert htcds_field("vic_Vulnerabilities").deprecated
    assert htcds_field("vic_TypeOfExploitation").multiple
    assert htcds_field("prs_Citizenship").code_list == "ISO 3166-1"


def test_htcds_choices_work_as_django_choices() -> None:
    field = forms.ChoiceField(choices=htcds_choices("vic_TypeOfExploitation"))

    assert field.clean("ForcedLabour") == "ForcedLabour"
    with pytest.raises(forms.ValidationError):
        field.clean("forced_labour")
    assert dict(htcds_choices("vic_TypeOfExploitation"))["ForcedLabour"] == "Forced labour"


def test_htcds_values_are_checked() -> None:
    assert is_valid_htcds_value("vic_MethodsOfControl", "DebtBondage")  # published with a trailing space
    assert not is_valid_htcds_value("vic_MethodsOfControl", "Debt bondage")
    assert is_valid_htcds_value("prs_Citizenship", "UA")
    assert not is_valid_htcds_value("prs_Citizenship", "XX")
    with pytest.raises(UnknownCodeError, match=r"not an HTCDS 2\.0 picklist"):
        is_valid_htcds_value("vic_NoSuchField", "Other")


def test_a_code_list_field_points_to_the_iso_list() -> None:
    with pytest.raises(UnknownCodeError, match=r"countries\(\)"):
        htcds_picklist("prs_Citizenship")


# --- countries ------------------------------------------------------------------------------------


def test_country_names_in_georgian_are_in_georgian_script() -> None:
    assert country_name("GE", language="ka") == "საქართველო"
    with translation.override("ka"):
        named = dict(countries())
        assert country_name("UA") == named["UA"]
    for code in ("GE", "UA", "MD", "BY", "GB", "DE", "TR"):
        assert is_georgian(named[code]), named[code]


def test_country_names_in_the_other_project_languages() -> None:
    assert country_name("GE", language="uk") == "Грузія"
    assert country_name("GE", language="ro") == "Georgia"
    assert country_name("MD", language="en") == "Moldova"
    assert country_name("MD", language="ru") == "Молдавия"


def test_countries_are_sorted_by_their_name_in_the_language() -> None:
    names = [name for _, name in countries(language="uk")]

    assert len(names) == 249
    assert names == sorted(names, key=str.casefold)


@pytest.mark.parametrize("code", ["XX", "ge", "GEO", "", "G"])
def test_unknown_country_code_is_rejected(code: str) -> None:
    assert not is_valid_country(code)
    with pytest.raises(UnknownCodeError):
        country_name(code)


# --- languages ------------------------------------------------------------------------------------


def test_language_names_are_translated_with_english_fallback() -> None:
    assert language_name("uk", language="uk") == "українська"
    assert language_name("ka", language="ru") == "грузинский"
    assert language_name("ka", language="ka") == "Georgian"  # pycountry has no Georgian names for languages


def test_languages_use_639_1_and_639_3_where_there_is_no_639_1() -> None:
    codes = dict(languages(language="en"))

    assert codes["ka"] == "Georgian"
    assert codes["rom"] == "Romany"  # no ISO 639-1 code
    assert "kat" not in codes  # Georgian appears once, under its 639-1 code
    assert len(dict(languages(iso639_1_only=True, language="en"))) == 184


def test_language_codes_are_normalised_and_unknown_ones_rejected() -> None:
    assert language_code("kat") == language_code("geo") == "ka"
    assert is_valid_language("rom")
    assert not is_valid_language("qq")
    with pytest.raises(UnknownCodeError, match="'qq'"):
        language_name("qq")
