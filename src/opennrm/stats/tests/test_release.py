"""Public releases: k-anonymity of every published table, DP budget as declared, immutability and versions,
the public pages without login, and the coordinators' page (404 for everyone else)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import subprocess

import pytest
from django.test import Client, override_settings
from django.urls import URLResolver, include, path, reverse

import opennrm.urls as root_urls
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases.choices import TraffickingStatus
from opennrm.cases.models import Case
from opennrm.cases.services import IntakeData, refer_person
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry
from opennrm.stats import dp, release, urls_release
from opennrm.stats import urls as stats_urls
from opennrm.stats.release import create_release, release_population
from opennrm.stats.release_models import (
    Release,
    ReleaseFile,
    ReleaseImmutableError,
    ReleaseKind,
    manifest_hash,
)
from opennrm.stats.suppression import SUPPRESSED_MARK, CountTable, SuppressedTable, recoverable_cells

K = 11
YEARS = (2023, 2024)


# The coordinators' page lives in urls_release.py, which `opennrm.stats.urls` includes; this URLconf makes sure it
# is reachable here whether or not that include is in place yet.
def _patterns() -> list:
    stats_patterns = list(stats_urls.urlpatterns)
    names = {getattr(p, "name", None) for p in stats_patterns}
    stats_patterns += [p for p in urls_release.urlpatterns if p.name not in names]
    patterns = [
        p for p in root_urls.urlpatterns if not (isinstance(p, URLResolver) and p.namespace == "stats")
    ]
    return [path("stats/", include((stats_patterns, "stats"))), *patterns]


urlpatterns = _patterns()
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


# --- data --------------------------------------------------------------------------------------------------


@pytest.fixture
def coordinator():
    return member(Role.COORDINATOR, scope=Scope.NATIONAL)


def refer(
    actor,
    agency,
    *,
    year: int,
    sex: str = "feminine",
    age: int = 25,
    citizenship: str = "GE",
    forms: tuple[str, ...] = ("sexual_exploitation",),
) -> Case:
    return refer_person(
        actor=actor,
        referring_agency=agency,
        owning_agency=agency,
        consent_given=True,
        data=IntakeData(
            given_name="Test",
            first_contact_date=dt.date(year, 3, 1),
            sex=sex,
            age_estimate=age,
            citizenship=citizenship,
            exploitation_forms=list(forms),
        ),
    )


@pytest.fixture
def population():
    """2023: 30 people, 2024: 26 people, with small groups of every kind."""
    worker = member(Role.CASE_WORKER)
    agency = worker.memberships.first().agency
    cases = []
    for year, women, men, trans in ((2023, 24, 5, 1), (2024, 14, 12, 0)):
        for i in range(women):
            cases.append(
                refer(worker, agency, year=year, age=20 + i % 3 * 10, citizenship="GE" if i % 4 else "UA")
            )
        for i in range(men):
            cases.append(
                refer(
                    worker,
                    agency,
                    year=year,
                    sex="masculine",
                    age=35,
                    citizenship="AM",
                    forms=("forced_labour",) if i % 2 else ("forced_labour", "forced_begging"),
                )
            )
        for _ in range(trans):
            cases.append(refer(worker, agency, year=year, sex="transgender_feminine", age=16, forms=()))
    identified = [c.pk for c in cases[::3]]
    Case.objects.filter(pk__in=identified).update(
        trafficking_status=TraffickingStatus.ACTUAL, identification_route="permanent_group"
    )
    return {"worker": worker, "agency": agency, "cases": cases}


def read_csv(rel: Release, name: str) -> list[list[str]]:
    content = bytes(ReleaseFile.objects.get(release=rel, name=name).content).decode("utf-8")
    return list(csv.reader(io.StringIO(content)))


def files_of(rel: Release) -> dict[str, bytes]:
    return {f.name: bytes(f.content) for f in ReleaseFile.objects.filter(release=rel)}


# --- who is counted --------------------------------------------------------------------------------------


def test_population_counts_each_person_once_and_leaves_out_non_victims(population):
    first = population["cases"][0]
    # The same person referred again in 2024: still one person, counted in 2023.
    Case.objects.create(
        reference="GE-2024-99999",
        country="GE",
        person=first.person,
        referring_agency=population["agency"],
        owning_agency=population["agency"],
        created_by=population["worker"],
        first_contact_date=dt.date(2024, 5, 1),
    )
    Case.objects.filter(pk=population["cases"][1].pk).update(trafficking_status=TraffickingStatus.NOT_VICTIM)
    people = release_population(2023, 2024)
    assert len(people) == 56 - 1
    assert sum(p["year"] == "2023" for p in people) == 29
    assert {p["route"] for p in people} == {"permanent_group", "not_identified"}
    assert {p["form"] for p in people} >= {"multiple", "unknown", "sexual_exploitation", "forced_labour"}
    assert {p["sex"] for p in people} == {"female", "male", "trans_or_non_conforming"}
    assert set(people[0]) == {"year", "sex", "age_group", "form", "citizenship", "route"}


# --- k-anonymous releases ----------------------------------------------------------------------------------


def published_grid(rows: list[list[str]]) -> list[list[int | None]]:
    return [[None if v == SUPPRESSED_MARK else int(v) for v in row[1:]] for row in rows[1:]]


def test_k_anonymous_release_publishes_no_small_and_no_recoverable_figure(population, coordinator):
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    assert rel.version == 1
    assert rel.k == K
    names = set(files_of(rel))
    assert names == {*release.FILE_NAMES.values(), "tables.json", "metadata.json", "README.txt"}
    people = release_population(2023, 2024)
    dims = release.dimensions(people, citizenships=None)
    truth = release.count_tables(people, list(YEARS), dims)
    year_totals: list[list[int | None]] = []
    for dim in dims:
        rows = read_csv(rel, release.FILE_NAMES[dim.name])
        assert rows[0] == ["year", *dim.categories, "total"]
        grid = published_grid(rows)
        # Nothing below k is published ...
        assert all(v is None or v >= K for row in grid for v in row)
        # ... what is published is true ...
        table: CountTable = truth[dim.name]
        hidden = frozenset(e for e in table.entries() if grid[e[0]][e[1]] is None)
        assert all(grid[i][j] == table.value((i, j)) for i, j in table.entries() if (i, j) not in hidden)
        # ... and no hidden figure can be worked out from it.
        assert recoverable_cells(SuppressedTable(table, K, hidden)) == {}
        year_totals.append([row[-1] for row in grid])
    # The totals shared by all tables are published (or hidden) alike everywhere.
    assert all(totals == year_totals[0] for totals in year_totals)
    # Small groups really were hidden: 5 men in 2023, 1 trans person.
    sex = published_grid(read_csv(rel, "by_year_sex.csv"))
    assert sex[0][1] is None and sex[0][2] is None


def test_release_files_match_the_published_hash_and_metadata(population, coordinator):
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    files = files_of(rel)
    assert rel.content_hash == manifest_hash(files.items())
    for f in ReleaseFile.objects.filter(release=rel):
        assert f.sha256 == hashlib.sha256(bytes(f.content)).hexdigest()
        assert f.size == len(bytes(f.content))
    metadata = json.loads(files["metadata.json"])
    assert metadata["k"] == K
    assert metadata["year_from"] == 2023 and metadata["year_to"] == 2024
    assert [t["name"] for t in metadata["tables"]] == list(release.DIMENSIONS)
    readme = files["README.txt"].decode()
    assert "k = 11" in readme and "[c]" in readme
    # Nothing about who published it.
    assert coordinator.username not in json.dumps(metadata) and coordinator.username not in readme


def test_the_readme_command_prints_the_content_hash(population, coordinator, tmp_path):
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    files = files_of(rel)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    command = next(line.strip() for line in files["README.txt"].decode().splitlines() if "sha256sum" in line)
    assert command.startswith("sha256sum ") and command.endswith(" | sha256sum")
    names = command.removeprefix("sha256sum ").removesuffix(" | sha256sum").split()
    assert sorted(names) == sorted(files)
    # coreutils' sha256sum on the downloaded files, then the SHA-256 of its output (the "| sha256sum").
    listing = subprocess.run(["sha256sum", *names], cwd=tmp_path, capture_output=True, check=True)  # noqa: S603, S607
    assert hashlib.sha256(listing.stdout).hexdigest() == rel.content_hash


def test_a_higher_k_is_allowed_a_lower_one_is_not(population, coordinator):
    with pytest.raises(DomainError) as refused:
        create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024, k=5)
    assert refused.value.code == "invalid_k"
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024, k=20)
    grid = published_grid(read_csv(rel, "by_year_sex.csv"))
    assert all(v is None or v >= 20 for row in grid for v in row)
    assert grid[1][0] is None  # 14 women in 2024


@override_settings(OPENNRM_RELEASE_K=30)
def test_k_comes_from_the_settings(population, coordinator):
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    assert rel.k == 30
    # 2023 has 30 people, 2024 only 26: a single year below k would follow from the grand total, so both go.
    grid = published_grid(read_csv(rel, "by_year_age_group.csv"))
    assert grid[0][-1] is None and grid[1][-1] is None


def test_k_anonymous_tables_cover_each_year_once(population, coordinator):
    first = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    # A late registration for 2023: two exact releases of 2023 would differ by exactly that person.
    refer(population["worker"], population["agency"], year=2023, age=30)
    for years in ((2023, 2024), (2024, 2024), (2022, 2023), (2020, 2025)):
        with pytest.raises(DomainError) as refused:
            create_release(
                actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=years[0], year_to=years[1]
            )
        assert refused.value.code == "years_published"
    assert list(Release.objects.values_list("version", flat=True)) == [first.version]
    # Other years, and differentially private counts of the same years, may still be published.
    assert create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2021, year_to=2022)
    assert create_release(
        actor=coordinator, kind=ReleaseKind.DIFFERENTIALLY_PRIVATE, year_from=2023, year_to=2024, epsilon=1
    )


def test_a_tiny_population_publishes_nothing_but_confidential_marks(coordinator):
    worker = member(Role.CASE_WORKER)
    agency = worker.memberships.first().agency
    for _ in range(4):
        refer(worker, agency, year=2024)
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2024, year_to=2024)
    for name in release.FILE_NAMES.values():
        assert all(v is None for row in published_grid(read_csv(rel, name)) for v in row)


# --- differentially private releases ------------------------------------------------------------------------


@pytest.mark.parametrize(("epsilon", "delta", "mechanism"), [(1.0, None, "laplace"), (2.0, 1e-6, "gaussian")])
def test_dp_release_spends_no_more_than_it_declares(population, coordinator, epsilon, delta, mechanism):
    rel = create_release(
        actor=coordinator,
        kind=ReleaseKind.DIFFERENTIALLY_PRIVATE,
        year_from=2023,
        year_to=2024,
        epsilon=epsilon,
        delta=delta,
        citizenships=["UA"],
    )
    assert rel.epsilon == epsilon
    assert rel.delta == (delta or 0.0)
    assert rel.parameters["mechanism"] == mechanism
    metadata = json.loads(files_of(rel)["metadata.json"])
    # Rebuild the measurement the release used and ask OpenDP what it spends.
    people = release_population(2023, 2024)
    dims = release.dimensions(people, citizenships=["GE", "UA"])
    specs = [dp.TableSpec(d.name, tuple(f"{y}|{c}" for y in YEARS for c in d.categories)) for d in dims]
    measurement = dp.make_measurement(
        specs, mechanism=dp.Mechanism(mechanism), scale=metadata["noise_scale"], delta=rel.delta or 0.0
    )
    spent = dp.privacy_loss(measurement, dp.Mechanism(mechanism))
    assert spent.epsilon <= epsilon and spent.delta <= (delta or 0.0)
    assert metadata["epsilon_spent"] == pytest.approx(spent.epsilon)
    # Published figures are non-negative integers; totals are the sums of the published cells.
    for d in dims:
        grid = published_grid(read_csv(rel, release.FILE_NAMES[d.name]))
        assert all(v is not None and v >= 0 for row in grid for v in row)
        assert all(row[-1] == sum(row[:-1]) for row in grid)
    assert read_csv(rel, "by_year_citizenship.csv")[0] == ["year", "GE", "UA", "other", "unknown", "total"]


def test_dp_release_adds_noise(population, coordinator):
    rel = create_release(
        actor=coordinator, kind=ReleaseKind.DIFFERENTIALLY_PRIVATE, year_from=2023, year_to=2024, epsilon=0.5
    )
    people = release_population(2023, 2024)
    dims = release.dimensions(people, citizenships=["GE"])
    truth = release.count_tables(people, list(YEARS), dims)
    differ = total = 0
    for d in dims:
        grid = published_grid(read_csv(rel, release.FILE_NAMES[d.name]))
        table = truth[d.name]
        for i in range(len(YEARS)):
            for j in range(len(d.categories)):
                if table.counts[i][j]:  # zeros come back as 0 about half the time (clamping)
                    total += 1
                    differ += grid[i][j] != table.counts[i][j]
    # Discrete Laplace of scale 10 (eps 0.1 per table) leaves a count unchanged with probability 0.05: more
    # than 40% unchanged among these cells would happen less than once in 100,000 runs.
    assert total >= 15
    assert differ >= 0.6 * total


@pytest.mark.parametrize(
    "params",
    [
        {"epsilon": None},
        {"epsilon": 0},
        {"epsilon": 100},
        {"epsilon": 1, "delta": 0.5},
        {"epsilon": 1, "mechanism": "gaussian"},
        {"epsilon": 1, "mechanism": "exponential"},
        {"epsilon": 1, "k": 11},
        {"epsilon": 1, "citizenships": ["XX"]},
    ],
)
def test_unsound_dp_parameters_are_refused_and_nothing_is_published(population, coordinator, params):
    with pytest.raises(DomainError):
        create_release(
            actor=coordinator, kind=ReleaseKind.DIFFERENTIALLY_PRIVATE, year_from=2023, year_to=2024, **params
        )
    assert not Release.objects.exists()


def test_releases_of_the_same_years_add_up(population, coordinator):
    for eps in (0.5, 1.0):
        create_release(
            actor=coordinator,
            kind=ReleaseKind.DIFFERENTIALLY_PRIVATE,
            year_from=2023,
            year_to=2024,
            epsilon=eps,
        )
    create_release(
        actor=coordinator, kind=ReleaseKind.DIFFERENTIALLY_PRIVATE, year_from=2024, year_to=2024, epsilon=0.25
    )
    spent = release.privacy_loss_by_year()
    assert spent[2023] == pytest.approx(1.5, abs=1e-6)
    assert spent[2024] == pytest.approx(1.75, abs=1e-6)
    assert release.total_privacy_loss() == pytest.approx(1.75, abs=1e-6)
    last = Release.objects.order_by("-version").first()
    text = Client().get(reverse("public:release", args=[last.public_id])).content.decode()
    assert "all differentially private releases together spend ε = 1.75" in text


# --- who may publish, versions, immutability, audit ------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CASE_WORKER, Role.ANALYST, Role.ADMINISTRATOR, Role.DECISION_MAKER])
def test_only_coordinators_publish(population, role):
    with pytest.raises(DomainError):
        create_release(actor=member(role), kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    assert not Release.objects.exists()


def test_synthetic_microdata_is_not_offered_yet(population, coordinator):
    with pytest.raises(DomainError) as refused:
        create_release(actor=coordinator, kind=ReleaseKind.SYNTHETIC, year_from=2023, year_to=2024, epsilon=4)
    assert refused.value.code == "invalid_kind"
    assert not Release.objects.exists()


@pytest.mark.parametrize(("year_from", "year_to"), [(2024, 2023), (1980, 2000), (2023, 2999), (1991, 2024)])
def test_unsound_years_are_refused(coordinator, year_from, year_to):
    with pytest.raises(DomainError):
        create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=year_from, year_to=year_to)


def test_versions_increase_and_each_publication_is_audited(population, coordinator):
    versions = [
        create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024).version,
        create_release(
            actor=coordinator,
            kind=ReleaseKind.DIFFERENTIALLY_PRIVATE,
            year_from=2023,
            year_to=2024,
            epsilon=1,
        ).version,
        create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2022, year_to=2022).version,
    ]
    assert versions == [1, 2, 3]
    entries = AuditEntry.objects.filter(action="stats.release.published").order_by("sequence")
    assert [e.details["version"] for e in entries] == [1, 2, 3]
    assert entries[0].actor == coordinator.public_id
    assert entries[1].details["epsilon"] == "1.0"


def test_releases_and_their_files_cannot_be_changed_or_deleted(population, coordinator):
    rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    item = ReleaseFile.objects.filter(release=rel).first()
    rel.parameters = {"k": 2}
    with pytest.raises(ReleaseImmutableError):
        rel.save()
    with pytest.raises(ReleaseImmutableError):
        rel.save(update_fields=["parameters"])
    with pytest.raises(ReleaseImmutableError):
        rel.delete()
    with pytest.raises(ReleaseImmutableError):
        Release.objects.filter(pk=rel.pk).update(content_hash="0" * 64)
    with pytest.raises(ReleaseImmutableError):
        Release.objects.all().delete()
    item.content = b"forged"
    with pytest.raises(ReleaseImmutableError):
        item.save()
    with pytest.raises(ReleaseImmutableError):
        item.delete()
    with pytest.raises(ReleaseImmutableError):
        ReleaseFile.objects.filter(release=rel).update(content=b"forged")
    with pytest.raises(ReleaseImmutableError):
        ReleaseFile.objects.bulk_update([item], ["content"])
    with pytest.raises(ReleaseImmutableError):
        ReleaseFile.objects.filter(release=rel).delete()
    fresh = Release.objects.get(pk=rel.pk)
    assert fresh.k == K and fresh.content_hash == manifest_hash(files_of(fresh).items())


# --- public pages ---------------------------------------------------------------------------------------


@pytest.fixture
def published(population, coordinator):
    k_rel = create_release(actor=coordinator, kind=ReleaseKind.K_ANONYMOUS, year_from=2023, year_to=2024)
    dp_rel = create_release(
        actor=coordinator,
        kind=ReleaseKind.DIFFERENTIALLY_PRIVATE,
        year_from=2023,
        year_to=2024,
        epsilon=0.5,
        delta=1e-6,
    )
    return k_rel, dp_rel


def test_public_list_works_without_login(published):
    response = Client().get(reverse("public:releases"))
    assert response.status_code == 200
    text = response.content.decode()
    for rel in published:
        assert reverse("public:release", args=[rel.public_id]) in text
    assert reverse("accounts:login") not in text  # not sent to a login page


def test_public_release_page_explains_k_anonymity(published):
    k_rel, _ = published
    response = Client().get(reverse("public:release", args=[k_rel.public_id]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "k = 11" in text and "fewer than 11 people" in text
    assert k_rel.content_hash in text
    for name in release.FILE_NAMES.values():
        assert reverse("public:release_file", args=[k_rel.public_id, name]) in text


def test_public_release_page_explains_the_dp_guarantee_with_its_epsilon_and_delta(published):
    _, dp_rel = published
    text = Client().get(reverse("public:release", args=[dp_rel.public_id])).content.decode()
    assert "ε = 0.5 and δ = 0.000001" in text
    assert "by at most a factor of e<sup>ε</sup> = 1.65 (about 65%), plus δ = 0.000001" in text
    assert "within ±" in text


def test_release_files_download_without_login(published):
    k_rel, _ = published
    client = Client()
    for f in ReleaseFile.objects.filter(release=k_rel):
        response = client.get(reverse("public:release_file", args=[k_rel.public_id, f.name]))
        assert response.status_code == 200
        assert response.content == bytes(f.content)
        assert response["Content-Disposition"] == f'attachment; filename="opennrm-v{k_rel.version}-{f.name}"'
    assert (
        client.get(reverse("public:release_file", args=[k_rel.public_id, "nothing.csv"])).status_code == 404
    )
    assert client.get(reverse("public:release", args=["doesnotexist"])).status_code == 404


def test_public_pages_show_no_navigation_of_the_platform_even_when_logged_in(published, coordinator):
    k_rel, _ = published
    client = logged_in_client(coordinator)
    for url in (reverse("public:releases"), reverse("public:release", args=[k_rel.public_id])):
        text = client.get(url).content.decode()
        assert reverse("cases:list") not in text
        assert reverse("accounts:profile") not in text
        assert coordinator.username not in text
        assert 'class="main-nav"' not in text


# --- the coordinators' page ----------------------------------------------------------------------------------


def test_coordinator_publishes_from_the_page(population, coordinator):
    client = logged_in_client(coordinator)
    url = reverse("stats:release_create")
    assert client.get(url).status_code == 200
    response = client.post(url, {"kind": "k_anonymous", "year_from": 2023, "year_to": 2024, "confirm": "on"})
    rel = Release.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("public:release", args=[rel.public_id])


def test_the_page_shows_a_refused_budget_on_its_field(population, coordinator):
    client = logged_in_client(coordinator)
    response = client.post(
        reverse("stats:release_create"),
        {
            "kind": "differentially_private",
            "year_from": 2023,
            "year_to": 2024,
            "epsilon": 50,
            "confirm": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["epsilon"]
    assert not Release.objects.exists()


def test_publishing_needs_the_confirmation(population, coordinator):
    client = logged_in_client(coordinator)
    response = client.post(
        reverse("stats:release_create"), {"kind": "k_anonymous", "year_from": 2023, "year_to": 2024}
    )
    assert response.status_code == 200
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    "role",
    [
        Role.CASE_WORKER,
        Role.ANALYST,
        Role.FIRST_RESPONDER,
        Role.SERVICE_PROVIDER,
        Role.DECISION_MAKER,
        Role.ADMINISTRATOR,
        Role.AUDITOR,
    ],
)
def test_non_coordinators_get_404_on_the_create_page(role):
    client = logged_in_client(member(role, scope=Scope.NATIONAL))
    url = reverse("stats:release_create")
    assert client.get(url).status_code == 404
    assert (
        client.post(
            url, {"kind": "k_anonymous", "year_from": 2023, "year_to": 2024, "confirm": "on"}
        ).status_code
        == 404
    )
    assert not Release.objects.exists()


def test_a_coordinator_of_another_agency_may_publish_national_figures():
    # Releases are national and de-identified: any coordinator with stats.export may publish.
    client = logged_in_client(member(Role.COORDINATOR, agency=AgencyFactory()))
    assert client.get(reverse("stats:release_create")).status_code == 200


def test_anonymous_visitors_are_sent_to_login_from_the_create_page():
    response = Client().get(reverse("stats:release_create"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
