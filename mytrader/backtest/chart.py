"""equity.png: every account and both benchmarks on one plot, drawdowns in a panel below."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mytrader.backtest.report import Report


def equity_chart(report: Report, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = equity_figure(report)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def equity_figure(report: Report) -> Figure:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, works on a server
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from mytrader.backtest.report import EQUAL_BH, SPY_BH

    days = np.array(report.dates, dtype="datetime64[D]")
    # each account's label says how sure its Sharpe is (the evidence's status and interval)
    status = {a.account: a for a in report.evidence.accounts} if report.evidence else {}
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for name, curve in report.curves.items():
        x = np.array([float(e) for e in curve])
        bench = name in (SPY_BH, EQUAL_BH)
        style = {
            "linestyle": "--",
            "linewidth": 1.6,
            "color": "black" if name == SPY_BH else "grey",
        }
        label = name
        if name in status:
            g = status[name].gross
            ci = (
                ""
                if g.ci95_low is None
                else f" Sharpe {g.sharpe:.2f} [{g.ci95_low:.2f}, {g.ci95_high:.2f}];"
            )
            label = f"{name}:{ci} {status[name].status.text}"
        line = top.plot(
            days, x / x[0] * 100.0, label=label, **(style if bench else {"linewidth": 1.2})
        )
        dd = (x / np.maximum.accumulate(x) - 1.0) * 100.0
        bottom.plot(
            days,
            dd,
            color=line[0].get_color(),
            linewidth=1.0,
            linestyle=style["linestyle"] if bench else "-",
        )
    r = report.run
    top.set_title(
        f"{r.get('start')} → {r.get('end')} · {r.get('models')} models · "
        f"{'blind' if r.get('blind') else 'open'} mode"
    )
    top.set_ylabel("equity (start = 100)")
    top.grid(alpha=0.3)
    # one column: the labels carry the evidence and are long; two would leave the figure
    top.legend(loc="upper left", fontsize=8, ncol=1)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
    fig.tight_layout()
    return fig
