"""The regional hub (DESIGN §5): partners submit privacy-safe aggregates, the hub compares them by country.

**What a submission holds.** One calendar year of this instance (`period` "2026"), as count tables whose rows
are the *quarters of that year that have ended* ("2026-Q1" …) plus the year's total row, and whose columns are
fixed categories plus a total column:

- `victims`: identified (status granted) / not (yet) identified — the total column is the presumed victims
  referred;
- `sex`: female, male, transgender or non-conforming, not specified / unknown;
- `age`: child, adult, unknown (a child when the case says so or the age group is under 18);
- `form`: the form of exploitation, "multiple" when several, "unknown" when none;
- `citizenship`: nationals (citizenship of this instance's country), foreigners, unknown;
- `cross_border`: the person was referred to another country (an outgoing transnational referral) or not.

Who is counted is what a public release counts (`opennrm.stats.release`): one line per *person* whose case has
its first contact in the year and who was not found "not a victim"; a person with several such cases counts once,
in the quarter of the first. Every table counts the same people, so all tables share their row totals and grand
total. No row of a case ever leaves: only these counts, never a reference or a public id.

**Disclosure control, either one or the other (as public releases):**
- k-anonymous (default): the tables go through `release.k_anonymous_tables`, the machinery of public releases —
  every figure below k suppressed (zeros included), complements until the exact audit finds nothing
  recoverable, the shared totals suppressed alike in every table. A suppressed figure travels as `null`.
- differentially private (`OPENNRM_COOP_STATS_EPSILON` set): every cell gets discrete Laplace noise from OpenDP
  (`stats.dp.noisy_counts`, ε split over the tables, accounting verified), clamped at 0; totals are sums of the
  noisy cells. Nothing is suppressed: suppressing noisy figures adds no protection, and suppressing on the true
  figures before noise would leak through the pattern.

`method` says which: `{"k": 11, "dp": null}` or `{"k": null, "dp": {"epsilon": 1.0, "mechanism": "laplace", …}}`.

**When it is sent.** Only ended quarters are sent: the running quarter changes every day, and two exact tables a
day apart differ by the few people registered in between. The periodic task sends a year when a quarter of it has
ended since the last submission (at most four versions per year, plus the previous year until its last quarter
is in); `coop_submit_stats` sends on demand. A re-sent year replaces the hub's copy (a higher version). Each
version is another exact (or noisy) look at the same people: see docs/cooperation.md (Regional hub) for what that means.

**The hub** (`OPENNRM_COOP_IS_HUB`) checks a submission strictly (every name, row, column and figure; a published
figure below the declared k is refused) and stores it as a `HubSubmission`. Its own country is computed locally
with the same function, k-anonymous (never noised on each page view, which would spend ε at every look).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.models import User
from opennrm.cases.choices import AgeGroup, TraffickingStatus, htcds_snake_choices
from opennrm.cases.models import Case, CaseExploitation
from opennrm.cooperation import messaging
from opennrm.cooperation.models import (
    Direction,
    HubSubmission,
    InboxMessage,
    MessageType,
    OutboxMessage,
    Partner,
    TransnationalReferral,
)
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.stats import dp
from opennrm.stats.indicators import Period
from opennrm.stats.release import MULTIPLE, SEX_GROUPS, SEX_LABELS, UNKNOWN, _dp_grid, k_anonymous_tables
from opennrm.stats.suppression import CountTable

FIRST_YEAR = 1990
TOTAL = "total"
CHILD_AGES = frozenset({AgeGroup.A0_8.value, AgeGroup.A9_17.value})
ADULT_AGES = frozenset(AgeGroup.values) - CHILD_AGES - {AgeGroup.UNKNOWN.value}
PAYLOAD_KEYS = frozenset({"period", "generated_at", "country", "method", "tables"})
DP_KEYS = frozenset({"epsilon", "delta", "mechanism", "noise_scale", "accuracy_95"})
MAX_COUNT = 10_000_000
PERIOD_RE = re.compile(r"^\d{4}$")


def table_columns() -> dict[str, tuple[str, ...]]:
    """The categories (columns, without the total) of every table, in order. Fixed, never read from the data."""
    forms = [value for value, _label in htcds_snake_choices("vic_TypeOfExploitation")]
    return {
        "victims": ("identified", "not_identified"),
        "sex": tuple(SEX_LABELS),
        "age": ("child", "adult", UNKNOWN),
        "form": (*forms, MULTIPLE, UNKNOWN),
        "citizenship": ("national", "foreign", UNKNOWN),
        "cross_border": ("referred_abroad", "not_referred_abroad"),
    }


# --- periods --------------------------------------------------------------------------------------------------


def ended_quarters(year: int, today: dt.date | None = None) -> int:
    """How many quarters of `year` have ended (0 to 4)."""
    today = today or timezone.localdate()
    if year < today.year:
        return 4
    if year > today.year:
        return 0
    return (today.month - 1) // 3


def quarter_labels(year: int, quarters: int) -> list[str]:
    return [f"{year}-Q{q}" for q in range(1, quarters + 1)]


# --- building a submission -------------------------------------------------------------------------------------


def _age(age_group: str, *, is_child: bool) -> str:
    if is_child or age_group in CHILD_AGES:
        return "child"
    return "adult" if age_group in ADULT_AGES else UNKNOWN


def _citizenship(code: str | None, *, country: str) -> str:
    if not code:
        return UNKNOWN
    return "national" if code.upper() == country else "foreign"


def population(year: int, quarters: int) -> list[dict[str, str]]:
    """One dict per person (quarter and one category per table). Reads only fields kept in clear for statistics."""
    if quarters < 1:
        return []
    country = settings.OPENNRM_COUNTRY.upper()
    cases = (
        Case.objects.filter(
            first_contact_date__gte=dt.date(year, 1, 1),
            first_contact_date__lte=Period(year, quarters).end,
        )
        .exclude(trafficking_status=TraffickingStatus.NOT_VICTIM)
        .order_by("first_contact_date", "id")
        .values_list(
            "id",
            "person_id",
            "first_contact_date",
            "age_group",
            "is_child",
            "trafficking_status",
            "person__sex",
            "person__citizenship",
        )
    )
    first: dict[int, tuple[Any, ...]] = {}
    for row in cases:
        first.setdefault(row[1], row)
    case_ids = [row[0] for row in first.values()]
    person_ids = list(first)
    forms: dict[int, set[str]] = {}
    abroad: set[int] = set()
    for start in range(0, len(case_ids), 500):
        for case_id, form in CaseExploitation.objects.filter(
            case_id__in=case_ids[start : start + 500]
        ).values_list("case_id", "form"):
            forms.setdefault(case_id, set()).add(form)
        abroad.update(
            TransnationalReferral.objects.filter(
                direction=Direction.OUTGOING, case__person_id__in=person_ids[start : start + 500]
            ).values_list("case__person_id", flat=True)
        )
    known_forms = set(table_columns()["form"])
    people = []
    for case_id, person_id, first_contact, age, is_child, status, sex, citizenship in first.values():
        case_forms = forms.get(case_id, set())
        form = next(iter(case_forms)) if len(case_forms) == 1 else MULTIPLE if case_forms else UNKNOWN
        people.append(
            {
                "quarter": f"{year}-Q{(first_contact.month - 1) // 3 + 1}",
                "victims": "identified" if status == TraffickingStatus.ACTUAL else "not_identified",
                "sex": SEX_GROUPS.get(sex, UNKNOWN),
                "age": _age(age, is_child=is_child),
                "form": form if form in known_forms else UNKNOWN,
                "citizenship": _citizenship(citizenship, country=country),
                "cross_border": "referred_abroad" if person_id in abroad else "not_referred_abroad",
            }
        )
    return people


def _count_tables(people: Sequence[dict[str, str]], rows: Sequence[str]) -> dict[str, CountTable]:
    tables = {}
    for name, columns in table_columns().items():
        counts: dict[tuple[str, str], int] = {}
        for person in people:
            key = (person["quarter"], person[name])
            counts[key] = counts.get(key, 0) + 1
        tables[name] = CountTable.from_rows(
            name, rows, columns, [[counts.get((r, c), 0) for c in columns] for r in rows]
        )
    return tables


def configured_epsilon() -> float | None:
    """ε of submissions on this instance, None when they are k-anonymous."""
    value = settings.OPENNRM_COOP_STATS_EPSILON
    return float(value) if value else None


def build_submission(*, year: int, epsilon: float | None, today: dt.date | None = None) -> dict[str, Any]:
    """The payload of a statistics submission for `year` (its ended quarters). `epsilon` None: k-anonymous
    tables; a number: differentially private counts with that budget (refused with DomainError when invalid)."""
    quarters = ended_quarters(year, today)
    if quarters < 1:
        raise DomainError(
            _("No quarter of %(year)s has ended yet: there is nothing to submit.") % {"year": year},
            code="no_quarter",
        )
    return protected_payload(population(year, quarters), year=year, quarters=quarters, epsilon=epsilon)


def protected_payload(
    people: Sequence[dict[str, str]], *, year: int, quarters: int, epsilon: float | None
) -> dict[str, Any]:
    """The submission of these people (see `population`), k-anonymous or differentially private."""
    rows = quarter_labels(year, quarters)
    tables = _count_tables(people, rows)
    grids: dict[str, list[list[int | None]]]
    method: dict[str, Any]
    if epsilon is None:
        k = int(settings.OPENNRM_COOP_STATS_K)
        grids = {name: st.grid() for name, st in k_anonymous_tables(tables, k).items()}
        method = {"k": k, "dp": None}
    else:
        budget = dp.validate_budget(epsilon=epsilon, delta=None, mechanism=dp.Mechanism.LAPLACE)
        specs = [
            dp.TableSpec(name, tuple(f"{r}|{c}" for r in rows for c in table.col_labels))
            for name, table in tables.items()
        ]
        lines = [{name: f"{p['quarter']}|{p[name]}" for name in tables} for p in people]
        noisy = dp.noisy_counts(lines, specs, mechanism=dp.Mechanism.LAPLACE, budget=budget)
        grids = {name: _dp_grid(table, dp.postprocess(noisy.counts[name])) for name, table in tables.items()}
        method = {
            "k": None,
            "dp": {
                "epsilon": budget.epsilon,
                "delta": budget.delta,
                "mechanism": dp.Mechanism.LAPLACE.value,
                "noise_scale": noisy.scale,
                "accuracy_95": noisy.accuracy(0.05),
            },
        }
    return {
        "period": str(year),
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "country": settings.OPENNRM_COUNTRY.upper(),
        "method": method,
        "tables": {
            name: {"columns": [*table.col_labels, TOTAL], "rows": [*rows, TOTAL], "values": grids[name]}
            for name, table in tables.items()
        },
    }


# --- sending ---------------------------------------------------------------------------------------------------


def hub_partner() -> Partner:
    """The hub this instance submits to (`OPENNRM_COOP_HUB`); DomainError when none is set or registered."""
    if not settings.OPENNRM_COOP_HUB:
        raise DomainError(_("No regional hub is configured (OPENNRM_COOP_HUB)."), code="no_hub")
    return messaging.active_partner(settings.OPENNRM_COOP_HUB)


@transaction.atomic
def submit(
    *, partner: Partner, year: int, actor: User | None = None, today: dt.date | None = None
) -> OutboxMessage:
    """Queue this instance's statistics of `year` to the hub (delivered after commit by the outbox)."""
    payload = build_submission(year=year, epsilon=configured_epsilon(), today=today)
    message = messaging.send(
        partner=partner, type=MessageType.STATS_SUBMISSION, payload=payload, subject=payload["period"]
    )
    audit.record(
        actor=actor,
        action="coop.stats_submitted",
        target=message,
        details={
            "partner": partner.code,
            "period": payload["period"],
            "quarters": len(payload["tables"]["victims"]["rows"]) - 1,
            "method": "dp" if payload["method"]["dp"] else "k_anonymous",
        },
    )
    return message


