"""Partners and keys: registration from a card, revocation, and key rotation on both sides, with the commands
administrators run (`coop_keys`, `coop_partner`, `deliver_outbox`)."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import transaction

from opennrm.cooperation import keys, messaging, partners
from opennrm.cooperation.models import (
    DeliveryStatus,
    KeyPurpose,
    OutboxMessage,
    Partner,
    PartnerKey,
    PartnerStatus,
)
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry


@pytest.fixture
def instance(settings: Any, tmp_path: Any) -> Iterator[None]:
    kit.isolate_instance(settings, tmp_path)
    with kit.registered_test_handlers():
        yield


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instance")]


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    extra: dict[str, Any] = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command(*args, stdout=out, **extra)
    return out.getvalue()


def b64(key: Ed25519PrivateKey | X25519PrivateKey) -> str:
    return keys.public_b64(key.public_key())


def loopback(url: str, body: bytes) -> messaging.Response:
    status, answer = messaging.receive(body)
    return messaging.Response(status, json.dumps(answer).encode())


# --- registration -------------------------------------------------------------------------------------


def test_a_partner_is_registered_with_its_keys_and_audited():
    ua = kit.play_partner()
    partner = Partner.objects.get()
    assert (partner.code, partner.country, partner.status) == ("UA", "UA", PartnerStatus.ACTIVE)
    assert set(partner.keys.values_list("purpose", "public_key")) == {
        (KeyPurpose.SIGNING, ua.signing_public),
        (KeyPurpose.ENCRYPTION, ua.encryption_public),
    }
    signing = partner.keys.get(purpose=KeyPurpose.SIGNING)
    assert signing.key_id == ua.seal()["sig_kid"]
    entry = AuditEntry.objects.get(action="coop.partner_registered")
    assert entry.details["partner"] == "UA" and len(entry.details["keys_added"]) == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signing_keys": ["bm90IGEga2V5"]}, "invalid_key"),
        ({"encryption_keys": ["%%%"]}, "invalid_key"),
        ({"signing_keys": []}, "no_keys"),
        ({"encryption_keys": []}, "no_keys"),
        ({"country": "XX"}, "invalid_country"),
        ({"base_url": "ftp://ua.example.org"}, "invalid_url"),
        ({"code": ""}, "invalid_code"),
    ],
)
def test_a_partner_with_invalid_details_is_not_registered(change, code):
    details = {
        "actor": None,
        "code": "UA",
        "country": "UA",
        "name": "NRM UA",
        "base_url": "https://ua.example.org",
        "signing_keys": [b64(Ed25519PrivateKey.generate())],
        "encryption_keys": [b64(X25519PrivateKey.generate())],
    }
    with pytest.raises(DomainError) as refused:
        partners.register_partner(**{**details, **change})
    assert refused.value.code == code
    assert (Partner.objects.count(), PartnerKey.objects.count()) == (0, 0)


def test_a_revoked_partner_cannot_be_registered_again():
    ua = kit.play_partner()
    partners.revoke_partner(actor=None, partner=ua.partner)
    with pytest.raises(DomainError):
        kit.play_partner()
    assert Partner.objects.get().status == PartnerStatus.REVOKED
    assert PartnerKey.objects.count() == 2


def test_the_card_s_active_encryption_key_is_the_one_messages_are_sealed_to():
    old, new = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    card = {
        "code": "UA",
        "country": "UA",
        "url": "https://ua.example.org",
        "signing_keys": [b64(Ed25519PrivateKey.generate())],
        "encryption_keys": [b64(new), b64(old)],  # the active one listed first
        "active_encryption_key": b64(new),
    }
    partner = partners.register_from_card(actor=None, card=card)
    assert messaging._encryption_key(partner) == b64(new)


@pytest.mark.parametrize(
    "card", [{"code": "UA"}, {"code": "UA", "country": "UA", "url": "https://x", "signing_keys": 5}]
)
def test_an_incomplete_card_is_refused(card):
    with pytest.raises(DomainError):
        partners.register_from_card(actor=None, card=card)
    assert Partner.objects.count() == 0


# --- a partner rotates its keys -----------------------------------------------------------------------


def test_a_partner_s_rotated_keys_are_added_and_its_old_key_works_until_revoked():
    ua = kit.play_partner()
    new_signing, new_encryption = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    partners.register_partner(
        actor=None,
        code="UA",
        country="UA",
        name="NRM UA",
        base_url="https://ua.example.org",
        signing_keys=[ua.signing_public, b64(new_signing)],
        encryption_keys=[ua.encryption_public, b64(new_encryption)],
    )
    assert AuditEntry.objects.filter(action="coop.partner_updated").count() == 1
    assert messaging._encryption_key(ua.partner) == b64(new_encryption)

    assert messaging.receive(kit.body(ua.seal()))[0] == 202  # during the change-over, the old key
    assert messaging.receive(kit.body(ua.seal(signing_key=new_signing)))[0] == 202

    old_kid = keys.key_id(keys.raw_public(ua.signing.public_key()))
    run("coop_partner", "revoke-key", "ua", old_kid)

    before = kit.snapshot()
    kit.assert_refused(messaging.receive(kit.body(ua.seal())), before, reason="unknown_key", status=403)
    assert messaging.receive(kit.body(ua.seal(signing_key=new_signing)))[0] == 202
    assert AuditEntry.objects.get(action="coop.partner_key_revoked").details["key_id"] == old_kid


# --- this instance rotates its keys -------------------------------------------------------------------


def test_the_keys_file_is_created_on_first_use_readable_by_the_owner_only(settings):
    assert not Path(settings.OPENNRM_COOP_KEYS_FILE).exists()
    keys.instance_keys()
    mode = stat.S_IMODE(os.stat(settings.OPENNRM_COOP_KEYS_FILE).st_mode)
    assert mode == 0o600


def test_after_rotation_messages_sealed_to_the_old_key_still_open_until_it_is_retired():
    ua = kit.play_partner()
    old_card = keys.public_card()
    old_pair = keys.instance_keys().active
    in_flight = ua.seal(recipient_encryption_key=old_card["active_encryption_key"])
    later = ua.seal(recipient_encryption_key=old_card["active_encryption_key"])

    new_pair = keys.rotate()

    card = keys.public_card()
    assert card["active_encryption_key"] != old_card["active_encryption_key"]
    assert card["encryption_keys"] == [*old_card["encryption_keys"], card["active_encryption_key"]]
    assert messaging.receive(kit.body(in_flight))[0] == 202
    assert messaging.receive(kit.body(ua.seal()))[0] == 202  # sealed to the new key

    with pytest.raises(ValueError, match="active"):
        keys.retire(new_pair.kid)
    keys.retire(old_pair.kid)

    assert keys.public_card()["encryption_keys"] == [card["active_encryption_key"]]
    before = kit.snapshot()
    rejection = kit.assert_refused(
        messaging.receive(kit.body(later)), before, reason="unknown_key", status=403
    )
    assert "does not hold" in rejection.detail


def test_after_rotation_partners_accept_this_instance_once_they_register_its_new_card():
    """The procedure: rotate, hand the new card over; messages wait (403, retried) until the partner adds it."""
    run(
        "coop_partner",
        "add",
        "-",
        "--url",
        "https://ge.example.org",
        stdin=run("coop_keys", "show", "--json"),
    )
    with transaction.atomic():
        message = messaging.send(partner=Partner.objects.get(), type=kit.NOTE, payload={"n": 1})

    assert "New active key pair" in run("coop_keys", "rotate")
    assert messaging.deliver_due(transport=loopback) == 0
    message.refresh_from_db()
    assert (message.status, message.last_error[:8]) == (DeliveryStatus.PENDING, "HTTP 403")
    assert "unknown_key" in message.last_error

    out = run("coop_partner", "add", "-", stdin=run("coop_keys", "show", "--json"))
    assert "registered" in out
    assert messaging.deliver_due(transport=loopback, now=message.next_attempt_at) == 1
    message.refresh_from_db()
    assert message.status == DeliveryStatus.DELIVERED
    assert kit.effects() == 1
    assert AuditEntry.objects.filter(action="coop.keys_rotated").count() == 1


# --- commands -----------------------------------------------------------------------------------------


def test_the_card_printed_by_coop_keys_is_accepted_by_coop_partner_add(settings):
    card = json.loads(run("coop_keys", "show", "--json"))
    assert card["code"] == "GE" and card["url"] == settings.OPENNRM_COOP_URL

    out = run("coop_partner", "add", "-", "--name", "Georgia", "--hub", stdin=json.dumps(card))

    partner = Partner.objects.get()
    assert (partner.code, partner.name, partner.is_hub, partner.base_url) == (
        "GE",
        "Georgia",
        True,
        settings.OPENNRM_COOP_URL,
    )
    assert set(partner.keys.filter(purpose=KeyPurpose.SIGNING).values_list("public_key", flat=True)) == set(
        card["signing_keys"]
    )
    assert messaging._encryption_key(partner) == card["active_encryption_key"]
    assert "Partner GE registered" in out
    assert "GE" in run("coop_partner", "list") and "hub" in run("coop_partner", "list")


def test_coop_partner_add_reads_a_card_file(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(run("coop_keys", "show", "--json"), encoding="utf-8")
    run("coop_partner", "add", str(path), "--url", "https://ge.example.org")
    assert Partner.objects.get().base_url == "https://ge.example.org"


@pytest.mark.parametrize("stdin", ["not json", "[]", '{"code": "GE"}'])
def test_coop_partner_add_refuses_a_bad_card(stdin):
    with pytest.raises(CommandError):
        run("coop_partner", "add", "-", stdin=stdin)
    assert Partner.objects.count() == 0


def test_coop_partner_revoke_refuses_everything_from_then_on():
    ua = kit.play_partner()
    assert "revoked" in run("coop_partner", "revoke", "ua")
    ua.partner.refresh_from_db()
    assert ua.partner.status == PartnerStatus.REVOKED and ua.partner.revoked_at is not None
    assert AuditEntry.objects.get(action="coop.partner_revoked").details == {"partner": "UA"}
    before = kit.snapshot()
    kit.assert_refused(messaging.receive(kit.body(ua.seal())), before, reason="revoked_partner", status=403)
    with pytest.raises(CommandError):
        run("coop_partner", "revoke", "BY")


def test_coop_keys_show_lists_the_pairs_and_retire_removes_an_old_one():
    first = keys.instance_keys().active
    run("coop_keys", "rotate")
    second = keys.instance_keys().active
    out = run("coop_keys", "show")
    lines = {
        pair.kid: next(line for line in out.splitlines() if pair.kid in line) for pair in (first, second)
    }
    assert first.signing_kid in lines[first.kid] and first.encryption_kid in lines[first.kid]
    assert lines[second.kid].endswith("active") and not lines[first.kid].endswith("active")

    with pytest.raises(CommandError):
        run("coop_keys", "retire", second.kid)
    with pytest.raises(CommandError):
        run("coop_keys", "retire", "nosuchkid")
    run("coop_keys", "retire", first.kid)
    assert [p.kid for p in keys.instance_keys().pairs] == [second.kid]
    assert AuditEntry.objects.get(action="coop.keys_retired").details == {"pair": first.kid}


def test_deliver_outbox_command_attempts_what_is_due(settings):
    settings.OPENNRM_COOP_TIMEOUT_SECONDS = 2
    partner = kit.this_instance_as_partner(base_url="http://127.0.0.1:9")  # nothing listens there
    with transaction.atomic():
        messaging.send(partner=partner, type=kit.NOTE, payload={"n": 1})
    assert run("deliver_outbox").strip() == "delivered 0"
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (DeliveryStatus.PENDING, 1)
