"""Three OpenNRM instances cooperating across borders: Georgia, Ukraine and Moldova (the regional hub), each a
separate set of processes on loopback with its own instance folder and database (SQLite, or a PostgreSQL database
each when the suite runs on PostgreSQL), run as the product runs (gunicorn and the outbox worker) and set up by
their administrators' commands.

After the key exchange (`coop_keys show --json` on each, `coop_partner add -` of the others' cards, the linkage
secret generated in Georgia and imported in Ukraine and Moldova):

1. Georgia refers a case to Ukraine end to end: consent for Ukraine, referral, acceptance opening a Ukrainian case,
   the answer with Ukraine's reference, an arrival update back, both timelines; only the minimal subset crossed.
2. Ukraine is down while Georgia refers another case: the delivery fails and is retried; once Ukraine is back the
   referral arrives exactly once, and delivering the same message again changes nothing (the replay answer).
3. Ukraine's inbox refuses a replayed, a tampered, an unsigned and an unknown partner's message, each with its
   reason, and nothing changes.
4. A linkage query from Georgia finds, in Ukraine, the person Georgia entered in Georgian script and Ukraine in
   Cyrillic: Georgia sees Ukraine's case reference and a score, never a name.
5. Georgia and Ukraine submit their statistics to the hub, which shows them side by side with its own.

The test talks to the instances over HTTP only (their JSON APIs with tokens, the cooperation inbox) and through
their management commands; it reads an instance's database read-only where no API shows a fact (outbox delivery
attempts, refused messages, stored inbox messages). The one write outside an API or a command sets a delivered
outbox message back to pending (`manage.py shell`), to play a lost acknowledgement: the product re-sends only
messages not yet delivered. One test function with a subtest per scenario: the instances start once, and the
whole test runs on one pytest-xdist worker.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.multiinstance.harness import (
    Agency,
    Instance,
    People,
    Person,
    PostgresDatabases,
    Reply,
    create_people,
    parallel,
    wait_until,
)

FAST_RETRIES = {"OPENNRM_COOP_RETRY_SECONDS": "1", "OPENNRM_COOP_RETRY_MAX_SECONDS": "2"}

AGENCIES = {
    "GE": [Agency("fund", "State Fund (test)", "state_fund", "GE-TB")],
    "UA": [
        Agency("ministry", "Ministry of Social Policy (test)", "ministry", "UA-30"),
        Agency("centre", "Kyiv social services centre (test)", "state_fund", "UA-30"),
    ],
    "MD": [Agency("secretariat", "Permanent Secretariat (test)", "ministry", "MD-CU")],
}
PEOPLE = {
    "GE": [Person("caseworker", "case_worker", "fund")],
    "UA": [
        # The national focal point: a case worker with national scope receives the country's referrals.
        Person("focal", "case_worker", "ministry", scope="national"),
        Person("caseworker", "case_worker", "centre"),
    ],
    "MD": [Person("coordinator", "coordinator", "secretariat", scope="national")],
}

NARRATIVE = "Recruited in Batumi for a cafe job in Odesa; passport kept by the employer."
NOTE_FOR_PARTNER = "Arrives by bus with a social worker."


@dataclass
class Cluster:
    ge: Instance
    ua: Instance
    md: Instance
    people: dict[str, People]
    cards: dict[str, dict[str, Any]]

    @property
    def instances(self) -> list[Instance]:
        return [self.ge, self.ua, self.md]

    def token(self, instance: Instance, username: str) -> str:
        return self.people[instance.code].tokens[username]

    def agency(self, instance: Instance, key: str) -> str:
        return self.people[instance.code].agencies[key]


# --- set-up ------------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    people: People
    card: dict[str, Any]
    linkage_secret: str = ""


def _prepare(instance: Instance, *, generate_linkage_secret: bool) -> Prepared:
    """An instance's administrator: the database, the agencies and users, the public card for the partners, and
    on one instance of the region the record-linkage secret (printed once)."""
    instance.manage("migrate", "--no-input", "-v", "0")
    people = create_people(instance, AGENCIES[instance.code], PEOPLE[instance.code])
    card = json.loads(instance.manage("coop_keys", "show", "--json"))
    secret = instance.manage("coop_linkage_secret", "generate").strip() if generate_linkage_secret else ""
    return Prepared(people=people, card=card, linkage_secret=secret)


def _introduce(instance: Instance, others: list[Prepared], linkage_secret: str) -> None:
    """The administrator registers every partner from its card (the hub's with --hub) and, unless this instance
    made it, imports the linkage secret."""
    for other in others:
        hub = ["--hub"] if other.card["is_hub"] else []
        instance.manage("coop_partner", "add", "-", *hub, input=json.dumps(other.card))
    if linkage_secret:
        instance.manage("coop_linkage_secret", "import", input=linkage_secret)


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root: Path = tmp_path_factory.mktemp("instances")
    postgres = PostgresDatabases(url) if (url := PostgresDatabases.wanted()) else None
    instances: list[Instance] = []
    try:
        for code, settings in [
            ("GE", {"OPENNRM_COOP_HUB": "MD"}),
            ("UA", {"OPENNRM_COOP_HUB": "MD"}),
            ("MD", {"OPENNRM_COOP_IS_HUB": "true"}),
        ]:
            database = postgres.create(code) if postgres else ""
            instances.append(
                Instance(
                    code, root / code.lower(), settings={**FAST_RETRIES, **settings}, database_url=database
                )
            )
        ge, ua, md = instances
        done = parallel(lambda i=i: _prepare(i, generate_linkage_secret=i is ge) for i in instances)
        prepared = {i.code: p for i, p in zip(instances, done, strict=True)}
        secret = prepared["GE"].linkage_secret
        assert secret, "coop_linkage_secret generate printed no secret"
        parallel(
            lambda i=i: _introduce(
                i,
                [p for code, p in prepared.items() if code != i.code],
                "" if i is ge else secret,
            )
            for i in instances
        )
        for instance in instances:
            instance.start()
        for instance in instances:
            instance.wait_ready()
        yield Cluster(
            ge=ge,
            ua=ua,
            md=md,
            people={code: p.people for code, p in prepared.items()},
            cards={code: p.card for code, p in prepared.items()},
        )
    finally:
        for instance in instances:
            instance.stop()
            print(instance.logs())  # shown by pytest only when the test failed
        if postgres:
            postgres.drop_all()


# --- helpers over the APIs -----------------------------------------------------------------------------------


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, str(reply)
    return reply.data


def open_case(
    instance: Instance,
    token: str,
    *,
    owning_agency: str,
    given_name: str,
    family_name: str,
    born: str,
    narrative: str = "",
) -> dict[str, Any]:
    """A case worker refers a consenting adult woman (intake through the cases API)."""
    return ok(
        instance.post(
            "/api/v1/cases/",
            {
                "given_name": given_name,
                "family_name": family_name,
                "date_of_birth": born,
                "sex": "feminine",
                "citizenship": instance.code,
                "languages": ["ru"],
                "exploitation_forms": ["forced_labour"],
                "exploitation_country": "UA" if instance.code != "UA" else "PL",
                "narrative": narrative,
                "owning_agency": owning_agency,
                "consent_given": True,
            },
            token=token,
        ),
        201,
    )


def refer_to_ukraine(cluster: Cluster, *, given_name: str, family_name: str) -> tuple[dict[str, Any], dict]:
    """Georgia's case worker opens a case, records the person's consent to sharing with Ukraine and refers it."""
    ge, token = cluster.ge, cluster.token(cluster.ge, "caseworker")
    case = open_case(
        ge,
        token,
        owning_agency=cluster.agency(ge, "fund"),
        given_name=given_name,
        family_name=family_name,
        born="1991-07-04",
        narrative=NARRATIVE,
    )
    refused = ge.post(
        f"/api/v1/cases/{case['id']}/transnational-referrals/",
        {"partner": "UA", "services": ["accommodation"]},
        token=token,
    )
    assert refused.status == 400 and refused.data["code"] == "consent_required", str(refused)
    ok(
        ge.post(
            f"/api/v1/cases/{case['id']}/consents/",
            {"purpose": "cross_border", "given": True, "country": "UA"},
            token=token,
        ),
        201,
    )
    referral = ok(
        ge.post(
            f"/api/v1/cases/{case['id']}/transnational-referrals/",
            {
                "partner": "UA",
                "services": ["accommodation", "psychological"],
                "note": NOTE_FOR_PARTNER,
            },
            token=token,
        ),
        201,
    )
    assert referral["status"] == "sent" and referral["direction"] == "outgoing"
    return case, referral


def incoming(cluster: Cluster) -> list[dict[str, Any]]:
    """Ukraine's incoming referrals, as its national focal point lists them."""
    data = ok(
        cluster.ua.get(
            "/api/v1/transnational-referrals/?direction=incoming", token=cluster.token(cluster.ua, "focal")
        )
    )
    assert data["count"] == len(data["results"]), "more incoming referrals than one page"
    return list(data["results"])


def incoming_with(cluster: Cluster, referral_id: str) -> list[dict[str, Any]]:
    return [r for r in incoming(cluster) if r["referral_id"] == referral_id]


def timeline_kinds(instance: Instance, token: str, case_id: str) -> list[str]:
    data = ok(instance.get(f"/api/v1/cases/{case_id}/timeline/?page_size=200", token=token))
    return [event["kind"] for event in data["results"]]


def count_rows(instance: Instance, table: str) -> int:
    return int(instance.query(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 - constant table names


# --- the scenarios -----------------------------------------------------------------------------------------


def referral_end_to_end(cluster: Cluster) -> None:
    ge, ua = cluster.ge, cluster.ua
    ge_token, focal = cluster.token(ge, "caseworker"), cluster.token(ua, "focal")
    case, sent = refer_to_ukraine(cluster, given_name="Tamari", family_name="Kapanadze")

    # Ukraine's focal point finds it among the incoming referrals, with what crossed and nothing more.
    listed = wait_until(
        lambda: incoming_with(cluster, sent["referral_id"]), what="the referral to reach Ukraine"
    )
    assert len(listed) == 1 and listed[0]["status"] == "received" and listed[0]["partner"] == "GE"
    assert listed[0]["remote_reference"] == case["reference"]
    received = ok(ua.get(f"/api/v1/transnational-referrals/{listed[0]['id']}/", token=focal))
    assert set(received["crossed"]) == {
        "referral_id",
        "sender_reference",
        "sender_agency",
        "case",
        "screening",
        "services_needed",
        "planned_arrival",
        "consent",
    }
    assert set(received["person"]) == {
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "citizenship",
        "languages",
    }
    assert received["person"]["given_name"] == "Tamari"
    assert received["crossed"]["consent"]["purpose"] == "cross_border"
    assert received["crossed"]["consent"]["country"] == "UA"
    assert received["crossed"]["services_needed"] == ["accommodation", "psychological"]
    assert received["note"] == NOTE_FOR_PARTNER
    everything = json.dumps(received, ensure_ascii=False)
    assert "Batumi" not in everything and "passport" not in everything  # the narrative stayed in Georgia
    assert sorted(received["actions"]) == ["accept", "decline"]

    # Accepted: a Ukrainian case is opened, owned by the agency the focal point chose.
    accepted = ok(
        ua.post(
            f"/api/v1/transnational-referrals/{listed[0]['id']}/accept/",
            {"owning_agency": cluster.agency(ua, "centre")},
            token=focal,
        )
    )
    assert accepted["status"] == "accepted" and accepted["case_reference"].startswith("UA-")
    ua_case = ok(ua.get(f"/api/v1/cases/{accepted['case']}/", token=cluster.token(ua, "caseworker")))
    assert ua_case["owning_agency"]["id"] == cluster.agency(ua, "centre")
    identity = ok(
        ua.get(
            f"/api/v1/cases/{accepted['case']}/identity/?fields=given_name,family_name,narrative",
            token=cluster.token(ua, "caseworker"),
        )
    )
    assert (identity["given_name"], identity["family_name"], identity["narrative"]) == (
        "Tamari",
        "Kapanadze",
        "",
    )

    # Georgia learns the answer and Ukraine's reference.
    def answered() -> dict[str, Any] | None:
        seen = ok(ge.get(f"/api/v1/transnational-referrals/{sent['id']}/", token=ge_token))
        return seen if seen["status"] == "accepted" else None

    answer = wait_until(answered, what="Georgia to see the referral accepted")
    assert answer["remote_reference"] == accepted["case_reference"]

    # Ukraine's case worker tells of the arrival; Georgia's referral shows it.
    arrival = dt.date.today().isoformat()
    ok(
        ua.post(
            f"/api/v1/transnational-referrals/{listed[0]['id']}/updates/",
            {"kind": "arrival", "date": arrival},
            token=cluster.token(ua, "caseworker"),
        ),
        201,
    )

    def arrived() -> list[dict[str, Any]]:
        seen = ok(ge.get(f"/api/v1/transnational-referrals/{sent['id']}/", token=ge_token))
        return [u for u in seen["updates"] if u["kind"] == "arrival" and u["direction"] == "incoming"]

    updates = wait_until(arrived, what="Georgia to receive the arrival")
    assert len(updates) == 1 and updates[0]["date"] == arrival

    # Both timelines tell the exchange.
    ge_kinds = timeline_kinds(ge, ge_token, case["id"])
    for kind in (
        "transnational_referral_sent",
        "transnational_referral_answered",
        "transnational_update_received",
    ):
        assert kind in ge_kinds, ge_kinds
    ua_kinds = timeline_kinds(ua, cluster.token(ua, "caseworker"), accepted["case"])
    for kind in ("transnational_referral_accepted", "transnational_update_sent"):
        assert kind in ua_kinds, ua_kinds


def delivery_while_partner_down(cluster: Cluster) -> None:
    ge, ua = cluster.ge, cluster.ua
    ua.stop()
    try:
        _case, sent = refer_to_ukraine(cluster, given_name="Eka", family_name="Lomidze")
        # Read-only look at Georgia's outbox (no API shows delivery attempts).
        outbox = "SELECT message_id, status, attempts, last_error FROM cooperation_outboxmessage WHERE type = 'referral' AND subject = ?"

        def failed_attempt() -> tuple[Any, ...] | None:
            rows = ge.query(outbox, [sent["referral_id"]])
            return rows[0] if rows and rows[0][2] >= 1 else None

        message_id, status, _attempts, last_error = wait_until(
            failed_attempt, what="Georgia's first failed delivery attempt"
        )
        assert status == "pending" and last_error, (status, last_error)
        seen = ok(
            ge.get(f"/api/v1/transnational-referrals/{sent['id']}/", token=cluster.token(ge, "caseworker"))
        )
        assert seen["status"] == "sent"
    finally:
        ua.start()  # on the same address: the partner registry in Georgia is unchanged
        ua.wait_ready()

    def delivered() -> tuple[Any, ...] | None:
        row = ge.query(outbox, [sent["referral_id"]])[0]
        return row if row[1] == "delivered" else None

    _id, _status, attempts_before, _error = wait_until(delivered, what="the retried delivery to Ukraine")
    assert attempts_before >= 2
    assert (
        len(wait_until(lambda: incoming_with(cluster, sent["referral_id"]), what="the referral in Ukraine"))
        == 1
    )

    # The same message delivered once more (as after a lost acknowledgement): Ukraine answers that it has it.
    message_uuid = str(uuid.UUID(str(message_id)))  # SQLite stores the UUID as 32 hex digits
    ge.manage(
        "shell",
        "-c",
        "from django.utils import timezone; "
        "from opennrm.cooperation.models import OutboxMessage; "
        f"OutboxMessage.objects.filter(message_id='{message_uuid}').update("
        "status='pending', next_attempt_at=timezone.now())",
    )
    redelivered = wait_until(
        lambda: (
            (row := ge.query(outbox, [sent["referral_id"]])[0])[1] == "delivered"
            and row[2] > attempts_before
            and row
        ),
        what="the second delivery of the same message",
    )
    assert redelivered[3] == ""
    assert len(incoming_with(cluster, sent["referral_id"])) == 1
    replays = ua.query(
        "SELECT COUNT(*) FROM cooperation_rejection WHERE reason = 'replayed' AND claimed_message_id = ?",
        [message_uuid],
    )
    assert replays[0][0] == 1


def partner_referral_payload(referral_id: str) -> dict[str, Any]:
    """A valid referral as the test partner XT sends it (the allow-list of `transnational.PAYLOAD_FIELDS`)."""
    return {
        "referral_id": referral_id,
        "sender_reference": "XT-2026-00007",
        "sender_agency": "Test partner agency",
        "person": {
            "given_name": "Olena",
            "family_name": "Testova",
            "date_of_birth": "1988-02-03",
            "sex": "feminine",
            "citizenship": "UA",
            "languages": ["uk"],
        },
        "case": {
            "is_child": False,
            "age_group": "30-38",
            "exploitation_forms": ["sexual_exploitation"],
            "exploitation_country": "PL",
            "first_contact_date": "2025-11-20",
            "trafficking_status": "possible_victim_of_trafficking",
        },
        "screening": None,
        "services_needed": ["medical"],
        "planned_arrival": None,
        "consent": {
            "id": "cns_test",
            "purpose": "cross_border",
            "country": "UA",
            "basis": "consent",
            "recorded_at": "2025-11-20T10:00:00+00:00",
            "recorded_by_agency": "Test partner agency",
        },
        "note": "",
    }


def refused_messages(cluster: Cluster) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from opennrm.cooperation.envelope import canonical, seal
    from opennrm.cooperation.keys import b64d, b64e, public_b64

    ua = cluster.ua
    ua_key = cluster.cards["UA"]["active_encryption_key"]
    # A partner the test plays: its keys are made here and registered on Ukraine by the administrator's command.
    signing, encryption = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    card = {
        "code": "XT",
        "country": "BY",
        "url": "http://127.0.0.1:9",
        "is_hub": False,
        "signing_keys": [public_b64(signing.public_key())],
        "encryption_keys": [public_b64(encryption.public_key())],
    }
    ua.manage("coop_partner", "add", "-", input=json.dumps(card))

    def sealed(*, sender: str = "XT", key: Ed25519PrivateKey = signing) -> dict[str, Any]:
        return seal(
            message_id=uuid.uuid4(),
            recipient="UA",
            recipient_encryption_key=ua_key,
            type="referral",
            payload=partner_referral_payload(str(uuid.uuid4())),
            sender=sender,
            signing_key=key,
        )

    def state() -> tuple[int, int]:
        return len(incoming(cluster)), count_rows(ua, "cooperation_inboxmessage")

    def post(body: bytes) -> Reply:
        return ua.request("POST", "/coop/v1/inbox", body=body)

    before = state()
    valid = canonical(sealed())
    reply = post(valid)
    assert reply.status == 202 and reply.data["status"] == "accepted", str(reply)
    after_valid = state()
    assert after_valid == (before[0] + 1, before[1] + 1)

    tampered = sealed()
    ciphertext = bytearray(b64d(tampered["enc"]["ct"]))
    ciphertext[0] ^= 0x01
    tampered["enc"]["ct"] = b64e(bytes(ciphertext))
    forged_header = copy.deepcopy(sealed())
    forged_header["type"] = "referral_update"
    unsigned = sealed()
    del unsigned["sig"], unsigned["sig_kid"]
    stranger = sealed(sender="ZZ", key=Ed25519PrivateKey.generate())

    for name, body, status, reason in [
        ("replayed", valid, 409, "replayed"),
        ("tampered payload", canonical(tampered), 403, "bad_signature"),
        ("tampered header", canonical(forged_header), 403, "bad_signature"),
        ("unsigned", canonical(unsigned), 400, "unsigned"),
        ("unknown partner", canonical(stranger), 403, "unknown_partner"),
    ]:
        reply = post(body)
        assert (reply.status, reply.data["status"], reply.data["reason"]) == (status, "refused", reason), (
            f"{name}: {reply}"
        )
        assert state() == after_valid, f"{name} changed Ukraine's state"
    reasons = [
        row[0] for row in ua.query("SELECT reason FROM cooperation_rejection ORDER BY id DESC LIMIT 5")
    ]
    assert sorted(reasons) == sorted(
        ["replayed", "bad_signature", "bad_signature", "unsigned", "unknown_partner"]
    )


def linkage_across_scripts(cluster: Cluster) -> None:
    from opennrm.cooperation.linkage import DEFAULT_THRESHOLD

    ge, ua = cluster.ge, cluster.ua
    ge_token = cluster.token(ge, "caseworker")
    ge_case = open_case(
        ge,
        ge_token,
        owning_agency=cluster.agency(ge, "fund"),
        given_name="ნინო",
        family_name="ბერიძე",
        born="1994-03-12",
    )
    ua_case = open_case(
        ua,
        cluster.token(ua, "caseworker"),
        owning_agency=cluster.agency(ua, "centre"),
        given_name="Нино",
        family_name="Беридзе",
        born="1994-03-12",
    )
    asked = ok(
        ge.post(f"/api/v1/cases/{ge_case['id']}/linkage-queries/", {"partner": "UA"}, token=ge_token), 201
    )
    assert asked["status"] == "sent"

    def answered() -> dict[str, Any] | None:
        query = ok(ge.get(f"/api/v1/linkage-queries/{asked['id']}/", token=ge_token))
        return query if query["status"] == "answered" else None

    answer = wait_until(answered, what="Ukraine's answer to the linkage query")
    assert answer["candidates"], answer
    best = answer["candidates"][0]
    assert set(best) == {"reference", "score"}
    assert best["reference"] == ua_case["reference"]
    assert best["score"] >= DEFAULT_THRESHOLD
    text = json.dumps(answer, ensure_ascii=False).lower()
    for name in ("ნინო", "ბერიძე", "нино", "беридзе", "nino", "beridze"):
        assert name not in text
    assert "linkage_answered" in timeline_kinds(ge, ge_token, ge_case["id"])
    assert "linkage_partner_match" in timeline_kinds(ua, cluster.token(ua, "caseworker"), ua_case["id"])


def statistics_to_the_hub(cluster: Cluster) -> None:
    ge, ua, md = cluster.ge, cluster.ua, cluster.md
    outputs = parallel(lambda i=i: i.manage("coop_submit_stats") for i in (ge, ua))
    years = sorted(
        {int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("queued ")}
    )
    assert years, outputs
    year = years[-1]
    coordinator = cluster.token(md, "coordinator")

    def both_in() -> dict[str, Any] | None:
        data = ok(md.get(f"/api/v1/coop/hub/?year={year}", token=coordinator))
        versions = {c["code"]: c["version"] for c in data["countries"] if not c["local"]}
        return data if versions.get("GE") and versions.get("UA") else None

    comparison = wait_until(both_in, what="the hub to hold the submissions of Georgia and Ukraine")
    countries = {c["code"]: c for c in comparison["countries"]}
    assert countries["MD"]["local"] is True
    assert countries["GE"]["last_submission"] and countries["UA"]["last_submission"]
    totals = [
        line
        for indicator in comparison["indicators"]
        for line in indicator["lines"]
        if line["period"] == str(year)
    ]
    assert totals
    for line in totals:  # every figure of the year, the three countries side by side
        assert {"MD", "GE", "UA"} <= set(line["figures"])
        for code in ("GE", "UA"):
            assert line["figures"][code]["state"] in ("exact", "noisy", "suppressed"), line
    # Ukraine's own instance is not a hub: it shows no comparison.
    assert ua.get(f"/api/v1/coop/hub/?year={year}", token=cluster.token(ua, "focal")).status == 404


def test_three_instances_cooperate(cluster: Cluster, subtests: pytest.Subtests) -> None:
    for name, scenario in [
        ("referral Georgia to Ukraine end to end", referral_end_to_end),
        ("referral while Ukraine is down arrives exactly once", delivery_while_partner_down),
        ("replayed, tampered, unsigned and unknown messages are refused", refused_messages),
        ("linkage finds a person across Georgian and Cyrillic script", linkage_across_scripts),
        ("statistics submitted to the hub", statistics_to_the_hub),
    ]:
        with subtests.test(name):
            scenario(cluster)
