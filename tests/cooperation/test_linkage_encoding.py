"""Encodings: one Latin form for every script, keyed and balanced Bloom filters, a text form for messages."""

from __future__ import annotations

import datetime as dt

import pytest

from opennrm.cooperation.linkage import (
    BITS,
    DEFAULT_THRESHOLD,
    EncodedSet,
    Encoder,
    Encoding,
    LinkageRecord,
    dice,
    fold_name,
    latin_name,
)
from opennrm.cooperation.linkage import encoding as encoding_module

SECRET = b"regional focal points' test key!"  # 32 bytes
BORN = dt.date(1990, 5, 17)


def encode(
    given: str, family: str, born: dt.date | None = BORN, sex: str = "feminine", secret: bytes = SECRET
):
    return Encoder(secret).encode(LinkageRecord(given, family, born, sex))


def score(a: Encoding, b: Encoding) -> float:
    return dice(a.bits, b.bits)


def test_georgian_cyrillic_and_latin_spellings_have_one_latin_form():
    assert (
        latin_name("ნინო ბერიძე")
        == latin_name("Нино Беридзе")
        == latin_name("Nino  BERIDZE")
        == "nino beridze"
    )
    assert latin_name("Ольга-Марія") == "olga mariya"  # hyphens separate, apostrophes and soft signs vanish


@pytest.mark.parametrize(
    "spellings",
    [
        ("Олександр", "Oleksandr"),  # Ukrainian, and its official transliteration
        ("Александр", "Aleksandr"),  # Russian
        ("Андрій", "Андрей", "Andrii", "Andriy", "Andrei", "Андрэй"),
        ("Сергій", "Сергей", "Serhii", "Sergey"),
        ("Юлія", "Юлия", "Yuliia", "Yulia", "Julia"),
        ("Наталія", "Наталья", "Nataliia", "Natalia"),
        ("Гнатюк", "Hnatiuk"),
        ("Елена", "Yelena", "Elena"),
        ("Васильев", "Vasilieu", "Vasilev"),  # Russian, and Belarusian Latin (-ieu for -ев)
        ("ჯავახიშვილი", "Джавахишвили", "Javakhishvili", "Dzhavakhishvili"),
        ("წერეთელი", "Церетели", "Tsereteli"),
    ],
)
def test_folding_makes_cross_script_variants_agree(spellings):
    assert len({fold_name(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("ნინო", "ბერიძე"), ("Нино", "Беридзе")),
        (("ნინო", "ბერიძე"), ("Nino", "Beridze")),
        (("Нино", "Беридзе"), ("Nino", "Beridze")),
        (("Олександр", "Коваленко"), ("Oleksandr", "Kovalenko")),
        (("Олександр", "Коваленко"), ("Александр", "Коваленко")),  # Ukrainian and Russian forms of one name
        (("Oleksandr", "Kovalenko"), ("Aleksandr", "Kovalenko")),
        (("Аляксандр", "Коваленко"), ("Александр", "Коваленко")),  # Belarusian and Russian
        (("Аляксандр", "Коваленко"), ("Aliaksandr", "Kovalenko")),
        (("Alexander", "Kovalenko"), ("Александр", "Коваленко")),
    ],
)
def test_one_person_in_two_scripts_scores_above_the_threshold(a, b):
    assert score(encode(*a), encode(*b)) >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Nino", "Beridze"), ("Nino", "Berdze")),  # a letter left out
        (("Nino", "Beridze"), ("Nina", "Beridze")),  # a letter changed
        (("Nino", "Beridze"), ("Nino", "Bedirze")),  # two letters swapped
        (("ნინო", "ბერიძე"), ("Nino", "Beridse")),  # another script and a typo
    ],
)
def test_a_one_letter_typo_still_scores_above_the_threshold(a, b):
    assert score(encode(*a), encode(*b)) >= DEFAULT_THRESHOLD


def test_given_and_family_names_swapped_still_score_above_the_threshold():
    assert score(encode("Nino", "Beridze"), encode("Беридзе", "Нино")) >= DEFAULT_THRESHOLD


def test_a_missing_sex_still_scores_above_the_threshold():
    assert score(encode("Nino", "Beridze"), encode("Nino", "Beridze", sex="non_specified_unknown")) >= (
        DEFAULT_THRESHOLD
    )


