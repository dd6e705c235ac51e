"""Small builders shared by the tests."""

from __future__ import annotations

import csv
import gzip
import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from mytrader.config import Settings
from mytrader.domain.models import Decision, MarketView, Movers, OrderRequest, SymbolView


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env (the environment is cleaned by conftest)."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def decision(action: str, symbol: str | None = None, qty: int = 0, conf: int = 50) -> Decision:
    return Decision(decision=action, symbol=symbol, quantity=qty, confidence=conf)  # type: ignore[arg-type]


def view(prices: dict[str, str], as_of: str = "2024-01-02") -> MarketView:
    return MarketView(
        as_of=as_of,
        movers=Movers(),
        symbols={
            s: SymbolView(symbol=s, price=Decimal(p), change_pct=0.0, volume=1000)
            for s, p in prices.items()
        },
    )


def order_request(cid: str, side: str, qty: int, as_of: str, **kw: object) -> OrderRequest:
    """An AAPL order of the book named in `cid` (arena-cycle-account-...)."""
    fields: dict[str, object] = {
        "client_order_id": cid,
        "account": cid.split("-")[2],
        "symbol": "AAPL",
        "side": side,
        "qty": qty,
        "as_of": as_of,
    }
    return OrderRequest.model_validate(fields | kw)


def clean_env() -> dict[str, str]:
    """This process's environment without anything that configures MyTrader, a model
    endpoint or tracing, so a subprocess sees only what its test gives it."""
    settings_names = {name.upper() for name in Settings.model_fields}
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALPACA_", "OPENROUTER_", "LANGSMITH_", "LANGCHAIN_", "MYTRADER_"))
        and k.upper() not in settings_names
    }


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`mytrader ARGS` in a fresh process, with only `env` configuring it."""
    return subprocess.run(
        [sys.executable, "-m", "mytrader.cli.main", *args],
        env={**clean_env(), **env, "COLUMNS": "160"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Runs cycles until one places an order, then dies (os._exit: no cleanup, no exception
# handling) right after the broker accepted that cycle's first order.
_KILL_AFTER_FIRST_ORDER = """
import os, sys
from mytrader.config import load_settings
from mytrader.app.runner import open_arena
from mytrader.app.services import open_broker
from mytrader.app.storage import open_store

settings = load_settings()
store = open_store(settings)
real = open_broker(settings, store)

class DyingBroker:
    def __getattr__(self, name):
        return getattr(real, name)

    def submit_order(self, order):
        result = real.submit_order(order)
        print("PLACED", order.client_order_id, flush=True)
        os._exit(9)

with open_arena(settings, broker=DyingBroker(), store=store) as arena:
    for _ in range(CYCLES):
        arena.run_cycle()
sys.exit("no order in CYCLES cycles")
"""


def killed_after_first_order(env: dict[str, str], cwd: Path, cycles: int) -> str:
    """Runs up to `cycles` cycles in a fresh process, with only `env` configuring it, that
    dies (exit 9) right after the broker accepted the first order: that order's client id."""
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_FIRST_ORDER.replace("CYCLES", str(cycles))],
        env={**clean_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr
    return killed.stdout.split("PLACED ")[1].strip()


def rewrite_after(
    src: Path, dst: Path, cutoff: str, price_factor: float, volume: tuple[int, int]
) -> Path:
    """A copy of the bars file `src` (csv.gz) whose every bar after `cutoff` is rewritten:
    prices times `price_factor`, volume times volume[0] plus volume[1]. Bars up to the
    cutoff are copied as they are (the no-look-ahead tests compare the days before it)."""
    with gzip.open(src, "rt") as f, dst.open("w", newline="") as out:
        rows = csv.DictReader(f)
        writer = csv.DictWriter(out, fieldnames=rows.fieldnames or [])
        writer.writeheader()
        for row in rows:
            if row["date"] > cutoff:
                for col in ("open", "high", "low", "close"):
                    row[col] = f"{float(row[col]) * price_factor:.4f}"
                row["volume"] = str(int(row["volume"]) * volume[0] + volume[1])
            writer.writerow(row)
    return dst


def cycle_state(
    cycle: int,
    view: MarketView,
    books: dict[str, Any],
    decisions: dict[str, Any],
) -> dict[str, Any]:
    """The graph state the executor sees in `cycle` (no vote, nothing pending yet), from
    models: plain JSON data, as the state holds it."""
    return {
        "cycle": cycle,
        "as_of": view.as_of,
        "market": view.model_dump(mode="json"),
        "books": {a: b.model_dump(mode="json") for a, b in books.items()},
        "decisions": {a: d.model_dump(mode="json") for a, d in decisions.items()},
        "vote": None,
        "pending": [],
    }


def seed_position(
    broker: Any, account: str, symbol: str, qty: int, before: str, arena: str = "arena"
) -> None:
    """Make the exchange's account hold `qty` shares of `symbol` bought for `account` a
    few sessions `before` (a book made up in a test holds shares the account never bought:
    the account's rules would refuse selling them). Cycle 0's id: no later cycle's."""
    from mytrader.domain.models import OrderRequest
    from mytrader.domain.order_ids import order_id

    history = broker.history
    day = history.calendar[history.cal_end(before) - 5]
    cid = order_id(arena, 0, account, "decision", symbol, "buy")
    if broker.get_order(cid, before) is not None:
        return  # seeded already
    request = OrderRequest(
        client_order_id=cid, account=account, symbol=symbol, side="buy", qty=qty, as_of=day
    )
    assert broker.submit_order(request).status == "pending"
    filled = broker.get_order(cid, before)
    assert filled is not None and filled.status == "filled", filled


def run_executor(services: Any, state: Any, config: Any) -> dict[str, Any]:
    """The executor node's work outside a graph run: the services' context (the
    settings') and the arena named by `config`'s thread."""
    from mytrader.graph.context import arena_key
    from mytrader.graph.nodes.executor import execute

    knobs = services.context
    return execute(services.broker, knobs, arena_key(config, knobs.arena_id), state)


def make_limits(**overrides: Any) -> Any:
    """The RiskLimits of `make_settings(**overrides)`, as the application builds them."""
    from mytrader.app.context import risk_limits

    return risk_limits(make_settings(**overrides))
