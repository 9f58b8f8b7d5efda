"""The service catalogue: shipped for each country in five languages, loaded by the data migration, reloadable."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from opennrm.core.models import AuditEntry
from opennrm.referrals import catalogue
from opennrm.referrals.models import PROVIDER_FIELDS, ServiceType

pytestmark = pytest.mark.django_db

COUNTRIES = {"GE", "UA", "MD", "BY", "GB"}
CATEGORIES_REQUIRED = {
    "shelter",
    "medical",
    "psychological",
    "legal_aid",
    "interpretation",
    "education",
    "financial",
    "return_reintegration",
}


def test_the_migration_loaded_the_catalogue_for_every_country_in_every_language():
    for country in COUNTRIES:
        services = ServiceType.objects.filter(country=country, is_active=True)
        assert set(services.values_list("category", flat=True)) >= CATEGORIES_REQUIRED
        for service in services:
            assert set(service.names) == set(catalogue.LANGUAGES), service.code
            assert all(service.names.values())
            assert service.needs and set(service.needs) <= set(PROVIDER_FIELDS)


def test_the_names_are_translated_not_copied():
    shelter = ServiceType.objects.get(country="GE", code="shelter")
    assert len(set(shelter.names.values())) == 5
    assert shelter.name_in("ka") == "თავშესაფარი"
    assert shelter.name_in("uk-ua") == "Притулок"
    assert shelter.name_in("de") == "Shelter"


def test_need_to_know_in_the_shipped_catalogue():
    needs = {s.code: set(s.needs) for s in ServiceType.objects.filter(country="GE")}
    assert needs["shelter"] == {
        "given_name",
        "family_name",
        "sex",
        "age_group",
        "languages",
        "is_child",
        "guardian",
    }
    assert needs["interpretation"] == {"given_name", "languages"}
    assert "narrative" in needs["legal_aid"] and "documents" in needs["legal_aid"]
    assert not {"date_of_birth", "documents", "narrative", "contacts", "address"} & needs["shelter"]


def test_loading_again_changes_nothing(tmp_path):
    out = StringIO()
    call_command("load_catalogue", stdout=out)
    assert out.getvalue().startswith("0 created, 0 updated, 0 deactivated")
    entry = AuditEntry.objects.get(action="referrals.catalogue_loaded")
    assert entry.details["created"] == 0 and entry.actor == ""


def test_a_changed_file_updates_adds_and_deactivates(tmp_path: Path):
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        """
countries: [GE]
services:
  - code: shelter
    category: shelter
    names: {en: Safe house, ka: თავშესაფარი}
    needs: [given_name]
    providers: [shelter]
  - code: day_centre
    category: other
    names: {en: Day centre}
    needs: [given_name, languages]
""",
        encoding="utf-8",
    )
    out = StringIO()
    call_command("load_catalogue", "--file", str(path), stdout=out)
    assert "1 created, 1 updated" in out.getvalue()
    shelter = ServiceType.objects.get(country="GE", code="shelter")
    assert shelter.names["en"] == "Safe house" and shelter.needs == ["given_name"] and shelter.is_active
    assert ServiceType.objects.get(country="GE", code="day_centre").is_active
    assert not ServiceType.objects.get(country="GE", code="medical").is_active  # removed from the file
    assert ServiceType.objects.get(country="UA", code="medical").is_active  # other countries untouched


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{code: x, category: shelter, names: {en: X}, needs: [password]}", "'needs'"),
        ("{code: x, category: spa, names: {en: X}, needs: [given_name]}", "unknown category"),
        ("{code: x, category: shelter, names: {ka: X}, needs: [given_name]}", "'en'"),
        ("{code: X-1, category: shelter, names: {en: X}, needs: [given_name]}", "lower snake case"),
        ("{code: x, category: shelter, names: {en: X}, providers: [bakery]}", "'providers'"),
    ],
)
def test_an_invalid_file_is_refused_and_nothing_is_loaded(tmp_path: Path, entry, problem):
    path = tmp_path / "catalogue.yaml"
    path.write_text(f"countries: [GE]\nservices:\n  - {entry}\n", encoding="utf-8")
    before = list(ServiceType.objects.values_list("code", "is_active", "names"))
    with pytest.raises(CommandError) as info:
        call_command("load_catalogue", "--file", str(path), stdout=StringIO())
    assert problem in str(info.value)
    assert list(ServiceType.objects.values_list("code", "is_active", "names")) == before


def test_loading_one_country_leaves_the_others():
    call_command("load_catalogue", "--country", "ge", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("load_catalogue", "--country", "FR", stdout=StringIO())


def test_the_admin_form_validates_needs_and_kinds():
    service = ServiceType(
        country="GE",
        code="x",
        category="other",
        names={"en": "X"},
        needs=["documents", "pin"],
        provider_kinds=["bakery"],
    )
    with pytest.raises(ValidationError) as info:
        service.full_clean()
    assert {"needs", "provider_kinds"} <= set(info.value.message_dict)
