"""Time per offline cycle, against a same-shape graph of no-op nodes on the same
checkpointer, measured in the same run; and the checkpoint's size at cycle 50 vs 1,000.

    python bench/cycle_overhead.py [--cycles 200] [--long 1000]

The arena's cycles and the no-op graph's alternate (one of each, in turn), so a machine
busy with other work slows both alike and the ratio of the medians stays comparable
between runs. On a shared, busy 2-core machine: 2.4-3.0x before the nodes read the
state's models once per value (mytrader/graph/typed.py), about 2.2x after (medians of
runs alternating both versions: 2.36x and 2.23x). Most of what is left is not the
state: the store's and the simulated exchange's SQLite commits, the prompt builder and
the house models' LangChain path.

The long run replays the first 31 symbols' daily bars of the S&P 500 file in
../shared/data (20 years), since the bundled sample has ~440 tradable days.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import operator
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite, Send
from typing_extensions import TypedDict

from mytrader.app.runner import open_arena
from mytrader.config import PERSONAS, Settings

BIG = Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500_daily_2005_2025.csv.gz"


class NoopState(TypedDict, total=False):
    cycle: int
    decisions: Annotated[dict[str, Any], lambda a, b: {**(a or {}), **(b or {})}]
    logs: Annotated[list[Any], operator.add]


def noop_graph(saver: SqliteSaver) -> Any:
    b = StateGraph(NoopState)
    b.add_node("screener", lambda s: {"cycle": s.get("cycle", 0) + 1, "logs": Overwrite([])})
    b.add_node("agent", lambda t: {"decisions": {t["agent"]: "HOLD"}})
    b.add_node("vote", lambda s: {})
    b.add_node("executor", lambda s: {})
    b.add_node("record", lambda s: {})
    b.add_edge(START, "screener")
    b.add_conditional_edges(
        "screener", lambda s: [Send("agent", {"agent": p}) for p in PERSONAS], ["agent"]
    )
    b.add_edge("agent", "vote")
    b.add_edge("vote", "executor")
    b.add_edge("executor", "record")
    b.add_edge("record", END)
    return b.compile(checkpointer=saver)


def time_side_by_side(
    settings: Settings, home: Path, cycles: int
) -> tuple[list[float], list[float]]:
    """Per-cycle times of the arena and of the no-op graph, one cycle of each in turn."""
    conn = sqlite3.connect(home / "noop.sqlite", check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    graph = noop_graph(saver)
    cfg = {"configurable": {"thread_id": "noop"}}
    arena_t, noop_t = [], []
    with open_arena(settings) as arena:
        for n in range(1, cycles + 1):
            t0 = time.perf_counter()
            summary = arena.run_cycle()
            arena_t.append(time.perf_counter() - t0)
            if summary.status != "trading":
                raise SystemExit(f"history ran out at cycle {n}: {summary.message}")
            t0 = time.perf_counter()
            graph.invoke({}, cfg, durability="sync")
            noop_t.append(time.perf_counter() - t0)
    conn.close()
    return arena_t, noop_t


def time_arena(
    settings: Settings, cycles: int, sizes_at: set[int]
) -> tuple[list[float], dict[int, int]]:
    times, sizes = [], {}
    with open_arena(settings) as arena:
        for n in range(1, cycles + 1):
            t0 = time.perf_counter()
            summary = arena.run_cycle()
            times.append(time.perf_counter() - t0)
            if summary.status != "trading":
                raise SystemExit(f"history ran out at cycle {n}: {summary.message}")
            if n in sizes_at:
                sizes[n] = latest_checkpoint_bytes(settings.mytrader_home, settings.arena_id)
    return times, sizes


def latest_checkpoint_bytes(home: Path, thread: str) -> int:
    with sqlite3.connect(home / "checkpoints.sqlite") as conn:
        row = conn.execute(
            "SELECT length(checkpoint) + length(metadata) FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
            (thread,),
        ).fetchone()
    return int(row[0])


def long_history(dst: Path, symbols: int = 31) -> Path:
    keep: set[str] = set()
    with gzip.open(BIG, "rt") as f, dst.open("w", newline="") as out:
        rows = csv.reader(f)
        writer = csv.writer(out)
        writer.writerow(next(rows))
        for row in rows:
            if row[0] not in keep and len(keep) < symbols and row[1] <= "2005-10-31":
                keep.add(row[0])
            if row[0] in keep:
                writer.writerow(row)
    return dst


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.1f} ms, mean {statistics.mean(xs) * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--long", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings(_env_file=None, mytrader_home=home / "a")  # type: ignore[call-arg]
        arena_t, noop_t = time_side_by_side(settings, home, args.cycles)
        print(f"offline arena cycle ({args.cycles} cycles, SQLite, durability=sync): {ms(arena_t)}")
        print(f"baseline no-op graph, same shape and checkpointer:              {ms(noop_t)}")
        ratio = statistics.median(arena_t) / statistics.median(noop_t)
        print(f"arena / baseline (median): {ratio:.1f}x")
        if args.long and BIG.exists():
            data = long_history(home / "long.csv")
            long_settings = Settings(  # type: ignore[call-arg]
                _env_file=None, mytrader_home=home / "b", market_data_path=data
            )
            at = {50, args.long}
            long_t, sizes = time_arena(long_settings, args.long, at)
            print(f"long run ({args.long} cycles, 31 symbols of the S&P 500 file): {ms(long_t)}")
            print(
                f"latest checkpoint size: cycle 50 = {sizes[50]:,} B, "
                f"cycle {args.long} = {sizes[args.long]:,} B"
            )
        elif args.long:
            print(f"skipped the long run: {BIG} not found")


if __name__ == "__main__":
    main()
