"""Matching: Dice scores, blocking, pruning that never loses a pair, one-to-one matches, duplicates.

The kernel is checked against the definition: `dice` (Python integers) on every pair of a block."""

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
    matching,
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


# A balanced row is like the encoder's: a 512-bit filter and its complement, shuffled. Column k of a balanced row
# is column PERMUTATION[k] of the unshuffled one, and PARTNER[k] is the column holding its complement.
PERMUTATION = np.random.default_rng(11).permutation(1024)
PARTNER = np.argsort(PERMUTATION)[(PERMUTATION + 512) % 1024]


def balanced_set(rng: np.random.Generator, n: int, blocks: int) -> EncodedSet:
    half = rng.random((n, 512)) < rng.uniform(0.3, 0.7, size=(n, 1))
    return packed(np.concatenate([half, ~half], axis=1)[:, PERMUTATION], rng, blocks)


def packed(rows: np.ndarray, rng: np.random.Generator, blocks: int) -> EncodedSet:
    bits = np.ascontiguousarray(np.packbits(rows, axis=1)).view(np.uint64)
    return EncodedSet(bits=bits, blocks=[f"{b:08x}" for b in rng.integers(0, blocks, len(rows))])


def near_copies(rng: np.random.Generator, left: EncodedSet, right: EncodedSet, *, balanced: bool) -> None:
    """Make every third right row a copy of a left row (in its block), exact or with some bits changed, so that
    pairs fall on both sides of every threshold. A balanced row stays balanced: a bit changes with its partner."""
    for j in range(0, len(right), 3):
        i = int(rng.integers(0, len(left)))
        row = np.unpackbits(left.bits[i].view(np.uint8))
        if balanced:
            firsts = np.flatnonzero(np.arange(1024) < PARTNER)
            flipped = rng.choice(firsts, size=int(rng.integers(0, 140)) * (rng.random() < 0.9), replace=False)
            flipped = np.concatenate([flipped, PARTNER[flipped]])
        else:
            flipped = rng.choice(1024, size=int(rng.integers(0, 280)) * (rng.random() < 0.9), replace=False)
        row[flipped] ^= 1
        right.bits[j] = np.packbits(row).view(np.uint64)
        right.blocks[j] = left.blocks[i]


def reference(left: EncodedSet, right: EncodedSet, *, blocking: bool) -> dict[tuple[int, int], float]:
    """Every pair of a block (of everything, without blocking) and its score, by the definition."""
    return {
        (i, j): dice(left.bits[i].tobytes(), right.bits[j].tobytes())
        for i in range(len(left))
        for j in range(len(right))
        if not blocking or left.blocks[i] == right.blocks[j]
    }


def test_dice():
    a, b = bytes([0b1111_0000]) * 8, bytes([0b1100_1100]) * 8
    assert dice(a, a) == 1.0
    assert dice(a, b) == 0.5
    assert dice(a, bytes(8)) == 0.0
    assert dice(bytes(8), bytes(8)) == 0.0
    with pytest.raises(ValueError):
        dice(a, bytes(16))


def expected_pairs(scores: dict[tuple[int, int], float], threshold: float) -> list[tuple[int, int, float]]:
    """The pairs at or above the threshold, in the order `candidate_pairs` gives them."""
    found = [(i, j, s) for (i, j), s in scores.items() if s >= threshold]
    return sorted(found, key=lambda f: (-f[2], f[0], f[1]))


@pytest.fixture(params=["one tile", "small tiles"])
def tiles(request, monkeypatch):
    """The kernel as it runs, and with chunks and tiles so small that every block is split many times."""
    if request.param == "small tiles":
        monkeypatch.setattr(matching, "CHUNK", 40)
        monkeypatch.setattr(matching, "TILE_PAIRS", 700)
    return request.param


@pytest.mark.parametrize("kind", ["balanced", "unbalanced"])
@pytest.mark.parametrize("blocking", [True, False])
def test_candidate_pairs_are_exactly_those_of_the_definition(kind, blocking, tiles):
    rng = np.random.default_rng(5)
    if kind == "balanced":
        left, right = balanced_set(rng, 150, 3), balanced_set(rng, 230, 3)
    else:
        left, right = random_set(rng, 150, 3), random_set(rng, 230, 3)
    near_copies(rng, left, right, balanced=kind == "balanced")
    if kind == "unbalanced":  # empty filters too: they score 0.0 with anything
        left.bits[7] = right.bits[5] = right.bits[6] = 0
    # The balanced sets take the complement-pair path of the kernel, the others the plain prefix.
    assert (matching._prefix(left.bits, right.bits, 0.85).first is not None) == (kind == "balanced")
    scores = reference(left, right, blocking=blocking)
    for threshold in (0.0, 0.5, 0.8, 0.85, 0.95, 1.0):
        found, comparisons = candidate_pairs(
            left, right, threshold=threshold, blocking=blocking, workers=2 if tiles == "small tiles" else 1
        )
        assert [(m.left, m.right, m.score) for m in found] == expected_pairs(scores, threshold), threshold
        assert comparisons == len(scores)
    assert len(expected_pairs(scores, 1.0)) > 0  # exact copies: the threshold 1 has something to find


