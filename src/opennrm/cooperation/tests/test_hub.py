"""The regional hub: submissions built from this instance's cases (k-anonymous with the public release's
machinery, or differentially private), delivered through the real outbox and inbox with real keys, stored by the
hub with versions, refused when malformed or when this instance is not the hub, and compared on the hub's page and
API by the readers allowed (404 for everyone else and on any other instance)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases.choices import TraffickingStatus
from opennrm.cases.models import Case
from opennrm.cases.services import IntakeData, refer_person
from opennrm.cooperation import hub, messaging
from opennrm.cooperation.models import (
    Direction,
    HubSubmission,
    InboxMessage,
    MessageType,
    OutboxMessage,
    TransnationalReferral,
    TransnationalStatus,
)
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry
from opennrm.stats.suppression import CountTable, SuppressedTable, recoverable_cells

pytestmark = pytest.mark.django_db

K = 5
YEAR = timezone.localdate().year - 1  # every quarter of it has ended
GIVEN_NAME = "Nino"


@pytest.fixture
def instance(settings: Any, tmp_path: Any) -> Iterator[None]:
    kit.isolate_instance(settings, tmp_path)
    settings.OPENNRM_COUNTRY = "GE"
    settings.OPENNRM_COOP_STATS_K = K
    settings.OPENNRM_COOP_STATS_EPSILON = None
    settings.OPENNRM_COOP_IS_HUB = True
    settings.OPENNRM_COOP_HUB = ""
    yield


def refer(
    actor: Any,
    *,
    month: int,
    sex: str = "feminine",
    age: int = 30,
    citizenship: str = "GE",
    forms: tuple[str, ...] = ("sexual_exploitation",),
) -> Case:
    agency = actor.memberships.first().agency
    return refer_person(
        actor=actor,
        referring_agency=agency,
        owning_agency=agency,
        consent_given=True,
        data=IntakeData(
            given_name=GIVEN_NAME,
            first_contact_date=dt.date(YEAR, month, 10),
            sex=sex,
            age_estimate=age,
            citizenship=citizenship,
            exploitation_forms=list(forms),
        ),
    )


@pytest.fixture
def cases(instance: None) -> list[Case]:
    """YEAR, quarter 1: 7 Georgian women; quarter 2: 6 women and 1 Ukrainian boy (a group of one, forced labour,
    referred across the border); quarter 3: 6 men. 7 of the women are identified; one more person was found not to
    be a victim and is not counted."""
    worker = member(Role.CASE_WORKER)
    made = [refer(worker, month=2) for _ in range(7)]
    made += [refer(worker, month=5) for _ in range(6)]
    boy = refer(worker, month=6, sex="masculine", age=15, citizenship="UA", forms=("forced_labour",))
    made.append(boy)
    made += [refer(worker, month=8, sex="masculine", age=40, forms=("forced_labour",)) for _ in range(6)]
    not_victim = refer(worker, month=8)
    Case.objects.filter(pk=not_victim.pk).update(trafficking_status=TraffickingStatus.NOT_VICTIM)
    Case.objects.filter(pk__in=[c.pk for c in made[:7]]).update(trafficking_status=TraffickingStatus.ACTUAL)
    played = kit.play_partner("UA", "UA")
    TransnationalReferral.objects.create(
        direction=Direction.OUTGOING, partner=played.partner, case=boy, status=TransnationalStatus.SENT
    )
    return made


def grid(payload: dict[str, Any], table: str) -> dict[tuple[str, str], int | None]:
    data = payload["tables"][table]
    return {
        (row, column): data["values"][i][j]
        for i, row in enumerate(data["rows"])
        for j, column in enumerate(data["columns"])
    }


def synthetic_people(extra: int = 0) -> list[dict[str, str]]:
    """A partner's people as `hub.population` gives them (no database): 39 people over the four quarters."""
    people = []
    for quarter, n in ((1, 12 + extra), (2, 9), (3, 10), (4, 8)):
        for i in range(n):
            people.append(
                {
                    "quarter": f"{YEAR}-Q{quarter}",
                    "victims": "identified" if i % 2 else "not_identified",
                    "sex": "male" if i % 3 == 0 else "female",
                    "age": "adult",
                    "form": "forced_labour" if i % 3 == 0 else "sexual_exploitation",
                    "citizenship": "national",
                    "cross_border": "not_referred_abroad",
                }
            )
    return people


def partner_payload(country: str = "MD", *, extra: int = 0) -> dict[str, Any]:
    """A k-anonymous submission as partner `country` sends it."""
    payload = hub.protected_payload(synthetic_people(extra), year=YEAR, quarters=4, epsilon=None)
    payload["country"] = country
    return payload