def _last_sent(partner: Partner, period: str) -> OutboxMessage | None:
    """The last submission of `period` queued to the hub, delivered or not. One that failed is not replaced by a
    new one automatically (a new differentially private one would spend ε again): an administrator retries it."""
    return (
        OutboxMessage.objects.filter(partner=partner, type=MessageType.STATS_SUBMISSION, subject=period)
        .order_by("-created_at")
        .first()
    )


def _sent_quarters(message: OutboxMessage) -> int:
    try:
        return len(message.payload["tables"]["victims"]["rows"]) - 1
    except (KeyError, TypeError):
        return 0


def submit_due(*, today: dt.date | None = None) -> list[OutboxMessage]:
    """Submit the previous and the current year when a quarter of them ended since their last submission."""
    today = today or timezone.localdate()
    partner = hub_partner()
    sent = []
    for year in (today.year - 1, today.year):
        quarters = ended_quarters(year, today)
        if quarters < 1:
            continue
        with transaction.atomic():
            Partner.objects.select_for_update().filter(pk=partner.pk).first()  # one scheduler at a time
            last = _last_sent(partner, str(year))
            if last is None or _sent_quarters(last) < quarters:
                sent.append(submit(partner=partner, year=year, today=today))
    return sent


# --- receiving (the hub) -------------------------------------------------------------------------------------


