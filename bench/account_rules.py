"""What the broker account would refuse, with and without the order manager (issue 14).

    python bench/account_rules.py [--cycles 250] [--alpaca-cycles 60]

Offline: the bundled sample, house models, default settings, all books on one simulated
account, run twice: the order manager on (today), and off with the exchange's account
rules off too (the behaviour before issue 14: the baseline). Every order sent is checked,
before it reaches the exchange, against the account's open orders with the account rules
(`mytrader.domain.account_rules`): the orders the account would refuse as wash trades.
Then the same through the real alpaca-py against the local Alpaca server, which enforces
the rules itself (its 403s are counted). Also: position-cycles left without a protective
order at the end of a cycle (and why), and orders held back by the manager.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.servers

from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.app.runner import open_arena
from mytrader.app.services import cached_history
from mytrader.config import Settings
from mytrader.domain.account_rules import AccountOrder, wash_trade
from mytrader.domain.book import Book
from mytrader.domain.models import OrderRequest, OrderResult, PendingOrder


class Counting:
    """The simulated exchange, counting each order the account would refuse as a wash
    trade (checked against the account's open orders just before it is sent)."""

    def __init__(self, sim: SimulatedExchange) -> None:
        self.sim = sim
        self.sent: Counter[str] = Counter()
        self.washed: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def submit_order(self, order: OrderRequest) -> OrderResult:
        prefix = order.client_order_id.split("-", 1)[0] + "-"
        standing = [
            AccountOrder(o.client_order_id, o.symbol, o.side, o.qty - o.filled_qty)
            for o in self.sim.account_orders_open(prefix, order.as_of)
        ]
        new = AccountOrder(order.client_order_id, order.symbol, order.side, order.qty)
        kind = f"{order.side} {order.purpose}"
        self.sent[kind] += 1
        if wash_trade(standing, new) is not None:
            self.washed[kind] += 1
        return self.sim.submit_order(order)


def unprotected(state: dict[str, Any], streaks: dict[tuple[str, str], int]) -> Counter[str]:
    """Positions (book, symbol) with no open sell at the end of the cycle, by reason;
    `streaks` counts each position's consecutive such cycles (the window's length)."""
    pending = [PendingOrder.model_validate(p).order for p in state.get("pending") or []]
    open_ = [o for o in pending if o.is_open]
    out: Counter[str] = Counter()
    for account, raw in state["books"].items():
        for symbol in Book.model_validate(raw).positions:
            if any(o.account == account and o.symbol == symbol and o.side == "sell" for o in open_):
                streaks.pop((account, symbol), None)
                continue
            streaks[(account, symbol)] = streaks.get((account, symbol), 0) + 1
            if any(o.symbol == symbol and o.side == "buy" for o in open_):
                out["a BUY of the symbol is open on the account (protection waits)"] += 1
            else:
                out["other"] += 1
    return out


def offline(cycles: int, home: Path, manager: bool) -> dict[str, Any]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        mytrader_home=home,
        order_manager=manager,
        sim_account_rules=manager,
    )
    sim = SimulatedExchange(
        cached_history(settings.market_data_path),
        warmup_days=settings.warmup_days,
        account_rules=settings.sim_account_rules,
    )
    broker = Counting(sim)
    figures = run(settings, broker, cycles)
    figures["sent"], figures["washed"] = broker.sent, broker.washed
    return figures