@pytest.mark.parametrize(
    ("other", "born"),
    [
        (("Tamar", "Kapanadze"), BORN),
        (("Nino", "Kapanadze"), BORN),  # same given name and birthday
        (("Tamar", "Beridze"), BORN),  # a sister born the same day
        (("Nino", "Beridze"), dt.date(1990, 8, 3)),  # same name and year, another day and month
        (("Nino", "Beridze"), dt.date(1991, 5, 17)),  # same name, another year
    ],
)
def test_different_people_score_below_the_threshold(other, born):
    assert score(encode("Nino", "Beridze"), encode(*other, born=born)) < DEFAULT_THRESHOLD


def test_salting_by_year_makes_the_same_name_encode_differently_in_another_year():
    nino_1990 = encode("Nino", "Beridze", born=dt.date(1990, 1, 1))
    nino_1991 = encode("Nino", "Beridze", born=dt.date(1991, 1, 1))
    assert nino_1990.block != nino_1991.block
    assert score(nino_1990, nino_1991) < 0.6  # like strangers: balanced filters agree on half their bits


def test_records_without_a_date_of_birth_share_the_unknown_block_and_match_each_other():
    a = encode("ნინო", "ბერიძე", born=None)
    b = encode("Nino", "Beridze", born=None)
    assert a.block == b.block == ""
    assert score(a, b) >= DEFAULT_THRESHOLD


def test_encodings_are_deterministic_under_one_secret():
    record = LinkageRecord("Nino", "Beridze", BORN, "feminine")
    first, second = Encoder(SECRET).encode(record), Encoder(SECRET).encode(record)
    assert first == second
    assert len(first.bits) == BITS // 8
    assert first.block and first.block != "1990"


def test_another_secret_gives_unrelated_encodings():
    mine = encode("Nino", "Beridze")
    theirs = encode("Nino", "Beridze", secret=b"another regional key of 32 bytes")
    assert theirs.block != mine.block
    assert score(mine, theirs) < 0.6


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        Encoder(b"too short")


@pytest.mark.parametrize(
    "record",
    [
        LinkageRecord("Nino", "Beridze", BORN, "feminine"),
        LinkageRecord("Maria Anna Sofia", "Gelashvili-Kapanadze", dt.date(2001, 12, 31), "masculine"),
        LinkageRecord("", "", None, ""),
    ],
)
def test_every_encoding_has_exactly_half_of_its_bits_set(record):
    bits = Encoder(SECRET).encode(record).bits
    assert int.from_bytes(bits, "big").bit_count() == BITS // 2


def test_the_balanced_halves_are_shuffled():
    """Without the keyed permutation the second half would be the complement of the first, in clear."""
    bits = encode("Nino", "Beridze").bits
    first, second = bits[: BITS // 16], bits[BITS // 16 :]
    assert bytes(b ^ 0xFF for b in first) != second


def test_text_form_round_trips_and_is_compact_ascii():
    encoding = encode("Nino", "Beridze")
    text = encoding.to_text()
    assert text.isascii() and len(text) < 200
    assert Encoding.from_text(text) == encoding
    unknown = encode("Nino", "Beridze", born=None)
    assert Encoding.from_text(unknown.to_text()) == unknown


@pytest.mark.parametrize("text", ["", "abc", "00ff00ff.", "00ff.AAAA*", "XYZ.AAAAAAAAAAA"])
def test_text_that_is_not_an_encoding_is_refused(text):
    with pytest.raises(ValueError):
        Encoding.from_text(text)


def test_encode_many_gives_the_same_encodings_as_encode(monkeypatch):
    monkeypatch.setattr(encoding_module, "_ROWS_AT_ONCE", 1)  # one chunk per record
    encoder = Encoder(SECRET)
    records = [
        LinkageRecord("Nino", "Beridze", BORN, "feminine"),
        LinkageRecord("Олександр", "Коваленко", None, "masculine"),
    ]
    encoded = encoder.encode_many(records)
    assert len(encoded) == 2
    assert encoded.bits.shape == (2, BITS // 64)
    assert encoded.encodings() == [encoder.encode(r) for r in records]
    assert EncodedSet.from_encodings(encoded.encodings()).blocks == encoded.blocks