def deliver(played: kit.PlayedPartner, payload: Any) -> tuple[int, dict[str, str]]:
    sealed = played.seal(type=MessageType.STATS_SUBMISSION, payload=payload)
    return messaging.receive(kit.body(sealed))


# --- building a submission -------------------------------------------------------------------------------------


def test_a_submission_counts_people_per_quarter_and_suppresses_small_groups_beyond_recovery(cases):
    payload = hub.build_submission(year=YEAR, epsilon=None)

    assert payload["period"] == str(YEAR)
    assert payload["country"] == "GE"
    assert payload["method"] == {"k": K, "dp": None}
    rows = [f"{YEAR}-Q1", f"{YEAR}-Q2", f"{YEAR}-Q3", f"{YEAR}-Q4", "total"]
    assert all(table["rows"] == rows for table in payload["tables"].values())
    victims = grid(payload, "victims")
    assert victims[("total", "total")] == 20  # the person found not to be a victim is left out
    assert (victims[("total", "identified")], victims[("total", "not_identified")]) == (7, 13)
    assert victims[(f"{YEAR}-Q1", "total")] == 7
    # Q4 is empty (below k); alone, it would be the year minus the other quarters: the smallest is hidden too.
    assert victims[(f"{YEAR}-Q4", "total")] is None
    assert victims[(f"{YEAR}-Q3", "total")] is None

    # The boy is a group of one in every breakdown: never published, nor anything that would give him away.
    sex = grid(payload, "sex")
    assert sex[(f"{YEAR}-Q2", "total")] == 7
    assert sex[(f"{YEAR}-Q2", "male")] is None
    assert sex[(f"{YEAR}-Q2", "female")] is None  # 6 ≥ k, suppressed so that 7 - 6 does not give the boy
    assert grid(payload, "age")[(f"{YEAR}-Q2", "child")] is None
    assert grid(payload, "citizenship")[(f"{YEAR}-Q2", "foreign")] is None
    assert grid(payload, "cross_border")[(f"{YEAR}-Q2", "referred_abroad")] is None

    # Every published figure is at least k, and no suppressed one can be worked out from what is published.
    people = hub.population(YEAR, 4)
    for name, columns in hub.table_columns().items():
        values = payload["tables"][name]["values"]
        assert all(v is None or v >= K for line in values for v in line)
        counts = [
            [sum(1 for p in people if p["quarter"] == r and p[name] == c) for c in columns] for r in rows[:-1]
        ]
        table = CountTable.from_rows(name, rows[:-1], columns, counts)
        suppressed = frozenset(
            (i, j) for i, line in enumerate(values) for j, v in enumerate(line) if v is None
        )
        published = SuppressedTable(table, K, suppressed)
        assert all(published.published(e) == values[e[0]][e[1]] for e in table.entries())
        assert recoverable_cells(published) == {}


def test_a_submission_holds_no_row_level_data(cases):
    payload = hub.build_submission(year=YEAR, epsilon=None)
    text = json.dumps(payload)

    for case in cases:
        assert case.reference not in text
        assert case.public_id not in text
        assert case.person.public_id not in text
    assert GIVEN_NAME not in text
    assert set(payload) == {"period", "generated_at", "country", "method", "tables"}


def test_with_epsilon_set_every_figure_is_a_noisy_count_and_the_method_says_so(cases, settings):
    settings.OPENNRM_COOP_STATS_EPSILON = 1.0
    payload = hub.build_submission(year=YEAR, epsilon=hub.configured_epsilon())

    method = payload["method"]
    assert method["k"] is None
    assert (method["dp"]["epsilon"], method["dp"]["mechanism"]) == (1.0, "laplace")
    for table in payload["tables"].values():
        for line in table["values"]:
            assert all(isinstance(v, int) and v >= 0 for v in line)
            assert sum(line[:-1]) == line[-1]  # totals are sums of the noisy figures


def test_only_ended_quarters_are_submitted(cases):
    payload = hub.build_submission(year=YEAR, epsilon=None, today=dt.date(YEAR, 7, 1))

    assert payload["tables"]["victims"]["rows"] == [f"{YEAR}-Q1", f"{YEAR}-Q2", "total"]
    assert grid(payload, "victims")[("total", "total")] == 14  # Q3's six men are not in yet
    with pytest.raises(DomainError):
        hub.build_submission(year=YEAR, epsilon=None, today=dt.date(YEAR, 3, 31))


# --- sending through the outbox to a hub -------------------------------------------------------------------------