@pytest.mark.parametrize("kind", ["balanced", "unbalanced"])
def test_pairs_exactly_at_the_threshold_that_differ_only_in_the_prefix_are_found(kind):
    """The worst case for the bound: all of a pair's differences in the prefix the kernel reads, so that the
    bound is the exact count; pairs scoring exactly the threshold, and just under and over it, tell whether the
    bound is ever too strict by however little."""
    rng = np.random.default_rng(6)
    if kind == "balanced":  # h pairs flipped: 2·(512 - h) / 1024
        cases = [(2 * (512 - h) / 1024, h) for h in (256, 102, 76, 25)]
    else:  # 400 bits set, not in complement pairs; k of those in the prefix cleared: 2·(400 - k) / (800 - k)
        cases = [(2 * (400 - k) / (800 - k), k) for k in (266, 133, 104, 38)]
    for threshold, most in cases:  # `most` differences score exactly `threshold`
        if kind == "balanced":
            left = balanced_set(rng, 60, 1)
        else:
            rows = np.zeros((60, 1024), dtype=bool)
            for row in rows:
                row[rng.choice(1024, size=400, replace=False)] = True
            left = packed(rows, rng, 1)
        prefix = matching._prefix(left.bits, left.bits, threshold)
        assert (prefix.first is not None) == (kind == "balanced")
        right = EncodedSet(bits=left.bits.copy(), blocks=list(left.blocks))
        for j in range(len(right)):
            row = np.unpackbits(left.bits[j].view(np.uint8))
            differences = most + 1 - j % 3  # just under the threshold, at it, just over it
            if prefix.first is not None and prefix.second is not None:
                flipped = rng.permutation(len(prefix.first))[:differences]
                changed = np.concatenate([prefix.first[flipped], prefix.second[flipped]])
            else:
                changed = rng.permutation(prefix.plain[row[prefix.plain] == 1])[:differences]
            assert len(changed) == differences * (2 if kind == "balanced" else 1)
            row[changed] ^= 1
            right.bits[j] = np.packbits(row).view(np.uint64)
        if prefix.first is not None:  # the kernel reads the same prefix as above
            assert np.array_equal(matching._prefix(left.bits, right.bits, threshold).first, prefix.first)
        scores = reference(left, right, blocking=False)
        found, _ = candidate_pairs(left, right, threshold=threshold, blocking=False)
        assert [(m.left, m.right, m.score) for m in found] == expected_pairs(scores, threshold), threshold
        pairs = {(m.left, m.right) for m in found}
        assert {(i, i) for i in range(60) if i % 3} <= pairs
        assert not {(i, i) for i in range(0, 60, 3)} & pairs


def test_blocks_whose_rows_break_the_complement_pairs_are_exact_too(tiles):
    """The pairs are guessed from the first rows; a later row that breaks one sends its block to the plain
    bound, and the other blocks keep the faster one."""
    rng = np.random.default_rng(8)
    left, right = balanced_set(rng, 150, 3), balanced_set(rng, 230, 3)
    near_copies(rng, left, right, balanced=True)
    prefix = matching._prefix(left.bits, right.bits, 0.5)
    assert prefix.first is not None and prefix.second is not None
    broken = left.blocks[100]
    for i in range(100, 150):
        if left.blocks[i] == broken:  # both bits of a pair set (or clear): no longer balanced
            row = np.unpackbits(left.bits[i].view(np.uint8))
            row[prefix.second[i % 5]] = row[prefix.first[i % 5]]
            left.bits[i] = np.packbits(row).view(np.uint64)
    scores = reference(left, right, blocking=True)
    for threshold in (0.5, 0.85):
        found, _ = candidate_pairs(left, right, threshold=threshold)
        assert [(m.left, m.right, m.score) for m in found] == expected_pairs(scores, threshold)


@pytest.mark.parametrize("kind", ["balanced", "unbalanced"])
def test_deduplicate_gives_exactly_the_pairs_of_the_definition(kind, tiles):
    rng = np.random.default_rng(2)
    records = balanced_set(rng, 200, 2) if kind == "balanced" else random_set(rng, 200, 2)
    near_copies(rng, records, records, balanced=kind == "balanced")
    scores = {(i, j): s for (i, j), s in reference(records, records, blocking=True).items() if i < j}
    for threshold in (0.0, 0.5, 0.85, 1.0):
        found = deduplicate(records, threshold=threshold, workers=2 if tiles == "small tiles" else 1)
        assert [(m.left, m.right, m.score) for m in found] == expected_pairs(scores, threshold), threshold


def test_blocks_of_one_row():
    rng = np.random.default_rng(4)
    left, right = balanced_set(rng, 40, 1), balanced_set(rng, 40, 1)
    right.bits[:20] = left.bits[0:40:2]  # right j is left 2j, and in its block
    left = EncodedSet(bits=left.bits, blocks=[str(i) for i in range(40)])  # every record alone in its block
    right = EncodedSet(bits=right.bits, blocks=[str(i) for i in range(0, 80, 2)])
    scores = reference(left, right, blocking=True)
    found, comparisons = candidate_pairs(left, right, threshold=0.85)
    assert [(m.left, m.right, m.score) for m in found] == expected_pairs(scores, 0.85)
    assert comparisons == len(scores) == 20
    assert [(m.left, m.right) for m in found] == [(i, i // 2) for i in range(0, 40, 2)]
    assert deduplicate(left, threshold=0.0) == []  # no block has two records


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


def test_default_workers_leave_the_cores_to_blas_unless_it_is_single_threaded(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert matching.default_workers() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(matching.os, "cpu_count", lambda: 4)
    assert matching.default_workers() == 4
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert matching.default_workers() == 1
