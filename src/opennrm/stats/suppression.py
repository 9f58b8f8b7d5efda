"""k-anonymity for two-way count tables: primary and secondary cell suppression, and an exact audit.

A table here is a two-way count table (rows x columns, e.g. year x sex) published *with* its margins: a total
per row, a total per column and the grand total. We call every published figure an *entry* of the extended
(rows + 1) x (columns + 1) table: interior cells, row totals (last column), column totals (last row) and the
grand total (bottom-right corner).

The rule (what a reader of a release can rely on):

1. **Primary suppression.** Every entry below k is suppressed, *zeros included*. A zero says that nobody in a
   group has a characteristic ("no man among the victims identified by the police in 2024"), which can be as
   telling as a count of one; and if zeros were shown, a reader would know that every suppressed cell holds at
   least one person. So a published figure is always ≥ k, and a suppressed one may be anything from 0 up.
2. **Secondary suppression.** No suppressed entry may be recoverable from the published ones. First a pattern
   rule: every row and every column of the extended table that has a suppressed entry must have at least two;
   the complement chosen is the smallest publishable entry of that line. The pattern rule is necessary but not
   sufficient (zeros pin their neighbours: if a suppressed 3 and a suppressed 0 share a row and the 0's
   column adds up to 0, the 3 is exact), so after it the table is *audited* (below) and, while an entry is
   still recoverable, the smallest publishable entry of its row or column is suppressed too, until the audit
   passes. Margins are suppressed like any other entry (primary below k, or as complements).
3. **Fixed entries.** A caller may name entries that must not be chosen as complements (`fixed`), and entries
   that must be suppressed whatever their value (`forced`). A release uses them for the figures that several
   tables share (the totals per year and the grand total), so that the same figure is published or
   suppressed the same way in every table — otherwise one table would give away what another hides.

The audit (`feasible_ranges`, `recoverable_cells`) is exact, not a heuristic: an extended two-way table is a
flow network (source → row node: row total; row → column node: cell; column → sink: column total; sink →
source: grand total; every node balances), so the values a reader can deduce for a suppressed entry, knowing
every published figure and that counts are never negative, form an interval whose ends are found by two
maximum-flow computations around the entry in the residual network of the true table. This is what a linear
program would give (the constraint matrix is totally unimodular, so its bounds are integers) without needing
one: scipy is not installed, and interval propagation alone gives bounds that can be *wider* than the truth,
which is the wrong direction for a safety check. An entry is recoverable when its interval is a single value.

The audit assumes the reader knows the published figures, the table's additive structure and non-negativity
— not which suppressed entries were primary. It covers one table; `opennrm.stats.release` makes the tables of a
release safe together (shared totals decided once) and never publishes exact tables of the same year twice, since
two such releases could be subtracted from each other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# An entry of the extended table: (row, column). Row index == number of rows is the column-totals row; column
# index == number of columns is the row-totals column.
Entry = tuple[int, int]

SUPPRESSED_MARK = "[c]"  # the ONS convention for "confidential"


@dataclass(frozen=True)
class CountTable:
    """A two-way count table. Margins are computed, never given, so they always add up."""

    name: str
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.row_labels):
            raise ValueError("one row of counts per row label")
        if any(len(row) != len(self.col_labels) for row in self.counts):
            raise ValueError("one count per column label in every row")
        if any(c < 0 for row in self.counts for c in row):
            raise ValueError("counts cannot be negative")

    @classmethod
    def from_rows(
        cls, name: str, row_labels: Sequence[str], col_labels: Sequence[str], counts: Sequence[Sequence[int]]
    ) -> CountTable:
        return cls(
            name, tuple(row_labels), tuple(col_labels), tuple(tuple(int(c) for c in r) for r in counts)
        )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.row_labels), len(self.col_labels)

    @property
    def row_totals(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.counts)

    @property
    def col_totals(self) -> tuple[int, ...]:
        return (
            tuple(sum(col) for col in zip(*self.counts, strict=True)) if self.counts else (0,) * self.shape[1]
        )

    @property
    def grand_total(self) -> int:
        return sum(self.row_totals)

    def value(self, entry: Entry) -> int:
        m, n = self.shape
        i, j = entry
        if i < m and j < n:
            return self.counts[i][j]
        if i < m and j == n:
            return self.row_totals[i]
        if i == m and j < n:
            return self.col_totals[j]
        if (i, j) == (m, n):
            return self.grand_total
        raise IndexError(entry)

    def entries(self) -> list[Entry]:
        m, n = self.shape
        return [(i, j) for i in range(m + 1) for j in range(n + 1)]

    def row_total_entries(self) -> set[Entry]:
        m, n = self.shape
        return {(i, n) for i in range(m)}

    def grand_total_entry(self) -> Entry:
        return self.shape

    def label(self, entry: Entry) -> tuple[str, str]:
        m, n = self.shape
        i, j = entry
        return (self.row_labels[i] if i < m else "total", self.col_labels[j] if j < n else "total")


@dataclass(frozen=True)
class SuppressedTable:
    """A table with the entries that are not published. `primary`: suppressed for their own value (or forced);
    the rest of `suppressed` are complements. Only `published()` values ever leave the system."""

    table: CountTable
    k: int
    suppressed: frozenset[Entry]
    primary: frozenset[Entry] = field(default_factory=frozenset)

    def published(self, entry: Entry) -> int | None:
        return None if entry in self.suppressed else self.table.value(entry)

    def grid(self) -> list[list[int | None]]:
        """The extended table as published: None where suppressed."""
        m, n = self.table.shape
        return [[self.published((i, j)) for j in range(n + 1)] for i in range(m + 1)]

    @property
    def secondary(self) -> frozenset[Entry]:
        return self.suppressed - self.primary


# --- Suppression ---------------------------------------------------------------------------------------


def _lines(shape: tuple[int, int]) -> list[list[Entry]]:
    """Every row and every column of the extended table (margins included)."""
    m, n = shape
    rows = [[(i, j) for j in range(n + 1)] for i in range(m + 1)]
    cols = [[(i, j) for i in range(m + 1)] for j in range(n + 1)]
    return rows + cols


def _lines_through(entry: Entry, shape: tuple[int, int]) -> list[list[Entry]]:
    m, n = shape
    i, j = entry
    return [[(i, jj) for jj in range(n + 1)], [(ii, j) for ii in range(m + 1)]]


def _smallest(table: CountTable, candidates: Iterable[Entry]) -> Entry | None:
    """The complement that costs least information: the smallest value, interior cells before margins."""
    m, n = table.shape
    ranked = sorted(candidates, key=lambda e: (table.value(e), e[0] == m or e[1] == n, e))
    return ranked[0] if ranked else None


def suppress(
    table: CountTable,
    k: int,
    *,
    forced: Iterable[Entry] = (),
    fixed: Iterable[Entry] = (),
    max_rounds: int = 10_000,
) -> SuppressedTable:
    """Suppress every entry below k, then complements until no suppressed entry can be recovered.

    `forced`: entries suppressed whatever their value. `fixed`: entries never chosen as complements (they are
    published or suppressed as the caller decided; a fixed entry below k is still suppressed). Raises
    ValueError if the audit cannot be satisfied, which cannot happen while an interior cell or a column total
    is still publishable, and is checked rather than assumed.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    entries = table.entries()
    fixed_set = set(fixed)
    primary = {e for e in entries if table.value(e) < k} | set(forced)
    suppressed = set(primary)

    def candidates(line: Iterable[Entry]) -> list[Entry]:
        return [e for e in line if e not in suppressed and e not in fixed_set]

    for _round in range(max_rounds):
        # Pattern rule: no line with exactly one suppressed entry.
        changed = True
        while changed:
            changed = False
            for line in _lines(table.shape):
                if sum(e in suppressed for e in line) == 1:
                    extra = _smallest(table, candidates(line))
                    if extra is not None:
                        suppressed.add(extra)
                        changed = True
        problems = recoverable_cells(SuppressedTable(table, k, frozenset(suppressed), frozenset(primary)))
        if not problems:
            return SuppressedTable(table, k, frozenset(suppressed), frozenset(primary))
        added = False
        for entry in sorted(problems):
            options = [c for line in _lines_through(entry, table.shape) for c in candidates(line)]
            extra = _smallest(table, options) or _smallest(table, candidates(entries))
            if extra is not None and extra not in suppressed:
                suppressed.add(extra)
                added = True
        if not added:
            raise ValueError(
                f"table {table.name}: suppressed entries stay recoverable and nothing is left to suppress"
            )
    raise ValueError(f"table {table.name}: suppression did not settle")


