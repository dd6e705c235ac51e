"""Statistics for a study that tried many variants: the deflated Sharpe ratio and the
probability of backtest overfitting. Pure: arrays in, pydantic results out; deterministic.

Deflated Sharpe ratio (Bailey & López de Prado 2014, "The Deflated Sharpe Ratio"). Under the
null that every one of N independent trials has a true Sharpe of 0, the expected maximum of
their estimated Sharpes, given the variance V of those estimates across the trials, is about

    SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

(gamma the Euler–Mascheroni constant, e Euler's number; SR0 = 0 for N = 1). The DSR is the
PSR of the best trial against SR0 (mytrader.domain.evidence_sharpe.psr_of: that trial's
per-period Sharpe, its skewness and non-excess kurtosis, its number of returns):

    DSR = Phi( (SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) )

Units: per-period (per-day) Sharpes throughout, for the best trial and for V alike. V is the
sample variance (ddof = 1) of the trials' Sharpes, the best one included; N defaults to how
many Sharpes are given and may be passed larger (trials that were tried but not kept).

Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu 2015, "The
probability of backtest overfitting"), by combinatorially symmetric cross-validation (CSCV):

- M is a T x N matrix: row t, column n = variant n's performance in period t (a daily return).
- The rows are split, in time order, into S blocks of equal length T // S (S even, >= 2); the
  first T mod S rows (the oldest) are left out so the blocks are even.
- For each of the C(S, S/2) combinations c of S/2 blocks (itertools order): the in-sample set
  J is the rows of those blocks, the out-of-sample set is the rest. R = the performance
  statistic of each variant on J, Rbar on the complement; n* = argmax R (ties: the first
  variant); omega = the rank of Rbar[n*] among Rbar (1 = worst, N = best; ties get their
  average rank) divided by N + 1; the logit lambda = ln(omega / (1 - omega)).
- PBO = the share of combinations with lambda <= 0: how often the in-sample best is at or
  below the out-of-sample median.
- Performance statistic: "sharpe" (mean / sample standard deviation, ddof = 1; a flat column
  scores +inf, -inf or 0 by the sign of its mean) or "mean".

Pure noise gives a PBO near 1/2 (the selected variant's out-of-sample rank is uniform); a
variant that is truly better in every period gives 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel
from scipy import stats

from mytrader.domain.evidence_sharpe import daily_sharpe, moments, psr_of

EULER_GAMMA = 0.5772156649015329  # the Euler–Mascheroni constant
Statistic = Literal["sharpe", "mean"]

FloatArray = npt.NDArray[np.float64]


class DeflatedSharpe(BaseModel):
    """The DSR of the best trial, with every input it used (per-period Sharpes)."""

    sharpe: float  # the best trial's per-period Sharpe
    expected_max: float  # SR0: the expected maximum Sharpe of `trials` trials under the null
    trials: int
    variance: float  # of the trials' per-period Sharpes
    observations: int  # the best trial's number of returns
    skew: float
    kurtosis: float  # non-excess: 3 for a normal
    dsr: float | None  # None when the PSR's variance term is not positive


class Overfitting(BaseModel):
    """CSCV's probability of backtest overfitting and the logit of each combination."""

    pbo: float
    logits: list[float]  # one per combination, in itertools.combinations order
    statistic: Statistic
    variants: int
    blocks: int
    combinations: int
    rows_used: int
    rows_dropped: int  # the oldest T mod S rows, left out to make the blocks even


def expected_max_sharpe(trials: int, variance: float) -> float:
    """E[max of `trials` Sharpes] under a true Sharpe of 0, given their variance (the DSR
    paper's approximation); 0 for a single trial."""
    if trials < 1:
        raise ValueError("the number of trials must be at least 1")
    if not variance >= 0:
        raise ValueError("the variance of the trials' Sharpes must be >= 0")
    if trials == 1:
        return 0.0
    z = stats.norm.ppf
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * float(z(1 - 1 / trials))
        + EULER_GAMMA * float(z(1 - 1 / (trials * math.e)))
    )


