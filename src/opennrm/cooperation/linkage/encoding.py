"""Keyed, hardened Bloom-filter encodings (CLKs) of a person's name, date of birth and sex.

A record becomes 1024 bits that can be compared by Sørensen–Dice similarity without revealing the values:

1. names are transliterated from any script to one Latin form (`latin_name`) and folded so that the usual
   cross-script spellings agree (`fold_name`: kh/h/g, y/i/j, ts/c, double letters, -iy/-ii/-ei endings);
2. every bigram of every padded name token, the day and month of birth and the sex is hashed with
   HMAC-SHA256 under a key of its own field (`name`, `dob`, `sex`) *and* of the year of birth ("salting"),
   derived from the shared secret with HKDF. Each HMAC gives the k bit positions of the token directly
   ("random hashing", not the double hashing broken by pattern mining), k chosen per field. Given and family
   names share the `name` key, so that a record with the two swapped still matches;
3. the 512-bit filter is balanced: it is concatenated with its complement, so every encoding has exactly
   512 of 1024 bits set, and the 1024 bits are shuffled by a permutation derived from the secret.

The blocking key is a truncated HMAC of the year of birth, so records are compared only within their year
(a record without a date of birth is salted and blocked as "unknown"). Parameters and the threat model:
docs/record-linkage.md.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from opennrm.core.blind_index import normalise

BITS = 1024
MIN_SECRET_BYTES = 32
VERSION = "opennrm.linkage.v1"  # part of every derived key: a new scheme gets new keys

# Bit positions per token of each field (attribute weighting) in the 512-bit base filter: a name bigram
# sets 15, each of the three date tokens 30 (a wrong day must outweigh a typo: people share names and birth
# years), the sex token 10. About 370 positions for a typical record, so about half of the base bits are set.
# Chosen with the experiment in docs/record-linkage.md.
K_NAME = 15
K_DOB = 30
K_SEX = 10
UNKNOWN_YEAR = "unknown"
# Positions kept during one `encode_many` (names, days and years repeat), then dropped: < 100 MB at the most.
_TOKEN_CACHE = 200_000
_ROWS_AT_ONCE = 16_384
_VALUE_CACHE = 50_000
_BLOCK_HEX = 8  # 32 bits of HMAC: enough to keep the ~120 plausible years apart, nothing more

_UNKNOWN_SEX = frozenset({"", "non_specified_unknown", "unknown", "not_specified", "other_unknown"})
_SEX_ALIASES = {"feminine": "female", "f": "female", "masculine": "male", "m": "male"}


@dataclass(frozen=True)
class LinkageRecord:
    given_name: str
    family_name: str
    date_of_birth: datetime.date | None
    sex: str  # HTCDS values ("feminine", "masculine", ...) or "female"/"male"; unknown values are left out


# --- names -------------------------------------------------------------------------------------------------


def latin_name(text: str) -> str:
    """One lower-case Latin form of a name in any script: "ნინო ბერიძე" and "Нино Беридзе" -> "nino beridze".

    Unicode NFKC, transliteration (anyascii), no diacritics, case folding; apostrophes and soft signs vanish,
    other punctuation separates tokens, and tokens are separated by one space (`opennrm.core.blind_index`)."""
    return normalise(text)


# Applied in this order to each token of `latin_name`; the same folding runs on both sides of a comparison,
# so it only has to make variants agree, not to produce a "correct" spelling.
_FOLDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"sh?ch", "sh"),  # Щ: shch (uk, ru), sch (de)
        (r"x", "ks"),  # Alexander / Aleksandr
        (r"dzh|dj", "j"),  # Дж, ჯ: Dzhavakhishvili / Javakhishvili
        (r"ph", "f"),
        (r"th", "t"),
        (r"kh|gh", "h"),  # Х, ხ, ღ
        # Г is h in Ukrainian and Belarusian, g in Russian: Serhii / Sergei, Olha / Olga
        (r"(?<![csz])h", "g"),
        (r"t[sz]", "c"),  # Ц, წ, ც: Tsereteli / Cereteli
        (r"ck|q", "k"),  # ყ (q') and ქ / к
        (r"w", "v"),
        (r"[yj]", "i"),  # й, и (uk "y"), ы; Yuliia / Julia / Iuliia
        (r"(.)\1+", r"\1"),  # double letters: Natalliia / Natalia, Anna / Ana
        # Є, and Е written ye / ie (Ukrainian and Belarusian Latin): Yevheniia / Evgenia, Siarhiei / Sergei
        (r"ie", "e"),
        # ў after a vowel, where Russian has в: Piatrou / Petrov, Vasilieu / Vasilev
        (r"(?<=[aeo])u(?![aeiou])", "v"),
        (r"ei$", "i"),  # -ей / -ій: Andrei / Andrii / Andriy, Sergei / Serhii
    )
)


def fold_name(text: str) -> str:
    """`latin_name` with phonetic folding of the cross-script variants, token by token (see `_FOLDS`)."""
    tokens = []
    for token in latin_name(text).split():
        for pattern, replacement in _FOLDS:
            token = pattern.sub(replacement, token)
        tokens.append(token)
    return " ".join(tokens)


@functools.lru_cache(maxsize=16_384)
def name_bigrams(text: str) -> frozenset[str]:
    """Bigrams of the folded tokens, each padded with "_": "nino" -> {"_n", "ni", "in", "no", "o_"}."""
    grams: set[str] = set()
    for token in fold_name(text).split():
        padded = f"_{token}_"
        grams.update(padded[i : i + 2] for i in range(len(padded) - 1))
    return frozenset(grams)


def canonical_sex(sex: str) -> str:
    """The sex as encoded: feminine, female or f -> "female"; masculine, male or m -> "male"; unknown -> ""
    (left out of the encoding); other values (transgender_feminine, non_conforming, ...) as given."""
    value = sex.strip().lower()
    if value in _UNKNOWN_SEX:
        return ""
    return _SEX_ALIASES.get(value, value)


# --- encodings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """One record's encoding: the permuted balanced Bloom filter, and its blocking key ("" without a year)."""

    bits: bytes
    block: str

    def __post_init__(self) -> None:
        if not self.bits or len(self.bits) % 8:
            raise ValueError("an encoding is a whole number of 64-bit words")
        if not re.fullmatch(r"[0-9a-f]*", self.block):
            raise ValueError("a blocking key is lower-case hex")

    def to_text(self) -> str:
        """Compact ASCII for JSON messages: "<block>.<base64url of the bits, no padding>", 180 characters
        (172 without a block)."""
        return f"{self.block}.{base64.urlsafe_b64encode(self.bits).rstrip(b'=').decode('ascii')}"

    @classmethod
    def from_text(cls, text: str) -> Encoding:
        block, sep, data = text.partition(".")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", data):
            raise ValueError("not an encoding")
        try:
            bits = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except ValueError as exc:
            raise ValueError("not an encoding") from exc
        return cls(bits=bits, block=block)