def _invalid(detail: str) -> DomainError:
    return DomainError(
        _("The statistics submission is malformed: %(detail)s") % {"detail": detail},
        code="invalid_submission",
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _check_method(method: Any) -> tuple[int | None, dict[str, Any] | None]:
    if not isinstance(method, dict) or set(method) != {"k", "dp"}:
        raise _invalid("method must name k and dp")
    k, privacy = method["k"], method["dp"]
    if privacy is None:
        if not _is_count(k) or k < 2:
            raise _invalid("k must be a whole number of at least 2")
        return k, None
    if k is not None:
        raise _invalid("a differentially private submission has no k")
    if not isinstance(privacy, dict) or not {"epsilon", "mechanism"} <= set(privacy) <= DP_KEYS:
        raise _invalid("dp must name epsilon and mechanism")
    epsilon = privacy["epsilon"]
    if (
        not isinstance(epsilon, int | float)
        or isinstance(epsilon, bool)
        or not math.isfinite(epsilon)
        or not 0 < epsilon <= dp.MAX_EPSILON
    ):
        raise _invalid(f"epsilon must be a number above 0 and at most {dp.MAX_EPSILON}")
    if privacy["mechanism"] not in dp.Mechanism.__members__.values():
        raise _invalid("unknown noise mechanism")
    for name in ("delta", "noise_scale", "accuracy_95"):
        value = privacy.get(name, 0)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
        ):
            raise _invalid(f"{name} must be a number not below 0")
    return None, dict(privacy)


