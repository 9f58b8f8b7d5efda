"""k-anonymity of count tables: no published figure below k, no suppressed figure recoverable, and an audit that
can fail (checked against brute force)."""

from __future__ import annotations

import itertools
import random

import pytest

from opennrm.stats.suppression import (
    CountTable,
    SuppressedTable,
    check_published,
    feasible_ranges,
    recoverable_cells,
    suppress,
)

K = 11


def table(counts: list[list[int]], name: str = "t") -> CountTable:
    return CountTable.from_rows(
        name, [str(2020 + i) for i in range(len(counts))], [f"c{j}" for j in range(len(counts[0]))], counts
    )


def assert_safe(protected: SuppressedTable) -> None:
    k = protected.k
    for row in protected.grid():
        for value in row:
            assert value is None or value >= k, protected.grid()
    assert recoverable_cells(protected) == {}
    assert check_published(protected) == []


# --- the audit can fail -------------------------------------------------------------------------------------


def test_primary_only_suppression_is_recoverable_from_the_totals():
    t = table([[20, 3, 15], [25, 14, 12]])
    naive = SuppressedTable(t, K, frozenset({(0, 1)}))  # only the 3 hidden: 38 - 20 - 15
    assert recoverable_cells(naive) == {(0, 1): 3}
    assert check_published(naive)


def test_two_cells_in_a_row_are_still_recoverable_through_their_columns():
    # Row rule satisfied (two hidden in row 0), but each hidden cell's column gives it away.
    t = table([[20, 3, 4], [25, 14, 12]])
    naive = SuppressedTable(t, K, frozenset({(0, 1), (0, 2)}))
    assert recoverable_cells(naive) == {(0, 1): 3, (0, 2): 4}


def test_a_zero_complement_pins_the_cell_it_should_protect():
    # The 3 and the 0 are hidden in row 0 and in their columns, with rows 0 and 1 (a 2 x 2 cycle); column 2
    # adds up to 0, so both its hidden cells are 0 and the 3 follows.
    t = table([[20, 3, 0], [25, 14, 0], [30, 12, 11]])
    hidden = frozenset({(0, 1), (0, 2), (1, 1), (1, 2)})
    ranges = feasible_ranges(SuppressedTable(t, K, hidden))
    assert ranges[(0, 2)] == (0, 0) and ranges[(1, 2)] == (0, 0)
    assert recoverable_cells(SuppressedTable(t, K, hidden)) == {(0, 1): 3, (0, 2): 0, (1, 1): 14, (1, 2): 0}


def test_a_protected_cycle_is_not_recoverable():
    t = table([[20, 3, 15], [25, 14, 12]])
    cycle = frozenset({(0, 1), (0, 2), (1, 1), (1, 2)})
    ranges = feasible_ranges(SuppressedTable(t, K, cycle))
    assert ranges[(0, 1)] == (0, 17)
    assert recoverable_cells(SuppressedTable(t, K, cycle)) == {}


def brute_force_ranges(t: CountTable, hidden: frozenset[tuple[int, int]], bound: int):
    """Every interior assignment up to `bound` consistent with the published figures."""
    m, n = t.shape
    free = [(i, j) for i in range(m) for j in range(n) if (i, j) in hidden]
    seen: dict[tuple[int, int], set[int]] = {e: set() for e in hidden}
    for values in itertools.product(range(bound + 1), repeat=len(free)):
        counts = [list(r) for r in t.counts]
        for (i, j), v in zip(free, values, strict=True):
            counts[i][j] = v
        candidate = table(counts)
        if all(candidate.value(e) == t.value(e) for e in t.entries() if e not in hidden):
            for e in hidden:
                seen[e].add(candidate.value(e))
    return {e: (min(v), max(v)) for e, v in seen.items()}


@pytest.mark.parametrize("seed", range(40))
def test_audit_matches_brute_force_on_small_tables(seed):
    rng = random.Random(seed)
    m, n = rng.choice([(2, 2), (2, 3), (3, 2)])
    t = table([[rng.choice([0, 1, 2, 3]) for _ in range(n)] for _ in range(m)])
    interior = [(i, j) for i in range(m) for j in range(n)]
    margins = [e for e in t.entries() if e not in interior]
    hidden = frozenset(rng.sample(interior, rng.randint(1, 3)) + rng.sample(margins, rng.randint(0, 3)))
    bound = t.grand_total + 4
    exact = feasible_ranges(SuppressedTable(t, 3, hidden))
    brute = brute_force_ranges(t, hidden, bound)
    for e in hidden:
        lo, hi = exact[e]
        b_lo, b_hi = brute[e]
        assert lo == b_lo, (t.counts, sorted(hidden), e)
        if hi is None:
            assert b_hi >= bound, (t.counts, sorted(hidden), e)
        else:
            assert hi == b_hi, (t.counts, sorted(hidden), e)


