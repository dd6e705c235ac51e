"""The deflated Sharpe ratio and CSCV's probability of backtest overfitting, against the DSR
paper's worked example, a Monte Carlo, and a brute-force CSCV written out here in plain Python."""

from __future__ import annotations

import itertools
import math
import statistics
from statistics import NormalDist

import numpy as np
import pytest

from mytrader.domain import evidence_sharpe as es
from mytrader.domain import study_stats as ss

# ---- deflated Sharpe ratio -------------------------------------------------------------------


def test_expected_max_sharpe_is_the_papers_sr0() -> None:
    """The DSR paper's example (see test_evidence.py): N = 100 trials, variance of the annual
    Sharpes 1/2, 250 days a year -> SR0 = 0.1132 a day."""
    assert round(ss.expected_max_sharpe(100, 0.5 / 250), 4) == 0.1132
    assert ss.expected_max_sharpe(1, 0.5) == 0.0
    assert ss.expected_max_sharpe(100, 0.0) == 0.0


@pytest.mark.parametrize("trials", [10, 100, 1000])
def test_expected_max_sharpe_matches_a_monte_carlo(trials: int) -> None:
    """The maximum of N normal Sharpes (mean 0, sd 0.3), simulated: the approximation is within
    3 % of it (it errs high by about 2 % at N = 10, under 1 % at N = 100 and 1000)."""
    sd = 0.3
    draws = np.random.default_rng(19).normal(0.0, sd, size=(4000, trials))
    simulated = float(draws.max(axis=1).mean())
    assert ss.expected_max_sharpe(trials, sd * sd) == pytest.approx(simulated, rel=0.03)


def test_expected_max_sharpe_grows_with_trials_and_spread() -> None:
    values = [ss.expected_max_sharpe(n, 0.01) for n in (2, 5, 10, 100, 1000)]
    assert values == sorted(values) and values[0] > 0
    assert ss.expected_max_sharpe(10, 0.04) == pytest.approx(2 * ss.expected_max_sharpe(10, 0.01))


def test_deflated_sharpe_of_reproduces_the_papers_dsr() -> None:
    found = ss.deflated_sharpe_of(
        2.5 / math.sqrt(250), 1250, skew=-3.0, kurtosis=10.0, trials=100, variance=0.5 / 250
    )
    assert round(found.expected_max, 4) == 0.1132
    assert found.dsr is not None and round(found.dsr, 4) == 0.9004


def test_deflated_sharpe_from_returns_is_psr_against_sr0_written_out() -> None:
    rng = np.random.default_rng(7)
    best = rng.standard_t(5, 500) * 0.01 + 0.001
    others = [0.02, -0.01, 0.03, 0.0, 0.015]
    sr = float(best.mean() / best.std(ddof=1))
    sharpes = [*others, sr]
    found = ss.deflated_sharpe(best, sharpes)
    assert found is not None
    variance = statistics.variance(sharpes)
    n = len(sharpes)
    euler = 0.5772156649015329
    sr0 = math.sqrt(variance) * (
        (1 - euler) * NormalDist().inv_cdf(1 - 1 / n)
        + euler * NormalDist().inv_cdf(1 - 1 / (n * math.e))
    )
    g3, g4 = es.moments(best)
    z = (sr - sr0) * math.sqrt(len(best) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr)
    assert found.trials == 6 and found.observations == 500
    assert found.variance == pytest.approx(variance, rel=1e-12)
    assert found.expected_max == pytest.approx(sr0, rel=1e-12)
    assert found.dsr == pytest.approx(NormalDist().cdf(z), abs=1e-12)
    # More trials tried than kept: a higher bar, a lower DSR.
    more = ss.deflated_sharpe(best, sharpes, trials=60)
    assert more is not None and more.dsr is not None and found.dsr is not None
    assert more.expected_max > found.expected_max and more.dsr < found.dsr
    # One trial: the DSR is the plain PSR against 0.
    alone = ss.deflated_sharpe(best, [sr])
    assert alone is not None and alone.dsr == pytest.approx(es.psr(best), abs=1e-12)


def test_deflated_sharpe_refuses_bad_input() -> None:
    assert ss.deflated_sharpe([0.01, 0.01, 0.01], [0.1, 0.2]) is None  # flat
    assert ss.deflated_sharpe([0.01, 0.02], [0.1, 0.2]) is None  # too short
    with pytest.raises(ValueError, match="fewer than"):
        ss.deflated_sharpe([0.01, 0.02, -0.01, 0.0], [0.1, 0.2, 0.3], trials=2)
    with pytest.raises(ValueError, match="needed"):
        ss.deflated_sharpe([0.01, 0.02, -0.01, 0.0], [])
    with pytest.raises(ValueError, match="at least 1"):
        ss.expected_max_sharpe(0, 0.1)


# ---- probability of backtest overfitting -------------------------------------------------------


