"""The statistics dashboard's computation over 1,000,000 generated cases, on SQLite and PostgreSQL, beside DuckDB
computing the same figures from a Parquet export of the same rows.

    .venv/bin/python benchmarks/dashboard.py                                   # SQLite and DuckDB
    .venv/bin/python benchmarks/dashboard.py --postgres postgres://postgres@%2Ftmp:5497/bench   # and PostgreSQL

For each database (a child process each, so each has its own Django settings) the script:

1. migrates an empty database (a fresh temporary instance for SQLite; for PostgreSQL an empty database you give)
   and bulk-inserts `--cases` cases with everything the indicators read: people, forms of exploitation,
   decisions, compensation, referrals and service deliveries, shelters and placements, anonymous notifications;
2. times `opennrm.stats.indicators.all_tables` -- the functions the dashboard view calls, all 14 tables -- for
   four scenarios (national by year; national, one year by quarter; the same year filtered by region and sex;
   a coordinator with agency scope), `--runs` times after one warm-up;
3. exports the rows the indicators read (only those columns) to CSV, converts them to Parquet with DuckDB, and
   times DuckDB computing the same 14 tables over the Parquet files with the SQL of `duckdb_sql()`;
4. checks that DuckDB's figures and Django's agree, table by table.

Then the parent prints the three side by side. Not a test: nothing here asserts on time.

Data: rows are inserted with raw `INSERT ... VALUES` (SQLite) or `COPY` (PostgreSQL), 50,000 cases a batch, with
explicit ids. Each value goes through its model field's `get_db_prep_save`, as with the ORM, except the
encrypted identity fields (names, date of birth, documents, contacts, address, narrative, guardian, reasons ...):
the indicators never read them, and encrypting 1,000,000 people would only measure AES, so every row holds the
same ciphertext -- the encryption of the field's empty value, made once per column with the instance keyring.
The database stores as many bytes per row as with real (short) identities; no blind-index entries are written.
"""

# The DuckDB SQL is built from this file's own constants (scenarios, dates, ids), never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BATCH = 50_000
NULL = "\\N"  # how the CSV export writes NULL (an empty string stays an empty string)
START = dt.date(2023, 1, 1)
SCENARIOS = {
    "national, all years": {"scope": "national", "filters": {}},
    "national, one year by quarter": {"scope": "national", "filters": {"year": 2025}},
    "national, year + region + sex": {
        "scope": "national",
        "filters": {"year": 2025, "region": "GE-TB", "sex": "feminine"},
    },
    "coordinator, agency scope": {"scope": "agency", "filters": {}},
}
AGENCY_WEIGHTS = [30] + [70 / 11] * 11  # the first agency owns or referred about a third of the cases

# --- distributions of the generated cases ----------------------------------------------------------------------

SEXES = (["feminine", "masculine", "transgender_feminine", "non_specified_unknown"], [55, 38, 1, 6])
CITIZENSHIPS = (["GE", "UA", "AZ", "AM", "UZ", "TR", "RU", "IN", ""], [60, 8, 6, 5, 5, 4, 4, 2, 6])
FORMS = (
    [
        "forced_labour",
        "sexual_exploitation",
        "forced_begging",
        "forced_marriage",
        "servitude",
        "child_labour",
        "organ_removal",
        "other",
    ],
    [45, 40, 6, 3, 2, 3, 0.3, 1],
)
FORM_COUNT = ([0, 1, 2], [8, 77, 15])
REFERRAL_STATUS = (["pending", "accepted", "declined", "completed", "withdrawn"], [10, 35, 10, 40, 5])
ROUTES = ["permanent_group", "law_enforcement"]


def _pick(rng: random.Random, choices: tuple[list[Any], list[float]]) -> Any:
    return rng.choices(choices[0], weights=choices[1])[0]


# --- child: one database ---------------------------------------------------------------------------------------


def configure(workdir: Path, backend: str, database_url: str) -> None:
    instance = workdir / f"instance-{backend}"
    instance.mkdir(parents=True, exist_ok=True)
    os.environ["OPENNRM_INSTANCE_DIR"] = str(instance)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["OPENNRM_HTTPS"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = "opennrm.settings"
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path[:0] = [str(REPO / "src")]
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)


class Inserter:
    """Raw bulk insert of one model's rows, each value prepared by its field as the ORM would."""

    def __init__(self, model: Any) -> None:
        from django.db import connection

        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.constants: dict[str, Any] = {}
        for f in self.fields:
            default = None if f.primary_key else f.get_default()
            self.constants[f.attname] = None if default is None else f.get_db_prep_save(default, connection)
        self.prepare: dict[str, Callable[[Any], Any]] = {}
        for f in self.fields:
            internal = f.get_internal_type()
            if getattr(f, "encrypted", False):
                self.prepare[f.attname] = lambda value, c=self.constants[f.attname]: c
            elif internal in ("DateField", "DateTimeField", "JSONField", "DecimalField"):
                self.prepare[f.attname] = lambda value, f=f, c=connection: f.get_db_prep_save(value, c)
            else:
                self.prepare[f.attname] = lambda value: value

    def insert(self, rows: list[dict[str, Any]]) -> None:
        from django.db import connection, transaction

        tuples = [
            tuple(
                self.prepare[f.attname](row[f.attname])
                if row.get(f.attname) is not None
                else (None if f.attname in row else self.constants[f.attname])
                for f in self.fields
            )
            for row in rows
        ]
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        with transaction.atomic():
            connection.ensure_connection()
            raw = connection.connection
            if connection.vendor == "postgresql":
                with raw.cursor() as cursor, cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                    for values in tuples:
                        copy.write_row(values)
            else:
                marks = ", ".join("?" for _c in self.columns)
                raw.executemany(f"INSERT INTO {self.table} ({columns}) VALUES ({marks})", tuples)


