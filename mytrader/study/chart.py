"""The study's one chart: excess Sharpe over SPY per variant per window (left), and its
distribution per variant (right), with the deflated Sharpe and the PBO in the title."""

from __future__ import annotations

from pathlib import Path

from mytrader.study.summary import StudySummary


def excess_sharpe_chart(summary: StudySummary, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary.variants)
    windows = sorted({(r.start, r.end) for r in summary.runs})
    years = [s[:4] for s, _ in windows]
    if all(s[:4] == e[:4] for s, e in windows) and len(set(years)) == len(years):
        labels = years  # calendar years: the year says it
    else:
        labels = [s[:7] if len(windows) > 6 else f"{s}\n{e}" for s, e in windows]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 1.4]}, constrained_layout=True
    )
    values: dict[str, list[float]] = {}
    for n in names:
        by_window = {(r.start, r.end): r.excess_sharpe for r in summary.runs if r.variant == n}
        ys = [by_window.get(w) for w in windows]
        xs = [i for i, y in enumerate(ys) if y is not None]
        values[n] = [y for y in ys if y is not None]
        left.plot(xs, values[n], marker="o", linewidth=1.2, label=n)
    left.axhline(0, color="grey", linewidth=0.8)
    left.set_xticks(range(len(windows)), labels, fontsize=8, rotation=45 if len(windows) > 6 else 0)
    left.set_ylabel("Sharpe − SPY's Sharpe (annualised)")
    left.set_title(f"Excess Sharpe per window · account: {summary.study['account']}")
    left.legend(fontsize=8, loc="best")
    kept = [n for n in names if values[n]]
    if kept:
        right.boxplot([values[n] for n in kept], showmeans=True)
        right.set_xticks(range(1, len(kept) + 1), kept, fontsize=8, rotation=30)
    right.axhline(0, color="grey", linewidth=0.8)
    right.set_title("Its distribution per variant")
    sel = summary.selection
    parts = [f"study {summary.study['id']}: {summary.study['runs']} runs"]
    if sel.best_variant:
        parts.append(f"best: {sel.best_variant}")
    if sel.deflated_sharpe is not None and sel.deflated_sharpe.dsr is not None:
        parts.append(f"deflated Sharpe {sel.deflated_sharpe.dsr:.2f}")
    if sel.overfitting is not None:
        parts.append(f"PBO {sel.overfitting.pbo:.2f}")
    fig.suptitle(" · ".join(parts))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