def brute_force_logits(rows: list[list[float]], blocks: int) -> list[float]:
    """CSCV written out: plain lists, statistics.mean / stdev, ranks by counting."""
    t, n = len(rows), len(rows[0])
    size = t // blocks
    rows = rows[t - size * blocks :]
    parts = [rows[i * size : (i + 1) * size] for i in range(blocks)]

    def sharpe(sub: list[list[float]], j: int) -> float:
        column = [row[j] for row in sub]
        return statistics.mean(column) / statistics.stdev(column)

    out = []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        inside = [row for b in chosen for row in parts[b]]
        outside = [row for b in range(blocks) if b not in chosen for row in parts[b]]
        r_in = [sharpe(inside, j) for j in range(n)]
        r_out = [sharpe(outside, j) for j in range(n)]
        star = r_in.index(max(r_in))
        rank = 1 + sum(1 for x in r_out if x < r_out[star])  # no ties in random floats
        omega = rank / (n + 1)
        out.append(math.log(omega / (1 - omega)))
    return out


@pytest.mark.parametrize(("t", "n", "blocks"), [(24, 4, 4), (27, 5, 6), (40, 3, 8)])
def test_overfitting_equals_a_brute_force_cscv(t: int, n: int, blocks: int) -> None:
    m = np.random.default_rng(t * n).normal(0.0005, 0.01, size=(t, n))
    found = ss.overfitting(m, blocks=blocks)
    expected = brute_force_logits(m.tolist(), blocks)
    assert found.logits == pytest.approx(expected, abs=1e-12)
    assert found.pbo == sum(1 for x in expected if x <= 0) / len(expected)
    assert found.combinations == math.comb(blocks, blocks // 2)
    assert found.rows_dropped == t % blocks and found.rows_used == t - t % blocks
    assert found.variants == n and found.statistic == "sharpe"


def test_overfitting_of_pure_noise_is_about_one_half() -> None:
    """Noise: the in-sample best's out-of-sample rank is uniform; with N = 10 the share of
    ranks at or below the median is 1/2. One matrix's PBO is noisy (its combinations share
    data: its standard deviation is about 0.25 here), so the mean over 150 matrices is checked,
    to within 3 standard errors."""
    rng = np.random.default_rng(2015)
    pbos = [ss.overfitting(rng.normal(0, 0.01, (120, 10)), blocks=6).pbo for _ in range(150)]
    assert statistics.mean(pbos) == pytest.approx(0.5, abs=3 * 0.25 / math.sqrt(150))


def test_overfitting_of_a_variant_better_every_period_is_zero() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (200, 6))
    best = noise.max(axis=1) + 0.001  # above every other variant on every day
    m = np.column_stack([noise, best])
    mean = ss.overfitting(m, blocks=10, statistic="mean")
    assert mean.pbo == 0.0
    assert all(x == pytest.approx(math.log(7)) for x in mean.logits)  # rank N of N
    # A strong drift on one variant dominates the Sharpe as well.
    drift = np.column_stack([noise, rng.normal(0.01, 0.01, 200)])
    assert ss.overfitting(drift, blocks=10).pbo == 0.0


def test_overfitting_is_deterministic_and_symmetric() -> None:
    m = np.random.default_rng(11).normal(0, 0.01, (64, 5))
    a, b = ss.overfitting(m, blocks=6), ss.overfitting(m.copy(), blocks=6)
    assert a == b
    assert a.model_dump_json() == b.model_dump_json()


def test_overfitting_handles_flat_columns() -> None:
    """A flat column's Sharpe is +inf / -inf / 0 by its mean's sign: no NaN, no warning."""
    rng = np.random.default_rng(4)
    m = np.column_stack([rng.normal(0, 0.01, 32), np.zeros(32), np.full(32, -0.001)])
    with np.errstate(all="raise"):
        found = ss.overfitting(m, blocks=4)
    assert all(math.isfinite(x) for x in found.logits)


@pytest.mark.parametrize(
    ("matrix", "blocks", "message"),
    [
        (np.zeros(10), 2, "T x N"),
        (np.zeros((10, 1)), 2, "at least 2 variants"),
        (np.zeros((10, 2)), 3, "even"),
        (np.zeros((10, 2)), 0, "even"),
        (np.zeros((7, 2)), 4, "too few"),
        (np.full((10, 2), np.nan), 2, "finite"),
    ],
)
def test_overfitting_refuses_bad_input(matrix: np.ndarray, blocks: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ss.overfitting(matrix, blocks=blocks)


def test_overfitting_does_not_depend_on_the_order_of_the_variants() -> None:
    m = np.random.default_rng(12).normal(0, 0.01, (60, 7))
    a = ss.overfitting(m, blocks=6)
    b = ss.overfitting(m[:, [3, 6, 0, 5, 1, 4, 2]], blocks=6)
    assert b.logits == pytest.approx(a.logits, abs=1e-12) and b.pbo == a.pbo
