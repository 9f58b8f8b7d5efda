"""Differentially private count tables through OpenDP.

**Unit of privacy and neighbouring datasets.** The input of a release is one line per *person* (a person with
several cases in the years of the release counts once, with their first case there). Two datasets are
neighbours when one has one more person's line than the other (add or remove one person:
`SymmetricDistance` 1 on the lines). The guarantee is about people, not cases.

**Sensitivity by construction.** Every table gives each line exactly one cell (year x one category; attributes
that can take several values, like forms of exploitation, are mapped to one category — the form when there is
one, "multiple" when there are several, "unknown" when there is none). Adding or removing one person changes
one cell of each table by one: L1 and L2 sensitivity 1 per table. This is not assumed — OpenDP derives it: the
chain is `make_split_dataframe` (text lines → columns) → `make_select_column` (the table's cell key) →
`make_count_by_categories` (a fixed list of cells, chosen without looking at the data), and its stability map
is asked for the distance at d_in = 1.

**Mechanisms.**
- `laplace`: discrete Laplace noise on every count (pure ε-DP, δ = 0), `make_laplace`.
- `gaussian`: discrete Gaussian noise (zero-concentrated DP, converted to (ε, δ)-DP with `make_zCDP_to_approxDP`
  and `make_fix_delta`), `make_gaussian`. Needs δ > 0.

**Budget and accounting.** The tables are released together as one OpenDP `make_composition` (sequential, basic
composition: losses add up). The same noise scale is used for every table, so ε (and δ) are split equally; the
scale is the smallest for which OpenDP's own privacy map of the whole composition, at d_in = 1, stays within the
declared budget (`binary_search_param`). Before anything is released the composed measurement's map is checked
against the declared budget again (`check_budget`), and a measurement that would spend more is refused
(`BudgetExceeded`). What a release declares is what OpenDP's accounting says it spends, no more.

**Post-processing** (free under DP): noisy counts are clamped at 0; totals are sums of the published noisy
cells, never separately measured true totals. The noise comes from OpenDP's cryptographically secure sampler
and cannot be seeded.

Releases compose: two releases of the same years each with ε = 1 give ε = 2 together (`opennrm.stats.release`
shows the total per year). The OpenDP functions used here (`make_split_dataframe`, `make_select_column`) are
marked deprecated in favour of Polars, which is not a dependency of OpenNRM; they are still part of OpenDP 0.16
and carry its proofs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _

from opennrm.core.errors import DomainError

SEPARATOR = ","
MAX_EPSILON = 10.0
MAX_DELTA = 1e-4


class Mechanism(StrEnum):
    LAPLACE = "laplace"
    GAUSSIAN = "gaussian"


class BudgetExceeded(DomainError):
    """A measurement would spend more privacy than the release declares."""


def _dp() -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True)
class TableSpec:
    """A table to count: its name and every cell key it may hold (fixed before the data is read)."""

    name: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    epsilon: float
    delta: float = 0.0


@dataclass(frozen=True)
class NoisyRelease:
    """The output of one DP measurement of several tables: raw noisy counts per table (cell key → count), and
    what OpenDP's accounting says the measurement spends."""

    mechanism: Mechanism
    scale: float
    counts: dict[str, dict[str, int]]
    spent: Budget
    declared: Budget
    table_loss: float  # per table: ε for Laplace, rho (zCDP) for Gaussian

    def accuracy(self, alpha: float = 0.05) -> int:
        """Half-width of the interval that holds the noise of any one cell with probability 1 - alpha."""
        dp = _dp()
        if self.mechanism == Mechanism.LAPLACE:
            return math.ceil(dp.discrete_laplacian_scale_to_accuracy(self.scale, alpha))
        return math.ceil(dp.discrete_gaussian_scale_to_accuracy(self.scale, alpha))


