"""Reading `catalogue.yaml` and writing it to the ServiceType table.

Used by the data migration (with the historical model from `apps.get_model`) and by `manage.py load_catalogue`
(with the current model), so this module imports no model: the caller passes the model class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opennrm.accounts.models import AgencyKind
from opennrm.referrals.models import PROVIDER_FIELDS, ServiceCategory

CATALOGUE_PATH = Path(__file__).resolve().parent / "catalogue.yaml"
LANGUAGES = ("en", "ka", "uk", "ru", "ro")


class CatalogueError(ValueError):
    """The catalogue file is not valid; nothing was loaded."""


@dataclass(frozen=True)
class ServiceSpec:
    country: str
    code: str
    category: str
    names: dict[str, str]
    needs: list[str]
    provider_kinds: list[str]


@dataclass
class LoadResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0


def read(path: Path = CATALOGUE_PATH) -> list[ServiceSpec]:
    """The services of the file, one per country, validated. CatalogueError lists every problem found."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("services"), list):
        raise CatalogueError(f"{path}: expected a mapping with a 'services' list")
    default_countries = data.get("countries") or []
    problems: list[str] = []
    specs: list[ServiceSpec] = []
    seen: set[tuple[str, str]] = set()
    for number, item in enumerate(data["services"], start=1):
        if not isinstance(item, dict):
            problems.append(f"service #{number}: not a mapping")
            continue
        code = str(item.get("code") or "")
        where = f"service {code or '#' + str(number)}"
        problems += _check(item, where)
        countries = item.get("countries") or default_countries
        if not countries:
            problems.append(f"{where}: no country (give 'countries' at the top or on the service)")
        for country in countries:
            country = str(country).upper()
            if len(country) != 2 or not country.isalpha():
                problems.append(f"{where}: {country!r} is not a two-letter country code")
                continue
            if (country, code) in seen:
                problems.append(f"{where}: listed twice for {country}")
            seen.add((country, code))
            specs.append(
                ServiceSpec(
                    country=country,
                    code=code,
                    category=str(item.get("category", "")),
                    names={str(k): str(v) for k, v in (item.get("names") or {}).items()},
                    needs=[str(n) for n in item.get("needs") or []],
                    provider_kinds=[str(k) for k in item.get("providers") or []],
                )
            )
    if problems:
        raise CatalogueError(f"{path}:\n  " + "\n  ".join(problems))
    return specs


def _check(item: dict[str, Any], where: str) -> list[str]:
    problems = []
    code = item.get("code")
    if not isinstance(code, str) or not code or not code.replace("_", "").isalnum() or code.lower() != code:
        problems.append(f"{where}: 'code' must be lower snake case")
    if item.get("category") not in ServiceCategory.values:
        problems.append(f"{where}: unknown category {item.get('category')!r}")
    names = item.get("names")
    if not isinstance(names, dict) or not names.get("en"):
        problems.append(f"{where}: 'names' needs at least 'en'")
    elif unknown_languages := set(names) - set(LANGUAGES):
        problems.append(f"{where}: unknown languages in 'names': {sorted(unknown_languages)}")
    needs = item.get("needs") or []
    if not isinstance(needs, list) or any(n not in PROVIDER_FIELDS for n in needs):
        problems.append(f"{where}: 'needs' may only name {', '.join(PROVIDER_FIELDS)}")
    providers = item.get("providers") or []
    if not isinstance(providers, list) or any(k not in AgencyKind.values for k in providers):
        problems.append(f"{where}: 'providers' may only name {', '.join(AgencyKind.values)}")
    return problems


def load(model: Any, specs: list[ServiceSpec], *, countries: set[str] | None = None) -> LoadResult:
    """Create or update each service; deactivate services of the loaded countries that the file no longer lists.

    Idempotent: loading the same file twice changes nothing the second time. `countries` limits the load.
    """
    result = LoadResult()
    # The data migration passes the historical model: set only the fields it has.
    known = {f.name for f in model._meta.get_fields()}
    wanted = [s for s in specs if countries is None or s.country in countries]
    loaded_countries = countries if countries is not None else {s.country for s in specs}
    for spec in wanted:
        values = {
            "category": spec.category,
            "names": spec.names,
            "needs": spec.needs,
            "provider_kinds": spec.provider_kinds,
            "is_active": True,
        }
        values = {name: value for name, value in values.items() if name in known}
        service = model.objects.filter(country=spec.country, code=spec.code).first()
        label = f"{spec.country}:{spec.code}"
        if service is None:
            model.objects.create(country=spec.country, code=spec.code, **values)
            result.created.append(label)
        elif any(getattr(service, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(service, name, value)
            service.save(update_fields=[*values, "updated_at"])
            result.updated.append(label)
        else:
            result.unchanged += 1
    listed = {(s.country, s.code) for s in wanted}
    for service in model.objects.filter(country__in=loaded_countries, is_active=True):
        if (service.country, service.code) not in listed:
            service.is_active = False
            service.save(update_fields=["is_active", "updated_at"])
            result.deactivated.append(f"{service.country}:{service.code}")
    return result
