"""Case list and search latency over 100,000 generated cases, beside the raw SQL time of the same queries.

    .venv/bin/python benchmarks/case_list.py                      # SQLite, in a fresh temporary instance
    BENCH_DATABASE_URL=postgres://user@host:port/db .venv/bin/python benchmarks/case_list.py   # PostgreSQL

Each scenario is a GET of the case list (`cases:list`) through the Django test client, logged in as a case
worker (agency scope), a coordinator (national scope, no identity) and a decision maker (national scope, reads
identity, so searches by name and document go through the blind indexes): `--runs` times after two warm-up
requests, median and 95th percentile in milliseconds. Beside it, the SELECT statements that request ran
(captured with `CaptureQueriesContext`) are executed again directly on the database connection, as many times:
the difference is Django, the middleware, the template and the audit entry of the page.

Not a test: it prints figures and asserts nothing about time. Data: see bulk_cases.py. Options: --help.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
AGENCY_WEIGHTS = [30] + [70 / 11] * 11  # the case worker's agency owns 30% of the cases


@dataclass
class Figures:
    scenario: str
    user: str
    matches: int
    view: list[float]
    sql: list[float]
    queries: int
    selects: int
    status: int


def configure(args: argparse.Namespace) -> Path:
    """Environment for the settings: a fresh instance directory, the database, plain HTTP for the test client."""
    instance = Path(args.instance) if args.instance else Path(tempfile.mkdtemp(prefix="opennrm-bench-"))
    os.environ["OPENNRM_INSTANCE_DIR"] = str(instance)
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if url:
        os.environ["DATABASE_URL"] = url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["OPENNRM_HTTPS"] = "false"
    os.environ["OPENNRM_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "opennrm.settings"
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: static files are not collected
    sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]
    import django

    django.setup()
    return instance


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, create the agencies and the three users, and generate the cases (unless already there)."""
    from django.core.management import call_command

    from opennrm.accounts.models import Agency, AgencyKind, Membership, User
    from opennrm.accounts.roles import Role, Scope
    from opennrm.cases.models import Case, IdentityIndex

    call_command("migrate", verbosity=0)
    agencies = [
        Agency.objects.get_or_create(
            country="GE",
            name="Bench State Fund" if i == 0 else f"Bench agency {i}",
            defaults={"kind": AgencyKind.STATE_FUND if i == 0 else AgencyKind.NGO, "region": "GE-TB"},
        )[0]
        for i in range(len(AGENCY_WEIGHTS))
    ]
    users: dict[str, User] = {}
    for key, role, scope in (
        ("worker", Role.CASE_WORKER, Scope.AGENCY),
        ("coordinator", Role.COORDINATOR, Scope.NATIONAL),
        ("decider", Role.DECISION_MAKER, Scope.NATIONAL),
    ):
        user = User.objects.filter(username=f"bench_{key}").first()
        if user is None:  # no password: the test client logs in without one
            user = User.objects.create_user(username=f"bench_{key}", password=None)
            Membership.objects.create(user=user, agency=agencies[0], role=role, scope=scope)
        users[key] = user
    existing = Case.objects.count()
    generated = 0.0
    if existing == 0:
        from bulk_cases import generate

        print(f"Generating {args.cases:,} cases (bulk insert, real encryption and blind indexes) ...")
        start = time.perf_counter()
        result = generate(
            count=args.cases,
            agencies=agencies,
            weights=AGENCY_WEIGHTS,
            created_by=users["worker"],
            decided_by=users["decider"],
            seed=args.seed,
        )
        generated = time.perf_counter() - start
        print(
            f"  {result.cases:,} cases, {result.people:,} people, {result.index_entries:,} blind-index entries, "
            f"{result.decisions:,} decisions in {generated:.0f} s"
        )
    elif existing != args.cases:
        raise SystemExit(
            f"The database already has {existing:,} cases: give an empty one, or --cases {existing}."
        )
    return {
        "agencies": agencies,
        "users": users,
        "generated_seconds": generated,
        "cases": Case.objects.count(),
        "index_entries": IdentityIndex.objects.count(),
    }


def search_terms(agency: Any) -> dict[str, str]:
    """A reference prefix, a full name and a document number of a person of the case worker's agency."""
    from opennrm.cases.models import Case

    for case in (
        Case.objects.filter(owning_agency=agency).select_related("person").order_by("-created_at")[100:]
    ):
        person = case.person
        if person.documents and person.family_name:
            return {
                "reference": case.reference[:11],  # GE-2025-012: 100 references
                "name": f"{person.given_name} {person.family_name}",
                "document": person.documents[0]["number"],
            }
    raise SystemExit("No case with a document number: the data is not what this benchmark expects.")


