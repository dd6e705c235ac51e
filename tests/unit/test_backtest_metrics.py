"""The report's figures equal an independent hand computation on a hand-made curve."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal

import pytest

from mytrader.domain.metrics import figures

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
EQUITY = [Decimal(x) for x in ("100000", "110000", "99000", "101000", "120780", "118000")]


def test_figures_of_a_hand_made_curve() -> None:
    e = [float(x) for x in EQUITY]
    r = [e[i] / e[i - 1] - 1 for i in range(1, len(e))]  # 0.1, -0.1, 0.0202.., 0.1958.., -0.023
    mean, sd = statistics.mean(r), statistics.stdev(r)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    cagr = (e[-1] / e[0]) ** (252 / len(r)) - 1

    f = figures(DATES, EQUITY)

    assert f.total_return_pct == pytest.approx(18.0)
    assert f.cagr_pct == pytest.approx(cagr * 100)
    assert f.volatility_pct == pytest.approx(sd * math.sqrt(252) * 100)
    assert f.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert f.sortino == pytest.approx(mean * 252 / (downside * math.sqrt(252)))
    # Deepest fall: 110,000 -> 99,000 = -10 %, back above 110,000 on 2024-01-08.
    assert f.drawdown.max_drawdown_pct == pytest.approx(-10.0)
    assert (f.drawdown.peak, f.drawdown.trough, f.drawdown.recovery) == (
        "2024-01-03",
        "2024-01-04",
        "2024-01-08",
    )
    assert f.calmar == pytest.approx(cagr / 0.10)
