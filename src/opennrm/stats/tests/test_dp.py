"""Differentially private counts: OpenDP's accounting stays within the declared budget, overspending is refused,
and noise is really added, at the scale the theory says. OpenDP's sampler cannot be seeded (it is
cryptographically secure), so the noise checks are statistical with failure probabilities far below 1e-9."""

from __future__ import annotations

import math

import pytest

from opennrm.core.errors import DomainError
from opennrm.stats import dp
from opennrm.stats.dp import Budget, BudgetExceeded, Mechanism, TableSpec

YEARS = (2023, 2024)


def specs() -> list[TableSpec]:
    return [
        TableSpec("sex", tuple(f"{y}|{c}" for y in YEARS for c in ("female", "male", "unknown"))),
        TableSpec("age", tuple(f"{y}|{c}" for y in YEARS for c in ("0-8", "9-17", "18-20", "48+"))),
        TableSpec("form", tuple(f"{y}|{c}" for y in YEARS for c in ("labour", "sexual", "multiple"))),
    ]


def people(n: int = 60) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        year = YEARS[i % 2]
        rows.append(
            {
                "sex": f"{year}|{('female', 'male', 'unknown')[i % 3]}",
                "age": f"{year}|{('0-8', '9-17', '18-20', '48+')[i % 4]}",
                "form": f"{year}|{('labour', 'sexual', 'multiple')[i % 3]}",
            }
        )
    return rows


def true_counts(rows: list[dict[str, str]], spec: TableSpec) -> dict[str, int]:
    counts = dict.fromkeys(spec.cells, 0)
    for row in rows:
        counts[row[spec.name]] += 1
    return counts


@pytest.mark.parametrize("mechanism", list(Mechanism))
def test_one_person_changes_one_cell_per_table_by_one(mechanism):
    assert dp.table_sensitivity(specs()[0], mechanism=mechanism) == 1


@pytest.mark.parametrize(
    ("mechanism", "budget"),
    [
        (Mechanism.LAPLACE, Budget(1.0)),
        (Mechanism.LAPLACE, Budget(0.1)),
        (Mechanism.GAUSSIAN, Budget(1.0, 1e-6)),
        (Mechanism.GAUSSIAN, Budget(0.5, 1e-8)),
    ],
)
def test_the_privacy_map_stays_within_the_declared_budget(mechanism, budget):
    release = dp.noisy_counts(people(), specs(), mechanism=mechanism, budget=budget)
    measurement = dp.make_measurement(specs(), mechanism=mechanism, scale=release.scale, delta=budget.delta)
    spent = dp.privacy_loss(measurement, mechanism)
    assert spent.epsilon <= budget.epsilon
    assert spent.delta <= budget.delta
    assert release.spent == spent
    # ... and the budget is used, not wasted: a 1% smaller scale would overspend.
    tighter = dp.make_measurement(
        specs(), mechanism=mechanism, scale=release.scale * 0.99, delta=budget.delta
    )
    with pytest.raises(BudgetExceeded):
        dp.check_budget(tighter, mechanism, budget)


def test_the_budget_is_split_equally_between_the_tables():
    release = dp.noisy_counts(people(), specs(), mechanism=Mechanism.LAPLACE, budget=Budget(0.9))
    assert release.table_loss == pytest.approx(0.3)
    assert release.scale == pytest.approx(len(specs()) / 0.9)


def test_overspending_is_refused():
    with pytest.raises(BudgetExceeded):
        dp.noisy_counts(people(), specs(), mechanism=Mechanism.LAPLACE, budget=Budget(1.0), scale=1.0)
    with pytest.raises(BudgetExceeded):
        dp.noisy_counts(people(), specs(), mechanism=Mechanism.GAUSSIAN, budget=Budget(1.0, 1e-6), scale=1.0)