def scenarios(terms: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    return [
        ("list, page 1", {}),
        ("list, page 50", {"page": "50"}),
        ("filter: forced labour + Tbilisi", {"form": "forced_labour", "region": "GE-TB"}),
        ("filter: decision overdue", {"overdue": "on"}),
        ("search: reference prefix", {"q": terms["reference"]}),
        ("search: exact full name", {"q": terms["name"]}),
        ("search: document number", {"q": terms["document"]}),
    ]


def matches(user: Any, params: dict[str, str]) -> int:
    """How many cases the page lists in all (the view's own filtering)."""
    from opennrm.accounts.access import access_for
    from opennrm.accounts.models import Agency
    from opennrm.cases.forms import CaseFilterForm
    from opennrm.cases.selectors import visible_cases
    from opennrm.cases.views.listing import filtered_cases

    access = access_for(user)
    agencies = Agency.objects.filter(pk__in=visible_cases(access).values("owning_agency_id"))
    form = CaseFilterForm(params or None, agencies=agencies)
    return filtered_cases(access, form).count()


def measure(client: Any, user: Any, label: str, scenario: str, params: dict[str, str], runs: int) -> Figures:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("cases:list")
    for _ in range(2):
        client.get(url, params)
    view = []
    status = 200
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, params)
        view.append((time.perf_counter() - start) * 1000)
        status = response.status_code if response.status_code != 200 else status
    with CaptureQueriesContext(connection) as captured:
        client.get(url, params)
    statements = [q["sql"] for q in captured.captured_queries]
    selects = [sql for sql in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    raw = connection.connection  # the DB-API connection: no Django in between
    sql = []
    for _ in range(runs):
        start = time.perf_counter()
        cursor = raw.cursor()
        for statement in selects:
            cursor.execute(statement)
            cursor.fetchall()
        cursor.close()
        sql.append((time.perf_counter() - start) * 1000)
    return Figures(
        scenario=scenario,
        user=label,
        matches=matches(user, params),
        view=view,
        sql=sql,
        queries=len(statements),
        selects=len(selects),
        status=status,
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def report(figures: list[Figures], context: dict[str, Any], args: argparse.Namespace) -> None:
    from django import get_version
    from django.db import connection

    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if vendor == "sqlite" else "SHOW server_version")
        version = cursor.fetchone()[0]
    print()
    print(
        f"Database: {vendor} {version}   cases: {context['cases']:,}   blind-index entries: "
        f"{context['index_entries']:,}   runs per scenario: {args.runs}"
    )
    print(
        f"Django {get_version()}, Python {platform.python_version()}, {os.cpu_count()} CPU, "
        f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print()
    head = (
        f"{'scenario':<34} {'user':<26} {'matches':>8} {'view median':>12} {'view p95':>9} "
        f"{'SQL median':>11} {'SQL p95':>8} {'queries':>8}"
    )
    print(head)
    print("-" * len(head))
    for f in figures:
        note = "" if f.status == 200 else f"  (HTTP {f.status})"
        print(
            f"{f.scenario:<34} {f.user:<26} {f.matches:>8,} {statistics.median(f.view):>9.1f} ms "
            f"{p95(f.view):>6.1f} ms {statistics.median(f.sql):>8.1f} ms {p95(f.sql):>5.1f} ms "
            f"{f.selects:>3}/{f.queries:<3}{note}"
        )
    print()
    print("view: the whole request through the test client (middleware, view, template, audit entry);")
    print("SQL: the SELECT statements of that request run again on the raw connection; queries: SELECTs/all.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases to generate (default 100000)")
    parser.add_argument("--runs", type=int, default=50, help="requests per scenario and user (default 50)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--instance", help="instance directory to use (and keep); default: a new temporary one"
    )
    args = parser.parse_args()
    instance = configure(args)
    print(f"Instance directory: {instance}")
    context = prepare(args)

    from opennrm.accounts.tests.factories import logged_in_client

    terms = search_terms(context["agencies"][0])
    users = context["users"]
    labels = {
        "worker": "case worker (agency)",
        "coordinator": "coordinator (national)",
        "decider": "decision maker (national)",
    }
    figures = []
    todo = scenarios(terms)
    print(f"Measuring {len(todo)} scenarios x {len(labels)} users x {args.runs} runs ...")
    for scenario, params in todo:
        for key, label in labels.items():
            client = logged_in_client(users[key])
            figures.append(measure(client, users[key], label, scenario, params, args.runs))
            print(f"  {scenario} / {label}: done", file=sys.stderr)
    report(figures, context, args)


if __name__ == "__main__":
    main()
