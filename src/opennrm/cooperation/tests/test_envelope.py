"""The inbox's door: what a partner's envelope must be to be accepted, and that a refused one changes nothing.

Real crypto, real database: the partner is played by the test with its own keys, registered like any partner.
Each refusal checks the answer, the recorded reason, and that no inbox row and no handler effect appeared."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from opennrm.cooperation import envelope, keys, messaging, partners
from opennrm.cooperation.models import InboxMessage, KeyPurpose, PartnerKey, Rejection
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.models import AuditEntry

INBOX = "/coop/v1/inbox"


@pytest.fixture
def instance(settings: Any, tmp_path: Any) -> Iterator[None]:
    kit.isolate_instance(settings, tmp_path)
    with kit.registered_test_handlers():
        yield


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instance")]


def post(raw: bytes) -> tuple[int, dict[str, str]]:
    """Through the real endpoint, with no session: the signature is the only authentication."""
    response = Client().post(INBOX, data=raw, content_type="application/json")
    return response.status_code, response.json()


def receive(sealed: dict[str, Any]) -> tuple[int, dict[str, str]]:
    return messaging.receive(kit.body(sealed), remote_addr="192.0.2.7")


# --- accepted -----------------------------------------------------------------------------------------


def test_a_sealed_message_is_accepted_over_http_and_acts_once():
    ua = kit.play_partner()
    sealed = ua.seal(payload={"n": 7})
    before = kit.snapshot()

    status, answer = post(kit.body(sealed))

    assert (status, answer) == (202, {"status": "accepted", "message_id": sealed["id"]})
    message = InboxMessage.objects.get()
    assert (str(message.message_id), message.partner, message.type) == (sealed["id"], ua.partner, kit.NOTE)
    assert message.payload == {"n": 7}
    assert kit.effects() == before.effects + 1
    assert AuditEntry.objects.get(action=kit.NOTE_HANDLED).details == {"n": 7}
    received = AuditEntry.objects.get(action="coop.message_received")
    assert received.details == {"type": kit.NOTE, "partner": "UA", "message_id": sealed["id"]}
    assert Rejection.objects.count() == before.rejections


def test_the_payload_is_not_readable_in_the_envelope():
    ua = kit.play_partner()
    sealed = ua.seal(payload={"given_name": "Nino Beridze"})
    assert "Nino" not in kit.body(sealed).decode()
    assert receive(sealed)[0] == 202
    assert InboxMessage.objects.get().payload == {"given_name": "Nino Beridze"}


# --- replay and idempotency ---------------------------------------------------------------------------


def test_the_same_message_delivered_again_is_answered_409_and_acts_once():
    """The outbox re-seals a retried message (new time, new signature, same id) when an answer was lost."""
    ua = kit.play_partner()
    message_id = uuid.uuid4()
    assert post(kit.body(ua.seal(message_id=message_id)))[0] == 202
    before = kit.snapshot()

    again = ua.seal(message_id=message_id, payload={"n": 2})
    rejection = kit.assert_refused(post(kit.body(again)), before, reason="replayed", status=409)

    assert rejection.claimed_message_id == str(message_id) and rejection.claimed_sender == "UA"
    assert InboxMessage.objects.get().payload == {"n": 1}  # the first one stands


def test_replayed_envelope_bytes_are_answered_409():
    ua = kit.play_partner()
    raw = kit.body(ua.seal())
    assert receive(json.loads(raw))[0] == 202
    before = kit.snapshot()
    kit.assert_refused(messaging.receive(raw), before, reason="replayed", status=409)


def test_a_message_id_another_partner_used_is_refused_without_claiming_delivery():
    """A 409 tells the sender its message arrived; an id first used by another partner must not get one."""
    ua, md = kit.play_partner(), kit.play_partner("MD", "MD")
    message_id = uuid.uuid4()
    assert receive(ua.seal(message_id=message_id))[0] == 202
    before = kit.snapshot()
    kit.assert_refused(receive(md.seal(message_id=message_id)), before, reason="id_conflict", status=422)
    assert InboxMessage.objects.get().partner == ua.partner


# --- tampering ----------------------------------------------------------------------------------------


def test_a_tampered_ciphertext_is_refused():
    ua = kit.play_partner()
    sealed = ua.seal()
    ct = bytearray(keys.b64d(sealed["enc"]["ct"]))
    ct[0] ^= 1
    sealed["enc"] = {**sealed["enc"], "ct": keys.b64e(bytes(ct))}
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="bad_signature", status=403)


def test_a_payload_moved_into_another_envelope_does_not_decrypt_even_when_signed():
    """The header is the ciphertext's associated data: a sender (or anyone holding its key) cannot lift a
    payload sealed for one message into another, even with a valid signature."""
    ua = kit.play_partner()
    original = ua.seal(type=kit.NOTE)
    moved = ua.resign({**ua.seal(type=kit.NOTE), "enc": original["enc"]})
    before = kit.snapshot()
    kit.assert_refused(receive(moved), before, reason="undecryptable", status=403)


def test_a_corrupted_ciphertext_signed_by_the_sender_does_not_decrypt():
    ua = kit.play_partner()
    sealed = ua.seal()
    ct = bytearray(keys.b64d(sealed["enc"]["ct"]))
    ct[-1] ^= 1
    corrupted = ua.resign({**sealed, "enc": {**sealed["enc"], "ct": keys.b64e(bytes(ct))}})
    before = kit.snapshot()
    kit.assert_refused(receive(corrupted), before, reason="undecryptable", status=403)


@pytest.mark.parametrize(
    "field",
    ["type", "recipient", "sent_at", "id", "enc_kid"],
)
def test_a_tampered_header_field_breaks_the_signature(field):
    ua = kit.play_partner()
    if field == "recipient":
        # Sealed for Moldova, redirected here: the recipient is signed.
        sealed = ua.seal(recipient="MD")
        sealed["recipient"] = "GE"
    else:
        sealed = ua.seal(type=kit.NOTE)
        if field == "type":
            sealed["type"] = kit.REFUSE
        elif field == "sent_at":
            sealed["sent_at"] = envelope._iso(timezone.now() - dt.timedelta(seconds=1))
        elif field == "id":
            sealed["id"] = str(uuid.uuid4())  # would slip past the replay check
        else:
            sealed["enc"] = {**sealed["enc"], "kid": "0" * 16}
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="bad_signature", status=403)


@pytest.mark.parametrize("missing", [("sig",), ("sig", "sig_kid")])
def test_an_unsigned_envelope_is_refused(missing):
    ua = kit.play_partner()
    sealed = {k: v for k, v in ua.seal().items() if k not in missing}
    before = kit.snapshot()
    kit.assert_refused(post(kit.body(sealed)), before, reason="unsigned", status=400)


def test_a_signature_by_an_unregistered_key_is_refused():
    ua = kit.play_partner()
    sealed = ua.seal(signing_key=Ed25519PrivateKey.generate())
    before = kit.snapshot()
    rejection = kit.assert_refused(post(kit.body(sealed)), before, reason="unknown_key", status=403)
    assert rejection.remote_addr == "127.0.0.1"


def test_a_signature_by_another_registered_partner_is_refused():
    """Moldova's registered key does not sign for Ukraine."""
    ua, md = kit.play_partner(), kit.play_partner("MD", "MD")
    sealed = ua.seal(signing_key=md.signing)
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="unknown_key", status=403)


