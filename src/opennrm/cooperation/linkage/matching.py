"""Sørensen–Dice matching of encoded sets: blocking, a threshold, and a one-to-one solve.

Exact: the pairs and scores are those of `dice` on every pair of a block; what makes it fast is dropping, with a
bound that never drops a pair at or above the threshold, almost every pair before its 1,024 bits are counted.

1. A bound from a prefix. Over a prefix of the bit positions, a pair has I_P common bits; outside it at most
   min(|a| - |a_P|, |b| - |b_P|). A Dice score of at least t needs 2·I >= t·(|a| + |b|), so a pair whose bound
   falls short is dropped unread.
2. Complement pairs. OpenNRM's encodings are a filter and its complement, shuffled (`encoding`): positions come
   in pairs of which exactly one bit is set. The pairs are guessed from a sample of the rows and checked on
   every row of a block before that block uses them (a block with a row that breaks one is bounded as in 1.).
   Two records share exactly one bit in each pair where they agree, and with f the bits at the first position
   of each of P pairs, they agree on P - |f_a| - |f_b| + 2·f_a·f_b pairs: P bits tell what 2P positions tell
   in 1.
3. Matrix products. f_a·f_b (or I_P) for a tile of left records against the right records of the block is one
   float32 matrix product through numpy's BLAS (sums of small integers: exact in float32), with the bound
   folded in as two more rows on each side, so that a pair is kept when its entry is >= 0.
4. The few pairs kept (0.4 % on the benchmark's blocks at 0.85) are counted exactly: AND and popcount of all
   their words, then the score as `dice` computes it.

Records are sorted by popcount in each block, so that a tile of rows only meets the columns whose popcount can
reach the threshold at all (Dice <= 2·min / sum): with balanced encodings all popcounts are equal and nothing
is skipped, with others it saves most of the work. Large blocks are compared chunk by chunk and small ones
prepared together; these tasks can run on several threads (numpy and BLAS release the GIL), see
`default_workers` for how many.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from opennrm.cooperation.linkage.encoding import EncodedSet

# Chosen on synthetic Georgian, Ukrainian, Russian and Latin-script records (docs/record-linkage.md): the best
# F1 was at 0.86 and stays within 0.005 of it from 0.84 to 0.88; a little below the best, to favour recall,
# because every candidate is checked by a person before anything else happens.
DEFAULT_THRESHOLD = 0.85

# The prefix: 3.3·(1 - t)·(half the bits) pairs, rounded up to 32. A pair is kept while it differs on at most
# (1 - t)·(half the bits) pairs, so on no more than 30 % of the prefix, where two different people's encodings
# differ on about 46 % of it: the fastest on the benchmark's data at every threshold from 0.75 to 0.95. Any
# prefix gives the same result; this only sets how many pairs are counted exactly.
PREFIX_FACTOR = 3.3
CHUNK = 8_192  # rows a side: a larger block is compared chunk by chunk
PACK = 2_048  # rows of both sides: smaller blocks are prepared together, up to this many rows
TILE_PAIRS = 1 << 22  # entries of one matrix product (16 MB of float32)


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
    """Threads comparing blocks side by side. One: numpy's BLAS (OpenBLAS) already runs each matrix product on
    every core, and threads of ours on top of its threads only fight them (slower than either alone). A thread
    per core (up to 8) where the BLAS was told to use one thread, as servers running several processes often
    tell it (OPENBLAS_NUM_THREADS=1 or OMP_NUM_THREADS=1, read by OpenBLAS when numpy is imported)."""
    setting = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if setting is None or setting.strip() != "1":
        return 1
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
    ids: dict[str, int] = {}
    block_ids = np.fromiter((ids.setdefault(b, len(ids)) for b in records.blocks), np.intp, len(records))
    groups = [(rows, rows) for rows in _by_id(block_ids, len(ids)) if len(rows) > 1]
    return _run(records.bits, records.bits, groups, threshold=threshold, triangular=True, workers=workers)


# --- kernel ------------------------------------------------------------------------------------------------

Group = tuple[np.ndarray, np.ndarray]
_Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # left indices, right indices, scores
_EMPTY: _Found = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64))
_SAMPLE = 64  # rows the complement pairs are guessed from, half from each set
# The bounds are rounded up to multiples of 1/64, so that every partial sum of a product is exact in float32
# (the absolute values of a product's terms add up to less than 8·bits, times 64 at most 2**24 for 2**15 bits)
# and rounding can only keep a pair, never drop one.
_GRID = 64
_MAX_BITS = 1 << 15


def _groups(left: EncodedSet, right: EncodedSet, blocking: bool) -> list[Group]:
    if left.bits.shape[1] != right.bits.shape[1]:
        raise ValueError("encodings of different widths")
    if not len(left) or not len(right):
        return []
    if not blocking:
        return [(np.arange(len(left), dtype=np.intp), np.arange(len(right), dtype=np.intp))]
    ids: dict[str, int] = {}
    right_ids = np.fromiter((ids.setdefault(b, len(ids)) for b in right.blocks), np.intp, len(right))
    left_ids = np.fromiter((ids.get(b, -1) for b in left.blocks), np.intp, len(left))
    pairs = zip(_by_id(left_ids, len(ids)), _by_id(right_ids, len(ids)), strict=True)
    return [(rows, other) for rows, other in pairs if len(rows)]


def _by_id(ids: np.ndarray, n: int) -> list[np.ndarray]:
    """For each id 0 .. n - 1, the positions holding it, ascending (-1: in no group)."""
    order = np.argsort(ids, kind="stable")
    counts = np.bincount(ids[ids >= 0], minlength=n)
    return np.split(order[len(ids) - int(counts.sum()) :], np.cumsum(counts)[:-1])


@dataclass(frozen=True)
class _Prefix:
    """The bit positions the bound reads, numbered as `np.unpackbits` numbers a row's bytes."""

    plain: np.ndarray  # the first positions, for the bound of the module docstring's step 1
    first: np.ndarray | None  # complement pairs (step 2): the first and the second position of each
    second: np.ndarray | None