def _check_table(name: str, table: Any, rows: list[str] | None, k: int | None) -> list[str]:
    """Check one table; returns its rows (the first table fixes the rows every other must have)."""
    if not isinstance(table, dict) or set(table) != {"columns", "rows", "values"}:
        raise _invalid(f"table {name} must have columns, rows and values")
    columns, labels, values = table["columns"], table["rows"], table["values"]
    if columns != [*table_columns()[name], TOTAL]:
        raise _invalid(f"table {name} has unexpected columns")
    if rows is not None and labels != rows:
        raise _invalid(f"table {name} has other rows than the other tables")
    if not isinstance(values, list) or len(values) != len(labels):
        raise _invalid(f"table {name} needs one line of values per row")
    for line in values:
        if not isinstance(line, list) or len(line) != len(columns):
            raise _invalid(f"table {name} needs one value per column")
        for value in line:
            if value is None:
                if k is None:
                    raise _invalid(f"table {name}: a differentially private figure cannot be suppressed")
            elif not _is_count(value):
                raise _invalid(f"table {name}: counts must be whole numbers not below 0, or null")
            elif k is not None and value < k:
                raise _invalid(f"table {name}: a published figure is below k")
    # Published margins add up (noisy totals are sums of noisy cells, too).
    lines = [*values, *[list(col) for col in zip(*values, strict=True)]]
    for line in lines:
        if all(v is not None for v in line) and sum(line[:-1]) != line[-1]:
            raise _invalid(f"table {name}: a total is not the sum of its figures")
    return list(labels)