def loopback(url: str, body: bytes) -> messaging.Response:
    status, answer = messaging.receive(body)
    return messaging.Response(status, json.dumps(answer).encode())


def test_the_schedule_submits_once_per_ended_quarter_and_the_hub_stores_what_arrives(cases, settings):
    kit.this_instance_as_partner()  # the hub, played by this very instance: what it sends, it receives
    settings.OPENNRM_COOP_HUB = kit.HERE

    sent = hub.submit_due(today=dt.date(YEAR + 1, 2, 1))
    assert [m.subject for m in sent] == [str(YEAR)]  # the new year has no ended quarter yet
    assert AuditEntry.objects.filter(action="coop.stats_submitted").count() == 1
    assert hub.submit_due(today=dt.date(YEAR + 1, 2, 1)) == []  # nothing new ended: nothing sent again

    assert messaging.deliver_due(transport=loopback) == 1
    stored = HubSubmission.objects.get()
    assert (stored.partner.code, stored.period, stored.version) == (kit.HERE, str(YEAR), 1)
    assert stored.data["tables"] == sent[0].payload["tables"]
    assert AuditEntry.objects.filter(action="coop.hub_submission_stored").count() == 1

    later = hub.submit_due(today=dt.date(YEAR + 1, 4, 2))  # the first quarter of the new year has ended
    assert [m.subject for m in later] == [str(YEAR + 1)]


def test_submitting_needs_a_configured_hub(cases, settings):
    with pytest.raises(DomainError):
        hub.submit_due()
    with pytest.raises(CommandError):
        call_command("coop_submit_stats", "--period", str(YEAR))
    assert OutboxMessage.objects.count() == 0


def test_the_command_submits_the_year_asked_for(cases, settings, capsys):
    kit.this_instance_as_partner()
    settings.OPENNRM_COOP_HUB = kit.HERE

    call_command("coop_submit_stats", "--period", str(YEAR))

    message = OutboxMessage.objects.get()
    assert (message.type, message.subject) == (MessageType.STATS_SUBMISSION, str(YEAR))
    assert f"queued {YEAR} (4 quarters, k {K})" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("coop_submit_stats", "--period", "1066")


# --- the hub receiving ---------------------------------------------------------------------------------------


def test_the_hub_stores_a_partners_submission_and_a_later_one_replaces_it(instance):
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    first, second = partner_payload(), partner_payload(extra=1)  # a late registration in Q1

    assert deliver(played, first)[0] == 202
    assert deliver(played, second)[0] == 202

    assert list(HubSubmission.objects.order_by("version").values_list("period", "version")) == [
        (str(YEAR), 1),
        (str(YEAR), 2),
    ]
    assert AuditEntry.objects.filter(action="coop.hub_submission_stored").count() == 2
    moldova = next(c for c in hub.comparison(year=YEAR).columns if c.code == "MD")
    assert moldova.version == 2
    assert moldova.tables == second["tables"]
    assert moldova.tables["victims"]["values"][4][2] == 40


def test_a_hub_refuses_a_submission_that_is_not_its_partners_country(instance):
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    before = kit.snapshot()

    answer = deliver(played, partner_payload("UA"))

    kit.assert_refused(answer, before, reason="invalid_content", status=422)
    assert HubSubmission.objects.count() == 0


def test_an_instance_that_is_not_the_hub_refuses_submissions_and_stores_nothing(instance, settings):
    settings.OPENNRM_COOP_IS_HUB = False
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    before = kit.snapshot()

    answer = deliver(played, partner_payload())

    rejection = kit.assert_refused(answer, before, reason="invalid_content", status=422)
    assert "not the regional hub" in rejection.detail
    assert (HubSubmission.objects.count(), InboxMessage.objects.count()) == (0, 0)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