def _prefix_size(threshold: float, available: int, step: int) -> int:
    size = math.ceil(PREFIX_FACTOR * (1 - threshold) * available / step) * step
    return min(available, max(step, size))


def _complement_pairs(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j), i < j, whose bits are complements in every row of `sample` (at most 64 rows), among
    positions whose column of bits is unlike any other's (so that no pairing is a pick among several)."""
    columns = np.unpackbits(sample.view(np.uint8), axis=1).T
    signature = _as_words(np.packbits(columns, axis=1))
    flipped = _as_words(np.packbits(1 - columns, axis=1))
    order = np.argsort(signature, kind="stable")
    ordered = signature[order]
    values, counts = np.unique(signature, return_counts=True)
    lone = np.isin(signature, values[counts == 1])
    at = np.minimum(np.searchsorted(ordered, flipped), len(ordered) - 1)
    partner = order[at]
    found = lone & lone[partner] & (ordered[at] == flipped) & (np.arange(len(signature)) < partner)
    first = np.flatnonzero(found)
    return first, partner[first]


def _as_words(packed: np.ndarray) -> np.ndarray:
    """Each row of up to 8 bytes as one uint64."""
    words = np.zeros((packed.shape[0], 8), dtype=np.uint8)
    words[:, : packed.shape[1]] = packed
    return words.view(np.uint64)[:, 0]


