"""File storage that encrypts file contents with the keyring (AES-256-GCM) before writing to disk."""

from __future__ import annotations

import os
import secrets
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from opennrm.core.crypto import get_keyring

MAGIC = b"ONRM1\n"


def random_upload_name(instance: Any, filename: str) -> str:
    """Files are stored under random names: the original name may identify a person and is kept encrypted."""
    return f"enc/{secrets.token_hex(2)}/{secrets.token_hex(16)}.bin"


@deconstructible
class EncryptedFileSystemStorage(FileSystemStorage):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("location", settings.MEDIA_ROOT)
        kwargs.setdefault("base_url", None)
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)

    def _context(self, name: str) -> str:
        return "file:" + name.replace(os.sep, "/")

    def _save(self, name: str, content: File[Any]) -> str:
        content.seek(0)
        plaintext = content.read()
        if isinstance(plaintext, str):
            plaintext = plaintext.encode("utf-8")
        token = get_keyring().encrypt(plaintext, context=self._context(name))
        return super()._save(name, ContentFile(MAGIC + token.encode("ascii")))  # type: ignore[misc]

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        return ContentFile(self.read_plaintext(name), name=name)

    def read_plaintext(self, name: str) -> bytes:
        with super()._open(name, "rb") as fh:  # type: ignore[misc]
            return get_keyring().decrypt(_token(fh), context=self._context(name))

    def key_id(self, name: str) -> str:
        with super()._open(name, "rb") as fh:  # type: ignore[misc]
            return get_keyring().key_id_of(_token(fh))

    def reencrypt(self, name: str) -> bool:
        """Re-encrypt a stored file under the active key, in place (atomic rename). True if it changed."""
        keyring = get_keyring()
        if self.key_id(name) == keyring.active_id:
            return False
        token = keyring.encrypt(self.read_plaintext(name), context=self._context(name))
        path = self.path(name)
        tmp = f"{path}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + token.encode("ascii"))
        os.replace(tmp, path)
        return True

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Encrypted files are served only through access-checked views")


def _token(fh: IO[bytes]) -> str:
    raw = fh.read()
    if not raw.startswith(MAGIC):
        from opennrm.core.crypto import DecryptionError

        raise DecryptionError("file is not an OpenNRM encrypted file")
    return raw[len(MAGIC) :].decode("ascii")