def generate(count: int, seed: int) -> dict[str, Any]:
    """Agencies, users and shelters through the ORM; the cases and all that hangs on them by raw bulk insert."""
    from django.db import connection
    from django.utils import timezone

    from opennrm.accounts.models import Agency, AgencyKind, Membership, User
    from opennrm.accounts.roles import Role, Scope
    from opennrm.cases.choices import age_group
    from opennrm.cases.models import (
        Case,
        CaseExploitation,
        Compensation,
        Decision,
        Notification,
        Person,
    )
    from opennrm.core.profiles import active_profile
    from opennrm.referrals.models import Referral, ServiceDelivery, ServiceType
    from opennrm.shelters.models import Placement, Shelter

    rng = random.Random(seed)
    profile = active_profile()
    zone = profile.zone
    kinds = [
        AgencyKind.STATE_FUND,
        AgencyKind.NGO,
        AgencyKind.LAW_ENFORCEMENT,
        AgencyKind.LABOUR_INSPECTION,
        AgencyKind.HOTLINE,
        AgencyKind.CONSULATE,
        AgencyKind.SHELTER,
        AgencyKind.INTERNATIONAL,
    ]
    agencies = [
        Agency.objects.create(
            country="GE", name=f"Bench agency {i}", kind=kinds[i % len(kinds)], region="GE-TB"
        )
        for i in range(len(AGENCY_WEIGHTS))
    ]
    agency_ids = [a.pk for a in agencies]
    users = {}
    for key, role, scope in (
        ("national", Role.COORDINATOR, Scope.NATIONAL),
        ("agency", Role.COORDINATOR, Scope.AGENCY),
    ):
        user = User.objects.create_user(username=f"bench_{key}", password=None)
        Membership.objects.create(user=user, agency=agencies[0], role=role, scope=scope)
        users[key] = user
    actor = users["national"].pk
    shelter_agency = next(a for a in agencies if a.kind == AgencyKind.SHELTER)
    shelters = [
        Shelter.objects.create(
            agency=shelter_agency,
            name=f"Bench shelter {i}",
            region=region,
            capacity_women=40,
            capacity_men=20,
            capacity_children=15,
            capacity_families=5,
        )
        for i, region in enumerate(["GE-TB", "GE-TB", "GE-TB", "GE-AJ", "GE-IM", "GE-KK", "GE-SZ", "GE-KA"])
    ]
    services = list(
        ServiceType.objects.filter(country="GE", is_active=True)
        .order_by("code")
        .values_list("pk", "category")
    )
    shelter_services = {pk for pk, category in services if category == "shelter"}
    regions = ([r.code for r in profile.regions] + [""], [2] * len(profile.regions) + [3])
    regions[1][regions[0].index("GE-TB")] = 30

    inserters = {
        m: Inserter(m)
        for m in (
            Person,
            Case,
            CaseExploitation,
            Decision,
            Compensation,
            Notification,
            Referral,
            ServiceDelivery,
            Placement,
        )
    }
    # The clock the generated dates stay behind: midnight today, so that two runs on the same day (SQLite and
    # PostgreSQL) generate the same rows.
    today = timezone.localdate()
    now = dt.datetime.combine(today, dt.time.min, tzinfo=zone)
    days = (today - dt.timedelta(days=1) - START).days
    counters: dict[int, int] = {}
    ids = dict.fromkeys(
        ("exploitation", "decision", "compensation", "referral", "delivery", "placement", "notification"), 0
    )

    def moment(day: dt.date, minutes: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(8), tzinfo=zone) + dt.timedelta(minutes=minutes)

    def public_id(prefix: str, number: int) -> str:
        return f"{prefix}{number:0{24 - len(prefix)}d}"

    def stamps(at: dt.datetime) -> dict[str, Any]:
        return {"created_at": at, "updated_at": at}

    for start in range(0, count, BATCH):
        rows: dict[Any, list[dict[str, Any]]] = {m: [] for m in inserters}
        for number in range(start + 1, min(start + BATCH, count) + 1):
            first = START + dt.timedelta(days=rng.randrange(days))
            created = moment(first, rng.randrange(600))
            counters[first.year] = counters.get(first.year, 0) + 1
            child = rng.random() < 0.12
            age = None if rng.random() < 0.05 else (rng.randrange(6, 18) if child else rng.randrange(18, 66))
            sex = _pick(rng, SEXES)
            rows[Person].append(
                {
                    "id": number,
                    "public_id": public_id("bp", number),
                    "sex": sex,
                    "citizenship": _pick(rng, CITIZENSHIPS),
                    "birth_year": None,
                    **stamps(created),
                }
            )
            owner = rng.choices(agency_ids, weights=AGENCY_WEIGHTS)[0]
            referrer = rng.choices(agency_ids, weights=AGENCY_WEIGHTS)[0]
            case = {
                "id": number,
                "public_id": public_id("bc", number),
                "person_id": number,
                "reference": f"GE-{first.year}-{counters[first.year]:07d}",
                "country": "GE",
                "status": "referred",
                "trafficking_status": "possible_victim_of_trafficking",
                "referring_agency_id": referrer,
                "owning_agency_id": owner,
                "created_by_id": actor,
                "first_contact_date": first,
                "region": _pick(rng, regions),
                "age_at_exploitation": age,
                "age_group": age_group(age).value,
                "is_child": age is not None and age < 18,
                **stamps(created),
            }
            for form in sorted(set(rng.choices(FORMS[0], FORMS[1], k=_pick(rng, FORM_COUNT)))):
                ids["exploitation"] += 1
                rows[CaseExploitation].append({"id": ids["exploitation"], "case_id": number, "form": form})
            if rng.random() < 0.7:  # a decision was requested
                requested = created + dt.timedelta(minutes=rng.randrange(60 * 24 * 20))
                if requested < now:
                    ids["decision"] += 1
                    deadline = requested + dt.timedelta(hours=48)
                    decision = {
                        "id": ids["decision"],
                        "public_id": public_id("bd", ids["decision"]),
                        "case_id": number,
                        "route": rng.choice(ROUTES),
                        "requested_by_id": actor,
                        "requested_at": requested,
                        "deadline_at": deadline,
                        "deadline_rule": "48 hours",
                        "outcome": "",
                        **stamps(requested),
                    }
                    took = dt.timedelta(minutes=min(int(rng.lognormvariate(7.4, 0.8)), 60 * 24 * 12))
                    if rng.random() < 0.97 and requested + took < now:
                        granted = rng.random() < 0.65
                        decided = requested + took
                        decision.update(
                            outcome="granted" if granted else "refused",
                            decided_at=decided,
                            decided_by_id=actor,
                        )
                        case["status"] = "identified" if granted else "not_identified"
                        case["trafficking_status"] = (
                            "actual_victim_of_trafficking" if granted else "not_a_victim_of_trafficking"
                        )
                        if granted:
                            case.update(identified_at=decided, identification_route=decision["route"])
                            if rng.random() < 0.5:
                                approved = decided + dt.timedelta(days=rng.randrange(1, 60))
                                if approved < now:
                                    ids["compensation"] += 1
                                    paid = approved + dt.timedelta(days=rng.randrange(1, 45))
                                    rows[Compensation].append(
                                        {
                                            "id": ids["compensation"],
                                            "public_id": public_id("bm", ids["compensation"]),
                                            "case_id": number,
                                            "amount": Decimal("1000.00"),
                                            "currency": "GEL",
                                            "approved_by_id": actor,
                                            "approved_at": approved,
                                            "paid_at": paid if paid < now and rng.random() < 0.85 else None,
                                            **stamps(approved),
                                        }
                                    )
                    else:
                        case["status"] = "decision_pending"
                    rows[Decision].append(decision)
            rows[Case].append(case)
            placed = False
            for service_pk, _category in (
                rng.sample(services, k=2 if rng.random() < 0.1 else 1) if rng.random() < 0.35 else []
            ):
                sent = created + dt.timedelta(days=rng.randrange(30))
                if sent >= now:
                    continue
                ids["referral"] += 1
                status = _pick(rng, REFERRAL_STATUS)
                rows[Referral].append(
                    {
                        "id": ids["referral"],
                        "public_id": public_id("br", ids["referral"]),
                        "case_id": number,
                        "service_id": service_pk,
                        "from_agency_id": owner,
                        "to_agency_id": shelter_agency.pk,
                        "status": status,
                        "override_basis": "legal_obligation",
                        "created_by_id": actor,
                        **stamps(sent),
                    }
                )
                if status in ("accepted", "completed"):
                    for _ in range(rng.randrange(1, 3)):
                        began = (sent + dt.timedelta(days=rng.randrange(30))).date()
                        if began < today:
                            ids["delivery"] += 1
                            rows[ServiceDelivery].append(
                                {
                                    "id": ids["delivery"],
                                    "public_id": public_id("bs", ids["delivery"]),
                                    "referral_id": ids["referral"],
                                    "start_date": began,
                                    "recorded_by_id": actor,
                                    **stamps(sent),
                                }
                            )
                    if service_pk in shelter_services and not placed and rng.random() < 0.4:
                        admitted = sent + dt.timedelta(hours=rng.randrange(1, 120))
                        if admitted < now:
                            placed = True
                            ids["placement"] += 1
                            left = admitted + dt.timedelta(
                                days=rng.randrange(3, 120), hours=rng.randrange(-6, 6)
                            )
                            category = (
                                "children" if case["is_child"] else ("men" if sex == "masculine" else "women")
                            )
                            rows[Placement].append(
                                {
                                    "id": ids["placement"],
                                    "public_id": public_id("bl", ids["placement"]),
                                    "shelter_id": rng.choice(shelters).pk,
                                    "case_id": number,
                                    "referral_id": ids["referral"],
                                    "category": category,
                                    "admitted_at": admitted,
                                    "admitted_by_id": actor,
                                    "discharged_at": left if left < now else None,
                                    "discharge_reason": "completed" if left < now else "",
                                    **stamps(admitted),
                                }
                            )
            if rng.random() < 0.1:  # an anonymous notification (an adult who did not consent)
                ids["notification"] += 1
                adult = rng.choice([None, *range(18, 66)])
                forms = sorted(set(rng.choices(FORMS[0], FORMS[1], k=_pick(rng, FORM_COUNT))))
                rows[Notification].append(
                    {
                        "id": ids["notification"],
                        "public_id": public_id("bn", ids["notification"]),
                        "country": "GE",
                        "region": _pick(rng, regions),
                        "first_contact_date": first,
                        "sex": _pick(rng, SEXES),
                        "age_group": age_group(adult).value,
                        "citizenship": _pick(rng, CITIZENSHIPS),
                        "exploitation_forms": forms,
                        "referring_agency_id": referrer,
                        "created_by_id": actor,
                        **stamps(created),
                    }
                )
        for model, inserter in inserters.items():
            inserter.insert(rows[model])
        print(f"  {min(start + BATCH, count):>9,} cases", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if connection.vendor == "postgresql":
        from django.core.management.color import no_style

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(inserters)):
                cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    totals = {"case": count, **ids}
    return {"rows": totals, "agency": agencies[0].pk, "users": {k: u.pk for k, u in users.items()}}


