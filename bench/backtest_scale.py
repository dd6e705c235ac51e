"""A backtest at scale: the S&P 500 file (502 symbols, 20 years) with house models.

    python bench/backtest_scale.py [--days N]

Prints, per run, wall time, trading days per second and peak RSS (goals for the big run:
<= 60 s and <= 2 GB on the two-core machine), for the 502-symbol file and the bundled
31-symbol sample; and, as the baseline measured in the same run, the same number of days
through a same-shape graph of no-op nodes on the same checkpointer (in memory, written when
each cycle ends, as a backtest does). Each run
is its own process, so each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_NAME = Path("shared") / "data" / "sp500_daily_2005_2025.csv.gz"
# ../shared/data from the main checkout; a worktree sits one level deeper.
BIG = next(
    (p / _NAME for p in Path(__file__).resolve().parents if (p / _NAME).exists()),
    Path(__file__).resolve().parents[2] / _NAME,
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_backtest(data: str | None, days: int | None) -> dict[str, Any]:
    from mytrader.app.storage import open_store
    from mytrader.backtest.runner import BacktestOptions, prepare, run_backtest

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        path = Path(data) if data else None
        run, broker = prepare(BacktestOptions(data=path), _env_file=None, mytrader_home=home)
        if days:
            run.days_total = min(run.days_total, days)
            broker._stop = run.history.cal_end(run.start) + days - 1  # noqa: SLF001
        loaded = time.perf_counter() - t0
        with open_store(run.settings) as store:
            run_backtest(run, broker, store)
    return {
        "days": len(run.dates),
        "symbols": len(run.history.symbols),
        "load_s": loaded,
        "run_s": run.elapsed_s,
        "wall_s": time.perf_counter() - t0,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_noop(days: int) -> dict[str, Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    sys.path.insert(0, str(Path(__file__).parent))
    from cycle_overhead import noop_graph

    graph = noop_graph(InMemorySaver())
    cfg = {"configurable": {"thread_id": "noop"}}
    t0 = time.perf_counter()
    for _ in range(days):
        graph.invoke({}, cfg, durability="exit")  # as the backtest: checkpointed at exit
    elapsed = time.perf_counter() - t0
    return {"days": days, "run_s": elapsed, "wall_s": elapsed, "peak_rss_mb": peak_rss_mb()}


def child(kind: str, arg: str, days: int | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--arg", arg]
    if days:
        cmd += ["--days", str(days)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def line(name: str, r: dict[str, Any]) -> str:
    rate = r["days"] / r["run_s"] if r["run_s"] else 0.0
    load = f", load {r['load_s']:.1f} s" if "load_s" in r else ""
    return (
        f"{name:<34} {r['days']:>5} days  wall {r['wall_s']:6.1f} s{load}, "
        f"cycles {r['run_s']:6.1f} s = {rate:6.1f} days/s, {r['run_s'] / r['days'] * 1000:5.1f}"
        f" ms/day, peak RSS {r['peak_rss_mb']:6.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=None, help="only the first N days of each run")
    ap.add_argument("--child", default=None)
    ap.add_argument("--arg", default="")
    args = ap.parse_args()
    if args.child == "backtest":
        print(json.dumps(run_backtest(args.arg or None, args.days)))
        return
    if args.child == "noop":
        print(json.dumps(run_noop(int(args.arg))))
        return
    results = {}
    if BIG.exists():
        results["S&P 500 file, house models"] = child("backtest", str(BIG), args.days)
    else:
        print(f"skipped the S&P 500 run: {BIG} not found")
    results["31-symbol sample, house models"] = child("backtest", "", args.days)
    for r in list(results.values()):
        results[f"no-op graph, same {r['days']} days"] = child("noop", str(r["days"]), None)
    for name, r in results.items():
        print(line(name, r))
    big = results.get("S&P 500 file, house models")
    if big:
        base = results[f"no-op graph, same {big['days']} days"]
        print(
            f"S&P 500 run: {big['wall_s']:.1f} s wall (goal <= 60 s), "
            f"{big['peak_rss_mb']:.0f} MB peak (goal <= 2048 MB), "
            f"{big['run_s'] / base['run_s']:.1f}x the no-op graph's cycles"
        )


if __name__ == "__main__":
    main()