def _prefix(left_bits: np.ndarray, right_bits: np.ndarray, threshold: float) -> _Prefix:
    width = left_bits.shape[1] * 64
    plain = np.arange(_prefix_size(threshold, width, 64), dtype=np.intp)
    sample = np.concatenate([left_bits[: _SAMPLE // 2], right_bits[: _SAMPLE // 2]])
    if not len(sample):
        return _Prefix(plain=plain, first=None, second=None)
    first, second = _complement_pairs(np.ascontiguousarray(sample))
    size = _prefix_size(threshold, width // 2, 32)
    if len(first) < size:
        return _Prefix(plain=plain, first=None, second=None)
    return _Prefix(plain=plain, first=first[:size], second=second[:size])


def _bits_at(by_byte: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(len(positions), n) bool: the bit at each position of each row, from the rows' bytes in columns."""
    masked = by_byte[positions >> 3]
    masked &= (np.uint8(128) >> (positions & 7).astype(np.uint8))[:, None]
    return masked.astype(np.bool_)


def _operands(
    rows: np.ndarray, count: np.ndarray, prefix: _Prefix, threshold: float, *, paired: bool, left: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """One side of the matrix product, (k, n) float32, built so that entry (i, j) of `left.T @ right` is >= 0
    for every pair that can score `threshold` (and for a few that cannot); and, `paired`, whether each row has
    exactly one bit of each pair of the prefix (without, its paired operand means nothing).

    Plain: keep when 2·I_P + 2·min(|a| - |a_P|, |b| - |b_P|) >= t·(|a| + |b|), loosened (min <= mean) into a
    product term and a term of each side: 2·I_P + (|a| - |a_P| - t·|a|) + (|b| - |b_P| - t·|b|) >= 0.
    Paired, with f the bits at the first positions of the P pairs: the pairs where a and b agree, which are
    their common bits in the prefix, number P - |f_a| - |f_b| + 2·f_a·f_b; outside the prefix a has |a| - P
    bits. The same loosening gives 4·f_a·f_b + (|a| - 2·|f_a| - t·|a|) + (|b| - 2·|f_b| - t·|b|) >= 0."""
    by_byte = np.ascontiguousarray(rows.view(np.uint8).T)
    valid = None
    if paired and prefix.first is not None and prefix.second is not None:
        bits = _bits_at(by_byte, prefix.first)
        valid = np.not_equal(bits, _bits_at(by_byte, prefix.second)).all(axis=0)
        scale, weight = 4, 2
    else:
        bits = _bits_at(by_byte, prefix.plain)
        scale, weight = 2, 1
    in_prefix = bits.view(np.uint8).sum(axis=0, dtype=np.uint16)  # at most 2**15 (and faster than int64)
    term = count - weight * in_prefix.astype(np.int64) - threshold * count
    rounded = np.ceil(term * _GRID + 1e-3) / _GRID
    size = len(bits)
    out = np.empty((size + 2, len(rows)), dtype=np.float32)
    np.multiply(bits, np.float32(scale if left else 1), out=out[:size])
    out[size], out[size + 1] = (rounded, 1.0) if left else (1.0, rounded)
    return out, valid


_Piece = tuple[np.ndarray, np.ndarray, bool]  # left rows, right rows, diagonal (the same rows on both sides)


@dataclass
class _Side:
    """The rows of a task's pieces on one side, piece after piece, each piece sorted by popcount."""

    rows: np.ndarray  # (n, words) uint64
    index: np.ndarray  # the rows' indices in the caller's set
    count: np.ndarray  # their popcounts
    starts: np.ndarray  # where each piece begins, and the end


def _side(bits: np.ndarray, parts: list[np.ndarray]) -> _Side:
    index = np.concatenate(parts)
    rows = bits[index]
    count = np.bitwise_count(rows).sum(axis=1, dtype=np.int64)
    sizes = [len(p) for p in parts]
    order = np.lexsort((count, np.repeat(np.arange(len(parts)), sizes)))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    return _Side(rows=rows[order], index=index[order], count=count[order], starts=starts)


def _reachable(low: int, high: int, counts: np.ndarray, threshold: float) -> tuple[int, int]:
    """The columns (sorted popcounts `counts`) that rows of popcounts in [low, high] can reach at all: Dice is
    at most 2·min / sum, so |b| must lie within [|a|·t/(2 - t), |a|·(2 - t)/t]."""
    if threshold <= 0:
        return 0, len(counts)
    lowest = low * threshold / (2 - threshold) - 1e-9
    highest = high * (2 - threshold) / threshold + 1e-9
    return int(np.searchsorted(counts, lowest, "left")), int(np.searchsorted(counts, highest, "right"))


def _compare(
    left_bits: np.ndarray,
    right_bits: np.ndarray,
    task: list[_Piece],
    *,
    prefix: _Prefix,
    threshold: float,
    ordered: bool,
) -> _Found:
    """Every pair of the task's pieces at or above the threshold; a diagonal piece gives each pair of two
    different rows once. `ordered`: each pair as (lower, higher) index."""
    left = _side(left_bits, [piece[0] for piece in task])
    right = _side(right_bits, [piece[1] for piece in task])
    paired = prefix.first is not None
    left_operand, left_valid = _operands(left.rows, left.count, prefix, threshold, paired=paired, left=True)
    right_operand, right_valid = _operands(
        right.rows, right.count, prefix, threshold, paired=paired, left=False
    )
    largest = max(max(min(TILE_PAIRS, len(piece[0]) * len(piece[1])), len(piece[1])) for piece in task)
    product = np.empty(largest, dtype=np.float32)
    kept = np.empty(largest, dtype=np.bool_)
    found: list[_Found] = []
    for k, (_, _, diagonal) in enumerate(task):
        ls, rs = slice(left.starts[k], left.starts[k + 1]), slice(right.starts[k], right.starts[k + 1])
        lt, rt = left_operand[:, ls], right_operand[:, rs]
        broken = left_valid is not None and not left_valid[ls].all()
        if broken or (right_valid is not None and not right_valid[rs].all()):  # the plain bound, then
            lt = _operands(left.rows[ls], left.count[ls], prefix, threshold, paired=False, left=True)[0]
            rt = _operands(right.rows[rs], right.count[rs], prefix, threshold, paired=False, left=False)[0]
        found.extend(
            _compare_piece(
                (left.rows[ls], left.count[ls], left.index[ls], lt),
                (right.rows[rs], right.count[rs], right.index[rs], rt),
                product,
                kept,
                threshold=threshold,
                diagonal=diagonal,
            )
        )
    if not found:
        return _EMPTY
    found_left = np.concatenate([f[0] for f in found])
    found_right = np.concatenate([f[1] for f in found])
    if ordered:
        found_left, found_right = np.minimum(found_left, found_right), np.maximum(found_left, found_right)
    return found_left, found_right, np.concatenate([f[2] for f in found])


_Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # rows, popcounts, indices, operand


def _compare_piece(
    left: _Rows, right: _Rows, product: np.ndarray, kept: np.ndarray, *, threshold: float, diagonal: bool
) -> Iterator[_Found]:
    left_rows, left_count, left_index, lt = left
    right_rows, right_count, right_index, rt = right
    n, m = len(left_rows), len(right_rows)
    rows = max(1, min(n, len(product) // max(1, m)))
    ones = np.ones(left_rows.shape[1], dtype=np.float32)
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        j0, j1 = _reachable(int(left_count[i0]), int(left_count[i1 - 1]), right_count, threshold)
        if diagonal:
            j0 = max(j0, i0)
        if j0 >= j1:
            continue
        shape = (i1 - i0, j1 - j0)
        tile = product[: shape[0] * shape[1]].reshape(shape)
        np.matmul(lt[:, i0:i1].T, rt[:, j0:j1], out=tile)
        flat = np.flatnonzero(np.greater_equal(tile, 0, out=kept[: tile.size].reshape(shape)))
        ii, jj = flat // shape[1] + i0, flat % shape[1] + j0
        if diagonal:
            keep = ii < jj
            ii, jj = ii[keep], jj[keep]
        if not len(ii):
            continue
        both = np.take(left_rows, ii, axis=0)
        both &= np.take(right_rows, jj, axis=0)
        common = (np.bitwise_count(both).astype(np.float32) @ ones).astype(np.int64)  # exact: < 2**24
        total = left_count[ii] + right_count[jj]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(total > 0, 2.0 * common / total, 0.0)
        keep = score >= threshold
        yield left_index[ii[keep]], right_index[jj[keep]], score[keep]


def _tasks(groups: Sequence[Group], triangular: bool) -> list[list[_Piece]]:
    """Blocks split into pieces of at most CHUNK rows a side; small pieces packed together into tasks of about
    PACK rows, which are prepared at once. Largest first, so that a pool of threads ends evenly."""
    pieces: list[_Piece] = []
    for left_index, right_index in groups:
        left_chunks = [left_index[k : k + CHUNK] for k in range(0, len(left_index), CHUNK)]
        if triangular:  # one set against itself: chunk a against chunks b >= a
            for a, chunk in enumerate(left_chunks):
                pieces.append((chunk, chunk, True))
                pieces.extend((chunk, other, False) for other in left_chunks[a + 1 :])
        else:
            right_chunks = [right_index[k : k + CHUNK] for k in range(0, len(right_index), CHUNK)]
            pieces.extend((lc, rc, False) for lc in left_chunks for rc in right_chunks)
    pieces.sort(key=lambda p: len(p[0]) * len(p[1]), reverse=True)
    tasks: list[list[_Piece]] = []
    rows = PACK
    for piece in pieces:
        if rows + len(piece[0]) + len(piece[1]) > PACK:
            tasks.append([])
            rows = 0
        tasks[-1].append(piece)
        rows += len(piece[0]) + len(piece[1])
    return tasks


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
    if left_bits.shape[1] * 64 > _MAX_BITS:
        raise ValueError(f"encodings wider than {_MAX_BITS} bits")
    tasks = _tasks(groups, triangular)
    if not tasks:
        return []
    prefix = _prefix(left_bits, right_bits, threshold)
    workers = min(workers or default_workers(), len(tasks))

    def compare(task: list[_Piece]) -> _Found:
        return _compare(left_bits, right_bits, task, prefix=prefix, threshold=threshold, ordered=triangular)

    if workers == 1:
        found = [compare(task) for task in tasks]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = list(pool.map(compare, tasks))
    li = np.concatenate([f[0] for f in found])
    ri = np.concatenate([f[1] for f in found])
    scores = np.concatenate([f[2] for f in found])
    order = np.lexsort((ri, li, -scores))  # best score first; ties by left, then right index
    return [
        Match(left=int(i), right=int(j), score=float(s))
        for i, j, s in zip(li[order], ri[order], scores[order], strict=True)
    ]