def table_values(table: Any) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return str(value) if isinstance(value, Decimal) else value

    return {
        "rows": [[row.label, [plain(v) for v in row.values]] for row in table.rows],
        "totals": [plain(v) for v in table.totals.values] if table.totals else None,
    }


def time_django(users: dict[str, int], runs: int) -> dict[str, Any]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone, translation

    from opennrm.accounts.access import access_for
    from opennrm.accounts.models import User
    from opennrm.stats.indicators import INDICATORS, Filters

    results: dict[str, Any] = {}
    with translation.override("en"):
        for name, scenario in SCENARIOS.items():
            access = access_for(User.objects.get(pk=users[scenario["scope"]]))
            filters = Filters(**scenario["filters"])
            computed_at = (
                timezone.now()
            )  # DuckDB counts the open decisions past their deadline at this moment
            with CaptureQueriesContext(connection) as captured:
                tables = {key: f(access, filters) for key, f in INDICATORS.items()}
            queries = len(captured.captured_queries)
            reset_queries()
            seconds = []
            per_table: dict[str, list[float]] = {key: [] for key in INDICATORS}
            for _ in range(runs):
                begin = time.perf_counter()
                for key, f in INDICATORS.items():
                    t0 = time.perf_counter()
                    f(access, filters)
                    per_table[key].append(time.perf_counter() - t0)
                seconds.append(time.perf_counter() - begin)
            results[name] = {
                "seconds": seconds,
                "queries": queries,
                "now": computed_at.isoformat(),
                "per_table": {key: statistics.median(v) for key, v in per_table.items()},
                "tables": {key: table_values(t) for key, t in tables.items()},
            }
            print(f"  {name}: {statistics.median(seconds):.2f} s", file=sys.stderr)
    return results