# --- Audit ---------------------------------------------------------------------------------------------

_SOURCE, _SINK = "S", "D"


def _edge(entry: Entry, shape: tuple[int, int]) -> tuple[str, str]:
    """The arc of the flow network that carries an entry of the extended table."""
    m, n = shape
    i, j = entry
    if i < m and j < n:
        return f"r{i}", f"c{j}"
    if i < m:
        return _SOURCE, f"r{i}"
    if j < n:
        return f"c{j}", _SINK
    return _SINK, _SOURCE


def _max_flow(capacity: dict[tuple[str, str], int], source: str, sink: str, limit: int) -> int:
    """Edmonds-Karp on a small residual network, stopping once `limit` is reached."""
    residual = dict(capacity)
    neighbours: dict[str, set[str]] = {}
    for a, b in capacity:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
        residual.setdefault((b, a), 0)
    flow = 0
    while flow < limit:
        parent: dict[str, str] = {source: source}
        queue = deque([source])
        while queue and sink not in parent:
            node = queue.popleft()
            for nxt in sorted(neighbours.get(node, ())):
                if nxt not in parent and residual[(node, nxt)] > 0:
                    parent[nxt] = node
                    queue.append(nxt)
        if sink not in parent:
            break
        path = []
        node = sink
        while node != source:
            path.append((parent[node], node))
            node = parent[node]
        push = min(min(residual[arc] for arc in path), limit - flow)
        for a, b in path:
            residual[(a, b)] -= push
            residual[(b, a)] += push
        flow += push
    return flow


