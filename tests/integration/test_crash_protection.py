"""A process killed between the cancel of protective sells (for a BUY) and their restore:
the next `mytrader run` resumes with every position protected and nothing placed twice.
Killed right after the cancel (the BUY not sent yet), or right after the BUY was accepted
(its protection not restored yet); SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mytrader.app.runner import open_arena
from mytrader.app.storage import open_store
from mytrader.config import load_settings
from mytrader.domain.book import Book
from mytrader.domain.models import PendingOrder
from tests.helpers import clean_env, make_settings
from tests.integration.test_cli import env_for, mytrader

# Runs cycles until a BUY follows the cancel of a protective order in one cycle, then dies
# (os._exit: no cleanup) before sending that BUY ("cancel") or right after it ("buy").
_KILL_IN_THE_WINDOW = """
import os, sys
from mytrader.config import load_settings
from mytrader.app.runner import open_arena
from mytrader.app.services import open_broker
from mytrader.app.storage import open_store

settings = load_settings()
store = open_store(settings)
real = open_broker(settings, store)
canceled = []

class DyingBroker:
    def __getattr__(self, name):
        return getattr(real, name)

    def cancel_order(self, cid, as_of=None):
        canceled.append(cid)
        return real.cancel_order(cid, as_of)

    def submit_order(self, order):
        # The BUY of a symbol whose protective sell this cycle canceled for it.
        mark = "-p-" + order.symbol + "-s"
        window = order.side == "buy" and any(c.endswith(mark) for c in canceled)
        if window and MODE == "cancel":
            print("KILLED", order.client_order_id, flush=True)
            os._exit(9)
        result = real.submit_order(order)
        if window:
            print("KILLED", order.client_order_id, flush=True)
            os._exit(9)
        return result

with open_arena(settings, broker=DyingBroker(), store=store) as arena:
    for _ in range(60):
        canceled.clear()
        arena.run_cycle()
sys.exit("no BUY after a cancel in 60 cycles")
"""


def killed_in_the_window(env: dict[str, str], cwd: Path, mode: str) -> str:
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_IN_THE_WINDOW.replace("MODE", repr(mode))],
        env={**clean_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr[-2000:]
    return killed.stdout.split("KILLED ")[1].strip()


def protection_at_the_exchange(backend: dict[str, Any]) -> tuple[dict[Any, int], dict[Any, int]]:
    """(book, symbol) -> shares held; (book, symbol) -> open protective orders at the
    exchange, skipping symbols a BUY of which is open (their protection waits for it)."""
    settings = load_settings(**backend, _env_file=None)
    with open_arena(settings) as arena:
        state = arena.values()
        sim = arena.services.broker
        open_orders = sim.account_orders_open(f"{settings.arena_id}-", state["as_of"])
        pending = [PendingOrder.model_validate(p).order for p in state["pending"]]
    buying = {o.symbol for o in open_orders if o.side == "buy"}
    held = {
        (a, s): q
        for a, raw in state["books"].items()
        for s, q in ((s, Book.model_validate(raw).qty(s)) for s in raw["positions"])
        if s not in buying
    }
    guards = Counter((o.account, o.symbol) for o in open_orders if o.purpose == "protect")
    assert {(o.account, o.symbol) for o in pending if o.is_open and o.purpose == "protect"} == set(
        guards
    )  # the state's open protective orders are the exchange's
    return held, dict(guards)


@pytest.mark.parametrize("mode", ["cancel", "buy"])
def test_killed_between_cancel_and_restore_resumes_protected(
    backend: dict[str, Any], tmp_path: Path, mode: str
) -> None:
    env = env_for(backend)
    buy = killed_in_the_window(env, tmp_path, mode)
    cycle = int(buy.split("-")[1])

    resumed = mytrader(["run", "--cycles", "2"], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"cycle {cycle} " in resumed.stdout and "(resumed)" in resumed.stdout

    settings = make_settings(**backend)
    with open_store(settings) as store:
        rows = store.trades(settings.arena_id)
        assert all(n == 1 for n in Counter(t.client_order_id for t in rows).values())
        assert store.ledger_get(buy) is not None  # the BUY was sent once (adopted if before)
        assert [t.client_order_id for t in rows if t.client_order_id == buy] == [buy]
    held, guards = protection_at_the_exchange(backend)
    assert held, "no position to protect"
    assert all(n == 1 for n in guards.values()), guards  # never two protective orders
    assert set(held) <= set(guards), set(held) - set(guards)  # every position protected