# --- export and DuckDB -----------------------------------------------------------------------------------------

EXPORTS = {
    # name: (SQL on the platform's database, column types for DuckDB)
    "agency": ("SELECT id, kind FROM accounts_agency", "id BIGINT, kind VARCHAR"),
    "person": (
        "SELECT id, sex, citizenship FROM cases_person",
        "id BIGINT, sex VARCHAR, citizenship VARCHAR",
    ),
    "cases": (
        "SELECT id, person_id, first_contact_date, region, age_group, is_child, trafficking_status, "
        "identification_route, owning_agency_id, referring_agency_id FROM cases_case",
        "id BIGINT, person_id BIGINT, first_contact_date DATE, region VARCHAR, age_group VARCHAR, is_child BOOLEAN, "
        "trafficking_status VARCHAR, identification_route VARCHAR, owning_agency_id BIGINT, referring_agency_id BIGINT",
    ),
    "exploitation": ("SELECT case_id, form FROM cases_caseexploitation", "case_id BIGINT, form VARCHAR"),
    "decision": (
        "SELECT case_id, outcome, requested_at, decided_at, deadline_at FROM cases_decision",
        "case_id BIGINT, outcome VARCHAR, requested_at TIMESTAMPTZ, decided_at TIMESTAMPTZ, deadline_at TIMESTAMPTZ",
    ),
    "notification": (
        "SELECT id, first_contact_date, region, sex, age_group, citizenship, exploitation_forms, "
        "referring_agency_id FROM cases_notification",
        "id BIGINT, first_contact_date DATE, region VARCHAR, sex VARCHAR, age_group VARCHAR, citizenship VARCHAR, "
        "forms VARCHAR, referring_agency_id BIGINT",
    ),
    "compensation": (
        "SELECT case_id, amount, currency, approved_at, paid_at FROM cases_compensation",
        "case_id BIGINT, amount DECIMAL(12,2), currency VARCHAR, approved_at TIMESTAMPTZ, paid_at TIMESTAMPTZ",
    ),
    "service": ("SELECT id, code FROM referrals_servicetype", "id BIGINT, code VARCHAR"),
    "referral": (
        "SELECT id, case_id, service_id, status, created_at FROM referrals_referral",
        "id BIGINT, case_id BIGINT, service_id BIGINT, status VARCHAR, created_at TIMESTAMPTZ",
    ),
    "delivery": (
        "SELECT referral_id, start_date FROM referrals_servicedelivery",
        "referral_id BIGINT, start_date DATE",
    ),
    "shelter": (
        "SELECT id, agency_id, region, is_active, capacity_women, capacity_men, capacity_children, capacity_families "
        "FROM shelters_shelter",
        "id BIGINT, agency_id BIGINT, region VARCHAR, is_active BOOLEAN, capacity_women INTEGER, capacity_men INTEGER, "
        "capacity_children INTEGER, capacity_families INTEGER",
    ),
    "placement": (
        "SELECT p.id, p.shelter_id, p.category, p.admitted_at, p.discharged_at, "
        "(SELECT COUNT(*) FROM shelters_placement q WHERE q.transferred_to_id = p.id) AS transfer "
        "FROM shelters_placement p",
        "id BIGINT, shelter_id BIGINT, category VARCHAR, admitted_at TIMESTAMPTZ, discharged_at TIMESTAMPTZ, "
        "transfer INTEGER",
    ),
}


def export(directory: Path) -> float:
    """The rows the indicators read, as CSV (datetimes as UTC ISO-8601), then Parquet written by DuckDB."""
    import duckdb
    from django.db import connection

    directory.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    utc = dt.UTC

    def cell(value: Any) -> Any:
        if value is None:
            return NULL
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=utc)).astimezone(utc).isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "|".join(value)
        return value

    for name, (sql, _types) in EXPORTS.items():
        with (
            connection.cursor() as cursor,
            open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as out,
        ):
            cursor.execute(sql)
            writer = csv.writer(out)
            writer.writerow([d[0] for d in cursor.description])
            json_column = [i for i, d in enumerate(cursor.description) if d[0] == "exploitation_forms"]
            while batch := cursor.fetchmany(20_000):
                if json_column:  # the stored JSON text (both databases hand it over as text here)
                    batch = [
                        tuple(
                            json.loads(v) if i in json_column and isinstance(v, str) else v
                            for i, v in enumerate(r)
                        )
                        for r in batch
                    ]
                if connection.vendor == "sqlite":  # SQLite gives datetimes as text in UTC, booleans as 0/1
                    batch = [tuple(_sqlite_cell(v) for v in r) for r in batch]
                writer.writerows([[cell(v) for v in row] for row in batch])
    con = duckdb.connect()
    for name, (_sql, types) in EXPORTS.items():
        columns = ", ".join(
            f"'{part.split()[0]}': '{' '.join(part.split()[1:])}'" for part in types.split(", ")
        )
        con.execute(
            f"COPY (SELECT * FROM read_csv('{directory / name}.csv', header = true, columns = {{{columns}}}, "
            f"nullstr = '{NULL}')) TO '{directory / name}.parquet' (FORMAT parquet)"
        )
    con.close()
    return time.perf_counter() - begin