def test_a_forged_signature_under_a_registered_key_id_is_refused():
    """An attacker's own signature labelled with the partner's key id does not verify."""
    ua = kit.play_partner()
    forged = {**ua.resign(ua.seal(), Ed25519PrivateKey.generate()), "sig_kid": ua.seal()["sig_kid"]}
    before = kit.snapshot()
    kit.assert_refused(receive(forged), before, reason="bad_signature", status=403)


# --- who may send -------------------------------------------------------------------------------------


def test_an_unknown_partner_is_refused():
    ua = kit.play_partner()
    stranger = kit.PlayedPartner(
        code="BY", signing=Ed25519PrivateKey.generate(), encryption=ua.encryption, partner=ua.partner
    )
    before = kit.snapshot()
    kit.assert_refused(post(kit.body(stranger.seal())), before, reason="unknown_partner", status=403)


def test_a_revoked_partner_is_refused():
    ua = kit.play_partner()
    partners.revoke_partner(actor=None, partner=ua.partner)
    before = kit.snapshot()
    kit.assert_refused(receive(ua.seal()), before, reason="revoked_partner", status=403)


def test_a_revoked_signing_key_is_refused():
    ua = kit.play_partner()
    key = PartnerKey.objects.get(partner=ua.partner, purpose=KeyPurpose.SIGNING)
    partners.revoke_key(actor=None, key=key)
    before = kit.snapshot()
    kit.assert_refused(receive(ua.seal()), before, reason="unknown_key", status=403)


