"""Application-level encryption: AES-256-GCM with a keyring.

The keyring holds several 256-bit keys and names the active one. New values are always encrypted with the active
key; any key in the ring can decrypt. Ciphertexts are stored as text:

    v1:<key id>:<base64url(nonce 12 bytes || ciphertext || tag 16 bytes)>

The key id in clear lets `rotate_keys` find rows still under an old key with a plain `startswith` query.
The associated data binds a ciphertext to its column ("app_label.model.field"), so a ciphertext copied into
another column does not decrypt. A wrong or missing key is an `DecryptionError`, never garbage.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from opennrm.instance import write_secret_file

VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key id, wrong key, altered data or wrong column."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_id: str
    blind_index_key: bytes

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise ImproperlyConfigured(f"The keyring's active key {self.active_id!r} is not in the ring")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise ImproperlyConfigured(f"Key {key_id!r} is not 256 bits long")
            if ":" in key_id or not key_id:
                raise ImproperlyConfigured(f"Key id {key_id!r} is not valid")
        if len(self.blind_index_key) < 32:
            raise ImproperlyConfigured("The blind-index key must be at least 256 bits long")

    @classmethod
    def from_json(cls, raw: str) -> Keyring:
        try:
            data = json.loads(raw)
            return cls(
                keys={k: _b64d(v) for k, v in data["keys"].items()},
                active_id=data["active"],
                blind_index_key=_b64d(data["blind_index_key"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ImproperlyConfigured(f"The keyring is malformed: {type(exc).__name__}") from exc

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active_id,
                "keys": {k: _b64e(v) for k, v in self.keys.items()},
                "blind_index_key": _b64e(self.blind_index_key),
            },
            indent=2,
        )

    def with_new_active_key(self) -> Keyring:
        key_id = new_key_id(self.keys)
        return Keyring(
            keys={**self.keys, key_id: AESGCM.generate_key(256)},
            active_id=key_id,
            blind_index_key=self.blind_index_key,
        )

    def without_key(self, key_id: str) -> Keyring:
        if key_id == self.active_id:
            raise ValueError("The active key cannot be removed")
        keys = {k: v for k, v in self.keys.items() if k != key_id}
        return Keyring(keys=keys, active_id=self.active_id, blind_index_key=self.blind_index_key)

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(nonce, plaintext, context.encode())
        return f"{VERSION}:{self.active_id}:{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> bytes:
        try:
            version, key_id, payload = token.split(":", 2)
        except ValueError:
            raise DecryptionError("value is not an OpenNRM ciphertext") from None
        if version != VERSION:
            raise DecryptionError(f"unknown ciphertext version {version!r}")
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"key {key_id!r} is not in the keyring")
        try:
            blob = _b64d(payload)
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError):
            raise DecryptionError(
                f"authentication failed with key {key_id!r} (wrong key, column or data)"
            ) from None

    @staticmethod
    def key_id_of(token: str) -> str:
        parts = token.split(":", 2)
        return parts[1] if len(parts) == 3 else ""


def new_key_id(existing: dict[str, bytes] | None = None) -> str:
    while True:
        key_id = "k" + secrets.token_hex(4)
        if not existing or key_id not in existing:
            return key_id


def generate_keyring() -> Keyring:
    key_id = new_key_id()
    return Keyring(keys={key_id: AESGCM.generate_key(256)}, active_id=key_id, blind_index_key=os.urandom(32))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_lock = threading.Lock()
_cached: tuple[str, float, Keyring] | None = None


def keyring_path() -> Path:
    return Path(settings.OPENNRM_KEYRING_FILE)


def get_keyring() -> Keyring:
    """The instance keyring; generated into the instance folder on first use. Reloaded when the file changes,
    so web workers pick up a rotated key without restarting."""
    global _cached
    raw_env = settings.OPENNRM_KEYRING_JSON
    if raw_env:
        if _cached is None or _cached[0] != "env":
            _cached = ("env", 0.0, Keyring.from_json(raw_env))
        return _cached[2]
    path = keyring_path()
    with _lock:
        if not path.exists():
            write_secret_file(path, generate_keyring().to_json())
        mtime = path.stat().st_mtime
        if _cached is None or _cached[0] != str(path) or _cached[1] != mtime:
            _cached = (str(path), mtime, Keyring.from_json(path.read_text(encoding="utf-8")))
        return _cached[2]


def save_keyring(keyring: Keyring) -> None:
    """Replace the keyring file atomically (readers see the old or the new file, never half of one)."""
    global _cached
    if settings.OPENNRM_KEYRING_JSON:
        raise ImproperlyConfigured("The keyring comes from OPENNRM_KEYRING; update it in your secret manager")
    path = keyring_path()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(keyring.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with _lock:
        _cached = None


def encrypt_text(value: str, *, context: str) -> str:
    return get_keyring().encrypt(value.encode("utf-8"), context=context)


def decrypt_text(token: str, *, context: str) -> str:
    return get_keyring().decrypt(token, context=context).decode("utf-8")
