"""This instance's own cooperation keys: an Ed25519 key that signs every envelope it sends and an X25519 key
partners encrypt payloads to. Kept in `OPENNRM_COOP_KEYS_FILE` (owner-only), created on first use.

Rotation adds a new pair and makes it active; older pairs stay so messages sealed to them in flight can still be
opened, until `coop_keys retire` removes them. Partners learn the new public keys out of band (`coop_keys show`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from django.conf import settings
from django.utils import timezone

from opennrm.instance import ensure_dir, write_secret_file


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def key_id(public_raw: bytes) -> str:
    """A short fingerprint of a raw public key: what envelopes name keys by."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """A public key as partners exchange it (in cards and registrations): raw bytes, base64."""
    return b64e(raw_public(key))


def _raw_private(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class KeyPair:
    kid: str
    created: str
    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey

    @property
    def signing_public(self) -> bytes:
        return raw_public(self.signing.public_key())

    @property
    def encryption_public(self) -> bytes:
        return raw_public(self.encryption.public_key())

    @property
    def signing_kid(self) -> str:
        return key_id(self.signing_public)

    @property
    def encryption_kid(self) -> str:
        return key_id(self.encryption_public)


@dataclass(frozen=True)
class InstanceKeys:
    pairs: tuple[KeyPair, ...]  # newest last; the last is active

    @property
    def active(self) -> KeyPair:
        return self.pairs[-1]

    def encryption_key(self, kid: str) -> X25519PrivateKey | None:
        for pair in self.pairs:
            if pair.encryption_kid == kid:
                return pair.encryption
        return None


def _path() -> Path:
    return Path(settings.OPENNRM_COOP_KEYS_FILE)


def _new_pair() -> KeyPair:
    signing = Ed25519PrivateKey.generate()
    return KeyPair(
        kid=secrets.token_hex(4),
        created=timezone.now().isoformat(),
        signing=signing,
        encryption=X25519PrivateKey.generate(),
    )


def _dump(keys: InstanceKeys) -> str:
    return json.dumps(
        {
            "pairs": [
                {
                    "kid": p.kid,
                    "created": p.created,
                    "signing": b64e(_raw_private(p.signing)),
                    "encryption": b64e(_raw_private(p.encryption)),
                }
                for p in keys.pairs
            ]
        },
        indent=2,
    )


def _load(data: dict[str, Any]) -> InstanceKeys:
    pairs = tuple(
        KeyPair(
            kid=p["kid"],
            created=p["created"],
            signing=Ed25519PrivateKey.from_private_bytes(b64d(p["signing"])),
            encryption=X25519PrivateKey.from_private_bytes(b64d(p["encryption"])),
        )
        for p in data["pairs"]
    )
    if not pairs:
        raise ValueError("the cooperation keys file holds no keys")
    return InstanceKeys(pairs=pairs)


def _write(keys: InstanceKeys) -> None:
    path = _path()
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_dump(keys))
    os.replace(tmp, path)


# Keyed by the file's path, inode and modification time: a rotation replaces the file (new inode), so every
# process sees it on its next message, and tests that point the setting at another file never get stale keys.
_cache: tuple[tuple[str, int, int], InstanceKeys] | None = None


def instance_keys() -> InstanceKeys:
    """The keys, created on first use; re-read when the file changes (rotation by another process)."""
    global _cache
    path = _path()
    if not path.exists():
        write_secret_file(path, _dump(InstanceKeys(pairs=(_new_pair(),))))
    stat = path.stat()
    version = (str(path), stat.st_ino, stat.st_mtime_ns)
    if _cache is None or _cache[0] != version:
        _cache = (version, _load(json.loads(path.read_text(encoding="utf-8"))))
    return _cache[1]


def rotate() -> KeyPair:
    """Add a new key pair and make it active. Older pairs are kept to open messages already sealed to them."""
    current = instance_keys()
    pair = _new_pair()
    _write(InstanceKeys(pairs=(*current.pairs, pair)))
    return pair


def retire(kid: str) -> None:
    """Remove an older key pair (by its pair id). The active pair cannot be retired."""
    current = instance_keys()
    if current.active.kid == kid:
        raise ValueError("the active key pair cannot be retired; rotate first")
    remaining = tuple(p for p in current.pairs if p.kid != kid)
    if len(remaining) == len(current.pairs):
        raise ValueError(f"no key pair {kid}")
    _write(InstanceKeys(pairs=remaining))


def public_card() -> dict[str, Any]:
    """What this instance hands to partners out of band: identity, address and public keys."""
    keys = instance_keys()
    return {
        "code": settings.OPENNRM_COOP_ID,
        "country": settings.OPENNRM_COUNTRY,
        "url": settings.OPENNRM_COOP_URL,
        "is_hub": settings.OPENNRM_COOP_IS_HUB,
        "signing_keys": [public_b64(p.signing.public_key()) for p in keys.pairs],
        "encryption_keys": [public_b64(p.encryption.public_key()) for p in keys.pairs],
        "active_signing_key": public_b64(keys.active.signing.public_key()),
        "active_encryption_key": public_b64(keys.active.encryption.public_key()),
    }


def load_public_signing(raw_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64d(raw_b64))


def load_public_encryption(raw_b64: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(b64d(raw_b64))