MALFORMED = {
    "negative count": _set(("tables", "victims", "values", 4, 2), -20),
    "count as text": _set(("tables", "victims", "values", 4, 2), "20"),
    "count as boolean": _set(("tables", "cross_border", "values", 4, 2), True),
    "fraction": _set(("tables", "victims", "values", 4, 2), 20.5),
    "published below k": _set(("tables", "sex", "values", 1, 1), 1),
    "totals do not add up": _set(("tables", "victims", "values", 4, 2), 21),
    "missing table": _drop(("tables", "form")),
    "extra table": _set(("tables", "names"), {"columns": ["total"], "rows": ["total"], "values": [[1]]}),
    "extra field": _set(("cases",), []),
    "unknown column": _set(("tables", "sex", "columns", 0), "women"),
    "rows of another year": _set(("tables", "sex", "rows", 0), "1999-Q1"),
    "one value short": _drop(("tables", "age", "values", 0, 0)),
    "period not a year": _set(("period",), "2024-Q1"),
    "no k": _set(("method",), {"k": None, "dp": None}),
    "noise without epsilon": _set(("method",), {"k": None, "dp": {"mechanism": "laplace"}}),
    "suppressed noisy figure": _set(("method",), {"k": None, "dp": {"epsilon": 1.0, "mechanism": "laplace"}}),
    "no time zone": _set(("generated_at",), "2025-01-01T00:00:00"),
    "not an object": lambda payload: payload.clear(),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_submission_is_refused_and_changes_nothing(instance, change):
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    payload = partner_payload()
    change(payload)
    before = kit.snapshot()

    answer = deliver(played, payload)

    kit.assert_refused(answer, before, reason="invalid_content", status=422)
    assert HubSubmission.objects.count() == 0


# --- the hub's page and API ------------------------------------------------------------------------------------


@pytest.fixture
def region(cases: list[Case]) -> dict[str, Any]:
    """Moldova has submitted YEAR with differential privacy; the hub (Georgia) shows its own figures beside."""
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    payload = hub.build_submission(year=YEAR, epsilon=2.0)
    payload["country"] = "MD"
    assert deliver(played, payload)[0] == 202
    return {"payload": payload}


def test_the_hub_page_shows_the_countries_side_by_side_with_their_protection(region):
    client = logged_in_client(member(Role.ANALYST, scope=Scope.NATIONAL))

    response = client.get("/coop/hub/", {"year": YEAR})

    assert response.status_code == 200
    page = response.content.decode()
    header = page.split('id="hub-table-referred"')[1].split("</thead>")[0]
    assert header.index("Georgia") < header.index("Moldova")
    referred = page.split('id="hub-table-referred"')[1].split("</table>")[0]
    moldova_total = region["payload"]["tables"]["victims"]["values"][4][2]
    assert f"≈ {moldova_total}" in referred  # Moldova's noisy figure, marked as such
    assert ">20<" in referred  # Georgia's own year total, exact
    assert "suppressed" in page.split('id="hub-table-sex"')[1].split("</table>")[0]
    assert f"k-anonymous, k = {K}" in page
    assert "Differential privacy, ε = 2" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page


ROLES = [
    (Role.ANALYST, Scope.NATIONAL, 200),
    (Role.COORDINATOR, Scope.NATIONAL, 200),
    (Role.COORDINATOR, Scope.AGENCY, 200),
    (Role.CASE_WORKER, Scope.AGENCY, 404),
    (Role.ADMINISTRATOR, Scope.NATIONAL, 404),
]


@pytest.mark.parametrize(("role", "scope", "status"), ROLES)
def test_who_sees_the_hub_page_and_its_api(instance, role, scope, status):
    client = logged_in_client(member(role, scope=scope))

    assert client.get("/coop/hub/").status_code == status
    assert client.get("/api/v1/coop/hub/").status_code == status


def test_on_an_instance_that_is_not_the_hub_the_page_and_the_api_do_not_exist(instance, settings):
    settings.OPENNRM_COOP_IS_HUB = False
    client = logged_in_client(member(Role.ANALYST, scope=Scope.NATIONAL))

    assert client.get("/coop/hub/").status_code == 404
    assert client.get("/api/v1/coop/hub/").status_code == 404


def test_the_api_gives_each_figure_with_its_state(region):
    client = logged_in_client(member(Role.ANALYST, scope=Scope.NATIONAL))

    data = client.get("/api/v1/coop/hub/", {"year": YEAR}).json()

    assert [c["code"] for c in data["countries"]] == [kit.HERE, "MD"]
    assert data["countries"][1]["method"]["dp"]["epsilon"] == 2.0
    referred = next(i for i in data["indicators"] if i["key"] == "referred")
    year_line = next(line for line in referred["lines"] if line["period"] == str(YEAR))
    assert year_line["figures"][kit.HERE] == {"value": 20, "state": "exact"}
    assert year_line["figures"]["MD"]["state"] == "noisy"
    sex = next(i for i in data["indicators"] if i["key"] == "sex")
    boy = next(line for line in sex["lines"] if (line["period"], line["category"]) == (f"{YEAR}-Q2", "male"))
    assert boy["figures"][kit.HERE] == {"value": None, "state": "suppressed"}
    other_year = client.get("/api/v1/coop/hub/", {"year": YEAR - 5}).json()
    assert all(
        figure["state"] == "missing"
        for indicator in other_year["indicators"]
        for line in indicator["lines"]
        for code, figure in line["figures"].items()
        if code == "MD"
    )