def validate_submission(payload: Any, *, partner: Partner) -> dict[str, Any]:
    """The payload if it is exactly what a submission may hold; DomainError naming the first problem otherwise."""
    if not isinstance(payload, dict) or set(payload) != PAYLOAD_KEYS:
        raise _invalid("unexpected or missing fields")
    period = payload["period"]
    if not isinstance(period, str) or not PERIOD_RE.match(period):
        raise _invalid("the period must be a year")
    year = int(period)
    if not FIRST_YEAR <= year <= timezone.localdate().year + 1:
        raise _invalid("the period is out of range")
    if payload["country"] != partner.country:
        raise _invalid("the country is not the partner's")
    generated = payload["generated_at"]
    try:
        moment = dt.datetime.fromisoformat(generated) if isinstance(generated, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid("generated_at must be a time with its time zone")
    k, _privacy = _check_method(payload["method"])
    tables = payload["tables"]
    if not isinstance(tables, dict) or set(tables) != set(table_columns()):
        raise _invalid("unexpected or missing tables")
    rows: list[str] | None = None
    for name in table_columns():
        rows = _check_table(name, tables[name], rows, k)
    assert rows is not None
    quarters = len(rows) - 1
    if not 1 <= quarters <= 4 or rows != [*quarter_labels(year, quarters), TOTAL]:
        raise _invalid("rows must be the quarters of the year from the first, then the total")
    return payload


def receive_submission(message: InboxMessage, payload: Any) -> None:
    """Inbox handler of STATS_SUBMISSION (runs in the inbox transaction; DomainError refuses the message)."""
    if not settings.OPENNRM_COOP_IS_HUB:
        raise DomainError(_("This instance is not the regional hub."), code="not_hub")
    partner = Partner.objects.select_for_update().get(pk=message.partner_id)  # one version number at a time
    payload = validate_submission(payload, partner=partner)
    period = payload["period"]
    last = HubSubmission.objects.filter(partner=partner, period=period).aggregate(v=Max("version"))["v"]
    submission = HubSubmission.objects.create(
        partner=partner,
        period=period,
        version=(last or 0) + 1,
        method=payload["method"],
        data={"generated_at": payload["generated_at"], "tables": payload["tables"]},
        message_id=message.message_id,
    )
    audit.record(
        actor=None,
        action="coop.hub_submission_stored",
        target=submission,
        details={
            "partner": partner.code,
            "period": period,
            "version": submission.version,
            "method": "dp" if payload["method"]["dp"] else "k_anonymous",
        },
    )


# --- the hub's comparison ---------------------------------------------------------------------------------------


EXACT, NOISY, SUPPRESSED, MISSING = "exact", "noisy", "suppressed", "missing"


@dataclass(frozen=True)
class Column:
    """One country on the hub: its latest submission of the year shown (or this instance's own figures)."""

    code: str
    country: str
    local: bool
    method: dict[str, Any]
    received_at: dt.datetime | None  # the latest submission of any year; None for the hub's own figures
    version: int | None
    quarters: int  # quarters in the year's figures (0: none)
    tables: dict[str, Any]

    @property
    def noisy(self) -> bool:
        return bool(self.method.get("dp"))


@dataclass(frozen=True)
class Cell:
    value: int | None
    state: str  # exact | noisy | suppressed | missing


@dataclass(frozen=True)
class Line:
    period: str  # "2026-Q1" … or "2026"
    category: str  # a column of the table
    cells: tuple[Cell, ...]  # one per country, in the order of `Comparison.columns`


@dataclass(frozen=True)
class Indicator:
    key: str
    table: str
    categories: tuple[str, ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Comparison:
    year: int
    years: tuple[int, ...]
    columns: tuple[Column, ...]
    indicators: tuple[Indicator, ...]


# Indicators shown: (key, table, categories). Headline figures first, then the breakdowns.
INDICATORS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("referred", "victims", (TOTAL,)),
    ("identified", "victims", ("identified",)),
    ("sex", "sex", None),
    ("age", "age", None),
    ("form", "form", None),
    ("citizenship", "citizenship", None),
    ("cross_border", "cross_border", ("referred_abroad",)),
)


def hub_years(today: dt.date | None = None) -> list[int]:
    """Years the hub can show: every year submitted, and this instance's previous and current years."""
    today = today or timezone.localdate()
    submitted = {
        int(p) for p in HubSubmission.objects.values_list("period", flat=True).distinct() if p.isdigit()
    }
    local = {y for y in (today.year - 1, today.year) if ended_quarters(y, today)}
    return sorted(submitted | local, reverse=True)


def _local_column(year: int, today: dt.date | None) -> Column:
    code = settings.OPENNRM_COOP_ID
    country = settings.OPENNRM_COUNTRY.upper()
    if ended_quarters(year, today) < 1:
        k = int(settings.OPENNRM_COOP_STATS_K)
        return Column(code, country, True, {"k": k, "dp": None}, None, None, 0, {})
    payload = build_submission(year=year, epsilon=None, today=today)
    quarters = len(payload["tables"]["victims"]["rows"]) - 1
    return Column(code, country, True, payload["method"], None, None, quarters, payload["tables"])


def _partner_columns(year: int) -> list[Column]:
    latest: dict[int, HubSubmission] = {}
    for stored in HubSubmission.objects.filter(period=str(year)).order_by("partner_id", "-version"):
        latest.setdefault(stored.partner_id, stored)
    received = dict(
        HubSubmission.objects.values("partner_id")
        .annotate(last=Max("created_at"))
        .values_list("partner_id", "last")
    )
    columns = []
    for partner in Partner.objects.filter(pk__in=received).order_by("code"):
        submission = latest.get(partner.pk)
        tables = submission.data.get("tables", {}) if submission else {}
        method = submission.method if submission else {}
        quarters = len(tables["victims"]["rows"]) - 1 if "victims" in tables else 0
        columns.append(
            Column(
                partner.code,
                partner.country,
                False,
                method,
                received.get(partner.pk),
                submission.version if submission else None,
                quarters,
                tables,
            )
        )
    return columns


def _cell(column: Column, table: str, row: str, category: str) -> Cell:
    data = column.tables.get(table)
    if not data or row not in data["rows"] or category not in data["columns"]:
        return Cell(None, MISSING)
    value = data["values"][data["rows"].index(row)][data["columns"].index(category)]
    if value is None:
        return Cell(None, SUPPRESSED)
    return Cell(int(value), NOISY if column.noisy else EXACT)


def comparison(*, year: int, today: dt.date | None = None) -> Comparison:
    """The region's indicators of `year`, by country (the hub's own first) and by quarter, then the year."""
    columns = (_local_column(year, today), *_partner_columns(year))
    categories_of = table_columns()
    indicators = []
    for key, table, chosen in INDICATORS:
        categories = chosen or categories_of[table]
        lines = []
        for period, row in [*[(label, label) for label in quarter_labels(year, 4)], (str(year), TOTAL)]:
            for category in categories:
                lines.append(
                    Line(period, category, tuple(_cell(column, table, row, category) for column in columns))
                )
        indicators.append(Indicator(key, table, tuple(categories), tuple(lines)))
    years = hub_years(today)
    return Comparison(year, tuple(sorted({*years, year}, reverse=True)), columns, tuple(indicators))