# --- suppression --------------------------------------------------------------------------------------------


def test_a_row_with_a_single_small_cell():
    protected = suppress(table([[20, 3, 15], [25, 14, 12], [40, 30, 22]]), K)
    assert (0, 1) in protected.suppressed
    assert sum(e[0] == 0 for e in protected.suppressed) >= 2
    assert_safe(protected)


def test_a_column_with_a_single_small_cell():
    protected = suppress(table([[20, 30, 15], [25, 14, 12], [40, 5, 22]]), K)
    assert (2, 1) in protected.suppressed
    assert sum(e[1] == 1 for e in protected.suppressed) >= 2
    assert_safe(protected)


def test_zeros_are_suppressed_and_a_zero_complement_is_not_enough():
    # Column 2 holds only zeros: its total (0) is hidden too, and hiding the 3 with the zero beside it is not
    # enough (the zeros of column 2 are pinned by the grand total).
    t = table([[20, 3, 0], [25, 14, 0], [30, 12, 0]])
    protected = suppress(t, K)
    assert {(0, 1), (0, 2), (1, 2), (2, 2), (3, 2)} <= protected.suppressed
    assert_safe(protected)


def test_the_obvious_complement_is_zero():
    # The smallest figure beside the 4 is a zero, and hiding it satisfies "two per row and column" - but column 2
    # adds up to 13 - 13 = 0 around its hidden zeros, which pins them, and the 4 follows from its row.
    t = table([[40, 4, 0, 30], [35, 22, 0, 25], [12, 15, 13, 11]])
    pattern_only = SuppressedTable(t, K, frozenset({(0, 1), (0, 2), (1, 1), (1, 2)}))
    assert recoverable_cells(pattern_only) == {(0, 1): 4, (0, 2): 0, (1, 1): 22, (1, 2): 0}
    protected = suppress(t, K)
    assert_safe(protected)
    assert len(protected.suppressed) > len(pattern_only.suppressed)


def test_a_small_margin_is_suppressed():
    t = table([[2, 3, 4], [25, 14, 12]])  # the total of row 0 is 9 < 11
    protected = suppress(t, K)
    assert (0, 3) in protected.suppressed
    assert_safe(protected)


def test_everything_small():
    protected = suppress(table([[1, 2], [3, 0]]), K)
    assert protected.suppressed == frozenset(protected.table.entries())
    assert_safe(protected)


def test_fixed_entries_are_never_chosen_as_complements_and_forced_ones_are_hidden():
    t = table([[20, 3, 15], [25, 14, 12], [40, 30, 22]])
    fixed = t.row_total_entries() | {t.grand_total_entry()}
    protected = suppress(t, K, forced={(2, 0)}, fixed=fixed)
    assert (2, 0) in protected.suppressed
    assert not (fixed & protected.secondary)
    assert_safe(protected)


@pytest.mark.parametrize("seed", range(60))
def test_random_tables_are_k_anonymous(seed):
    rng = random.Random(1000 + seed)
    m, n = rng.randint(1, 7), rng.randint(2, 13)
    weights = [0, 0, 0, 1, 1, 2, 3, 5, 8, 10, 11, 12, 15, 25, 60]
    t = table([[rng.choice(weights) for _ in range(n)] for _ in range(m)])
    fixed: set[tuple[int, int]] = set()
    forced: set[tuple[int, int]] = set()
    if rng.random() < 0.5:
        # As a release does with the totals shared by its tables: decided beforehand, never complements.
        fixed = t.row_total_entries() | {t.grand_total_entry()}
        hidden_rows = {i for i, total in enumerate(t.row_totals) if total < K}
        if len(hidden_rows) == 1 and m > 1:
            hidden_rows.add(
                min((total, i) for i, total in enumerate(t.row_totals) if i not in hidden_rows)[1]
            )
        if t.grand_total < K:
            hidden_rows = set(range(m))
        forced = {(i, j) for i in hidden_rows for j in range(n + 1)}
    protected = suppress(t, K, forced=forced, fixed=fixed)
    assert_safe(protected)


def test_a_single_hidden_shared_total_cannot_be_protected_within_the_table():
    t = table([[5, 0], [12, 8]])
    fixed = t.row_total_entries() | {t.grand_total_entry()}
    with pytest.raises(ValueError):
        suppress(t, K, fixed=fixed)


def test_margins_always_add_up():
    t = table([[1, 2, 3], [4, 5, 6]])
    assert t.row_totals == (6, 15)
    assert t.col_totals == (5, 7, 9)
    assert t.grand_total == 21
    with pytest.raises(ValueError):
        table([[1, -1]])
