"""The envelope every message between instances travels in (DESIGN §5).

    {"v": 1, "id": <uuid>, "sender": "GE", "recipient": "UA", "type": "referral", "sent_at": <ISO 8601 UTC>,
     "enc": {"alg": "X25519-HKDF-SHA256-A256GCM", "kid": <recipient key id>, "epk": <b64>, "nonce": <b64>,
             "ct": <b64>},
     "sig_kid": <sender signing key id>, "sig": <b64 Ed25519 signature>}

The payload is encrypted to the recipient's X25519 key with a fresh ephemeral key (ECIES: X25519, HKDF-SHA256,
AES-256-GCM); the header is the associated data, so a payload cannot be moved into another envelope. The sender
signs the canonical JSON of everything but `sig` with its Ed25519 key. The receiver checks, in this order: form,
recipient, sender registered and active, signing key known, signature, freshness, then decrypts. Every refusal
names its reason; nothing is changed by a refused message.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils import timezone

from opennrm.cooperation.keys import (
    b64d,
    b64e,
    instance_keys,
    key_id,
    load_public_encryption,
    load_public_signing,
    raw_public,
)

VERSION = 1
ALG = "X25519-HKDF-SHA256-A256GCM"
HEADER_FIELDS = ("v", "id", "sender", "recipient", "type", "sent_at")
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024


class Refused(Exception):
    """A message the inbox will not accept. `reason` is a stable code; `detail` says more (never payload data)."""

    def __init__(self, reason: str, detail: str = "", *, status: int = 403) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _derive(shared: bytes, epk: bytes, recipient_pk: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=epk + recipient_pk, info=b"opennrm-coop-v1"
    ).derive(shared)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seal(
    *,
    message_id: uuid.UUID | str,
    recipient: str,
    recipient_encryption_key: str,
    type: str,
    payload: Any,
    sent_at: dt.datetime | None = None,
    sender: str | None = None,
    signing_key: Ed25519PrivateKey | None = None,
) -> dict[str, Any]:
    """Encrypt `payload` to the recipient and sign the envelope with this instance's active key.

    `sender` and `signing_key` are for tests that play a partner; production uses this instance's identity."""
    header = {
        "v": VERSION,
        "id": str(message_id),
        "sender": sender or settings.OPENNRM_COOP_ID,
        "recipient": recipient,
        "type": type,
        "sent_at": _iso(sent_at or timezone.now()),
    }
    recipient_key: X25519PublicKey = load_public_encryption(recipient_encryption_key)
    recipient_raw = raw_public(recipient_key)
    ephemeral = X25519PrivateKey.generate()
    epk = raw_public(ephemeral.public_key())
    key = _derive(ephemeral.exchange(recipient_key), epk, recipient_raw)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, canonical(payload), canonical(header))
    envelope: dict[str, Any] = {
        **header,
        "enc": {
            "alg": ALG,
            "kid": key_id(recipient_raw),
            "epk": b64e(epk),
            "nonce": b64e(nonce),
            "ct": b64e(ciphertext),
        },
    }
    signer = signing_key or instance_keys().active.signing
    envelope["sig_kid"] = key_id(raw_public(signer.public_key()))
    envelope["sig"] = b64e(signer.sign(canonical(envelope)))
    return envelope


@dataclass(frozen=True)
class Opened:
    message_id: uuid.UUID
    sender: str
    type: str
    sent_at: dt.datetime
    payload: Any


def parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_ENVELOPE_BYTES:
        raise Refused("too_large", f"{len(body)} bytes", status=413)
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused("malformed", "not JSON", status=400) from exc
    if not isinstance(envelope, dict):
        raise Refused("malformed", "not a JSON object", status=400)
    return envelope


def check_form(envelope: dict[str, Any]) -> None:
    for name in (*HEADER_FIELDS, "enc", "sig_kid", "sig"):
        if name not in envelope:
            raise Refused("unsigned" if name in ("sig", "sig_kid") else "malformed", f"no {name}", status=400)
    # `type(...) is int`: JSON `true` and `1.0` compare equal to 1 in Python but are other values.
    if type(envelope["v"]) is not int or envelope["v"] != VERSION:
        raise Refused("malformed", f"unsupported version {str(envelope['v'])[:16]!r}", status=400)
    for name in (*HEADER_FIELDS[1:], "sig_kid", "sig"):
        if not isinstance(envelope[name], str) or not envelope[name]:
            raise Refused("malformed", f"{name} is not a text", status=400)
    try:
        uuid.UUID(envelope["id"])
    except ValueError as exc:
        raise Refused("malformed", "message id is not a UUID", status=400) from exc
    enc = envelope["enc"]
    if (
        not isinstance(enc, dict)
        or enc.get("alg") != ALG
        or not all(isinstance(enc.get(k), str) for k in ("kid", "epk", "nonce", "ct"))
    ):
        raise Refused("malformed", "unsupported or incomplete encryption block", status=400)


def verify_signature(envelope: dict[str, Any], signing_keys: dict[str, str]) -> None:
    """`signing_keys`: key id → base64 public key, of the claimed sender's keys that are not revoked."""
    public = signing_keys.get(str(envelope["sig_kid"]))
    if public is None:
        raise Refused(
            "unknown_key", f"signing key {envelope['sig_kid']!s:.32} is not registered for the sender"
        )
    unsigned = {k: v for k, v in envelope.items() if k != "sig"}
    try:
        load_public_signing(public).verify(b64d(str(envelope["sig"])), canonical(unsigned))
    except (InvalidSignature, ValueError) as exc:
        raise Refused("bad_signature", "the signature does not verify") from exc


def sent_time(envelope: dict[str, Any], *, now: dt.datetime | None = None) -> dt.datetime:
    """The envelope's time, refused when too old or from the future beyond the tolerated skew."""
    try:
        moment = dt.datetime.fromisoformat(str(envelope["sent_at"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise Refused("malformed", "sent_at is not a time", status=400) from exc
    if moment.tzinfo is None:
        raise Refused("malformed", "sent_at has no time zone", status=400)
    now = now or timezone.now()
    if moment > now + dt.timedelta(seconds=settings.OPENNRM_COOP_CLOCK_SKEW_SECONDS):
        raise Refused("from_future", f"sent {int((moment - now).total_seconds())} s ahead of this clock")
    if moment < now - dt.timedelta(seconds=settings.OPENNRM_COOP_MAX_AGE_SECONDS):
        raise Refused("too_old", f"sent {int((now - moment).total_seconds())} s ago")
    return moment


def decrypt(envelope: dict[str, Any], *, private_key: X25519PrivateKey | None = None) -> Any:
    """The payload, opened with this instance's key named by the envelope (or `private_key`: tests that play a
    partner open what this instance sealed to them)."""
    enc = envelope["enc"]
    private = private_key or instance_keys().encryption_key(str(enc["kid"]))
    if private is None:
        raise Refused("unknown_key", "the payload is sealed to a key this instance does not hold")
    header = {k: envelope[k] for k in HEADER_FIELDS}
    try:
        epk = b64d(str(enc["epk"]))
        key = _derive(
            private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, raw_public(private.public_key())
        )
        plain = AESGCM(key).decrypt(b64d(str(enc["nonce"])), b64d(str(enc["ct"])), canonical(header))
        return json.loads(plain)
    except (InvalidTag, ValueError) as exc:
        raise Refused("undecryptable", "the payload does not decrypt") from exc