def validate_budget(*, epsilon: float | None, delta: float | None, mechanism: Mechanism) -> Budget:
    """The declared budget, or a DomainError saying what is wrong with it."""
    if epsilon is None or not math.isfinite(epsilon) or epsilon <= 0:
        raise DomainError(_("Give a privacy budget ε greater than 0."), code="invalid_epsilon")
    if epsilon > MAX_EPSILON:
        raise DomainError(
            _("ε above %(max)s gives no meaningful protection.") % {"max": MAX_EPSILON},
            code="invalid_epsilon",
        )
    delta = 0.0 if delta is None else float(delta)
    if not math.isfinite(delta) or delta < 0 or delta > MAX_DELTA:
        raise DomainError(_("δ must be between 0 and %(max)s.") % {"max": MAX_DELTA}, code="invalid_delta")
    if mechanism == Mechanism.GAUSSIAN and delta <= 0:
        raise DomainError(_("The Gaussian mechanism needs a δ greater than 0."), code="invalid_delta")
    if mechanism == Mechanism.LAPLACE and delta > 0:
        raise DomainError(
            _("The Laplace mechanism gives pure ε-differential privacy: set δ to 0."), code="invalid_delta"
        )
    return Budget(epsilon=float(epsilon), delta=delta)


def _table_chain(dp: Any, columns: Sequence[str], spec: TableSpec, mechanism: Mechanism) -> Any:
    metric = dp.L2Distance[int] if mechanism == Mechanism.GAUSSIAN else dp.L1Distance[int]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return (
            dp.t.make_split_dataframe(separator=SEPARATOR, col_names=list(columns))
            >> dp.t.make_select_column(key=spec.name, TOA=str)
            >> dp.t.then_count_by_categories(categories=list(spec.cells), null_category=False, MO=metric)
        )


def table_sensitivity(spec: TableSpec, *, mechanism: Mechanism = Mechanism.LAPLACE) -> int:
    """OpenDP's stability map of one table's counting chain at d_in = 1 (one person added or removed)."""
    return int(_table_chain(_dp(), [spec.name], spec, mechanism).map(1))


def make_measurement(
    specs: Sequence[TableSpec], *, mechanism: Mechanism, scale: float, delta: float = 0.0
) -> Any:
    """The OpenDP measurement of all tables at once: lines of the dataset in, noisy counts per table out."""
    dp = _dp()
    columns = [s.name for s in specs]
    parts = []
    for spec in specs:
        chain = _table_chain(dp, columns, spec, mechanism)
        parts.append(
            chain
            >> (dp.m.then_gaussian(scale) if mechanism == Mechanism.GAUSSIAN else dp.m.then_laplace(scale))
        )
    composed = dp.c.make_composition(parts)
    if mechanism == Mechanism.GAUSSIAN:
        composed = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed), delta)
    return composed


def privacy_loss(measurement: Any, mechanism: Mechanism) -> Budget:
    """What OpenDP's privacy map says the measurement spends when one person is added or removed."""
    loss = measurement.map(1)
    if mechanism == Mechanism.GAUSSIAN:
        epsilon, delta = loss
        return Budget(epsilon=float(epsilon), delta=float(delta))
    return Budget(epsilon=float(loss), delta=0.0)


def check_budget(measurement: Any, mechanism: Mechanism, declared: Budget) -> Budget:
    """Refuse (BudgetExceeded) a measurement whose OpenDP accounting exceeds the declared budget."""
    spent = privacy_loss(measurement, mechanism)
    if spent.epsilon > declared.epsilon or spent.delta > declared.delta:
        raise BudgetExceeded(
            _(
                "This measurement would spend ε = %(eps_spent).4g, δ = %(delta_spent).3g, more than the declared "
                "ε = %(eps)s, δ = %(delta)s."
            )
            % {
                "eps_spent": spent.epsilon,
                "delta_spent": spent.delta,
                "eps": declared.epsilon,
                "delta": declared.delta,
            },
            code="budget_exceeded",
        )
    return spent