def feasible_ranges(published: SuppressedTable) -> dict[Entry, tuple[int, int | None]]:
    """For every suppressed entry, the smallest and largest value consistent with the published figures and
    non-negativity (None: no upper bound). Exact: computed on the true table by maximum flow."""
    table = published.table
    shape = table.shape
    free = sorted(published.suppressed)
    infinity = sum(table.value(e) for e in free) + 1
    arcs: dict[Entry, tuple[str, str]] = {e: _edge(e, shape) for e in free}
    ranges: dict[Entry, tuple[int, int | None]] = {}
    for entry in free:
        capacity: dict[tuple[str, str], int] = {}
        for other in free:
            if other == entry:
                continue
            a, b = arcs[other]
            capacity[(a, b)] = capacity.get((a, b), 0) + infinity  # can always grow
            value = table.value(other)
            if value:
                capacity[(b, a)] = capacity.get((b, a), 0) + value  # can shrink down to zero
        tail, head = arcs[entry]
        value = table.value(entry)
        up = _max_flow(capacity, head, tail, infinity)
        down = _max_flow(capacity, tail, head, value) if value else 0
        ranges[entry] = (value - down, None if up >= infinity else value + up)
    return ranges


def recoverable_cells(published: SuppressedTable) -> dict[Entry, int]:
    """Suppressed entries whose value a reader can work out exactly from what is published: {entry: value}.
    Empty when the suppression protects every entry."""
    return {e: lo for e, (lo, hi) in feasible_ranges(published).items() if hi == lo}


def check_published(published: SuppressedTable) -> list[str]:
    """Everything wrong with a table about to be published (empty when it may go out): a published figure
    below k, or a suppressed one that can be recovered."""
    problems = []
    table = published.table
    for entry in table.entries():
        value = published.published(entry)
        if value is not None and value < published.k:
            problems.append(f"{table.name} {table.label(entry)}: published value below k")
    for entry in sorted(recoverable_cells(published)):
        problems.append(f"{table.name} {table.label(entry)}: suppressed value can be recovered")
    return problems
