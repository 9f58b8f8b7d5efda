"""Country profiles: validation of the data files, deadlines, calendars and regions.

Expected dates are counted by hand in each test (with the calendar written out), never with the
function under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pycountry
import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from opennrm.core.profiles import (
    PROFILES_DIR,
    UnknownProfileError,
    active_profile,
    get_profile,
    load_profile_file,
    load_profiles,
    validate_all,
)
from opennrm.core.reference import UnknownCodeError

LONDON = ZoneInfo("Europe/London")
TBILISI = ZoneInfo("Asia/Tbilisi")
SHIPPED = {"GE", "UA", "MD", "BY", "GB"}


def write_profile(directory: Path, data: dict[str, Any], name: str = "ge.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def georgia_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROFILES_DIR / "ge.yaml").read_text(encoding="utf-8"))
    return data


# --- validation -----------------------------------------------------------------------------------


def test_every_shipped_profile_validates() -> None:
    validate_all()
    assert set(load_profiles()) == SHIPPED


def test_holidays_package_has_a_calendar_for_every_shipped_country() -> None:
    supported = holidays.list_supported_countries()
    for profile in load_profiles().values():
        assert profile.holidays.country in supported
        assert (
            profile.holidays.subdivision is None
            or profile.holidays.subdivision in supported[profile.holidays.country]
        )


def test_missing_field_is_refused_naming_the_file_and_the_field(tmp_path: Path) -> None:
    data = georgia_data()
    del data["law"]
    path = write_profile(tmp_path, data)

    with pytest.raises(ImproperlyConfigured) as error:
        validate_all(tmp_path)

    assert str(path) in str(error.value)
    assert "'law' is a required property" in str(error.value)


def test_wrong_deadline_unit_is_refused_with_its_json_path(tmp_path: Path) -> None:
    data = georgia_data()
    data["decision_deadline"]["unit"] = "minutes"
    path = write_profile(tmp_path, data)

    with pytest.raises(ImproperlyConfigured) as error:
        load_profile_file(path)

    assert "ge.yaml" in str(error.value)
    assert "$.decision_deadline.unit" in str(error.value)
    assert "'minutes'" in str(error.value)


def test_error_inside_an_optional_section_names_the_field_not_the_section(tmp_path: Path) -> None:
    data = georgia_data()
    data["compensation"]["amount"] = "one thousand"
    path = write_profile(tmp_path, data)

    with pytest.raises(
        ImproperlyConfigured, match=r"\$\.compensation\.amount: 'one thousand' is not of type"
    ):
        load_profile_file(path)


def test_reflection_period_below_the_convention_minimum_is_refused(tmp_path: Path) -> None:
    data = georgia_data()
    data["reflection_period_days"] = 14
    path = write_profile(tmp_path, data)

    with pytest.raises(ImproperlyConfigured, match=r"\$\.reflection_period_days"):
        load_profile_file(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["regions"].append({"code": "UA-30", "name": "Kyiv"}), r"\$\.regions\[12\]\.code"),
        (lambda d: d.update(time_zone="Asia/Atlantis"), r"\$\.time_zone"),
        (lambda d: d.update(currency="XYZ"), r"\$\.currency"),
        (lambda d: d["holidays"].update(subdivision="ENG"), r"\$\.holidays\.subdivision"),
        (lambda d: d.update(code="UA"), r"does not match the file name"),
    ],
)
def test_codes_the_schema_cannot_check_are_checked(tmp_path: Path, change: Any, message: str) -> None:
    data = georgia_data()
    change(data)
    path = write_profile(tmp_path, data)

    with pytest.raises(ImproperlyConfigured, match=message):
        load_profile_file(path)


def test_yaml_no_is_a_language_code_not_false(tmp_path: Path) -> None:
    text = (
        (PROFILES_DIR / "ge.yaml")
        .read_text(encoding="utf-8")
        .replace("languages: [ka, en]", "languages: [ka, no]")
    )
    path = tmp_path / "ge.yaml"
    path.write_text(text, encoding="utf-8")

    assert load_profile_file(path).languages == ("ka", "no")


def test_unknown_country_has_no_profile() -> None:
    with pytest.raises(UnknownProfileError, match="'XX'"):
        get_profile("XX")


def test_active_profile_follows_the_setting(settings: Any) -> None:
    settings.OPENNRM_COUNTRY = "UA"
    assert active_profile().code == "UA"

    settings.OPENNRM_COUNTRY = "XX"
    with pytest.raises(ImproperlyConfigured, match="OPENNRM_COUNTRY"):
        active_profile()


# --- deadlines ------------------------------------------------------------------------------------


def test_georgia_decision_is_due_48_hours_after_the_information_arrives() -> None:
    georgia = get_profile("GE")
    arrived = datetime(2026, 3, 6, 16, 30, tzinfo=TBILISI)  # Friday afternoon; hours ignore weekends

    due = georgia.decision_deadline_from(arrived)

    assert due == datetime(2026, 3, 8, 16, 30, tzinfo=TBILISI)
    assert due.tzinfo == TBILISI


def test_a_start_in_utc_gives_the_same_instant() -> None:
    georgia = get_profile("GE")
    # 12:30 UTC is 16:30 in Tbilisi (UTC+4, no daylight saving).
    assert georgia.decision_deadline_from(datetime(2026, 3, 6, 12, 30, tzinfo=UTC)) == datetime(
        2026, 3, 8, 16, 30, tzinfo=TBILISI
    )


def test_uk_reasonable_grounds_skip_weekend_christmas_and_new_year() -> None:
    uk = get_profile("GB")
    referred = datetime(2026, 12, 23, 10, 0, tzinfo=LONDON)  # Wednesday
    # Thu 24 Dec: 1. Fri 25 Christmas Day, Sat 26, Sun 27, Mon 28 Boxing Day (substitute): skipped.
    # Tue 29: 2. Wed 30: 3. Thu 31: 4. Fri 1 Jan New Year's Day, Sat 2, Sun 3: skipped. Mon 4 Jan: 5.
    assert uk.decision_deadline_from(referred) == datetime(2027, 1, 4, 10, 0, tzinfo=LONDON)


def test_uk_reasonable_grounds_skip_easter() -> None:
    uk = get_profile("GB")
    referred = datetime(2026, 4, 2, 9, 0, tzinfo=LONDON)  # Thursday before Easter
    # Fri 3 Apr Good Friday, Sat 4, Sun 5, Mon 6 Easter Monday: skipped. Tue 7: 1 ... Fri 10: 4. Mon 13: 5.
    assert uk.decision_deadline_from(referred) == datetime(2026, 4, 13, 9, 0, tzinfo=LONDON)


def test_friday_afternoon_request_is_due_at_the_same_time_on_the_fifth_working_day() -> None:
    uk = get_profile("GB")
    referred = datetime(2026, 6, 5, 15, 0, tzinfo=LONDON)  # Friday, no holiday in the next week

    assert uk.decision_deadline_from(referred) == datetime(2026, 6, 12, 15, 0, tzinfo=LONDON)


def test_working_day_deadline_keeps_the_local_time_across_the_clock_change() -> None:
    uk = get_profile("GB")
    referred = datetime(2026, 3, 27, 15, 0, tzinfo=LONDON)  # Friday, 15:00 GMT
    # Clocks go forward on Sun 29 Mar. Mon 30: 1, Tue 31: 2, Wed 1 Apr: 3, Thu 2: 4,
    # Fri 3 Good Friday, weekend, Mon 6 Easter Monday: skipped. Tue 7: 5 -> 15:00 BST = 14:00 UTC.
    due = uk.decision_deadline_from(referred)

    assert due == datetime(2026, 4, 7, 14, 0, tzinfo=UTC)
    assert (due.hour, due.minute) == (15, 0)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        get_profile("GB").decision_deadline_from(datetime(2026, 6, 5, 15, 0))


def test_child_clock_is_the_adult_one_when_the_profile_has_no_stricter_one() -> None:
    georgia = get_profile("GE")
    start = datetime(2026, 5, 4, 9, 0, tzinfo=TBILISI)

    assert georgia.child_decision_deadline is None
    assert georgia.decision_deadline_from(start, child=True) == georgia.decision_deadline_from(start)


@pytest.mark.parametrize("code", ["UA", "MD", "BY"])
def test_deadlines_to_configure_locally_are_flagged_as_placeholders(code: str) -> None:
    profile = get_profile(code)

    assert profile.decision_deadline.configured is False
    assert "decision_deadline" in profile.placeholders()
    assert profile.decision_deadline.note is not None and "PLACEHOLDER" in profile.decision_deadline.note.en


@pytest.mark.parametrize("code", ["GE", "GB"])
def test_legal_deadlines_are_not_flagged(code: str) -> None:
    assert "decision_deadline" not in get_profile(code).placeholders()


def test_working_days_follow_the_countrys_calendar() -> None:
    assert get_profile("GB").is_working_day(date(2026, 12, 28)) is False  # Boxing Day, substitute day
    assert get_profile("GB").is_working_day(date(2026, 12, 29)) is True
    assert get_profile("GE").is_working_day(date(2026, 5, 26)) is False  # Independence Day
    # Belarus moved the day off: Monday 20 April 2026 is off, Saturday 25 April is worked.
    assert get_profile("BY").is_working_day(date(2026, 4, 20)) is False
    assert get_profile("BY").is_working_day(date(2026, 4, 25)) is True


# --- periods, money, regions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_contact", "last_day"),
    [(date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 2, 1), date(2026, 3, 3))],
)
def test_reflection_period_ends_30_days_after_first_contact(first_contact: date, last_day: date) -> None:
    for profile in load_profiles().values():
        assert profile.reflection_period_end(first_contact) == last_day


def test_compensation_georgia_fixed_ukraine_to_configure() -> None:
    georgia, ukraine = get_profile("GE").compensation, get_profile("UA").compensation

    assert georgia is not None and (georgia.amount, georgia.currency, georgia.configured) == (
        1000,
        "GEL",
        True,
    )
    assert georgia.preserves_right_to_sue is True
    assert ukraine is not None and ukraine.amount_rule == "subsistence_minimum"
    assert ukraine.amount is None and ukraine.configured is False
    assert "compensation" in get_profile("UA").placeholders()


def test_georgia_has_12_regions_with_tbilisi_and_ajara() -> None:
    georgia = get_profile("GE")
    codes = {region.code for region in georgia.regions}

    assert len(codes) == 12
    assert {"GE-TB", "GE-AJ", "GE-AB"} <= codes


def test_region_names_follow_the_language() -> None:
    georgia = get_profile("GE")

    assert georgia.region_name("GE-TB", language="en") == "Tbilisi"
    assert georgia.region_name("GE-TB", language="ka") == "თბილისი"
    assert georgia.region_name("GE-KA", language="ka") == "კახეთი"  # given by the profile itself
    assert ("GE-TB", "თბილისი") in georgia.region_choices(language="ka")


def test_unknown_region_is_refused() -> None:
    with pytest.raises(UnknownCodeError, match="UA-30"):
        get_profile("GE").region_name("UA-30")


@pytest.mark.parametrize("code", sorted(SHIPPED))
def test_regions_are_the_top_level_iso_subdivisions(code: str) -> None:
    expected = {s.code for s in pycountry.subdivisions.get(country_code=code) if s.parent_code is None}

    assert {region.code for region in get_profile(code).regions} == expected