@pytest.mark.parametrize(
    ("epsilon", "delta", "mechanism"),
    [
        (None, None, Mechanism.LAPLACE),
        (0, 0, Mechanism.LAPLACE),
        (-1, 0, Mechanism.LAPLACE),
        (50, 0, Mechanism.LAPLACE),
        (math.inf, 0, Mechanism.LAPLACE),
        (1, 1e-6, Mechanism.LAPLACE),
        (1, 0, Mechanism.GAUSSIAN),
        (1, 0.01, Mechanism.GAUSSIAN),
    ],
)
def test_unsound_budgets_are_refused(epsilon, delta, mechanism):
    with pytest.raises(DomainError):
        dp.validate_budget(epsilon=epsilon, delta=delta, mechanism=mechanism)


def test_cells_outside_the_declared_list_are_refused():
    rows = [*people(), {"sex": "2025|female", "age": "2023|0-8", "form": "2023|labour"}]
    with pytest.raises(ValueError):
        dp.noisy_counts(rows, specs(), mechanism=Mechanism.LAPLACE, budget=Budget(1.0))


MANY_YEARS = tuple(range(2001, 2021))
CATEGORIES = tuple(f"c{i}" for i in range(10))


def wide_specs() -> list[TableSpec]:
    """Three tables of 20 years x 10 categories: 600 noisy cells per run."""
    return [
        TableSpec(name, tuple(f"{y}|{c}" for y in MANY_YEARS for c in CATEGORIES)) for name in ("a", "b", "c")
    ]


def wide_people() -> list[dict[str, str]]:
    return [
        {name: f"{MANY_YEARS[i % 20]}|{CATEGORIES[(i * (k + 1)) % 10]}" for k, name in enumerate("abc")}
        for i in range(400)
    ]


def noise(mechanism: Mechanism, budget: Budget, runs: int) -> tuple[list[int], float]:
    rows, tables = wide_people(), wide_specs()
    errors: list[int] = []
    for _run in range(runs):
        release = dp.noisy_counts(rows, tables, mechanism=mechanism, budget=budget)
        for spec in tables:
            truth = true_counts(rows, spec)
            errors += [release.counts[spec.name][cell] - truth[cell] for cell in spec.cells]
    return errors, release.scale


def test_noise_is_added_at_the_theoretical_scale():
    # 6,000 cells; every bound below is more than 6 standard errors away from its expected value.
    errors, scale = noise(Mechanism.LAPLACE, Budget(0.6), runs=10)  # three tables: eps 0.2 each
    assert scale == pytest.approx(5.0)
    # Discrete Laplace with parameter p = exp(-1/scale): P(0) = (1 - p) / (1 + p), E|X| = 2p / (1 - p^2).
    p = math.exp(-1 / scale)
    changed = sum(1 for e in errors if e != 0) / len(errors)
    assert changed > 1 - (1 - p) / (1 + p) - 0.05  # about 90% of the cells differ from the truth
    mean_abs = sum(abs(e) for e in errors) / len(errors)
    assert mean_abs == pytest.approx(2 * p / (1 - p * p), rel=0.12)  # 4.97
    assert abs(sum(errors) / len(errors)) < 0.6  # unbiased before clamping


def test_gaussian_noise_has_the_calibrated_spread():
    errors, scale = noise(Mechanism.GAUSSIAN, Budget(1.0, 1e-6), runs=10)
    sd = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert sd == pytest.approx(scale, rel=0.12)
    assert sum(1 for e in errors if e != 0) / len(errors) > 0.9


def test_postprocessing_clamps_at_zero():
    assert dp.postprocess({"a": -3, "b": 0, "c": 7}) == {"a": 0, "b": 0, "c": 7}


def test_accuracy_is_reported_for_the_scale():
    release = dp.noisy_counts(people(), specs(), mechanism=Mechanism.LAPLACE, budget=Budget(0.6))
    # 95% of discrete Laplace(5) draws fall within about ±15.
    assert 13 <= release.accuracy(0.05) <= 17