def _sqlite_cell(value: Any) -> Any:
    if (
        isinstance(value, str)
        and len(value) >= 19
        and value[4] == "-"
        and value[10] == " "
        and value[13] == ":"
    ):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value


def duckdb_sql(
    filters: dict[str, Any], agency: int | None, zone: str, today: dt.date, now: dt.datetime
) -> dict[str, str]:
    """The 14 tables in DuckDB SQL over the Parquet views. Periods: years, or quarters of `filters['year']`."""
    year = filters.get("year")
    case_where = ["TRUE"]
    note_where = ["TRUE"]
    if filters.get("region"):
        case_where.append(f"c.region = '{filters['region']}'")
        note_where.append(f"n.region = '{filters['region']}'")
    if filters.get("sex"):
        case_where.append(f"p.sex = '{filters['sex']}'")
        note_where.append(f"n.sex = '{filters['sex']}'")
    if agency is not None:
        case_where.append(f"(c.owning_agency_id = {agency} OR c.referring_agency_id = {agency})")
        note_where.append(f"n.referring_agency_id = {agency}")
    shelter_scope = ["TRUE"]
    if filters.get("region"):
        shelter_scope.append(f"s.region = '{filters['region']}'")
    if agency is not None:
        shelter_scope.append(f"s.agency_id = {agency}")
    shelter_where = " AND ".join(shelter_scope)
    cases_all = (
        "SELECT c.*, p.sex, p.citizenship, a.kind AS referrer_kind FROM cases c JOIN person p ON p.id = c.person_id "
        f"JOIN agency a ON a.id = c.referring_agency_id WHERE {' AND '.join(case_where)}"
    )
    in_year = f"year(first_contact_date) = {year}" if year else "TRUE"

    def period(column: str) -> str:
        return (
            f"year({column}) AS y, quarter({column}) AS q"
            if year
            else f"year({column}) AS y, NULL::INTEGER AS q"
        )

    def year_of(column: str) -> str:
        return f"year({column}) = {year}" if year else "TRUE"

    prelude = (
        f"WITH fc AS ({cases_all}), "
        f"yc AS (SELECT * FROM fc WHERE {in_year}), "
        f"yn AS (SELECT n.*, a.kind AS referrer_kind FROM notification n JOIN agency a ON a.id = n.referring_agency_id "
        f"WHERE {' AND '.join(note_where)} AND {in_year.replace('first_contact_date', 'n.first_contact_date')}) "
    )
    breakdown = (
        prelude + ", c AS (SELECT {field} AS k, count(*) AS referred, "
        "count(*) FILTER (trafficking_status = 'actual_victim_of_trafficking') AS identified FROM yc GROUP BY 1), "
        "n AS (SELECT {nfield} AS k, count(*) AS notified FROM yn GROUP BY 1) "
        "SELECT coalesce(c.k, n.k) AS k, coalesce(referred, 0), coalesce(identified, 0), coalesce(notified, 0) "
        "FROM c FULL JOIN n ON c.k = n.k"
    )
    decided = (
        f"SELECT d.*, round(epoch(d.decided_at - d.requested_at) / 60)::DOUBLE AS minutes FROM decision d "
        f"WHERE d.case_id IN (SELECT id FROM fc) AND d.decided_at IS NOT NULL AND {year_of('d.decided_at')}"
    )
    today_sql = f"DATE '{today.isoformat()}'"
    return {
        "victims": prelude
        + (
            f", c AS (SELECT {period('first_contact_date')}, count(*) AS referred, count(*) FILTER (is_child) "
            "AS children, count(*) FILTER (trafficking_status = 'actual_victim_of_trafficking') AS identified FROM yc "
            f"GROUP BY ALL), n AS (SELECT {period('first_contact_date')}, count(*) AS notified FROM yn "
            "GROUP BY ALL) SELECT coalesce(c.y, n.y) AS y, coalesce(c.q, n.q) AS q, coalesce(referred, 0), "
            "coalesce(children, 0), coalesce(identified, 0), coalesce(notified, 0) "
            "FROM c FULL JOIN n ON c.y = n.y AND c.q IS NOT DISTINCT FROM n.q ORDER BY 1, 2"
        ),
        "sex": breakdown.format(field="sex", nfield="sex"),
        "age": breakdown.format(field="age_group", nfield="age_group"),
        "citizenship": breakdown.format(field="citizenship", nfield="citizenship"),
        "region": breakdown.format(field="region", nfield="region"),
        "referrer": breakdown.format(field="referrer_kind", nfield="referrer_kind"),
        "form": prelude
        + (
            ", c AS (SELECT coalesce(e.form, '') AS k, count(*) AS referred, count(*) FILTER "
            "(trafficking_status = 'actual_victim_of_trafficking') AS identified FROM yc LEFT JOIN exploitation e "
            "ON e.case_id = yc.id GROUP BY 1), n AS (SELECT k, count(*) AS notified FROM (SELECT "
            "unnest(CASE WHEN forms IS NULL OR forms = '' THEN [''] ELSE string_split(forms, '|') END) AS k FROM yn) "
            "GROUP BY 1) SELECT coalesce(c.k, n.k), coalesce(referred, 0), coalesce(identified, 0), "
            "coalesce(notified, 0) FROM c FULL JOIN n ON c.k = n.k"
        ),
        "route": prelude
        + (
            "SELECT identification_route, count(*) FROM yc WHERE trafficking_status = 'actual_victim_of_trafficking' "
            "GROUP BY 1"
        ),
        "decisions": (
            f"WITH fc AS ({cases_all}), dd AS ({decided}) SELECT {period('decided_at')}, count(*), "
            "count(*) FILTER (outcome = 'granted'), count(*) FILTER (outcome = 'refused'), "
            "quantile_cont(minutes, 0.5), quantile_cont(minutes, 0.9), count(*) FILTER (decided_at <= deadline_at) "
            "FROM dd GROUP BY ALL ORDER BY 1, 2"
        ),
        "decisions_total": (
            f"WITH fc AS ({cases_all}), dd AS ({decided}) SELECT count(*), count(*) FILTER (outcome = 'granted'), "
            "count(*) FILTER (outcome = 'refused'), quantile_cont(minutes, 0.5), quantile_cont(minutes, 0.9), "
            "count(*) FILTER (decided_at <= deadline_at) FROM dd"
        ),
        "waiting": (
            f"WITH fc AS ({cases_all}) SELECT count(*) FILTER (deadline_at >= TIMESTAMPTZ '{now.isoformat()}'), "
            f"count(*) FILTER (deadline_at < TIMESTAMPTZ '{now.isoformat()}') FROM decision "
            "WHERE outcome = '' AND case_id IN (SELECT id FROM fc)"
        ),
        "referrals": (
            f"WITH fc AS ({cases_all}), r AS (SELECT * FROM referral WHERE case_id IN (SELECT id FROM fc) AND "
            f"{year_of('created_at')}), dl AS (SELECT r2.service_id, count(*) AS delivered FROM delivery d JOIN "
            f"referral r2 ON r2.id = d.referral_id WHERE r2.case_id IN (SELECT id FROM fc) AND "
            f"{year_of('d.start_date')} GROUP BY 1), g AS (SELECT service_id, "
            "count(*) FILTER (status = 'pending') AS p, count(*) FILTER (status = 'accepted') AS a, "
            "count(*) FILTER (status = 'declined') AS d, count(*) FILTER (status = 'completed') AS c, "
            "count(*) FILTER (status = 'withdrawn') AS w, count(*) AS t, count(DISTINCT case_id) AS people "
            "FROM r GROUP BY 1) SELECT coalesce(g.service_id, dl.service_id), coalesce(p, 0), coalesce(a, 0), "
            "coalesce(d, 0), coalesce(c, 0), coalesce(w, 0), coalesce(t, 0), coalesce(people, 0), "
            "coalesce(delivered, 0) FROM g FULL JOIN dl ON g.service_id = dl.service_id"
        ),
        "referrals_people": (
            f"WITH fc AS ({cases_all}) SELECT count(DISTINCT case_id) FROM referral WHERE case_id IN (SELECT id FROM fc) "
            f"AND {year_of('created_at')}"
        ),
        "occupancy": (
            # Nights per period: from the later of admission day and period start to the earlier of leaving day
            # and the day after the period's end (today at the latest).
            f"WITH s AS (SELECT * FROM shelter s WHERE {shelter_where}), "
            "places AS (SELECT coalesce(sum(capacity_women + capacity_men + capacity_children + capacity_families), 0) "
            "AS n FROM s WHERE is_active), "
            "pl AS (SELECT CAST(admitted_at AS DATE) AS a, CAST(discharged_at AS DATE) AS l, transfer FROM placement "
            "WHERE shelter_id IN (SELECT id FROM s)), "
            + (
                f"periods AS (SELECT {year} AS y, q, make_date({year}, 3 * q - 2, 1) AS start, "
                f"least(make_date({year}, 3 * q - 2, 1) + INTERVAL 3 MONTH - INTERVAL 1 DAY, {today_sql})::DATE AS stop "
                "FROM range(1, 5) t(q)) "
                if year
                else f"periods AS (SELECT y, NULL AS q, make_date(y, 1, 1) AS start, least(make_date(y, 12, 31), {today_sql}) "
                "AS stop FROM range(coalesce((SELECT year(min(a)) FROM pl), year(" + today_sql + ") + 1), "
                "year(" + today_sql + ") + 1) t(y)) "
            )
            + "SELECT y, q, (SELECT n FROM places), "
            "(SELECT count(*) FROM pl WHERE a BETWEEN start AND stop AND transfer = 0), "
            "(SELECT coalesce(sum(greatest(datediff('day', greatest(a, start), least(coalesce(l, stop + 1), stop + 1)), 0)), 0) "
            "FROM pl WHERE a <= stop AND (l IS NULL OR l >= start)), greatest(datediff('day', start, stop) + 1, 0) "
            "FROM periods ORDER BY 1, 2"
        ),
        "places": (
            f"WITH s AS (SELECT * FROM shelter s WHERE {shelter_where}) "
            "SELECT category, count(*) FROM placement WHERE discharged_at IS NULL AND shelter_id IN (SELECT id FROM s) "
            "GROUP BY 1"
        ),
        "places_capacity": (
            "SELECT sum(capacity_women), sum(capacity_men), sum(capacity_children), sum(capacity_families) "
            f"FROM shelter s WHERE s.is_active AND {shelter_where}"
        ),
        "compensation": (
            f"WITH fc AS ({cases_all}), m AS (SELECT * FROM compensation WHERE case_id IN (SELECT id FROM fc)), "
            f"a AS (SELECT {period('approved_at')}, count(*) AS approved FROM m WHERE {year_of('approved_at')} "
            f"GROUP BY ALL), p AS (SELECT {period('paid_at')}, count(*) AS paid, sum(amount) AS amount FROM m "
            f"WHERE paid_at IS NOT NULL AND {year_of('paid_at')} GROUP BY ALL) SELECT coalesce(a.y, p.y), "
            "coalesce(a.q, p.q), coalesce(approved, 0), coalesce(paid, 0), coalesce(amount, 0) FROM a FULL JOIN p "
            "ON a.y = p.y AND a.q IS NOT DISTINCT FROM p.q ORDER BY 1, 2"
        ),
    }


