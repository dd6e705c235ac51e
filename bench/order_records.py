"""Order records against the exchange: after N offline cycles of the bundled sample (house
models, default settings), how many orders the `trades` table calls open vs how many the
simulated exchange holds open, and how the rows ended.

    python bench/order_records.py [--cycles 250]

Prints the figure and, as its baseline, the same counts with the records as they were
before every row followed its order to the end (commit 6bff6b1: 144 protective rows read
`pending` after 250 cycles while the exchange held 17 open; not one row read `canceled`).
Not a speed figure: a count, the same on every run (the sample and the house models are
deterministic).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

BASELINE = {"table_open": 144, "broker_open": 17, "canceled": 0}  # 250 cycles at 6bff6b1


def measure(cycles: int) -> dict[str, object]:
    from mytrader.app.runner import open_arena
    from mytrader.config import Settings

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(_env_file=None, mytrader_home=Path(home))  # type: ignore[call-arg]
        with open_arena(settings) as arena:
            for _ in range(cycles):
                summary = arena.run_cycle()
            store, broker = arena.services.store, arena.services.broker
            rows = store.trades(settings.arena_id)
            at_broker = [
                o for o in broker.find_orders(f"{settings.arena_id}-", summary.as_of) if o.is_open
            ]
    ended = Counter(f"{r.purpose} {r.status}" for r in rows)
    return {
        "table_open": sum(1 for r in rows if r.is_open),
        "broker_open": len(at_broker),
        "canceled": sum(1 for r in rows if r.status == "canceled"),
        "rows": dict(sorted(ended.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=250)
    args = parser.parse_args()
    got = measure(args.cycles)
    print(f"after {args.cycles} offline cycles of the sample:")
    print(f"  orders the trades table calls open: {got['table_open']}")
    print(f"  orders the simulated exchange holds open: {got['broker_open']}")
    print(f"  rows ended canceled: {got['canceled']}")
    print(f"  rows by purpose and status: {got['rows']}")
    if args.cycles == 250:
        print(
            f"baseline (6bff6b1, 250 cycles): table open {BASELINE['table_open']}, exchange open "
            f"{BASELINE['broker_open']}, canceled {BASELINE['canceled']}"
        )


if __name__ == "__main__":
    main()