def test_a_message_for_another_instance_is_refused():
    ua = kit.play_partner()
    before = kit.snapshot()
    kit.assert_refused(receive(ua.seal(recipient="MD")), before, reason="wrong_recipient", status=403)


# --- time ---------------------------------------------------------------------------------------------


def test_a_message_older_than_the_maximum_age_is_refused(settings):
    ua = kit.play_partner()
    age = settings.OPENNRM_COOP_MAX_AGE_SECONDS + 60
    sealed = ua.seal(sent_at=timezone.now() - dt.timedelta(seconds=age))
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="too_old", status=403)


def test_a_message_from_the_future_beyond_the_clock_skew_is_refused(settings):
    ua = kit.play_partner()
    ahead = settings.OPENNRM_COOP_CLOCK_SKEW_SECONDS + 60
    sealed = ua.seal(sent_at=timezone.now() + dt.timedelta(seconds=ahead))
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="from_future", status=403)


def test_a_message_within_the_tolerances_is_accepted(settings):
    ua = kit.play_partner()
    behind = ua.seal(
        sent_at=timezone.now() - dt.timedelta(seconds=settings.OPENNRM_COOP_MAX_AGE_SECONDS - 60)
    )
    ahead = ua.seal(
        sent_at=timezone.now() + dt.timedelta(seconds=settings.OPENNRM_COOP_CLOCK_SKEW_SECONDS - 60)
    )
    assert (receive(behind)[0], receive(ahead)[0]) == (202, 202)
    assert kit.effects() == 2


# --- content ------------------------------------------------------------------------------------------


def test_a_handler_refusing_the_content_leaves_nothing_behind():
    ua = kit.play_partner()
    sealed = ua.seal(type=kit.REFUSE)
    before = kit.snapshot()

    rejection = kit.assert_refused(post(kit.body(sealed)), before, reason="invalid_content", status=422)

    assert not InboxMessage.objects.filter(message_id=sealed["id"]).exists()
    assert not AuditEntry.objects.filter(action__in=[kit.REFUSE_HANDLED, "coop.message_received"]).exists()
    assert "refused" in rejection.detail


def test_a_message_of_a_type_nobody_handles_is_refused():
    ua = kit.play_partner()
    before = kit.snapshot()
    kit.assert_refused(receive(ua.seal(type="no_such_type")), before, reason="unknown_type", status=422)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", "\u10d0".encode("utf-16"), b""])
def test_a_body_that_is_not_a_json_object_is_answered_400(raw):
    before = kit.snapshot()
    kit.assert_refused(post(raw), before, reason="malformed", status=400)


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", ["test_note"]), ("v", True), ("id", "not-a-uuid"), ("sender", {"code": "UA"}), ("enc", "x")],
)
def test_a_header_of_the_wrong_shape_is_answered_400_even_when_signed(field, value):
    ua = kit.play_partner()
    sealed = ua.resign({**ua.seal(), field: value})
    before = kit.snapshot()
    kit.assert_refused(receive(sealed), before, reason="malformed", status=400)


def test_the_inbox_takes_only_posts():
    assert Client().get(INBOX).status_code == 405


# --- what the log says -------------------------------------------------------------------------------

from opennrm.core.tests.test_security import json_log  # noqa: E402,F401  (the configured JSON log, as a fixture)


def test_a_refusal_is_logged_with_its_reason_and_sender_never_the_payload(json_log):  # noqa: F811
    ua = kit.play_partner()
    sealed = ua.seal(payload={"given_name": "Nino Beridze"})
    sealed["type"] = kit.REFUSE  # a header changed after signing

    assert receive(sealed)[0] == 403

    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if "coop message refused" in line]
    assert len(lines) == 1
    assert (lines[0]["reason"], lines[0]["sender"], lines[0]["message_id"]) == (
        "bad_signature",
        "UA",
        sealed["id"],
    )
    assert "Nino" not in json_log.getvalue()
