"""Sørensen–Dice matching of encoded sets: blocking, a threshold, and a one-to-one solve.

The comparison kernel is numpy on 64-bit words: for a tile of left rows against a slice of the right block it
ANDs one word column at a time, counts bits (`np.bitwise_count`) and accumulates, so no Python runs per pair
and memory stays at a few megabytes per worker whatever the sizes. Only the first half of the words is counted
for every pair: a pair that cannot reach the threshold even if all its remaining bits agreed is dropped there,
and only the survivors (a small fraction at useful thresholds) have the second half counted. Tiles run on a
thread pool; numpy releases the GIL inside the loops.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from opennrm.cooperation.linkage.encoding import EncodedSet

# Chosen on synthetic Georgian, Ukrainian, Russian and Latin-script records (docs/record-linkage.md): the best
# F1 was at 0.86 and stays within 0.005 of it from 0.84 to 0.88; a little below the best, to favour recall,
# because every candidate is checked by a person before anything else happens.
DEFAULT_THRESHOLD = 0.85

TILE_PAIRS = 32_768  # pairs per numpy step: the temporaries (11 bytes a pair) stay in the L2 cache
RIGHT_SLICE = 8_192  # right rows per tile
_EPS = 1e-9  # keeps the integer bounds below the exact ones whatever the rounding of threshold · count


@dataclass(frozen=True)
class Match:
    left: int
    right: int
    score: float


def dice(a: bytes, b: bytes) -> float:
    """Sørensen–Dice coefficient of two bit strings: 2|a∧b| / (|a| + |b|); 0.0 for two empty filters."""
    if len(a) != len(b):
        raise ValueError("encodings of different widths")
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    total = x.bit_count() + y.bit_count()
    return 2 * (x & y).bit_count() / total if total else 0.0


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def candidate_pairs(
    left: EncodedSet,
    right: EncodedSet,
    *,
    threshold: float,
    blocking: bool = True,
    workers: int | None = None,
) -> tuple[list[Match], int]:
    """Every pair scoring at least `threshold`, best first, and the number of comparisons made.

    With `blocking`, a left record is compared only with right records of the same blocking key (records
    without a birth year with each other). Encodings are salted by the year, so pairs in different blocks
    score like strangers: blocking changes the work, not the matches."""
    groups = _groups(left, right, blocking)
    result = _run(left.bits, right.bits, groups, threshold=threshold, triangular=False, workers=workers)
    comparisons = sum(len(li) * len(ri) for li, ri in groups)
    return result, comparisons


def match(
    left: EncodedSet,
    right: EncodedSet,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    blocking: bool = True,
    workers: int | None = None,
) -> list[Match]:
    """One-to-one matches: each left and each right index in at most one match, best scores first.

    Solved greedily on descending score (ties: lower left, then lower right index first), the standard
    one-to-one solver of PPRL (as in anonlink's greedy solver); it is not an optimal assignment, which makes
    no practical difference at high thresholds where a record rarely has two candidates."""
    candidates, _ = candidate_pairs(left, right, threshold=threshold, blocking=blocking, workers=workers)
    return one_to_one(candidates)


def one_to_one(candidates: Iterable[Match]) -> list[Match]:
    """The greedy one-to-one solve of `match` on pairs already found (sorted best first, as `candidate_pairs`
    gives them): keeps a pair when neither of its records is taken yet."""
    used_left: set[int] = set()
    used_right: set[int] = set()
    matches = []
    for m in candidates:
        if m.left not in used_left and m.right not in used_right:
            used_left.add(m.left)
            used_right.add(m.right)
            matches.append(m)
    return matches


def deduplicate(
    records: EncodedSet, *, threshold: float = DEFAULT_THRESHOLD, workers: int | None = None
) -> list[Match]:
    """Pairs of records of one set that score at least `threshold` (left < right), best first, within blocks.

    All pairs, not one-to-one: a person recorded by three agencies gives three pairs; group them with a
    union-find over the pairs if clusters are wanted."""
    by_block: dict[str, list[int]] = defaultdict(list)
    for i, block in enumerate(records.blocks):
        by_block[block].append(i)
    groups: list[Group] = []
    for idx in by_block.values():
        if len(idx) > 1:
            rows = np.array(idx, dtype=np.intp)
            groups.append((rows, rows))
    return _run(records.bits, records.bits, groups, threshold=threshold, triangular=True, workers=workers)


# --- kernel ------------------------------------------------------------------------------------------------

Group = tuple[np.ndarray, np.ndarray]


def _groups(left: EncodedSet, right: EncodedSet, blocking: bool) -> list[Group]:
    if left.bits.shape[1] != right.bits.shape[1]:
        raise ValueError("encodings of different widths")
    if not blocking:
        if not len(left) or not len(right):
            return []
        return [(np.arange(len(left), dtype=np.intp), np.arange(len(right), dtype=np.intp))]
    right_by_block: dict[str, list[int]] = defaultdict(list)
    for j, block in enumerate(right.blocks):
        right_by_block[block].append(j)
    left_by_block: dict[str, list[int]] = defaultdict(list)
    for i, block in enumerate(left.blocks):
        if block in right_by_block:
            left_by_block[block].append(i)
    return [
        (np.array(idx, dtype=np.intp), np.array(right_by_block[block], dtype=np.intp))
        for block, idx in left_by_block.items()
    ]


@dataclass
class _Block:
    """One block, gathered, sorted by popcount, ready to be compared tile by tile."""

    left: np.ndarray  # (n, words) uint64
    right: np.ndarray  # (m, words)
    right_t: np.ndarray  # (half, m): the first half of the right words, one row per word
    left_index: np.ndarray  # the rows' indices in the caller's sets
    right_index: np.ndarray
    left_count: np.ndarray  # popcount of each row, int64, ascending
    right_count: np.ndarray
    left_rest: np.ndarray  # popcount of the second half of the words
    right_rest: np.ndarray
    right_offset: np.ndarray  # -floor(threshold·|b|/2), int16: see `_compare_tile`
    triangular: bool


def _sorted_by_count(bits: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, ...]:
    words = np.bitwise_count(bits[index]).astype(np.int64)
    count = words.sum(axis=1)
    order = np.argsort(count, kind="stable")
    index = index[order]
    rest = words[order, bits.shape[1] // 2 :].sum(axis=1)
    return bits[index], index, count[order], rest


def _prepare(
    left_bits: np.ndarray, right_bits: np.ndarray, group: Group, *, threshold: float, triangular: bool
) -> _Block:
    # Sorting both sides by popcount keeps each tile's popcounts close together: tiles that cannot reach the
    # threshold are skipped whole, and the pruning bound of `_compare_tile` is tight (for balanced encodings
    # every popcount is the same and the order is the original one).
    left, left_index, left_count, left_rest = _sorted_by_count(left_bits, group[0])
    if triangular:
        right, right_index, right_count, right_rest = left, left_index, left_count, left_rest
    else:
        right, right_index, right_count, right_rest = _sorted_by_count(right_bits, group[1])
    return _Block(
        left=left,
        right=right,
        right_t=np.ascontiguousarray(right[:, : right.shape[1] // 2].T),
        left_index=left_index,
        right_index=right_index,
        left_count=left_count,
        right_count=right_count,
        left_rest=left_rest,
        right_rest=right_rest,
        right_offset=-np.floor(threshold * right_count / 2 - _EPS).astype(np.int16),
        triangular=triangular,
    )


def _reachable(a_low: int, a_high: int, b_low: int, b_high: int, threshold: float) -> bool:
    """Whether some pair with popcounts in these ranges can score `threshold`: Dice <= 2·min / (sum)."""
    if a_high < b_low:
        best = 2 * a_high / (a_high + b_low)
    elif b_high < a_low:
        best = 2 * b_high / (b_high + a_low)
    else:
        return True
    return best >= threshold


def _tiles(block: _Block, threshold: float) -> Iterator[tuple[int, int, int, int]]:
    n, m = len(block.left), len(block.right)
    width = min(m, RIGHT_SLICE, TILE_PAIRS)
    rows = max(1, TILE_PAIRS // width)
    lc, rc = block.left_count, block.right_count
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        # Triangular (one set against itself): only columns from the first row of the tile on.
        for j0 in range(i0 if block.triangular else 0, m, width):
            j1 = min(m, j0 + width)
            if _reachable(int(lc[i0]), int(lc[i1 - 1]), int(rc[j0]), int(rc[j1 - 1]), threshold):
                yield i0, i1, j0, j1


_Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # left indices, right indices, scores


class _Scratch:
    """A worker's temporaries, allocated once: fresh arrays of this size would be mapped and faulted in by the
    kernel at every tile, which costs more than the counting and serialises the threads."""

    def __init__(self) -> None:
        self.acc = np.empty(TILE_PAIRS, dtype=np.int16)
        self.word = np.empty(TILE_PAIRS, dtype=np.uint64)
        self.count = np.empty(TILE_PAIRS, dtype=np.uint8)


def _compare_tile(
    block: _Block, threshold: float, scratch: _Scratch, i0: int, i1: int, j0: int, j1: int
) -> _Found:
    left = block.left[i0:i1]
    half = block.right_t.shape[0]
    shape = (i1 - i0, j1 - j0)
    size = shape[0] * shape[1]
    acc = scratch.acc[:size].reshape(shape)
    word = scratch.word[:size].reshape(shape)
    count = scratch.count[:size].reshape(shape)
    # A pair can reach the threshold only if acc + |a_rest| >= threshold·(|a| + |b|)/2, where acc counts the
    # common bits of the first half of the words and |a_rest| bounds those of the second half. Split as
    # acc - floor(t·|b|/2) >= floor(t·|a|/2) - |a_rest| (a little looser, never stricter): the column term
    # is the accumulator's starting value, the row term one comparison per pair.
    np.copyto(acc, block.right_offset[None, j0:j1])
    for w in range(half):
        np.bitwise_and(left[:, w : w + 1], block.right_t[w, j0:j1], out=word)
        np.bitwise_count(word, out=count)
        np.add(acc, count, out=acc)
    left_count = block.left_count[i0:i1]
    bound = np.floor(threshold * left_count / 2 - _EPS).astype(np.int64) - block.left_rest[i0:i1]
    ii, jj = np.nonzero(acc >= np.clip(bound, -(2**15), 2**15 - 1).astype(np.int16)[:, None])
    if block.triangular:
        keep = i0 + ii < j0 + jj
        ii, jj = ii[keep], jj[keep]
    if not len(ii):
        return _EMPTY
    rest = np.bitwise_count(left[ii, half:] & block.right[j0 + jj, half:]).sum(axis=1, dtype=np.int64)
    common = acc[ii, jj].astype(np.int64) - block.right_offset[j0 + jj] + rest
    total = left_count[ii] + block.right_count[j0 + jj]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(total > 0, 2.0 * common / total, 0.0)
    keep = score >= threshold
    found_left = block.left_index[i0 + ii[keep]]
    found_right = block.right_index[j0 + jj[keep]]
    if block.triangular:  # report each pair as (lower index, higher index)
        found_left, found_right = np.minimum(found_left, found_right), np.maximum(found_left, found_right)
    return found_left, found_right, score[keep]


_EMPTY: _Found = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64))


def _run(
    left_bits: np.ndarray,
    right_bits: np.ndarray,
    groups: list[Group],
    *,
    threshold: float,
    triangular: bool,
    workers: int | None,
) -> list[Match]:
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise ValueError("the threshold is a Dice score in [0, 1]")
    blocks = [_prepare(left_bits, right_bits, g, threshold=threshold, triangular=triangular) for g in groups]
    jobs = [(block, tile) for block in blocks for tile in _tiles(block, threshold)]
    workers = min(workers or default_workers(), max(1, len(jobs)))

    def work(first: int) -> list[_Found]:
        # Worker k takes every workers-th tile: neighbouring tiles are alike, so the shares are even.
        scratch = _Scratch()
        results = (_compare_tile(block, threshold, scratch, *tile) for block, tile in jobs[first::workers])
        return [f for f in results if len(f[0])]

    if workers == 1:
        found = work(0)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = [f for part in pool.map(work, range(workers)) for f in part]
    if not found:
        return []
    li = np.concatenate([f[0] for f in found])
    ri = np.concatenate([f[1] for f in found])
    scores = np.concatenate([f[2] for f in found])
    order = np.lexsort((ri, li, -scores))  # best score first; ties by left, then right index
    return [
        Match(left=int(i), right=int(j), score=float(s))
        for i, j, s in zip(li[order], ri[order], scores[order], strict=True)
    ]
