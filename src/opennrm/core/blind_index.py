"""Blind indexes: keyed HMAC-SHA256 of normalised values, for exact look-ups without decrypting.

Normalisation makes "Nino  Beridze", "NINO BERIDZE", "ნინო ბერიძე" and "Нино Беридзе" index alike: Unicode NFKC,
transliteration of every script to Latin (anyascii), removal of diacritics, case folding, and collapsing of
spaces and punctuation. Each use has its own purpose string so that equal values in different columns give
different digests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from anyascii import anyascii

from opennrm.core.crypto import get_keyring

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Soft signs and apostrophes (Olga in Cyrillic transliterates to Ol'ga) vanish instead of splitting the word.
_APOSTROPHES = re.compile(r"['`\u02bc\u2019]")


def normalise(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    text = anyascii(text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", text.casefold())
    return _NON_ALNUM.sub(" ", text).strip()


def normalise_document_number(value: str) -> str:
    """Document numbers ignore spaces, dashes and case entirely: "AB 12-345" == "ab12345"."""
    return normalise(value).replace(" ", "")


def _digest(normalised: str, purpose: str) -> str:
    key = get_keyring().blind_index_key
    message = purpose.encode() + b"\x00" + normalised.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def blind_index(value: str, *, purpose: str, document: bool = False) -> str:
    """A hex digest (32 chars, 128 bits) of the normalised value. Empty input gives an empty index.
    `document=True` uses the document-number normalisation (spaces and dashes ignored)."""
    normalised = normalise_document_number(value) if document else normalise(value)
    return _digest(normalised, purpose) if normalised else ""


def blind_index_parts(*parts: str, purpose: str) -> str:
    """Blind index of several values together (e.g. full name + date of birth); empty if any part is empty."""
    normalised = [normalise(p) for p in parts]
    if not all(normalised):
        return ""
    return _digest("\x1f".join(normalised), purpose)
