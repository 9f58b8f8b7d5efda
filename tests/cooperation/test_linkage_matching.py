"""Matching: Dice scores, blocking, pruning that never loses a pair, one-to-one matches, duplicates."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from opennrm.cooperation.linkage import (
    EncodedSet,
    Encoder,
    LinkageRecord,
    candidate_pairs,
    deduplicate,
    dice,
    match,
    one_to_one,
)

SECRET = b"regional focal points' test key!"


def people() -> list[LinkageRecord]:
    rng = random.Random(3)
    given = ["Nino", "Mariam", "Tamar", "Ana", "Giorgi", "Levan", "Olena", "Iryna", "Oleksandr", "Sergei"]
    family = ["Beridze", "Kapanadze", "Gelashvili", "Lomidze", "Kovalenko", "Tkachenko", "Smirnov", "Volkov"]
    return [
        LinkageRecord(
            rng.choice(given),
            rng.choice(family),
            dt.date(rng.randint(1985, 1989), rng.randint(1, 12), rng.randint(1, 28)),
            rng.choice(["feminine", "masculine"]),
        )
        for _ in range(300)
    ]


def random_set(rng: np.random.Generator, n: int, blocks: int) -> EncodedSet:
    """Bits of varied density, so that popcounts differ (unbalanced: the pruning must get it right too)."""
    density = rng.uniform(0.2, 0.6, size=(n, 1))
    bits = np.packbits(rng.random((n, 1024)) < density, axis=1).view(np.uint64)
    return EncodedSet(
        bits=np.ascontiguousarray(bits), blocks=[f"{b:08x}" for b in rng.integers(0, blocks, n)]
    )


def test_dice():
    a, b = bytes([0b1111_0000]) * 8, bytes([0b1100_1100]) * 8
    assert dice(a, a) == 1.0
    assert dice(a, b) == 0.5
    assert dice(a, bytes(8)) == 0.0
    assert dice(bytes(8), bytes(8)) == 0.0
    with pytest.raises(ValueError):
        dice(a, bytes(16))


@pytest.mark.parametrize("threshold", [0.45, 0.6, 0.85])
@pytest.mark.parametrize("blocking", [True, False])
def test_candidate_pairs_are_exactly_the_pairs_at_or_above_the_threshold(threshold, blocking):
    rng = np.random.default_rng(5)
    left, right = random_set(rng, 150, 3), random_set(rng, 230, 3)
    for i in range(0, 150, 3):  # near copies: some above and some below the thresholds
        j = int(rng.integers(0, 230))
        right.bits[j] = left.bits[i] ^ (left.bits[i] & rng.integers(0, 2**63, 16, dtype=np.uint64) & 0x0101)
        right.blocks[j] = left.blocks[i]
    expected = {
        (i, j, dice(left.bits[i].tobytes(), right.bits[j].tobytes()))
        for i in range(len(left))
        for j in range(len(right))
        if not blocking or left.blocks[i] == right.blocks[j]
    }
    expected = {e for e in expected if e[2] >= threshold}
    found, comparisons = candidate_pairs(left, right, threshold=threshold, blocking=blocking, workers=2)
    assert {(m.left, m.right, m.score) for m in found} == expected
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    if blocking:
        assert comparisons == sum(left.blocks.count(b) * right.blocks.count(b) for b in set(left.blocks))
    else:
        assert comparisons == len(left) * len(right)


def test_blocking_finds_the_same_matches_as_comparing_everything():
    encoder = Encoder(SECRET)
    records = people()
    left = encoder.encode_many(records[:200])
    right = encoder.encode_many(records[100:])
    blocked, blocked_comparisons = candidate_pairs(left, right, threshold=0.85)
    everything, all_comparisons = candidate_pairs(left, right, threshold=0.85, blocking=False)
    assert blocked == everything
    assert blocked_comparisons < all_comparisons / 3
    assert {(m.left, m.right) for m in blocked} >= {(i, i - 100) for i in range(100, 200)}  # the same records


def test_match_is_one_to_one_and_keeps_the_best_pair():
    encoder = Encoder(SECRET)
    nino = LinkageRecord("Nino", "Beridze", dt.date(1990, 5, 17), "feminine")
    typo = LinkageRecord("Nino", "Berdze", dt.date(1990, 5, 17), "feminine")
    georgian = LinkageRecord("ნინო", "ბერიძე", dt.date(1990, 5, 17), "feminine")
    left = encoder.encode_many([typo, nino])
    right = encoder.encode_many([georgian])
    candidates, _ = candidate_pairs(left, right, threshold=0.85)
    assert {(m.left, m.right) for m in candidates} == {(0, 0), (1, 0)}
    [best] = match(left, right)
    assert (best.left, best.right, best.score) == (1, 0, 1.0)


def test_no_index_appears_twice_in_matches():
    rng = np.random.default_rng(9)
    left, right = random_set(rng, 200, 1), random_set(rng, 200, 1)
    candidates, _ = candidate_pairs(left, right, threshold=0.4)
    matches = match(left, right, threshold=0.4)
    assert len(candidates) > len(matches) > 0
    assert len({m.left for m in matches}) == len({m.right for m in matches}) == len(matches)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert one_to_one(candidates) == matches


def test_match_links_a_set_to_its_transliterated_copy():
    encoder = Encoder(SECRET)
    latin = [
        LinkageRecord("Nino", "Beridze", dt.date(1990, 5, 17), "feminine"),
        LinkageRecord("Oleksandr", "Kovalenko", dt.date(1984, 2, 29), "masculine"),
        LinkageRecord("Tamar", "Beridze", dt.date(1990, 5, 17), "feminine"),
    ]
    native = [
        LinkageRecord("Олександр", "Коваленко", dt.date(1984, 2, 29), "non_specified_unknown"),
        LinkageRecord("თამარ", "ბერიძე", dt.date(1990, 5, 17), "feminine"),
        LinkageRecord("ნინო", "ბერიძე", dt.date(1990, 5, 17), "feminine"),
        LinkageRecord("Ирина", "Смирнова", dt.date(1984, 2, 29), "feminine"),
    ]
    found = match(encoder.encode_many(latin), encoder.encode_many(native))
    assert {(m.left, m.right) for m in found} == {(0, 2), (1, 0), (2, 1)}


def test_deduplicate_finds_one_person_recorded_by_two_agencies():
    encoder = Encoder(SECRET)
    records = [
        *people()[:50],
        LinkageRecord("Khatia", "Chkhaidze", dt.date(2003, 11, 2), "feminine"),
        LinkageRecord("ხატია", "ჩხაიძე", dt.date(2003, 11, 2), "non_specified_unknown"),
    ]
    pairs = deduplicate(encoder.encode_many(records))
    assert (50, 51) in {(m.left, m.right) for m in pairs}
    assert all(m.left < m.right for m in pairs)


def test_deduplicate_gives_each_pair_once():
    rng = np.random.default_rng(2)
    records = random_set(rng, 120, 2)
    expected = {
        (i, j)
        for i in range(120)
        for j in range(i + 1, 120)
        if records.blocks[i] == records.blocks[j]
        and dice(records.bits[i].tobytes(), records.bits[j].tobytes()) >= 0.45
    }
    found = [(m.left, m.right) for m in deduplicate(records, threshold=0.45)]
    assert len(found) == len(set(found))
    assert set(found) == expected


def test_empty_sets_give_no_matches():
    encoder = Encoder(SECRET)
    empty = EncodedSet.from_encodings([])
    some = encoder.encode_many(people()[:3])
    assert candidate_pairs(empty, some, threshold=0.85) == ([], 0)
    assert match(some, empty, blocking=False) == []
    assert deduplicate(empty) == []


def test_a_threshold_outside_zero_to_one_is_refused():
    some = Encoder(SECRET).encode_many(people()[:3])
    with pytest.raises(ValueError):
        match(some, some, threshold=1.5)
