"""Helpers for tests of the message layer: a partner instance played by the test (its own real keys, registered
here through `partners.register_partner`), this instance's keys in a file of the test's own, and two tiny message
types whose handlers leave an effect a test can count.

Nothing here creates data on import; tests ask for what they need."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from opennrm.cooperation import envelope, keys, messaging, partners
from opennrm.cooperation.models import InboxMessage, Partner, Rejection
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry

HERE = "GE"  # this instance's identity in these tests (OPENNRM_COOP_ID)

# Test-only message types (the column holds 24 characters; the registry accepts any string).
NOTE = "test_note"
REFUSE = "test_refuse"
NOTE_HANDLED = "coop.test_note_handled"
REFUSE_HANDLED = "coop.test_refuse_started"


def isolate_instance(settings: Any, tmp_path: Path) -> None:
    """This instance's keys in a file of the test's own (tests rotate and retire keys), identity GE."""
    settings.OPENNRM_COOP_ID = HERE
    settings.OPENNRM_COOP_KEYS_FILE = str(tmp_path / "cooperation_keys.json")


def _note(message: InboxMessage, payload: Any) -> None:
    audit.record(actor=None, action=NOTE_HANDLED, target=message, details={"n": int(payload.get("n", 0))})


def _refuse(message: InboxMessage, payload: Any) -> None:
    # An effect first, then the refusal: the inbox must roll both back.
    audit.record(actor=None, action=REFUSE_HANDLED, target=message)
    raise DomainError("This test message is refused.", code="test")


@contextmanager
def registered_test_handlers() -> Iterator[None]:
    """Register the test message types for the duration of a test, then restore the registry as it was."""
    saved = dict(messaging._handlers)
    messaging.register_handler(NOTE, _note)
    messaging.register_handler(REFUSE, _refuse)
    try:
        yield
    finally:
        messaging._handlers.clear()
        messaging._handlers.update(saved)


def effects() -> int:
    """How many times a test handler acted (committed)."""
    return AuditEntry.objects.filter(action__in=[NOTE_HANDLED, REFUSE_HANDLED]).count()


@dataclass
class PlayedPartner:
    """A partner instance played by the test, with real Ed25519 and X25519 private keys."""

    code: str
    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey
    partner: Partner

    def seal(
        self,
        *,
        type: str = NOTE,
        payload: Any = None,
        message_id: uuid.UUID | None = None,
        sent_at: dt.datetime | None = None,
        recipient: str = HERE,
        recipient_encryption_key: str | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        return envelope.seal(
            message_id=message_id or uuid.uuid4(),
            sender=self.code,
            signing_key=signing_key or self.signing,
            recipient=recipient,
            recipient_encryption_key=recipient_encryption_key or keys.public_card()["active_encryption_key"],
            type=type,
            payload={"n": 1} if payload is None else payload,
            sent_at=sent_at,
        )

    def resign(self, sealed: dict[str, Any], signing_key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        """The envelope with its signature made again (by the partner, or by `signing_key`) over its content."""
        signer = signing_key or self.signing
        unsigned = {k: v for k, v in sealed.items() if k != "sig"}
        unsigned["sig_kid"] = keys.key_id(keys.raw_public(signer.public_key()))
        return {**unsigned, "sig": keys.b64e(signer.sign(envelope.canonical(unsigned)))}

    @property
    def signing_public(self) -> str:
        return keys.public_b64(self.signing.public_key())

    @property
    def encryption_public(self) -> str:
        return keys.public_b64(self.encryption.public_key())


def play_partner(
    code: str = "UA", country: str = "UA", base_url: str = "https://ua.example.org"
) -> PlayedPartner:
    signing = Ed25519PrivateKey.generate()
    encryption = X25519PrivateKey.generate()
    partner = partners.register_partner(
        actor=None,
        code=code,
        country=country,
        name=f"NRM {code}",
        base_url=base_url,
        signing_keys=[keys.public_b64(signing.public_key())],
        encryption_keys=[keys.public_b64(encryption.public_key())],
    )
    return PlayedPartner(code=code, signing=signing, encryption=encryption, partner=partner)


def this_instance_as_partner(base_url: str = "https://ge.example.org") -> Partner:
    """This very instance registered as its own partner (from its own card): what it sends, it receives."""
    card = {**keys.public_card(), "url": base_url}
    return partners.register_from_card(actor=None, card=card)


def body(sealed: dict[str, Any]) -> bytes:
    return envelope.canonical(sealed)


@dataclass(frozen=True)
class Snapshot:
    inbox: int
    effects: int
    rejections: int


def snapshot() -> Snapshot:
    return Snapshot(InboxMessage.objects.count(), effects(), Rejection.objects.count())


def assert_refused(
    answer: tuple[int, dict[str, str]], before: Snapshot, *, reason: str, status: int
) -> Rejection:
    """The inbox refused with `reason` and `status`, recorded the refusal, and changed nothing else."""
    code, json_answer = answer
    assert (code, json_answer["status"], json_answer["reason"]) == (status, "refused", reason)
    after = snapshot()
    assert (after.inbox, after.effects) == (before.inbox, before.effects)
    assert after.rejections == before.rejections + 1
    rejection = Rejection.objects.order_by("-pk").first()
    assert rejection is not None and rejection.reason == reason
    return rejection


def incoming_referral_payload(
    given_name: str = "Olena", family_name: str = "Kovalenko", **changes: Any
) -> dict[str, Any]:
    """A referral as UA sends it to GE: the minimal subset, with the proof of consent to sharing with Georgia.
    `changes` replace whole top-level keys."""
    payload: dict[str, Any] = {
        "referral_id": str(uuid.uuid4()),
        "sender_reference": "UA-2026-00042",
        "sender_agency": "Kyiv city social service",
        "person": {
            "given_name": given_name,
            "family_name": family_name,
            "date_of_birth": "1990-02-01",
            "sex": "feminine",
            "citizenship": "UA",
            "languages": ["uk", "ru"],
        },
        "case": {
            "is_child": False,
            "age_group": "30-38",
            "exploitation_forms": ["forced_labour"],
            "exploitation_country": "GE",
            "first_contact_date": "2026-01-10",
            "trafficking_status": "possible_victim_of_trafficking",
        },
        "screening": None,
        "services_needed": ["accommodation", "medical"],
        "planned_arrival": None,
        "consent": {
            "id": "ua-consent-1",
            "purpose": "cross_border",
            "country": "GE",
            "basis": "consent",
            "recorded_at": "2026-01-10T10:00:00+00:00",
            "recorded_by_agency": "Kyiv city social service",
        },
        "note": "Arrives by bus at the Sarpi crossing.",
    }
    payload.update(changes)
    return payload