def time_duckdb(
    directory: Path, agency: int, zone: str, runs: int, moments: dict[str, str]
) -> dict[str, Any]:
    import duckdb
    from django.utils import timezone

    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{zone}'")
    for name in EXPORTS:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{directory / name}.parquet')")
    results: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        now = dt.datetime.fromisoformat(moments[name])
        queries = duckdb_sql(
            scenario["filters"],
            agency if scenario["scope"] == "agency" else None,
            zone,
            timezone.localdate(),
            now,
        )
        answers = {key: con.execute(sql).fetchall() for key, sql in queries.items()}  # warm-up
        seconds = []
        for _ in range(runs):
            begin = time.perf_counter()
            for sql in queries.values():
                con.execute(sql).fetchall()
            seconds.append(time.perf_counter() - begin)
        results[name] = {"seconds": seconds, "answers": answers, "queries": len(queries)}
        print(f"  DuckDB {name}: {statistics.median(seconds):.3f} s", file=sys.stderr)
    con.close()
    return results


# --- do the figures agree? -----------------------------------------------------------------------------------


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _occupancy(places: int, admissions: int, nights: int, days: int) -> list[Any]:
    return [
        places,
        admissions,
        nights,
        round(nights / days, 1) if days else None,
        round(100 * nights / (days * places), 1) if days and places else None,
    ]


