"""Screening instruments as data: the file format, the loader, and the evaluation rules.

The rule tests use small synthetic instruments written to tmp_path, so that they do not depend on the
(unverified) indicator text that ships.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from opennrm.cases.screening import (
    HTCDS_EXPLOITATION_VALUES,
    INSTRUMENTS_DIR,
    SCHEMA_PATH,
    Conclusion,
    FormOfExploitation,
    Instrument,
    InstrumentConflictError,
    InstrumentFileError,
    Text,
    UnknownInstrumentError,
    choose_instrument,
    evaluate,
    get_instrument,
    latest,
    load_instruments,
    reload_instruments,
    validate_instrument_file,
)
from opennrm.core.reference import is_valid_htcds_value

# A published version never changes: if one of these fails, the file was edited in place. Give the new
# content a new version (and a new file) instead, and add its digest here.
PUBLISHED_DIGESTS = {
    ("ilo_ec_delphi_2009", "0.1"): "320311d8cab92278364394008fce1642da0e1e3293f2969e626ac96a9f253331",
    ("ilo_forced_labour_11_2012", "1.0"): "d0a96c95a85dcae6a0f2b8a571cfbb264bf7d64fd9d57a73e94cbe02691c8913",
}

DIMENSION_RULE: dict[str, Any] = {
    "type": "dimensions",
    "dimension_positive_if_any": [
        {"strong": 2},
        {"strong": 1, "medium_or_weak": 1},
        {"medium": 3},
        {"medium": 2, "weak": 1},
    ],
    "conclusion": {
        "adult": {
            "all_of": [
                {"kind": "recruitment", "at_least": 1},
                {"kind": "exploitation", "at_least": 1},
                {"kind": "coercion_at_destination", "at_least": 1},
            ]
        },
        "child": {
            "all_of": [{"kind": "recruitment", "at_least": 1}, {"kind": "exploitation", "at_least": 1}]
        },
    },
    "text": "Synthetic rule.",
    "source": "Test.",
}

STRENGTHS = {
    "s1": "strong",
    "s2": "strong",
    "m1": "medium",
    "m2": "medium",
    "m3": "medium",
    "w1": "weak",
    "w2": "weak",
}


def _dimension(dimension_id: str, kind: str, *, empty: bool = False) -> dict[str, Any]:
    return {
        "id": dimension_id,
        "label": f"Dimension {dimension_id}",
        "label_translations": {"ka": f"განზომილება {dimension_id}"},
        "kind": kind,
        "indicators": []
        if empty
        else [
            {"id": f"{dimension_id}_{suffix}", "label": f"{dimension_id} {suffix}", "strength": strength}
            for suffix, strength in STRENGTHS.items()
        ],
    }


def _list(list_id: str, population: str, *, empty: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": list_id,
        "population": population,
        "forms_of_exploitation": ["forced_labour"],
        "title": f"List {list_id}",
        "dimensions": [
            _dimension("rec", "recruitment", empty="rec" in empty),
            _dimension("rec2", "recruitment", empty="rec2" in empty),
            _dimension("exp", "exploitation", empty="exp" in empty),
            _dimension("dest", "coercion_at_destination", empty="dest" in empty),
        ],
    }


def _instrument(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format_version": 1,
        "id": "synthetic",
        "version": "1.0",
        "title": "Synthetic instrument",
        "title_translations": {"uk": "Синтетичний інструмент"},
        "publisher": "Tests",
        "year": 2024,
        "provenance": {
            "summary": "Written by the test.",
            "sources": [{"title": "None"}],
            "how_obtained": "Test.",
        },
        "verification": {"status": "verified", "summary": "Synthetic."},
        "populations": ["adult", "child"],
        "forms_of_exploitation": ["forced_labour"],
        "lists": [_list("adult", "adult"), _list("child", "child")],
        "rule": copy.deepcopy(DIMENSION_RULE),
    }
    data.update(overrides)
    return data


def _count_instrument(threshold: int = 3, **overrides: Any) -> dict[str, Any]:
    data = _instrument(
        id="synthetic_count",
        populations=["adult"],
        lists=[
            {
                "id": "adult",
                "population": "adult",
                "forms_of_exploitation": ["forced_labour"],
                "title": "Checklist",
                "dimensions": [
                    {
                        "id": "all",
                        "label": "Indicators",
                        "indicators": [{"id": f"i{n}", "label": f"Indicator {n}"} for n in range(1, 6)],
                    }
                ],
            }
        ],
        rule={
            "type": "count",
            "threshold": {"value": threshold, "chosen_by": "configuring_country", "justification": "Test."},
            "below_threshold_note": "Single indicators matter.",
            "text": "Count.",
            "source": "Test.",
        },
    )
    data.update(overrides)
    return data


def _write(folder: Path, data: dict[str, Any], name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{data['id']}-{data['version']}.json")
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _load(tmp_path: Path, data: dict[str, Any]) -> Instrument:
    return validate_instrument_file(_write(tmp_path, data))


# --- dimension rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("found", "combination"),
    [
        ({"s1", "s2"}, {"strong": 2}),
        ({"s1", "w1"}, {"strong": 1, "medium_or_weak": 1}),
        ({"s1", "m1"}, {"strong": 1, "medium_or_weak": 1}),
        ({"m1", "m2", "m3"}, {"medium": 3}),
        ({"m1", "m2", "w1"}, {"medium": 2, "weak": 1}),
    ],
)
def test_a_dimension_is_positive_with_each_combination(
    tmp_path: Path, found: set[str], combination: dict[str, int]
) -> None:
    instrument = _load(tmp_path, _instrument())

    result = evaluate(instrument=instrument, list_id="adult", found={f"rec_{i}" for i in found})

    rec = result.dimensions[0]
    assert rec.id == "rec"
    assert rec.positive is True
    assert rec.combination is not None
    assert rec.combination.as_dict() == combination
    assert {indicator.id for indicator in rec.found} == {f"rec_{i}" for i in found}


@pytest.mark.parametrize("found", [{"s1"}, {"m1", "m2"}, {"m1", "w1", "w2"}, {"w1", "w2"}, set()])
def test_near_misses_do_not_make_a_dimension_positive(tmp_path: Path, found: set[str]) -> None:
    instrument = _load(tmp_path, _instrument())

    result = evaluate(instrument=instrument, list_id="adult", found={f"rec_{i}" for i in found})

    assert result.dimensions[0].positive is False
    assert result.dimensions[0].combination is None


def test_every_indicator_counts_once_in_a_combination(tmp_path: Path) -> None:
    data = _instrument()
    data["rule"]["dimension_positive_if_any"] = [{"medium": 1, "medium_or_weak": 1}]
    instrument = _load(tmp_path, data)

    one = evaluate(instrument=instrument, list_id="adult", found={"rec_m1"})
    two = evaluate(instrument=instrument, list_id="adult", found={"rec_m1", "rec_w1"})

    assert one.dimensions[0].positive is False
    assert two.dimensions[0].positive is True


def test_counts_by_strength_are_reported(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())

    result = evaluate(instrument=instrument, list_id="adult", found={"exp_s1", "exp_m1", "exp_w1", "exp_w2"})

    assert result.dimensions[2].counts == {"strong": 1, "medium": 1, "weak": 2}
    assert result.dimensions[2].as_dict()["found"][0] == {
        "id": "exp_s1",
        "label": "exp s1",
        "strength": "strong",
    }


# --- conclusions --------------------------------------------------------------------------------------

REC = {"rec_s1", "rec_s2"}
REC2 = {"rec2_m1", "rec2_m2", "rec2_m3"}
EXP = {"exp_s1", "exp_w1"}
DEST = {"dest_m1", "dest_m2", "dest_w1"}


def test_an_adult_needs_recruitment_exploitation_and_coercion_at_destination(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())

    presumed = evaluate(instrument=instrument, list_id="adult", found=REC | EXP | DEST)
    other_recruitment = evaluate(instrument=instrument, list_id="adult", found=REC2 | EXP | DEST)
    without_coercion = evaluate(instrument=instrument, list_id="adult", found=REC | EXP)
    without_recruitment = evaluate(instrument=instrument, list_id="adult", found=EXP | DEST)
    without_exploitation = evaluate(instrument=instrument, list_id="adult", found=REC | DEST)

    assert presumed.conclusion == Conclusion.PRESUMED_VICTIM
    assert other_recruitment.conclusion == Conclusion.PRESUMED_VICTIM
    assert without_coercion.conclusion == Conclusion.NOT_INDICATED
    assert without_recruitment.conclusion == Conclusion.NOT_INDICATED
    assert without_exploitation.conclusion == Conclusion.NOT_INDICATED
    reason = presumed.reason(language="en")
    assert reason.startswith("Presumed victim: the rule for adults is met.")
    assert "Dimension rec, positive with 2 strong" in reason
    assert "Dimension exp, positive with 1 strong + 1 medium or weak" in reason
    assert "Dimension dest, positive with 2 medium + 1 weak" in reason
    assert "Coercion at destination: at least 1 positive dimension needed, 0 found (none)." in (
        without_coercion.reason(language="en")
    )


def test_a_child_does_not_need_the_coercion_dimension(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())

    presumed = evaluate(instrument=instrument, list_id="child", found=REC | EXP)
    without_exploitation = evaluate(instrument=instrument, list_id="child", found=REC | DEST)

    assert presumed.conclusion == Conclusion.PRESUMED_VICTIM
    assert [requirement.kind for requirement in presumed.requirements] == ["recruitment", "exploitation"]
    assert without_exploitation.conclusion == Conclusion.NOT_INDICATED


def test_a_list_without_indicators_cannot_conclude(tmp_path: Path) -> None:
    empty = _list("adult", "adult", empty=("rec", "rec2", "exp", "dest"))
    instrument = _load(tmp_path, _instrument(lists=[empty], populations=["adult"]))

    result = evaluate(instrument=instrument, list_id="adult", found=set())

    assert result.conclusion == Conclusion.CANNOT_CONCLUDE
    assert result.reason(language="en").startswith("Cannot conclude: this list has no indicators loaded.")


def test_a_negative_answer_needs_the_dimensions_it_counts_on(tmp_path: Path) -> None:
    partial = _list("adult", "adult", empty=("dest",))
    instrument = _load(tmp_path, _instrument(lists=[partial], populations=["adult"]))

    unmet = evaluate(instrument=instrument, list_id="adult", found=REC | EXP)
    also_unmet_elsewhere = evaluate(instrument=instrument, list_id="adult", found=REC)

    assert unmet.conclusion == Conclusion.CANNOT_CONCLUDE
    assert "Dimension dest" in unmet.reason(language="en")
    assert also_unmet_elsewhere.conclusion == Conclusion.CANNOT_CONCLUDE


def test_the_shipped_sexual_exploitation_lists_cannot_conclude() -> None:
    instrument = latest("ilo_ec_delphi_2009", instruments=load_instruments())

    for list_id in ("adult_sexual", "child_sexual"):
        result = evaluate(instrument=instrument, list_id=list_id, found=set())
        assert result.conclusion == Conclusion.CANNOT_CONCLUDE
        assert result.reason_code == "no_indicators_loaded"


def test_unknown_indicator_ids_are_refused(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())

    with pytest.raises(ValueError, match="rec_nonexistent"):
        evaluate(instrument=instrument, list_id="adult", found={"rec_s1", "rec_nonexistent"})
    with pytest.raises(ValueError, match="no list 'elderly'"):
        evaluate(instrument=instrument, list_id="elderly", found=set())


# --- count rule ----------------------------------------------------------------------------------------


def test_the_count_rule_presumes_at_the_threshold(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _count_instrument(threshold=3))

    at = evaluate(instrument=instrument, list_id="adult", found={"i1", "i2", "i3"})
    below = evaluate(instrument=instrument, list_id="adult", found={"i1", "i2"})
    none = evaluate(instrument=instrument, list_id="adult", found=set())

    assert at.conclusion == Conclusion.PRESUMED_VICTIM
    assert "3 indicators found, at least 3 needed" in at.reason(language="en")
    assert below.conclusion == Conclusion.NOT_INDICATED
    assert below.reason(language="en").endswith("Single indicators matter.")
    assert none.conclusion == Conclusion.NOT_INDICATED
    assert "Single indicators matter." not in none.reason(language="en")
    assert at.dimensions[0].positive is None


def test_the_ilo_11_indicators_presume_forced_labour_from_two() -> None:
    instrument = get_instrument("ilo_forced_labour_11_2012", "1.0", instruments=load_instruments())
    list_id = "adult_forced_labour"

    two = evaluate(instrument=instrument, list_id=list_id, found={"deception", "debt_bondage"})
    one = evaluate(instrument=instrument, list_id=list_id, found={"excessive_overtime"})

    assert two.conclusion == Conclusion.PRESUMED_VICTIM
    assert one.conclusion == Conclusion.NOT_INDICATED
    assert "not by the publisher" in one.reason(language="en")
    assert "single indicator may in some cases be enough" in one.reason(language="en")
    assert two.threshold == 2


# --- the stored result -----------------------------------------------------------------------------------


def test_the_result_is_stored_as_json_with_its_instrument_and_the_standing_note(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())

    data = evaluate(instrument=instrument, list_id="adult", found=REC | EXP | DEST).as_dict()

    assert json.loads(json.dumps(data)) == data
    assert type(data["conclusion"]) is str
    assert type(data["dimensions"][0]["found"][0]["strength"]) is str
    assert data["instrument"]["id"] == "synthetic"
    assert data["instrument"]["version"] == "1.0"
    assert data["instrument"]["digest"] == instrument.digest
    assert data["instrument"]["verification"]["status"] == "verified"
    assert data["instrument"]["provenance_summary"] == "Written by the test."
    assert data["conclusion"] == "presumed_victim"
    assert "never the decision" in data["note"]
    assert data["dimensions"][0]["combination"] == {"strong": 2}


def test_an_unverified_instrument_says_so_in_the_result() -> None:
    instrument = latest("ilo_ec_delphi_2009", instruments=load_instruments())

    result = evaluate(instrument=instrument, list_id="adult_labour", found=set())

    assert result.verification_status == "unverified"
    assert result.caveats(language="en")[0].startswith("The instrument is unverified: No indicator label")


def test_labels_follow_the_user_language_and_fall_back_to_english(tmp_path: Path) -> None:
    instrument = _load(tmp_path, _instrument())
    result = evaluate(instrument=instrument, list_id="adult", found=REC | EXP | DEST)

    assert instrument.title.in_language("uk") == "Синтетичний інструмент"
    assert instrument.title.in_language("uk-ua") == "Синтетичний інструмент"
    assert instrument.title.in_language("ro") == "Synthetic instrument"
    assert instrument.lists[0].dimensions[0].label.in_language("ka") == "განზომილება rec"
    assert "განზომილება rec" in result.reason(language="ka")
    assert Text("x", (("ru", "y"),)).in_language("ru") == "y"


# --- file format and loader --------------------------------------------------------------------------------


def test_schema_errors_name_the_file_and_the_json_path(tmp_path: Path) -> None:
    data = _instrument()
    data["lists"][0]["dimensions"][1]["indicators"][0]["strength"] = "very strong"
    del data["lists"][1]["dimensions"][2]["indicators"][3]["strength"]
    path = _write(tmp_path, data)

    with pytest.raises(InstrumentFileError) as error:
        validate_instrument_file(path)

    message = str(error.value)
    assert str(path) in message
    assert "$.lists[0].dimensions[1].indicators[0].strength: 'very strong' is not one of" in message
    assert "$.lists[1].dimensions[2].indicators[3]: 'strength' is a required property" in message


def test_a_count_threshold_cannot_be_attributed_to_the_publisher(tmp_path: Path) -> None:
    data = _count_instrument()
    data["rule"]["threshold"]["chosen_by"] = "ilo"

    with pytest.raises(InstrumentFileError, match=r"\$\.rule\.threshold\.chosen_by"):
        _load(tmp_path, data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["lists"][0]["dimensions"][1]["indicators"].append(
                {"id": "rec_s1", "label": "again", "strength": "weak"}
            ),
            "$.lists[0]: the indicator id 'rec_s1' is used more than once",
        ),
        (
            lambda d: d["lists"][0].update(verification={"status": "unverified", "summary": "Not checked."}),
            "$.verification.status: 'verified', but $.lists[0].verification.status is 'unverified'",
        ),
        (lambda d: d["rule"]["conclusion"].pop("child"), "$.rule.conclusion: no conclusion rule"),
        (
            lambda d: d["lists"][1].update(population="adult"),
            "both cover adult / forced_labour",
        ),
        (lambda d: d.update(year="2009"), "$.year: '2009' is not of type 'integer'"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path: Path, change: Any, expected: str) -> None:
    data = _instrument()
    change(data)

    with pytest.raises(InstrumentFileError) as error:
        _load(tmp_path, data)

    assert expected in str(error.value)


def test_a_file_that_is_not_json_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"id": "x",', encoding="utf-8")

    with pytest.raises(InstrumentFileError, match=r"broken\.json is invalid:\n  - not valid JSON"):
        validate_instrument_file(path)


def test_the_same_version_with_different_content_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a", _instrument())
    changed = _instrument()
    changed["lists"][0]["dimensions"][0]["indicators"][0]["strength"] = "weak"
    _write(tmp_path / "b", changed)

    with pytest.raises(InstrumentConflictError, match=r"synthetic version 1\.0 is published twice"):
        load_instruments(tmp_path / "a", extra_dirs=[tmp_path / "b"])


def test_the_same_content_loads_once_whatever_its_layout(tmp_path: Path) -> None:
    data = _instrument()
    _write(tmp_path / "a", data)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "copy.json").write_text(json.dumps(dict(reversed(data.items()))), encoding="utf-8")

    loaded = load_instruments(tmp_path / "a", extra_dirs=[tmp_path / "b"])

    assert list(loaded) == [("synthetic", "1.0")]


def test_one_version_written_two_ways_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a", _instrument(version="1"))
    _write(tmp_path / "b", _instrument(version="1.0", title="Other"))

    with pytest.raises(InstrumentConflictError, match="same version written differently"):
        load_instruments(tmp_path / "a", extra_dirs=[tmp_path / "b"])


def test_latest_and_get_instrument(tmp_path: Path) -> None:
    for version in ("0.9", "0.10", "0.2"):
        _write(tmp_path, _instrument(version=version))
    loaded = load_instruments(tmp_path)

    assert latest("synthetic", instruments=loaded).version == "0.10"
    assert get_instrument("synthetic", "0.9", instruments=loaded).version == "0.9"
    with pytest.raises(UnknownInstrumentError, match=r"loaded versions: 0\.10, 0\.2, 0\.9"):
        get_instrument("synthetic", "3.0", instruments=loaded)
    with pytest.raises(InstrumentConflictError, match="has changed since it was used"):
        get_instrument("synthetic", "0.9", digest="0" * 64, instruments=loaded)


def test_a_country_folder_adds_its_own_instrument(tmp_path: Path) -> None:
    national = _instrument(id="ge_labour_inspection_2022")
    _write(tmp_path, national)

    loaded = load_instruments(extra_dirs=[tmp_path])

    assert ("ge_labour_inspection_2022", "1.0") in loaded
    assert ("ilo_ec_delphi_2009", "0.1") in loaded


def test_the_instance_loads_the_folders_of_its_setting(tmp_path: Path, settings: Any) -> None:
    _write(tmp_path, _instrument(id="ge_labour_inspection_2022"))
    settings.OPENNRM_SCREENING_DIRS = [str(tmp_path)]
    reload_instruments()
    try:
        assert latest("ge_labour_inspection_2022").version == "1.0"
    finally:
        reload_instruments()


# --- choosing an instrument ------------------------------------------------------------------------------------


def _chosen(age: int | None, form: str) -> list[tuple[str, str]]:
    return [
        (choice.instrument.id, choice.instrument_list.id)
        for choice in choose_instrument(age=age, form=form, instruments=load_instruments())
    ]


def test_choose_instrument_by_age_and_form() -> None:
    assert _chosen(30, "forced_labour") == [
        ("ilo_ec_delphi_2009", "adult_labour"),
        ("ilo_forced_labour_11_2012", "adult_forced_labour"),
    ]
    assert _chosen(18, "forced_labour")[0] == ("ilo_ec_delphi_2009", "adult_labour")
    assert _chosen(17, "forced_labour") == [("ilo_ec_delphi_2009", "child_labour")]
    assert _chosen(15, "child_labour") == [("ilo_ec_delphi_2009", "child_labour")]
    assert _chosen(30, "organ_removal") == []


def test_unknown_age_offers_both_lists_and_says_so() -> None:
    choices = choose_instrument(age=None, form="forced_labour", instruments=load_instruments())

    assert {choice.instrument_list.population for choice in choices} == {"adult", "child"}
    assert all(choice.age_unknown for choice in choices)
    assert all("age is not known" in str(choice.notes[0]) for choice in choices)
    instrument, instrument_list = choices[0]
    assert instrument_list in instrument.lists


def test_empty_lists_are_offered_last_with_a_note() -> None:
    choices = choose_instrument(age=30, form="sexual_exploitation", instruments=load_instruments())

    assert [(choice.instrument_list.id, choice.usable) for choice in choices] == [("adult_sexual", False)]
    assert "no indicators loaded" in str(choices[0].notes[-1])


def test_choose_instrument_refuses_what_it_cannot_place() -> None:
    with pytest.raises(ValueError, match="Unknown form of exploitation"):
        choose_instrument(age=30, form="ForcedLabour", instruments=load_instruments())
    with pytest.raises(ValueError, match="negative"):
        choose_instrument(age=-1, form="forced_labour", instruments=load_instruments())


def test_choose_instrument_offers_only_the_latest_version(tmp_path: Path) -> None:
    _write(tmp_path, _instrument(version="1.0"))
    _write(tmp_path, _instrument(version="1.1"))

    choices = choose_instrument(age=40, form="forced_labour", instruments=load_instruments(tmp_path))

    assert [choice.instrument.version for choice in choices] == ["1.1"]


# --- what ships ----------------------------------------------------------------------------------------------------


def test_the_schema_is_valid_and_its_forms_are_htcds_values() -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)

    assert schema["$defs"]["form_of_exploitation"]["enum"] == FormOfExploitation.values
    assert list(HTCDS_EXPLOITATION_VALUES) == FormOfExploitation.values
    assert all(is_valid_htcds_value("vic_TypeOfExploitation", v) for v in HTCDS_EXPLOITATION_VALUES.values())


def test_every_shipped_file_validates_and_carries_its_verification_status() -> None:
    files = sorted(INSTRUMENTS_DIR.glob("*.json"))
    instruments = {path.stem: validate_instrument_file(path) for path in files}

    assert set(instruments) == {"ilo_ec_delphi_2009", "ilo_forced_labour_11_2012"}
    assert instruments["ilo_ec_delphi_2009"].verification.status == "unverified"
    assert instruments["ilo_forced_labour_11_2012"].verification.status == "partial"
    for instrument in instruments.values():
        assert instrument.verification.summary.en
        assert instrument.provenance.summary.en
        assert PUBLISHED_DIGESTS[instrument.key] == instrument.digest


def test_the_minimal_example_in_the_docs_is_a_valid_instrument(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[4] / "docs" / "screening-instruments.md"
    section = docs.read_text(encoding="utf-8").split("## A minimal example", 1)[1]
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0])

    instrument = _load(tmp_path, example)
    result = evaluate(instrument=instrument, list_id="adult_labour", found={"debt"})

    assert result.conclusion == Conclusion.PRESUMED_VICTIM


def test_the_ilo_ec_labour_lists_are_marked_unverified_one_by_one() -> None:
    instrument = latest("ilo_ec_delphi_2009", instruments=load_instruments())
    by_id = {item.id: item for item in instrument.lists}

    assert len(by_id["adult_labour"].indicators) == 67
    assert len(by_id["child_labour"].indicators) == 65
    assert [len(d.indicators) for d in by_id["adult_labour"].dimensions] == [10, 10, 16, 9, 15, 7]
    for list_id in ("adult_labour", "child_labour"):
        for indicator in by_id[list_id].indicators:
            assert indicator.verification is not None
            assert indicator.verification.status == "unverified"
            assert "not checked against WCMS_105023" in indicator.verification.provenance
    for list_id in ("adult_sexual", "child_sexual"):
        assert not by_id[list_id].has_indicators
        assert by_id[list_id].note is not None
        assert "must load" in by_id[list_id].note.en
    assert instrument.verification.summary.en.startswith("No indicator label or strength")


def test_the_ilo_11_indicators_keep_the_booklet_labels_and_say_the_descriptions_are_paraphrases() -> None:
    instrument = latest("ilo_forced_labour_11_2012", instruments=load_instruments())
    indicators = instrument.lists[0].indicators

    assert [indicator.label.en for indicator in indicators] == [
        "Abuse of vulnerability",
        "Deception",
        "Restriction of movement",
        "Isolation",
        "Physical and sexual violence",
        "Intimidation and threats",
        "Retention of identity documents",
        "Withholding of wages",
        "Debt bondage",
        "Abusive working and living conditions",
        "Excessive overtime",
    ]
    assert all(indicator.description_origin == "paraphrase" for indicator in indicators)
    assert instrument.rule.type == "count"
    assert instrument.rule.threshold_chosen_by == "configuring_country"  # type: ignore[union-attr]
    assert "not an ILO figure" in instrument.rule.justification  # type: ignore[union-attr]