def deflated_sharpe_of(
    sharpe: float,
    observations: int,
    skew: float,
    kurtosis: float,
    trials: int,
    variance: float,
) -> DeflatedSharpe:
    """The DSR from the figures: the best trial's per-period Sharpe, length and moments, the
    number of trials and the variance of their per-period Sharpes."""
    sr0 = expected_max_sharpe(trials, variance)
    return DeflatedSharpe(
        sharpe=sharpe,
        expected_max=sr0,
        trials=trials,
        variance=variance,
        observations=observations,
        skew=skew,
        kurtosis=kurtosis,
        dsr=psr_of(sharpe, observations, skew, kurtosis, benchmark=sr0),
    )


def deflated_sharpe(
    best: npt.ArrayLike, trial_sharpes: Sequence[float], trials: int | None = None
) -> DeflatedSharpe | None:
    """The DSR of the returns `best`, selected among trials whose per-period Sharpes are
    `trial_sharpes` (best's own included). `trials` defaults to len(trial_sharpes). None when
    best has under 3 returns or is flat."""
    r = np.asarray(best, dtype=np.float64)
    sr = daily_sharpe(r)
    if sr is None or len(r) < 3:
        return None
    if not len(trial_sharpes):
        raise ValueError("the trials' Sharpes are needed (the best one's at least)")
    found = np.asarray(trial_sharpes, dtype=np.float64)
    if not np.isfinite(found).all():
        raise ValueError("the trials' Sharpes must be finite")
    variance = float(found.var(ddof=1)) if len(found) > 1 else 0.0
    n = len(found) if trials is None else trials
    if n < len(found):
        raise ValueError(f"{n} trials, fewer than the {len(found)} Sharpes given")
    skew, kurt = moments(r)
    return deflated_sharpe_of(sr, len(r), skew, kurt, n, variance)


def _scores(block: FloatArray, statistic: Statistic) -> FloatArray:
    """The performance statistic of each column."""
    mean = block.mean(axis=0)
    if statistic == "mean":
        return np.asarray(mean, dtype=np.float64)
    sd = block.std(axis=0, ddof=1)
    ok = sd > 0
    flat = np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, 0.0))
    out = np.where(ok, mean / np.where(ok, sd, 1.0), flat)
    return np.asarray(out, dtype=np.float64)


def overfitting(
    performance: npt.ArrayLike, blocks: int = 16, statistic: Statistic = "sharpe"
) -> Overfitting:
    """PBO by CSCV of a T x N matrix (rows: periods in time order; columns: variants)."""
    m = np.asarray(performance, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError("performance must be a T x N matrix (periods x variants)")
    t, n = m.shape
    if n < 2:
        raise ValueError("overfitting needs at least 2 variants")
    if blocks < 2 or blocks % 2:
        raise ValueError(f"the number of blocks must be even and >= 2, not {blocks}")
    if not np.isfinite(m).all():
        raise ValueError("performance must be finite")
    size = t // blocks
    if size < (2 if statistic == "sharpe" else 1):
        raise ValueError(f"{t} periods are too few for {blocks} blocks")
    dropped = t - size * blocks
    parts = m[dropped:].reshape(blocks, size, n)
    logits: list[float] = []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        rest = [b for b in range(blocks) if b not in chosen]
        inside = _scores(parts[list(chosen)].reshape(-1, n), statistic)
        outside = _scores(parts[rest].reshape(-1, n), statistic)
        star = int(np.argmax(inside))
        omega = float(stats.rankdata(outside)[star]) / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return Overfitting(
        pbo=sum(1 for x in logits if x <= 0) / len(logits),
        logits=logits,
        statistic=statistic,
        variants=n,
        blocks=blocks,
        combinations=len(logits),
        rows_used=size * blocks,
        rows_dropped=dropped,
    )