def compare(tables: dict[str, Any], answers: dict[str, list[tuple[Any, ...]]], year: int | None) -> list[str]:
    """Django's tables against DuckDB's answers; returns the tables that differ (empty: all agree)."""
    problems = []

    def rows_of(key: str) -> list[list[Any]]:
        return [values for _label, values in tables[key]["rows"]]

    def check(key: str, got: Any, expected: Any) -> None:
        if got != expected:
            problems.append(f"{key}: Django {str(got)[:300]} != DuckDB {str(expected)[:300]}")

    periods = [(y, q) for y, q, *_ in answers["victims"]]
    if year:  # every quarter is a row, with zeros
        full = {(y, q): rest for y, q, *rest in answers["victims"]}
        check("victims", rows_of("victims"), [list(full.get((year, q), [0, 0, 0, 0])) for q in (1, 2, 3, 4)])
    else:
        years = sorted({y for y, _q in periods})
        full = {y: rest for y, _q, *rest in answers["victims"]}
        check(
            "victims",
            rows_of("victims"),
            [list(full.get(y, [0, 0, 0, 0])) for y in range(years[0], years[-1] + 1)] if years else [],
        )
    for key in ("sex", "citizenship", "region", "referrer", "form"):
        check(key, sorted(rows_of(key)), sorted([list(r[1:]) for r in answers[key]]))
    age = {r[0]: list(r[1:]) for r in answers["age"]}
    check(
        "age",
        [v for v in rows_of("age") if any(v)],
        [
            v
            for v in (
                age.get(k)
                for k in (
                    "0-8",
                    "9-17",
                    "18-20",
                    "21-23",
                    "24-26",
                    "27-29",
                    "30-38",
                    "39-47",
                    "48+",
                    "unknown",
                )
            )
            if v and any(v)
        ],
    )
    check("route", sorted(rows_of("route")), sorted([[n] for _k, n in answers["route"]]))
    decisions = {(y, q): rest for y, q, *rest in answers["decisions"]}
    keys = (
        [(year, q) for q in (1, 2, 3, 4)]
        if year
        else [(y, None) for y in range(min(k[0] for k in decisions), max(k[0] for k in decisions) + 1)]
        if decisions
        else []
    )
    expected = []
    for k in keys:
        n, granted, refused, median, p90, in_time = decisions.get(k, (0, 0, 0, None, None, 0))
        expected.append([n, granted, refused, _hours(median), _hours(p90), in_time, _share(in_time, n)])
    check("decisions", rows_of("decisions"), expected)
    n, granted, refused, median, p90, in_time = answers["decisions_total"][0]
    check(
        "decisions total",
        tables["decisions"]["totals"],
        [n, granted, refused, _hours(median), _hours(p90), in_time, _share(in_time, n)],
    )
    within, overdue = answers["waiting"][0]
    check("waiting", rows_of("waiting"), [[within], [overdue]])
    check("referrals", sorted(rows_of("referrals")), sorted([list(r[1:]) for r in answers["referrals"]]))
    check("referrals people", tables["referrals"]["totals"][6], answers["referrals_people"][0][0])
    check(
        "occupancy",
        rows_of("occupancy"),
        [_occupancy(p, a, n, d) for _y, _q, p, a, n, d in answers["occupancy"]],
    )
    capacity = answers["places_capacity"][0]
    placed = dict(answers["places"])
    check(
        "places",
        rows_of("places"),
        [
            [c or 0, placed.get(k, 0), max((c or 0) - placed.get(k, 0), 0)]
            for k, c in zip(("women", "men", "children", "families"), capacity, strict=True)
        ],
    )
    comp = {(y, q): rest for y, q, *rest in answers["compensation"]}
    keys = (
        [(year, q) for q in (1, 2, 3, 4)]
        if year
        else [(y, None) for y in range(min(k[0] for k in comp), max(k[0] for k in comp) + 1)]
        if comp
        else []
    )
    check(
        "compensation",
        rows_of("compensation"),
        [
            [
                comp.get(k, (0, 0, 0))[0],
                comp.get(k, (0, 0, 0))[1],
                str(Decimal(comp.get(k, (0, 0, 0))[2]).quantize(Decimal("0.01"))),
            ]
            for k in keys
        ],
    )
    return problems