def _proxy(count: int, *, mechanism: Mechanism, scale: float, delta: float) -> Any:
    """The same noise and composition as `make_measurement`, on count vectors of sensitivity 1 (which OpenDP
    verifies for the real chain): cheap to build, so the scale can be searched on it."""
    dp = _dp()
    if mechanism == Mechanism.GAUSSIAN:
        space = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int)
        composed = dp.c.make_composition([dp.m.make_gaussian(*space, scale) for _ in range(count)])
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed), delta)
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    return dp.c.make_composition([dp.m.make_laplace(*space, scale) for _ in range(count)])


def calibrate_scale(specs: Sequence[TableSpec], *, mechanism: Mechanism, budget: Budget) -> float:
    """The smallest noise scale (to 1 part in 10⁹) for which OpenDP's privacy map of the composition of all
    tables fits the budget. Bisection on the map itself, so the result is never on the wrong side of it."""
    count = len(specs)

    def fits(scale: float) -> bool:
        measurement = _proxy(count, mechanism=mechanism, scale=scale, delta=budget.delta)
        spent = privacy_loss(measurement, mechanism)
        return spent.epsilon <= budget.epsilon and spent.delta <= budget.delta

    if mechanism == Mechanism.LAPLACE and fits(count / budget.epsilon):
        return count / budget.epsilon  # sensitivity 1 per table: eps/count each, the least noise that fits
    high = 1.0
    while not fits(high):
        high *= 2
    low = high / 2
    while fits(low) and low > 1e-9:
        high, low = low, low / 2
    while (high - low) > high * 1e-9:
        middle = (low + high) / 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return high


def encode_lines(rows: Sequence[dict[str, str]], specs: Sequence[TableSpec]) -> str:
    """The dataset as OpenDP reads it: one line per person, one column per table (the person's cell)."""
    lines = []
    for row in rows:
        values = [row[s.name] for s in specs]
        for value in values:
            if SEPARATOR in value or "\n" in value:
                raise ValueError(f"cell key {value!r} cannot contain {SEPARATOR!r} or a line break")
        lines.append(SEPARATOR.join(values))
    return "\n".join(lines)


def noisy_counts(
    rows: Sequence[dict[str, str]],
    specs: Sequence[TableSpec],
    *,
    mechanism: Mechanism,
    budget: Budget,
    scale: float | None = None,
) -> NoisyRelease:
    """Noisy counts of every table for the rows (one per person; `row[spec.name]` is the person's cell key in
    that table, which must be one of `spec.cells`). Raw: may be negative; see `postprocess`.

    `scale` None: the smallest scale that fits the budget. A given scale is checked against the budget and
    refused if it overspends."""
    for spec in specs:
        known = set(spec.cells)
        stray = {row[spec.name] for row in rows} - known
        if stray:
            raise ValueError(f"table {spec.name}: cells outside the declared list: {sorted(stray)[:5]}")
        if len(known) != len(spec.cells):
            raise ValueError(f"table {spec.name}: duplicate cell keys")
    if scale is None:
        scale = calibrate_scale(specs, mechanism=mechanism, budget=budget)
    measurement = make_measurement(specs, mechanism=mechanism, scale=scale, delta=budget.delta)
    spent = check_budget(measurement, mechanism, budget)
    released = measurement(encode_lines(rows, specs))
    counts = {
        spec.name: dict(zip(spec.cells, (int(v) for v in values), strict=True))
        for spec, values in zip(specs, released, strict=True)
    }
    dp = _dp()
    one = _table_chain(dp, [specs[0].name], specs[0], mechanism) >> (
        dp.m.then_gaussian(scale) if mechanism == Mechanism.GAUSSIAN else dp.m.then_laplace(scale)
    )
    return NoisyRelease(
        mechanism=mechanism,
        scale=scale,
        counts=counts,
        spent=spent,
        declared=budget,
        table_loss=float(one.map(1)),
    )


def postprocess(counts: dict[str, int]) -> dict[str, int]:
    """Clamp at zero (a count cannot be negative). Post-processing: costs no privacy."""
    return {key: max(0, value) for key, value in counts.items()}
