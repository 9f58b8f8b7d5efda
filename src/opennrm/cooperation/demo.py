"""Demo cross-border cooperation for the Georgian demo of `load_demo` (generated people, never real ones).

What it adds, each through the same services and the same inbox as the real thing:

1. **Record linkage on.** Without a secret, one is generated for this demo instance (as `coop_linkage_secret
   generate` does, never printed) and every person is encoded (as `coop_linkage_reindex` does). The demo cases
   are all owned by the State Fund, so the duplicates page (different agencies) would be empty: a few people are
   referred a second time, by another agency that runs its own case, in another script or with a typo
   (`refer_person`), unless such a pair already exists.
2. **Two demo partners**, UA and MD, at http://127.0.0.1:8001 and :8002, with key pairs generated here in memory
   and forgotten afterwards: nothing runs there (docs/cooperation.md, "Trying it locally", shows how to start a
   real second instance and re-register it).
3. **Incoming referrals.** With the partners' private keys still in memory, three referrals are sealed as the
   partner would seal them and posted to this instance's real inbox (`messaging.receive`). The focal point has
   accepted one (`transnational.accept_referral`): its answer waits in the outbox for UA, which is not running,
   and the outbox retries it with back-off (at most hourly, logged at info level).
4. **Outgoing:** one case with a standing cross-border consent for UA is referred there (`send_referral`).
5. **Linkage:** one case's person is asked about at UA (`query_partner`), waiting for an answer.

Idempotent: the secret and the encodings are made only when missing; everything else only when no demo partner is
registered yet, in one transaction. Does nothing on an instance that is not the Georgian demo with cases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.management.commands.load_demo import build_demo
from opennrm.accounts.models import Agency, User
from opennrm.cases import choices
from opennrm.cases import screening as instruments
from opennrm.cases.choices import CaseStatus, ConsentPurpose, TraffickingStatus
from opennrm.cases.models import Case, Consent, Person
from opennrm.cases.services import IntakeData, has_consent, record_consent, refer_person
from opennrm.cooperation import envelope, keys, linkage_service, messaging, partners, transnational
from opennrm.cooperation.linkage.encoding import EncodedSet, Encoding
from opennrm.cooperation.linkage.matching import DEFAULT_THRESHOLD, deduplicate
from opennrm.cooperation.models import (
    Direction,
    LinkageEncoding,
    MessageType,
    Partner,
    TransnationalReferral,
)
from opennrm.core import audit
from opennrm.core.models import Alert
from opennrm.core.profiles import active_profile

# The demo partners: code, name, address (nothing listens there unless started by hand).
PARTNERS = {
    "UA": ("Ukraine (demo partner)", "http://127.0.0.1:8001"),
    "MD": ("Moldova (demo partner)", "http://127.0.0.1:8002"),
}
FOCAL_POINT = "focalpoint"  # the national focal point of load_demo (State Fund, national scope)
# Names every demo id is derived from: the same demo always has the same referral ids.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://opennrm.example/demo/cooperation")


# --- 1. record linkage ----------------------------------------------------------------------------------------


def _install_linkage() -> bool:
    """A secret for this demo instance when none is installed, and an encoding for everyone who lacks one.
    False when a secret file is there but cannot be read (linkage stays off: the administrator's to fix)."""
    if not linkage_service.secret_path().exists():
        generated = linkage_service.write_secret(linkage_service.new_secret())
        audit.record(
            actor=None,
            action="coop.linkage_secret_generated",
            details={"fingerprint": generated, "replaced": "", "demo": True},
        )
    fp = linkage_service.current_fingerprint()
    if fp is None:
        return False
    if Person.objects.exclude(linkage_encoding__secret_id=fp).exists():
        linkage_service.reindex(stale_only=True)
    return True


def cross_agency_duplicates() -> int:
    """Pairs of people with cases owned by different agencies who are probably the same person: the comparison of
    the duplicates page, without its audit entry (nobody looked)."""
    fp = linkage_service.current_fingerprint()
    rows = list(
        LinkageEncoding.objects.filter(secret_id=fp)
        .filter(Exists(Case.objects.filter(person_id=OuterRef("person_id"))))
        .values_list("person_id", "bits", "block")
    )
    if len(rows) < 2:
        return 0
    known = EncodedSet.from_encodings([Encoding(bits=bytes(bits), block=block) for _p, bits, block in rows])
    owners: dict[int, set[int]] = {}
    for person_id, agency_id in Case.objects.values_list("person_id", "owning_agency_id"):
        owners.setdefault(person_id, set()).add(agency_id)
    pairs = deduplicate(known, threshold=DEFAULT_THRESHOLD)
    return sum(1 for m in pairs if owners[rows[m.left][0]] != owners[rows[m.right][0]])


@dataclass(frozen=True)
class _Seen:
    """One sighting of a person: who filed it, which agency runs the case, the name as that agency wrote it."""

    filer: str
    referring: str
    owning: str
    given: str
    family: str
    days_ago: int
    region: str
    narrative: str


# The same person twice: another script, or a typo; the same date of birth and sex.
DUPLICATES: tuple[tuple[dict[str, Any], _Seen, _Seen], ...] = (
    (
        {
            "date_of_birth": dt.date(1996, 4, 12),
            "sex": "feminine",
            "citizenship": "GE",
            "languages": ["ka"],
            "forms": ["sexual_exploitation"],
            "country": "TR",
        },
        _Seen(
            "responder",
            "police",
            "fund",
            "Khatia",
            "Tsiklauri",
            60,
            "GE-TB",
            "Returned from Turkey after a job offer as a waitress; documents were taken on arrival.",
        ),
        _Seen(
            "counsellor",
            "ngo_kutaisi",
            "ngo_kutaisi",
            "ხატია",
            "წიკლაური",
            12,
            "GE-IM",
            "Came to the centre on her own; worked in a bar in Turkey to repay a 'travel debt'.",
        ),
    ),
    (
        {
            "date_of_birth": dt.date(1988, 11, 3),
            "sex": "masculine",
            "citizenship": "GE",
            "languages": ["ka", "ru"],
            "forms": ["forced_labour"],
            "country": "GE",
        },
        _Seen(
            "inspector",
            "labour",
            "fund",
            "Lasha",
            "Nadiradze",
            45,
            "GE-AJ",
            "Found at a construction site in Batumi; wages unpaid for five months.",
        ),
        _Seen(
            "outreach",
            "ngo_batumi",
            "ngo_batumi",
            "Lasha",
            "Nadiradse",
            8,
            "GE-AJ",
            "Met during outreach at the port; says the foreman still holds his ID card.",
        ),
    ),
    (
        {
            "date_of_birth": dt.date(1993, 7, 21),
            "sex": "feminine",
            "citizenship": "UA",
            "languages": ["uk", "ru"],
            "forms": ["servitude"],
            "country": "GE",
        },
        _Seen(
            "lawyer",
            "ngo_legal",
            "ngo_legal",
            "Оксана",
            "Мельник",
            30,
            "GE-TB",
            "Live-in domestic worker in Tbilisi; not allowed to leave the house alone.",
        ),
        _Seen(
            "migration",
            "iom",
            "iom",
            "Oksana",
            "Melnyk",
            5,
            "GE-TB",
            "Asked for help to return to Ukraine; passport held by the employer.",
        ),
    ),
)


def _add_duplicates(agencies: dict[str, Agency], users: dict[str, User]) -> int:
    made = 0
    today = timezone.localdate()
    for person, *seen in DUPLICATES:
        for sighting in seen:
            refer_person(
                actor=users[sighting.filer],
                referring_agency=agencies[sighting.referring],
                owning_agency=agencies[sighting.owning],
                data=IntakeData(
                    given_name=sighting.given,
                    family_name=sighting.family,
                    date_of_birth=person["date_of_birth"],
                    sex=person["sex"],
                    citizenship=person["citizenship"],
                    languages=person["languages"],
                    first_contact_date=today - dt.timedelta(days=sighting.days_ago),
                    region=sighting.region,
                    exploitation_forms=person["forms"],
                    exploitation_country=person["country"],
                    narrative=sighting.narrative,
                ),
                consent_given=True,
            )
            made += 1
    return made


# --- 2. partners --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Played:
    partner: Partner
    signing: Ed25519PrivateKey


def _register_partners() -> dict[str, _Played]:
    played = {}
    for code, (name, url) in PARTNERS.items():
        signing, encryption = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
        partner = partners.register_partner(
            actor=None,
            code=code,
            country=code,
            name=name,
            base_url=url,
            signing_keys=[keys.public_b64(signing.public_key())],
            encryption_keys=[keys.public_b64(encryption.public_key())],
        )
        played[code] = _Played(partner=partner, signing=signing)
    return played


# --- 3. incoming referrals ----------------------------------------------------------------------------------

SENDER_AGENCY = {
    "UA": "Ministry of Social Policy of Ukraine, national coordinator (demo)",
    "MD": "National Agency for Social Assistance, Moldova (demo)",
}


@dataclass(frozen=True)
class _Incoming:
    key: str  # names the referral id
    sender: str
    number: int  # the partner's case number
    given: str
    family: str
    born: dt.date
    sex: str
    citizenship: str
    languages: tuple[str, ...]
    forms: tuple[str, ...]
    exploited_in: str
    contact_days_ago: int
    services: tuple[str, ...]
    arrives_in_days: int | None
    note: str
    screened: bool
    accept_into: str = ""  # the region of the local case when the focal point accepted it


INCOMING: tuple[_Incoming, ...] = (
    _Incoming(
        key="ua-1",
        sender="UA",
        number=412,
        given="Мзія",  # a Georgian name as the Ukrainian instance wrote it
        family="Чхаїдзе",
        born=dt.date(1991, 2, 8),
        sex="feminine",
        citizenship="GE",
        languages=("ka", "ru"),
        forms=("forced_labour",),
        exploited_in="UA",
        contact_days_ago=26,
        services=("safe_return", "reintegration", "psychological"),
        arrives_in_days=9,
        note="Flies to Tbilisi; we will confirm the flight. She asks to be met by a woman.",
        screened=True,
        accept_into="GE-IM",
    ),
    _Incoming(
        key="ua-2",
        sender="UA",
        number=437,
        given="Світлана",
        family="Бондаренко",
        born=dt.date(1985, 9, 30),
        sex="feminine",
        citizenship="UA",
        languages=("uk", "ru"),
        forms=("sexual_exploitation",),
        exploited_in="PL",
        contact_days_ago=11,
        services=("accommodation", "medical", "interpretation", "legal"),
        arrives_in_days=14,
        note="Will stay near her sister in Batumi; speaks no Georgian.",
        screened=False,
    ),
    _Incoming(
        key="md-1",
        sender="MD",
        number=58,
        given="Giorgi",
        family="Kiknadze",
        born=dt.date(1979, 12, 14),
        sex="masculine",
        citizenship="GE",
        languages=("ka", "ru"),
        forms=("forced_labour",),
        exploited_in="MD",
        contact_days_ago=6,
        services=("documents", "safe_return", "legal"),
        arrives_in_days=None,
        note="Has no passport: travel documents are needed before a date can be set.",
        screened=True,
    ),
)


def referral_id(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"referral/{key}")


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def incoming_payload(item: _Incoming) -> dict[str, Any]:
    """What the partner's `build_referral_payload` would have sent: exactly `transnational.PAYLOAD_FIELDS`."""
    today = timezone.localdate()
    contact = today - dt.timedelta(days=item.contact_days_ago)
    age = _age(item.born, contact)
    screening = None
    if item.screened:
        instrument = instruments.latest("ilo_ec_delphi_2009")
        screening = {
            "instrument": instrument.id,
            "version": instrument.version,
            "digest": instrument.digest,
            "conclusion": "presumed_victim",
            "date": (contact + dt.timedelta(days=2)).isoformat(),
        }
    consented = timezone.now() - dt.timedelta(days=max(item.contact_days_ago - 3, 1))
    return {
        "referral_id": str(referral_id(item.key)),
        "sender_reference": f"{item.sender}-{contact.year}-{item.number:05d}",
        "sender_agency": SENDER_AGENCY[item.sender],
        "person": {
            "given_name": item.given,
            "family_name": item.family,
            "date_of_birth": item.born.isoformat(),
            "sex": item.sex,
            "citizenship": item.citizenship,
            "languages": list(item.languages),
        },
        "case": {
            "is_child": age < 18,
            "age_group": choices.age_group(age).value,
            "exploitation_forms": list(item.forms),
            "exploitation_country": item.exploited_in,
            "first_contact_date": contact.isoformat(),
            "trafficking_status": TraffickingStatus.POSSIBLE.value,
        },
        "screening": screening,
        "services_needed": list(item.services),
        "planned_arrival": (today + dt.timedelta(days=item.arrives_in_days)).isoformat()
        if item.arrives_in_days is not None
        else None,
        "consent": {
            "id": str(uuid.uuid5(NAMESPACE, f"consent/{item.key}")),
            "purpose": ConsentPurpose.CROSS_BORDER.value,
            "country": settings.OPENNRM_COUNTRY,
            "basis": "consent",
            "recorded_at": consented.isoformat(),
            "recorded_by_agency": SENDER_AGENCY[item.sender],
        },
        "note": item.note,
    }


def _post_to_inbox(played: _Played, type: MessageType, payload: dict[str, Any]) -> None:
    """Seal as the partner (its signing key, this instance's public encryption key) and post to the real inbox."""
    sealed = envelope.seal(
        message_id=uuid.uuid4(),
        sender=played.partner.code,
        signing_key=played.signing,
        recipient=settings.OPENNRM_COOP_ID,
        recipient_encryption_key=keys.public_card()["active_encryption_key"],
        type=type,
        payload=payload,
    )
    status, answer = messaging.receive(envelope.canonical(sealed), remote_addr="127.0.0.1")
    if status != 202:
        raise RuntimeError(f"the inbox refused a demo message from {played.partner.code}: {answer}")


def _receive_referrals(played: dict[str, _Played], agencies: dict[str, Agency], focal: User) -> int:
    made = 0
    for item in INCOMING:
        if TransnationalReferral.objects.filter(
            referral_id=referral_id(item.key), direction=Direction.INCOMING
        ).exists():
            continue
        _post_to_inbox(played[item.sender], MessageType.REFERRAL, incoming_payload(item))
        made += 1
        if not item.accept_into:
            continue
        referral = TransnationalReferral.objects.get(
            referral_id=referral_id(item.key), direction=Direction.INCOMING
        )
        transnational.accept_referral(
            actor=focal, referral=referral, owning_agency=agencies["fund"], region=item.accept_into
        )
        # The focal point answered from the alert: it is read.
        url = reverse("coop:transnational_detail", kwargs={"public_id": referral.public_id})
        Alert.objects.filter(recipient=focal, url=url, read_at__isnull=True).update(read_at=timezone.now())
    return made


# --- 4. and 5. outgoing: a referral and a record-linkage question ---------------------------------------------


def _run_cases(citizenship: str) -> list[Case]:
    """Open cases the cases demo lived (each has its case worker), of people of a citizenship, newest first."""
    return list(
        Case.objects.exclude(status=CaseStatus.CLOSED)
        .filter(
            person__citizenship=citizenship,
            case_worker__isnull=False,
            transnational_referrals__isnull=True,
        )
        .select_related("person", "case_worker")
        .order_by("-created_at", "-pk")
    )


def _worker(case: Case) -> User:
    assert case.case_worker is not None  # see _run_cases
    return case.case_worker


def _refer_to_ukraine(ukraine: Partner) -> Case | None:
    """A case whose person consented to sharing with Ukraine (the demo cases record such consents), preferably a
    Ukrainian going home; failing that, an open case of a Ukrainian whose consent the case worker records now."""
    consented = (
        Consent.objects.filter(
            purpose=ConsentPurpose.CROSS_BORDER, country="UA", given=True, withdrawn_at__isnull=True
        )
        .exclude(case__status=CaseStatus.CLOSED)
        .filter(case__case_worker__isnull=False)
        .select_related("case__person", "case__case_worker")
        .order_by("-created_at", "-pk")
    )
    cases = [c.case for c in consented]
    cases.sort(key=lambda c: c.person.citizenship != "UA")  # stable: Ukrainians first, newest first
    case = cases[0] if cases else next(iter(_run_cases("UA") or _run_cases("GE")), None)
    if case is None:
        return None
    worker = _worker(case)
    if has_consent(case, ConsentPurpose.CROSS_BORDER, country="UA") is None:
        record_consent(actor=worker, case=case, purpose=ConsentPurpose.CROSS_BORDER, given=True, country="UA")
    transnational.send_referral(
        actor=worker,
        case=case,
        partner=ukraine,
        services=["safe_return", "reintegration", "medical"],
        planned_arrival=timezone.localdate() + dt.timedelta(days=21),
        note_for_partner="Travels by bus via Turkey; an IOM escort is arranged to the border.",
    )
    return case


def _ask_ukraine(ukraine: Partner, exclude: Case | None) -> bool:
    """Is the person of a case (preferably a Ukrainian) known in Ukraine? Only the encodings leave."""
    candidates = [c for c in _run_cases("UA") + _run_cases("GE") if c != exclude]
    if not candidates:
        return False
    case = candidates[0]
    linkage_service.query_partner(actor=_worker(case), case=case, partner=ukraine)
    return True


# --- the builder ------------------------------------------------------------------------------------------


def build_demo_cooperation() -> int:
    """Add the demo's cross-border cooperation (see the module's docstring); returns how many demo records were
    made (cases, partners, referrals, questions), 0 when it was already there or the instance is not the Georgian
    demo with cases."""
    if active_profile().code != "GE" or settings.OPENNRM_COOP_ID in PARTNERS or not Case.objects.exists():
        return 0
    linkage = _install_linkage()
    if Partner.objects.filter(code__in=PARTNERS).exists():
        return 0
    with transaction.atomic():
        agencies = build_demo()
        filers = {sighting.filer for _person, *seen in DUPLICATES for sighting in seen}
        users = {u.username: u for u in User.objects.filter(username__in=[*filers, FOCAL_POINT])}
        made = 0
        if linkage and cross_agency_duplicates() == 0:
            made += _add_duplicates(agencies, users)
        played = _register_partners()
        made += len(played)
        made += _receive_referrals(played, agencies, users[FOCAL_POINT])
        ukraine = played["UA"].partner
        referred = _refer_to_ukraine(ukraine)
        made += int(referred is not None)
        if linkage:
            made += int(_ask_ukraine(ukraine, exclude=referred))
    return made