def run(settings: Settings, broker: Any, cycles: int) -> dict[str, Any]:
    held: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    naked: Counter[str] = Counter()
    streaks: dict[tuple[str, str], int] = {}
    longest = 0
    positions = 0
    equity: dict[str, str] = {}
    with open_arena(settings, broker=broker) as arena:
        for _ in range(cycles):
            summary = arena.run_cycle()
            if summary.status != "trading":
                break
            for o in summary.orders:
                if o.status == "refused" and o.reason.startswith("held back"):
                    held[f"{o.side} {o.purpose}"] += 1
                if o.status == "rejected":
                    rejected[o.reason.split(":", 1)[-1].strip()[:60]] += 1
            state = arena.values()
            naked += unprotected(state, streaks)
            longest = max([longest, *streaks.values()])
            positions += sum(len(Book.model_validate(b).positions) for b in state["books"].values())
        last = arena.values()
        marks = {s: v["price"] for s, v in (last.get("market") or {}).get("symbols", {}).items()}
        for account, raw in last["books"].items():
            book = Book.model_validate(raw)
            prices = {s: Decimal(str(marks.get(s, p.avg_cost))) for s, p in book.positions.items()}
            equity[account] = f"final equity {book.equity(prices):.2f} (cash {book.cash:.2f})"
    return {
        "held": held,
        "rejected": rejected,
        "naked": naked,
        "longest": longest,
        "positions": positions,
        "equity": equity,
    }


@contextlib.contextmanager
def alpaca_env(srv: Any, home: Path) -> Iterator[None]:
    env = {
        "ALPACA_API_KEY": "k",
        "ALPACA_API_SECRET": "s",
        "ALPACA_BASE_URL": srv.base_url,
        "ALPACA_DATA_URL": srv.base_url,
        "ALPACA_TIMEOUT_S": "5",
        "FILL_WAIT_S": "0",  # the local server fills at the next session, never within one
        "ALPACA_REQUESTS_PER_MIN": "10000",  # the setting's highest; the local server has no limit
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def alpaca(cycles: int, home: Path, manager: bool) -> dict[str, Any]:
    from tests.servers.alpaca_server import AlpacaServer

    with AlpacaServer(cash="400000", tick_on_clock=True) as srv, alpaca_env(srv, home):
        settings = Settings(mytrader_home=home, order_manager=manager)  # type: ignore[call-arg]
        figures = run(settings, None, cycles)
        figures["posts"] = srv.count("POST", "/v2/orders")
        figures["refusals"] = Counter(msg for _cid, msg in srv.refusals)
    return figures


def show(title: str, f: dict[str, Any]) -> None:
    print(f"== {title}")
    if "sent" in f:
        sent, washed = f["sent"], f["washed"]
        buys = sent["buy decision"]
        print(
            f"orders sent {sum(sent.values())}; the account would refuse as wash trades: "
            f"{sum(washed.values())} (BUYs: {washed['buy decision']} of {buys})"
        )
        for kind, n in sorted(washed.items()):
            print(f"    {kind}: {n} of {sent[kind]}")
    if "posts" in f:
        print(
            f"order POSTs {f['posts']}; refused by the server (403): {sum(f['refusals'].values())}"
        )
        for msg, n in f["refusals"].most_common():
            print(f"    {n} x {msg}")
    print(f"rejected by the broker: {sum(f['rejected'].values())} {dict(f['rejected'])}")
    print(f"held back by the order manager: {sum(f['held'].values())} {dict(f['held'])}")
    print("netted or crossed between books: 0 (the manager sequences; it does not net)")
    print(
        f"position-cycles without a protective order: {sum(f['naked'].values())} of "
        f"{f['positions']} {dict(f['naked'])}; longest stretch {f['longest']} cycle(s)"
    )
    for account, line in f["equity"].items():
        print(f"    {account}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=250)
    parser.add_argument("--alpaca-cycles", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.cycles:
            show(
                f"offline {args.cycles} cycles, baseline (manager and rules off)",
                offline(args.cycles, root / "base", manager=False),
            )
            show(
                f"offline {args.cycles} cycles, order manager on (default)",
                offline(args.cycles, root / "on", manager=True),
            )
        if args.alpaca_cycles:
            show(
                f"alpaca-py, local server, {args.alpaca_cycles} cycles, baseline (manager off)",
                alpaca(args.alpaca_cycles, root / "abase", manager=False),
            )
            show(
                f"alpaca-py, local server, {args.alpaca_cycles} cycles, order manager on",
                alpaca(args.alpaca_cycles, root / "aon", manager=True),
            )


if __name__ == "__main__":
    main()