@dataclass
class EncodedSet:
    """Encodings in columns, for matching: `bits` is (n, words) uint64, `blocks` the n blocking keys."""

    bits: np.ndarray
    blocks: list[str]

    def __post_init__(self) -> None:
        if self.bits.ndim != 2 or self.bits.dtype != np.uint64 or self.bits.shape[1] == 0:
            raise ValueError("bits must be a 2-d uint64 array")
        if self.bits.shape[0] != len(self.blocks):
            raise ValueError("one blocking key per row")

    @classmethod
    def from_encodings(cls, encodings: Sequence[Encoding], *, bits: int = BITS) -> EncodedSet:
        """`bits` gives the width of an empty set; otherwise all encodings must have the same width."""
        if not encodings:
            return cls(bits=np.zeros((0, bits // 64), dtype=np.uint64), blocks=[])
        width = len(encodings[0].bits)
        if any(len(e.bits) != width for e in encodings):
            raise ValueError("encodings of different widths")
        data = np.frombuffer(b"".join(e.bits for e in encodings), dtype=np.uint64)
        return cls(bits=data.reshape(len(encodings), width // 8).copy(), blocks=[e.block for e in encodings])

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> Encoding:
        return Encoding(bits=self.bits[index].tobytes(), block=self.blocks[index])

    def encodings(self) -> list[Encoding]:
        return [self[i] for i in range(len(self))]


class Encoder:
    """Encodes records under a secret shared by the regional focal points (at least 32 random bytes).

    Partners that must compare encodings use the same secret and the same `bits`; a different secret gives
    unrelated encodings. An encoder keeps its derived keys; it may be shared between threads."""

    def __init__(self, secret: bytes, *, bits: int = BITS, balanced: bool = True) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise TypeError("the linkage secret is bytes")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the linkage secret must have at least {MIN_SECRET_BYTES} bytes")
        if bits < 128 or bits % 64:
            raise ValueError("bits must be a multiple of 64, at least 128")
        self._secret = bytes(secret)
        self.bits = bits
        self.balanced = balanced
        self.base_bits = bits // 2 if balanced else bits
        self._keys: dict[tuple[str, str], bytes] = {}
        self._tokens: dict[tuple[str, str, str], list[int]] = {}
        self._positions: dict[tuple[str, str, str], np.ndarray] = {}
        self._block_key = self._derive("block")
        self._blocks: dict[str, str] = {}
        self._permutation = self._derive_permutation() if balanced else None

    # keys

    def _derive(self, label: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=VERSION.encode(), info=label.encode())
        return hkdf.derive(self._secret)

    def _field_key(self, field: str, salt: str) -> bytes:
        key = self._keys.get((field, salt))
        if key is None:
            key = self._keys[(field, salt)] = self._derive(f"field={field};year={salt}")
        return key

    def _derive_permutation(self) -> np.ndarray:
        """Fisher–Yates shuffle driven by HMAC-SHA256 in counter mode (not numpy's generator: its streams may
        change between numpy versions, and partners must agree bit for bit)."""
        key = self._derive("permutation")
        stream = _KeyStream(key)
        order = list(range(self.bits))
        for i in range(self.bits - 1, 0, -1):
            j = stream.below(i + 1)
            order[i], order[j] = order[j], order[i]
        return np.array(order, dtype=np.intp)

    def _token_positions(self, field: str, salt: str, token: str, k: int) -> list[int]:
        """The k base-filter positions of a token: 32-bit words of HMAC-SHA256(field key, counter ‖ token)."""
        cached = self._tokens.get((field, salt, token))
        if cached is not None:
            return cached
        if len(self._tokens) >= _TOKEN_CACHE:
            self._tokens.clear()
        key = self._field_key(field, salt)
        words: list[int] = []
        counter = 0
        while len(words) < k:
            digest = hmac.digest(key, counter.to_bytes(1, "big") + token.encode("utf-8"), hashlib.sha256)
            words.extend(struct.unpack(">8I", digest))
            counter += 1
        positions = self._tokens[(field, salt, token)] = [w % self.base_bits for w in words[:k]]
        return positions

    def _positions_of(self, field: str, salt: str, value: str, tokens: Iterable[str], k: int) -> np.ndarray:
        """All positions of one field's value (cached: names, days and years repeat across records)."""
        cached = self._positions.get((field, salt, value))
        if cached is None:
            if len(self._positions) >= _VALUE_CACHE:
                self._positions.clear()
            positions = [p for token in sorted(tokens) for p in self._token_positions(field, salt, token, k)]
            cached = self._positions[(field, salt, value)] = np.array(positions, dtype=np.int32)
        return cached

    def block(self, date_of_birth: datetime.date | None) -> str:
        """The blocking key: 32 bits of HMAC of the year of birth, hex; "" when the date is unknown."""
        if date_of_birth is None:
            return ""
        year = str(date_of_birth.year)
        value = self._blocks.get(year)
        if value is None:
            digest = hmac.digest(self._block_key, year.encode(), hashlib.sha256)
            value = self._blocks[year] = digest.hex()[:_BLOCK_HEX]
        return value

    # encoding

    def _record_positions(self, record: LinkageRecord) -> list[np.ndarray]:
        dob = record.date_of_birth
        salt = str(dob.year) if dob is not None else UNKNOWN_YEAR
        # Given and family names share one key, so that they may be swapped (family name first, as in Russian
        # lists, is a frequent entry error); the bits of the bigrams of both are set.
        parts = [
            self._positions_of("name", salt, record.given_name, name_bigrams(record.given_name), K_NAME),
            self._positions_of("name", salt, record.family_name, name_bigrams(record.family_name), K_NAME),
        ]
        if dob is not None:
            low, high = sorted((dob.day, dob.month))
            # Day and month each, and the unordered pair, so that a swapped day and month keeps a third.
            tokens = (f"d{dob.day}", f"m{dob.month}", f"p{low}-{high}")
            parts.append(self._positions_of("dob", salt, f"{dob.month}-{dob.day}", tokens, K_DOB))
        sex = canonical_sex(record.sex)
        if sex:
            parts.append(self._positions_of("sex", salt, sex, (sex,), K_SEX))
        return parts

    def encode_many(self, records: Sequence[LinkageRecord]) -> EncodedSet:
        n = len(records)
        parts: list[np.ndarray] = []
        counts = np.zeros(n, dtype=np.intp)
        try:
            for row, record in enumerate(records):
                record_parts = self._record_positions(record)
                parts.extend(record_parts)
                counts[row] = sum(len(p) for p in record_parts)
        finally:
            self._tokens.clear()
            self._positions.clear()
        rows = np.repeat(np.arange(n), counts)
        cols = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        ends = np.cumsum(counts)
        words = np.empty((n, self.bits // 64), dtype=np.uint64)
        for start in range(0, n, _ROWS_AT_ONCE):  # a byte per bit while setting them: bounded, in chunks
            stop = min(n, start + _ROWS_AT_ONCE)
            first, last = (ends[start - 1] if start else 0), ends[stop - 1]
            base = np.zeros((stop - start, self.base_bits), dtype=np.uint8)
            base[rows[first:last] - start, cols[first:last]] = 1
            if self._permutation is not None:
                base = np.concatenate([base, 1 - base], axis=1)[:, self._permutation]
            packed = np.packbits(base, axis=1)  # big-endian bit order within a byte
            words[start:stop] = np.ascontiguousarray(packed).view(np.uint64)
        return EncodedSet(bits=words, blocks=[self.block(r.date_of_birth) for r in records])

    def encode(self, record: LinkageRecord) -> Encoding:
        return self.encode_many([record])[0]


class _KeyStream:
    """Unbiased integers from HMAC-SHA256(key, counter)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0
        self._buffer: list[int] = []

    def _next32(self) -> int:
        if not self._buffer:
            digest = hmac.digest(self._key, self._counter.to_bytes(8, "big"), hashlib.sha256)
            self._counter += 1
            self._buffer = list(struct.unpack(">8I", digest))
        return self._buffer.pop()

    def below(self, bound: int) -> int:
        limit = (1 << 32) - (1 << 32) % bound
        while True:
            value = self._next32()
            if value < limit:
                return value % bound
