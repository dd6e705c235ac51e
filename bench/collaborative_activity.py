"""How often does the collaborative account trade? The bundled sample with house models,
`--cycles` cycles (250 by default) in each vote mode, each in a fresh SQLite arena.

    python bench/collaborative_activity.py [--cycles 250]

Prints, per mode, the cycles in which the collaborative account placed an order (filled,
pending or expired: anything the broker got; a leg the risk gate refused does not count),
against the goal of one cycle in ten, and whether the two modes traded identically (they
must not). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mytrader.app.runner import open_arena  # noqa: E402
from mytrader.config import COLLABORATIVE, Settings  # noqa: E402

NOT_PLACED = {"refused"}


def run_mode(home: Path, mode: str, cycles: int) -> list[tuple[int, str, str, int]]:
    """The collaborative legs the broker got: (cycle, side, symbol, qty)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, mytrader_home=home, database_url=None, vote_mode=mode
    )
    legs: list[tuple[int, str, str, int]] = []
    with open_arena(settings) as arena:
        for _ in range(cycles):
            summary = arena.run_cycle()
            if summary.status != "trading":
                print(f"  {mode}: history exhausted at cycle {summary.cycle}")
                break
            for o in summary.orders:
                if o.account == COLLABORATIVE and o.status not in NOT_PLACED:
                    legs.append((summary.cycle, o.side, o.symbol, o.qty))
            arena.prune()
    return legs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=250)
    args = parser.parse_args()
    goal = -(-args.cycles // 10)  # one cycle in ten, rounded up
    ok = True
    legs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("majority", "weighted"):
            t0 = time.perf_counter()
            legs[mode] = run_mode(Path(tmp) / mode, mode, args.cycles)
            cycles = sorted({c for c, *_ in legs[mode]})
            verdict = "met" if len(cycles) >= goal else "MISSED"
            print(
                f"{mode:<9} collaborative traded in {len(cycles)} of {args.cycles} cycles "
                f"({len(legs[mode])} orders), goal >= {goal}: {verdict} "
                f"[{time.perf_counter() - t0:.0f} s]"
            )
            ok = ok and len(cycles) >= goal
    same = legs["majority"] == legs["weighted"]
    only_m = len(set(legs["majority"]) - set(legs["weighted"]))
    only_w = len(set(legs["weighted"]) - set(legs["majority"]))
    print(
        f"modes trade identically: {same} "
        f"({only_m} orders only in majority, {only_w} only in weighted)"
    )
    return 0 if ok and not same else 1


if __name__ == "__main__":
    raise SystemExit(main())
