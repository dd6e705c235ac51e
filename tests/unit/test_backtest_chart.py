"""equity.png keeps its legend inside the figure, evidence labels and all."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mytrader.backtest.chart import equity_figure
from mytrader.backtest.report import EQUAL_BH, SPY_BH

DATES = [f"2006-01-{d:02d}" for d in range(2, 31)]
LONG = "long enough: 4971 days of 4756 needed (95 %)"  # the longest status text there is


def report(accounts: list[str]) -> Any:
    """A report as the chart reads it: curves, dates, the run, each account's evidence."""
    curves = {
        name: [100.0 + i * (k + 1) for i in range(len(DATES))]
        for k, name in enumerate([*accounts, SPY_BH, EQUAL_BH])
    }
    evidence = [
        SimpleNamespace(
            account=name,
            gross=SimpleNamespace(sharpe=0.38, ci95_low=-0.06, ci95_high=0.84),
            status=SimpleNamespace(text=LONG),
        )
        for name in accounts
    ]
    return SimpleNamespace(
        dates=DATES,
        curves=curves,
        evidence=SimpleNamespace(accounts=evidence),
        run={"start": DATES[0], "end": DATES[-1], "models": "house", "blind": False},
    )


def test_the_legend_with_every_evidence_label_stays_inside_the_figure() -> None:
    import matplotlib.pyplot as plt

    fig = equity_figure(report(["grok", "deepseek", "openai", "collaborative", "contrarian"]))
    try:
        fig.canvas.draw()
        legend = fig.axes[0].get_legend()
        box, frame = legend.get_window_extent(), fig.bbox
        assert len(legend.get_texts()) == 7  # five accounts and both benchmarks
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (box, frame)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (box, frame)
    finally:
        plt.close(fig)
