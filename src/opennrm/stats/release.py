"""Public releases of the mechanism's figures: k-anonymous tables or differentially private counts.

`create_release` builds the standard tables for a range of years from the database (national scope, every case
of the instance), protects them, writes the files (one CSV per table, `tables.json`, `metadata.json`,
`README.txt`) and records an immutable, versioned `Release` — one transaction, one audit entry.

**Who is counted.** One line per *person*: the cases whose date of first contact falls in the years of the
release and whose person was not found "not a victim of trafficking"; a person with several such cases counts
once, with their first one. Anonymous notifications and imported statistics records (CTDC imports) are not in
public releases: they cannot be tied to a person, so one person could be counted twice and neither the
k-anonymity of a cell nor the per-person differential-privacy guarantee would hold.

**The tables** (rows: year of first contact; every person in exactly one cell of each table, so every table has
the same totals per year and the same grand total):
- sex: female, male, trans or non-conforming (the HTCDS transgender and non-conforming values together: they
  are small groups and the people most at risk of being recognised), not specified / unknown;
- age group: CTDC's broad age bins (ageBroad);
- form of exploitation: the form when the case has one, "multiple" when it has several, "unknown" when none;
- citizenship: k-anonymous releases, the most frequent citizenships of the release, then "other", "unknown";
  differentially private releases, a list fixed without looking at the data (the country of the instance and
  the countries the coordinator names), then "other", "unknown";
- identification route: the identifying authority of the country profile for identified victims, "not
  identified" for presumed victims whose status was not (yet) granted.

**k-anonymous releases** (`opennrm.stats.suppression`): every figure below k is suppressed (zeros included),
then complements until the exact audit finds nothing recoverable. The totals per year and the grand total are
shared by all tables, so they are decided once for the whole release: a year below k is suppressed in every
table with all its cells, and if only one year is, the next smallest is too (else it is the grand total minus
the others). Every table is checked again before anything is written; a table that fails the check stops the
release. **Each year is published in k-anonymous tables once**: exact tables of the same people published twice
(after late registrations or corrections, or over overlapping ranges of years, whose column totals differ by
the years not shared) can be subtracted from each other, and the difference — the few people added, changed or
in one range only — is exactly the kind of small group suppression hides. Later figures for a year already
published go out as differentially private counts, which are built to be released repeatedly.

**Differentially private releases** (`opennrm.stats.dp`): every cell of every table gets discrete Laplace or
discrete Gaussian noise from OpenDP; ε (and δ) are split equally across the tables and the composition is
verified with OpenDP's accounting. Totals are sums of the published noisy cells.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.access import access_for
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import AgeGroup, TraffickingStatus, htcds_snake_choices
from opennrm.cases.models import Case, CaseExploitation
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile
from opennrm.core.reference import is_valid_country
from opennrm.stats import dp
from opennrm.stats.release_models import Release, ReleaseFile, ReleaseKind, manifest_hash, plain_number
from opennrm.stats.suppression import (
    SUPPRESSED_MARK,
    CountTable,
    Entry,
    SuppressedTable,
    check_published,
    suppress,
)

FIRST_YEAR = 1990
MAX_YEARS = 30
TOP_CITIZENSHIPS = 5
OTHER, UNKNOWN, MULTIPLE, NOT_IDENTIFIED = "other", "unknown", "multiple", "not_identified"

# HTCDS prs_Gender → the four groups published.
SEX_GROUPS = {
    "feminine": "female",
    "masculine": "male",
    "transgender_feminine": "trans_or_non_conforming",
    "transgender_masculine": "trans_or_non_conforming",
    "non_conforming": "trans_or_non_conforming",
    "non_specified_unknown": UNKNOWN,
}
SEX_LABELS = {
    "female": "Female",
    "male": "Male",
    "trans_or_non_conforming": "Transgender or non-conforming",
    UNKNOWN: "Not specified / unknown",
}

DIMENSIONS = ("sex", "age_group", "form", "citizenship", "route")
FILE_NAMES = {d: f"by_year_{d}.csv" for d in DIMENSIONS}
TITLES = {
    "sex": "Persons by year of first contact and sex",
    "age_group": "Persons by year of first contact and age group (CTDC ageBroad)",
    "form": "Persons by year of first contact and form of exploitation",
    "citizenship": "Persons by year of first contact and citizenship",
    "route": "Persons by year of first contact and identification route",
}


# --- The population ---------------------------------------------------------------------------------------


def release_population(year_from: int, year_to: int) -> list[dict[str, str]]:
    """One dict per person (year, sex, age_group, form, citizenship, route), in published categories.

    Reads only fields kept in clear for statistics; never a name, a date of birth or any encrypted field."""
    profile = active_profile()
    authorities = {key for key, _name in profile.authority_choices()}
    cases = (
        Case.objects.filter(first_contact_date__year__gte=year_from, first_contact_date__year__lte=year_to)
        .exclude(trafficking_status=TraffickingStatus.NOT_VICTIM)
        .order_by("first_contact_date", "id")
        .values_list(
            "id",
            "person_id",
            "first_contact_date",
            "age_group",
            "trafficking_status",
            "identification_route",
            "person__sex",
            "person__citizenship",
        )
    )
    first: dict[int, tuple[Any, ...]] = {}
    for row in cases:
        first.setdefault(row[1], row)
    forms: dict[int, set[str]] = {}
    case_ids = [row[0] for row in first.values()]
    for start in range(0, len(case_ids), 500):
        for case_id, form in CaseExploitation.objects.filter(
            case_id__in=case_ids[start : start + 500]
        ).values_list("case_id", "form"):
            forms.setdefault(case_id, set()).add(form)
    people = []
    for case_id, _person, first_contact, age, status, route, sex, citizenship in first.values():
        case_forms = forms.get(case_id, set())
        if status == TraffickingStatus.ACTUAL:
            route_group = route if route in authorities else OTHER
        else:
            route_group = NOT_IDENTIFIED
        people.append(
            {
                "year": str(first_contact.year),
                "sex": SEX_GROUPS.get(sex, UNKNOWN),
                "age_group": age if age in AgeGroup.values else AgeGroup.UNKNOWN.value,
                "form": (
                    next(iter(case_forms)) if len(case_forms) == 1 else MULTIPLE if case_forms else UNKNOWN
                ),
                "citizenship": (citizenship or "").upper() or UNKNOWN,
                "route": route_group,
            }
        )
    return people


@dataclass(frozen=True)
class Dimension:
    name: str
    categories: tuple[str, ...]
    labels: dict[str, str]

    def category(self, value: str) -> str:
        if value in self.categories:
            return value
        return OTHER if OTHER in self.categories else UNKNOWN


def dimensions(people: Sequence[dict[str, str]], *, citizenships: Sequence[str] | None) -> list[Dimension]:
    """The columns of every table. `citizenships` None: the most frequent ones in `people` (data-dependent:
    k-anonymous releases only); a list: exactly those (differentially private releases)."""
    from opennrm.core.reference import country_name

    profile = active_profile()
    forms = htcds_snake_choices("vic_TypeOfExploitation")
    if citizenships is None:
        counts = Counter(p["citizenship"] for p in people if p["citizenship"] != UNKNOWN)
        top = [
            code
            for code, _n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_CITIZENSHIPS]
        ]
    else:
        top = list(dict.fromkeys(c.upper() for c in citizenships))
    authorities = profile.authority_choices()
    return [
        Dimension("sex", tuple(SEX_LABELS), dict(SEX_LABELS)),
        Dimension("age_group", tuple(AgeGroup.values), {v: str(label) for v, label in AgeGroup.choices}),
        Dimension(
            "form",
            (*[v for v, _l in forms], MULTIPLE, UNKNOWN),
            {**{v: str(label) for v, label in forms}, MULTIPLE: "More than one form", UNKNOWN: "Unknown"},
        ),
        Dimension(
            "citizenship",
            (*top, OTHER, UNKNOWN),
            {
                **{c: country_name(c, language="en") for c in top},
                OTHER: "Other countries",
                UNKNOWN: "Unknown",
            },
        ),
        Dimension(
            "route",
            (*[k for k, _n in authorities], OTHER, NOT_IDENTIFIED),
            {
                **{k: str(n) for k, n in authorities},
                OTHER: "Other authority",
                NOT_IDENTIFIED: "Not (yet) identified",
            },
        ),
    ]


def count_tables(
    people: Sequence[dict[str, str]], years: Sequence[int], dims: Sequence[Dimension]
) -> dict[str, CountTable]:
    rows = [str(y) for y in years]
    tables = {}
    for dim in dims:
        counts = Counter((p["year"], dim.category(p[dim.name])) for p in people)
        tables[dim.name] = CountTable.from_rows(
            dim.name, rows, dim.categories, [[counts[(y, c)] for c in dim.categories] for y in rows]
        )
    return tables


# --- k-anonymity across the tables of a release ---------------------------------------------------------


def k_anonymous_tables(tables: dict[str, CountTable], k: int) -> dict[str, SuppressedTable]:
    """Suppress every table so that it is k-anonymous on its own and consistent with the others: the shared
    totals (per year and grand total) are published or suppressed alike in every table."""
    first = next(iter(tables.values()))
    m = first.shape[0]
    year_totals = first.row_totals
    grand = first.grand_total
    hidden_years = {i for i, total in enumerate(year_totals) if total < k}
    hide_grand = grand < k
    if not hide_grand and len(hidden_years) == 1 and m > 1:
        # One hidden year would be the grand total minus the others: hide the next smallest too.
        others = sorted((year_totals[i], i) for i in range(m) if i not in hidden_years)
        hidden_years.add(others[0][1])
    if hide_grand:
        hidden_years = set(range(m))
    result = {}
    for name, table in tables.items():
        tm, tn = table.shape
        if table.row_totals != year_totals or table.grand_total != grand:
            raise ValueError(f"table {name} does not count the same people as the others")
        forced: set[Entry] = set()
        for i in hidden_years:
            forced |= {(i, j) for j in range(tn + 1)}
        if hide_grand:
            forced.add((tm, tn))
        fixed = table.row_total_entries() | {table.grand_total_entry()}
        protected = suppress(table, k, forced=forced, fixed=fixed)
        problems = check_published(protected)
        if problems:  # never publish a table that fails the audit
            raise RuntimeError("; ".join(problems))
        result[name] = protected
    return result


# --- Files ----------------------------------------------------------------------------------------------


def _csv(table: CountTable, values: Sequence[Sequence[int | None]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["year", *table.col_labels, "total"])
    for label, row in zip([*table.row_labels, "total"], values, strict=True):
        writer.writerow([label, *(SUPPRESSED_MARK if v is None else v for v in row)])
    return out.getvalue().encode("utf-8")


def _tables_json(tables: dict[str, tuple[CountTable, list[list[int | None]]]]) -> dict[str, Any]:
    return {
        name: {
            "columns": [*table.col_labels, "total"],
            "values": dict(zip([*table.row_labels, "total"], values, strict=True)),
        }
        for name, (table, values) in tables.items()
    }


def _dp_grid(table: CountTable, noisy: dict[str, int]) -> list[list[int | None]]:
    cells = [[noisy[f"{y}|{c}"] for c in table.col_labels] for y in table.row_labels]
    grid: list[list[int | None]] = [[*row, sum(row)] for row in cells]
    col_totals = [sum(col) for col in zip(*cells, strict=True)]
    grid.append([*col_totals, sum(col_totals)])
    return grid


def _readme(release_info: dict[str, Any], file_names: Sequence[str]) -> str:
    kind = release_info["kind"]
    years = f"{release_info['year_from']}-{release_info['year_to']}"
    lines = [
        f"OpenNRM public release v{release_info['version']} — {release_info['country']}, years {years}",
        f"Published {release_info['published_at']}",
        "",
        "What is counted: one line per person referred to the National Referral Mechanism as a presumed or",
        "identified victim of trafficking, by the year of first contact. A person with several cases counts once.",
        "Anonymous notifications and imported statistics are not included.",
        "",
    ]
    if kind == ReleaseKind.K_ANONYMOUS:
        k = release_info["k"]
        lines += [
            f"Protection: k-anonymous tables with k = {k}.",
            f"- No published figure is below {k}. A figure below {k} (including 0) is shown as {SUPPRESSED_MARK}",
            "  (confidential).",
            "- Other figures are also shown as [c] where needed so that no confidential figure can be worked out",
            "  from the totals; this was checked exactly (by linear bounds) before publication.",
            "- Each year appears in one k-anonymous release only: later figures for these years are published",
            "  with differential privacy, so that two releases cannot be subtracted from each other.",
            "- [c] does not mean small: it can hide any number.",
        ]
    else:
        eps, delta = release_info["epsilon"], release_info["delta"]
        lines += [
            f"Protection: differential privacy, epsilon = {plain_number(eps)}, delta = {plain_number(delta)} "
            f"({release_info['noise']},",
            "drawn by OpenDP).",
            "- Whether or not any one person's case is in the data changes the probability of any published",
            f"  result by at most a factor of e^epsilon = {math.exp(eps):.3g}"
            + (f", plus delta = {plain_number(delta)}." if delta else "."),
            "- Every count has random noise added. Figures are not exact: with 95% probability a count is within",
            f"  ±{release_info['accuracy_95']} of the true count. Negative noisy counts were set to 0; totals are",
            "  the sums of the published counts (they also carry noise).",
            "- The budget is split equally between the tables; OpenDP's accounting confirmed the whole release",
            f"  spends epsilon = {release_info['epsilon_spent']:.6g}, delta = {plain_number(release_info['delta_spent'])}.",
            "- Releases add up: the protection of two releases of the same years together is the sum of their",
            "  epsilons.",
        ]
    lines += [
        "",
        "Files:",
        *[f"- {name}" for name in file_names],
        "",
        "Columns are codes; tables.json and metadata.json give their labels. Check the files with:",
        f"  sha256sum {' '.join(sorted([*file_names, 'README.txt']))} | sha256sum",
        "which prints the content hash shown on the release page.",
    ]
    return "\n".join(lines) + "\n"


# --- The service ----------------------------------------------------------------------------------------


def _check_years(year_from: int, year_to: int) -> None:
    this_year = timezone.localdate().year
    if not (FIRST_YEAR <= year_from <= year_to <= this_year):
        raise DomainError(
            _("Choose years between %(first)s and %(last)s, the first not after the last.")
            % {"first": FIRST_YEAR, "last": this_year},
            code="invalid_years",
        )
    if year_to - year_from + 1 > MAX_YEARS:
        raise DomainError(_("A release covers at most %(n)s years.") % {"n": MAX_YEARS}, code="invalid_years")


def _check_years_not_published(year_from: int, year_to: int) -> None:
    earlier = (
        Release.objects.filter(kind=ReleaseKind.K_ANONYMOUS, year_from__lte=year_to, year_to__gte=year_from)
        .order_by("version")
        .first()
    )
    if earlier is not None:
        raise DomainError(
            _(
                "Release %(version)s already published k-anonymous tables for %(first)s-%(last)s. Exact tables of "
                "the same years published twice can be subtracted from each other and reveal the few people who "
                "differ; publish these years with differential privacy instead."
            )
            % {"version": earlier.version, "first": earlier.year_from, "last": earlier.year_to},
            code="years_published",
        )


def _next_version() -> int:
    return int(Release.objects.aggregate(last=Max("version"))["last"] or 0) + 1


def _spent(release: Release) -> float:
    return float(release.parameters.get("epsilon_spent", release.parameters.get("epsilon", 0)))


def privacy_loss_by_year() -> dict[int, float]:
    """ε spent on each year by all differentially private releases so far (they add up): the loss of a person
    whose cases all fall in that year."""
    spent: dict[int, float] = {}
    for release in Release.objects.filter(kind=ReleaseKind.DIFFERENTIALLY_PRIVATE):
        for year in range(release.year_from, release.year_to + 1):
            spent[year] = spent.get(year, 0.0) + _spent(release)
    return spent


def total_privacy_loss() -> float:
    """ε of all differentially private releases together: the bound for anyone, including a person whose cases
    fall in years of different releases."""
    return sum(_spent(r) for r in Release.objects.filter(kind=ReleaseKind.DIFFERENTIALLY_PRIVATE))


@transaction.atomic
def create_release(
    *,
    actor: User,
    kind: str,
    year_from: int,
    year_to: int,
    k: int | None = None,
    epsilon: float | None = None,
    delta: float | None = None,
    mechanism: str | None = None,
    citizenships: Sequence[str] = (),
) -> Release:
    """Publish a new release. Coordinators only (stats.export). Raises DomainError when a parameter is not
    allowed; nothing is written then."""
    if not access_for(actor).has(Perm.STATS_EXPORT):
        raise DomainError(_("You may not publish releases."), code="forbidden")
    _check_years(year_from, year_to)
    profile = active_profile()
    years = list(range(year_from, year_to + 1))
    people = release_population(year_from, year_to)
    now = timezone.now()
    # The version first, then the overlap check: a concurrent release either shows in the check or takes the
    # same version number, and then the unique constraint refuses this one.
    version = _next_version()
    info: dict[str, Any] = {
        "version": version,
        "kind": kind,
        "country": profile.code,
        "year_from": year_from,
        "year_to": year_to,
        "published_at": now.isoformat(timespec="seconds"),
        "unit": "person (one line per person, first case in the years of the release)",
        "neighbouring_relation": "add or remove one person's line",
    }
    files: dict[str, tuple[str, bytes]] = {}
    published: dict[str, tuple[CountTable, list[list[int | None]]]] = {}

    if kind == ReleaseKind.K_ANONYMOUS:
        minimum = int(settings.OPENNRM_RELEASE_K)
        k = minimum if k is None else int(k)
        if k < minimum:
            raise DomainError(
                _("k cannot be lower than %(k)s on this instance.") % {"k": minimum}, code="invalid_k"
            )
        if epsilon is not None or delta is not None:
            raise DomainError(_("A k-anonymous release has no ε or δ."), code="invalid_parameters")
        _check_years_not_published(year_from, year_to)
        dims = dimensions(people, citizenships=None)
        tables = count_tables(people, years, dims)
        protected = k_anonymous_tables(tables, k)
        for name, st in protected.items():
            published[name] = (st.table, st.grid())
        info.update(
            {
                "k": k,
                "suppression": {
                    "rule": "every figure below k suppressed, zeros included; complements until no suppressed figure "
                    "can be recovered from the published ones (exact audit by linear bounds); shared totals per year "
                    "and grand total suppressed alike in every table; each year in one k-anonymous release only",
                    "mark": SUPPRESSED_MARK,
                    "suppressed_figures": {name: len(st.suppressed) for name, st in protected.items()},
                },
            }
        )
    elif kind == ReleaseKind.DIFFERENTIALLY_PRIVATE:
        if k is not None:
            raise DomainError(_("A differentially private release has no k."), code="invalid_parameters")
        if mechanism and mechanism not in dp.Mechanism.__members__.values():
            raise DomainError(_("Unknown noise mechanism."), code="invalid_mechanism")
        chosen = (
            dp.Mechanism(mechanism)
            if mechanism
            else (dp.Mechanism.GAUSSIAN if delta else dp.Mechanism.LAPLACE)
        )
        budget = dp.validate_budget(epsilon=epsilon, delta=delta, mechanism=chosen)
        codes = [c.strip().upper() for c in citizenships if c.strip()]
        unknown_codes = [c for c in codes if not is_valid_country(c)]
        if unknown_codes:
            raise DomainError(
                _("Unknown country code: %(codes)s") % {"codes": ", ".join(unknown_codes)},
                code="unknown_code",
            )
        dims = dimensions(people, citizenships=[profile.code, *codes])
        specs = [dp.TableSpec(d.name, tuple(f"{y}|{c}" for y in years for c in d.categories)) for d in dims]
        rows = [{d.name: f"{p['year']}|{d.category(p[d.name])}" for d in dims} for p in people]
        noisy = dp.noisy_counts(rows, specs, mechanism=chosen, budget=budget)
        empty = count_tables([], years, dims)
        for d in dims:
            published[d.name] = (empty[d.name], _dp_grid(empty[d.name], dp.postprocess(noisy.counts[d.name])))
        info.update(
            {
                "epsilon": budget.epsilon,
                "delta": budget.delta,
                "mechanism": chosen.value,
                "noise": "discrete Laplace" if chosen == dp.Mechanism.LAPLACE else "discrete Gaussian",
                "noise_scale": noisy.scale,
                "accuracy_95": noisy.accuracy(0.05),
                "epsilon_spent": noisy.spent.epsilon,
                "delta_spent": noisy.spent.delta,
                "per_table_loss": noisy.table_loss,
                "per_table_loss_measure": "epsilon"
                if chosen == dp.Mechanism.LAPLACE
                else "rho (zero-concentrated DP)",
                "composition": f"sequential composition of {len(specs)} tables (OpenDP make_composition)",
                "sensitivity_per_table": 1,
                "post_processing": "clamped at 0; totals are sums of published noisy cells",
            }
        )
    else:
        raise DomainError(_("This kind of release is not available."), code="invalid_kind")

    info["tables"] = [
        {
            "name": d.name,
            "file": FILE_NAMES[d.name],
            "title": TITLES[d.name],
            "columns": list(d.categories),
            "labels": d.labels,
        }
        for d in dims
    ]
    for name, (table, values) in published.items():
        files[FILE_NAMES[name]] = ("text/csv", _csv(table, values))
    files["tables.json"] = (
        "application/json",
        _json_bytes({"version": version, "tables": _tables_json(published)}),
    )
    files["metadata.json"] = ("application/json", _json_bytes(info))
    files["README.txt"] = ("text/plain", _readme(info, sorted(files)).encode("utf-8"))

    parameters = {key: info[key] for key in info if key not in {"version", "published_at", "tables"}}
    parameters["tables"] = [t["name"] for t in info["tables"]]
    content_hash = manifest_hash((name, content) for name, (_type, content) in files.items())
    try:
        with transaction.atomic():
            release = Release.objects.create(
                version=version,
                kind=kind,
                created_by=actor,
                year_from=year_from,
                year_to=year_to,
                parameters=parameters,
                content_hash=content_hash,
            )
    except IntegrityError:
        raise DomainError(
            _("Another release was published at the same moment. Try again."), code="concurrent"
        ) from None
    for name, (content_type, content) in sorted(files.items()):
        ReleaseFile.objects.create(
            release=release,
            name=name,
            content_type=content_type,
            content=content,
            size=len(content),
            sha256=_sha256(content),
        )
    details: dict[str, Any] = {
        "version": version,
        "kind": kind,
        "years": f"{year_from}-{year_to}",
        "people": len(people),
        "hash": content_hash,
    }
    if kind == ReleaseKind.K_ANONYMOUS:
        details["k"] = k
    else:
        details["epsilon"] = repr(info["epsilon"])  # the audit log keeps no floats
        details["delta"] = repr(info["delta"])
        details["mechanism"] = info["mechanism"]
    audit.record(actor=actor, action="stats.release.published", target=release, details=details)
    return release


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _sha256(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()