def existing_data() -> dict[str, Any]:
    """What `generate` returns, read back from a database it filled before (for --reuse)."""
    from opennrm.accounts.models import Agency, User
    from opennrm.cases.models import Case, CaseExploitation, Compensation, Decision, Notification
    from opennrm.referrals.models import Referral, ServiceDelivery
    from opennrm.shelters.models import Placement

    counts = {
        "case": Case,
        "exploitation": CaseExploitation,
        "decision": Decision,
        "compensation": Compensation,
        "referral": Referral,
        "delivery": ServiceDelivery,
        "placement": Placement,
        "notification": Notification,
    }
    return {
        "rows": {key: model.objects.count() for key, model in counts.items()},
        "agency": Agency.objects.get(name="Bench agency 0").pk,
        "users": {key: User.objects.get(username=f"bench_{key}").pk for key in ("national", "agency")},
    }


def child(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    configure(workdir, args.child, args.database_url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from opennrm.cases.models import Case

    call_command("migrate", verbosity=0)
    generated = 0.0
    if Case.objects.exists():
        if not args.reuse:
            raise SystemExit("The database is not empty: give an empty one, or --reuse the data it holds.")
        data = existing_data()
    else:
        print(f"[{connection.vendor}] generating {args.cases:,} cases ...", file=sys.stderr)
        begin = time.perf_counter()
        data = generate(args.cases, args.seed)
        generated = time.perf_counter() - begin
    print(
        f"[{connection.vendor}] {data['rows']} in {generated:.0f} s; timing the dashboard ...",
        file=sys.stderr,
    )
    django_results = time_django(data["users"], args.runs)
    directory = workdir / f"export-{args.child}"
    print(f"[{connection.vendor}] exporting to {directory} ...", file=sys.stderr)
    exported = export(directory)
    moments = {name: result["now"] for name, result in django_results.items()}
    duck = time_duckdb(directory, data["agency"], settings.TIME_ZONE, args.runs, moments)
    agreement = {
        name: compare(
            django_results[name]["tables"], duck[name]["answers"], SCENARIOS[name]["filters"].get("year")
        )
        for name in SCENARIOS
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version")
        version = cursor.fetchone()[0]
    size = sum(p.stat().st_size for p in directory.glob("*.parquet"))
    result = {
        "vendor": connection.vendor,
        "version": version,
        "rows": data["rows"],
        "generated_seconds": generated,
        "export_seconds": exported,
        "parquet_bytes": size,
        "django": {k: {kk: vv for kk, vv in v.items() if kk != "tables"} for k, v in django_results.items()},
        "duckdb": {k: {kk: vv for kk, vv in v.items() if kk != "answers"} for k, v in duck.items()},
        "agreement": agreement,
    }
    (workdir / f"{args.child}.json").write_text(json.dumps(result, indent=1, default=str))


# --- parent: run both, print side by side --------------------------------------------------------------------


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed computations per scenario (default 5)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", default="", help="URL of an empty PostgreSQL database (optional)")
    parser.add_argument(
        "--workdir", default="", help="where instances and exports go (default: a temporary dir)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure again the data of an earlier run (same --workdir and database)",
    )
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="opennrm-dashboard-bench-"))
    print(f"Work directory: {workdir} (instances, exports; delete it afterwards)")
    backends = [("sqlite", "")] + ([("postgresql", args.postgres)] if args.postgres else [])
    results = {}
    for backend, url in backends:
        command = [
            sys.executable,
            __file__,
            "--child",
            backend,
            "--database-url",
            url,
            "--workdir",
            str(workdir),
            "--cases",
            str(args.cases),
            "--runs",
            str(args.runs),
            "--seed",
            str(args.seed),
            *(["--reuse"] if args.reuse else []),
        ]
        subprocess.run(command, check=True)
        results[backend] = json.loads((workdir / f"{backend}.json").read_text())
    report(results, args)


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    first = next(iter(results.values()))
    print()
    print(f"Cases: {args.cases:,}   rows: " + ", ".join(f"{k} {v:,}" for k, v in first["rows"].items()))
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPU, load average at the end: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; median of {args.runs} runs after one warm-up"
    )
    for backend, r in results.items():
        made = (
            f"generated in {r['generated_seconds']:.0f} s"
            if r["generated_seconds"]
            else "data of an earlier run"
        )
        print(
            f"  {backend} {r['version']}: {made}; export to CSV + Parquet {r['export_seconds']:.0f} s "
            f"({r['parquet_bytes'] / 1e6:.0f} MB of Parquet)"
        )
    print()
    columns = [f"Django on {b}" for b in results] + ["DuckDB (Parquet)"]
    head = f"{'scenario (all 14 tables)':<34}" + "".join(f"{c:>22}" for c in columns) + f"{'queries':>9}"
    print(head)
    print("-" * len(head))
    for name in SCENARIOS:
        line = f"{name:<34}"
        for r in results.values():
            line += f"{_median(r['django'][name]['seconds']):>22}"
        line += f"{_median(first['duckdb'][name]['seconds']):>22}"
        line += f"{first['django'][name]['queries']:>9}"
        print(line)
    print()
    print("Slowest tables, national all years (median seconds per table):")
    for backend, r in results.items():
        slow = sorted(r["django"]["national, all years"]["per_table"].items(), key=lambda kv: -kv[1])[:5]
        print(f"  {backend}: " + ", ".join(f"{k} {v:.2f}" for k, v in slow))
    print()
    for backend, r in results.items():
        problems = [f"{name}: {p}" for name, ps in r["agreement"].items() for p in ps]
        if problems:
            print(f"Figures DIFFER between Django on {backend} and DuckDB:")
            for p in problems:
                print("  " + p)
        else:
            print(f"Figures agree: Django on {backend} and DuckDB give the same 14 tables in every scenario.")
    print()
    print(
        "Django: opennrm.stats.indicators (the dashboard's functions), queries through the ORM, percentiles from"
    )
    print(
        "a minute histogram; DuckDB: the SQL of duckdb_sql() over Parquet files exported from the same database."
    )


if __name__ == "__main__":
    main()
