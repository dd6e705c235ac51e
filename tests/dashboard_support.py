"""Shared by the dashboard tests and bench: recorded cycles, a live server, a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from mytrader.adapters.store.db import ArenaStore
from mytrader.config import COLLABORATIVE, PERSONAS
from mytrader.domain.models import (
    AgentDecision,
    Benchmark,
    Decision,
    OrderResult,
    PendingOrder,
    VoteResult,
)
from mytrader.domain.records import CycleRecord, LogEntry, Snapshot, Usage
from tests.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def reasoning_of(agent: str, cycle: int) -> str:
    return f"{agent} reasons at cycle {cycle}"


def cycle_record(
    arena: str, cycle: int, *, reasoning: dict[str, str] | None = None, critique: bool = False
) -> CycleRecord:
    """One cycle as the record node writes it: decisions, vote, a fill, four snapshots."""
    as_of = (date(2024, 1, 1) + timedelta(days=cycle)).isoformat()
    logs: list[LogEntry] = []
    votes: dict[str, str] = {}
    for i, agent in enumerate(PERSONAS):
        text = (reasoning or {}).get(agent, reasoning_of(agent, cycle))
        d = Decision(decision="BUY", symbol="AAPL", quantity=1 + i, reasoning=text, confidence=60)
        logs.append(LogEntry(agent=agent, kind="THOUGHT", content=f"{agent} thinks {cycle}"))
        if critique:
            logs.append(LogEntry(agent=agent, kind="CRITIQUE", content=f"{agent} critique {cycle}"))
        decision = AgentDecision(agent=agent, decision=d, model=f"house/{agent}")
        logs.append(LogEntry(agent=agent, kind="DECISION", content=decision.model_dump_json()))
        votes[agent] = "BUY AAPL"
    vote = VoteResult(
        mode="majority",
        decision=Decision(decision="BUY", symbol="AAPL", quantity=2, reasoning="all agree"),
        weights={a: 1.0 for a in PERSONAS},
        tally={"BUY AAPL": 3.0},
        agreeing=list(PERSONAS),
        reason="all agree",
    )
    content = json.dumps({**vote.model_dump(mode="json"), "votes": votes})
    logs.append(LogEntry(agent=COLLABORATIVE, kind="DECISION", content=content))
    # grok places one BUY per cycle (pending), and the last cycle's BUY fills at this
    # cycle's start (booked now, at 100 + cycle).
    placed = OrderResult(
        client_order_id=f"{arena}-grok-{cycle}-0",
        account="grok",
        symbol="AAPL",
        side="buy",
        qty=1,
        status="pending",
        reason="decision",
        type="limit",
        limit_price=Decimal(200),
    )
    settled = []
    if cycle > 1:
        filled = placed.model_copy(
            update={
                "client_order_id": f"{arena}-grok-{cycle - 1}-0",
                "status": "filled",
                "filled_qty": 1,
                "filled_avg_price": Decimal(100 + cycle),
                "filled_at": as_of,
                "fee": Decimal("1"),
            }
        )
        previous = (date(2024, 1, 1) + timedelta(days=cycle - 1)).isoformat()
        settled.append(PendingOrder(order=filled, cycle=cycle - 1, as_of=previous))
    snapshots = [
        Snapshot(
            account=account,
            cycle=cycle,
            as_of=as_of,
            cash=Decimal("100000") - cycle * (k + 1),
            positions_value=Decimal(cycle * (k + 1)) + Decimal("0.25") * k,
            equity=Decimal("100000") + Decimal("0.25") * k,
            realized_pnl=Decimal("0"),
            fees=Decimal(cycle),
            trades=cycle,
            wins=0,
            losses=0,
            starting_cash=Decimal("100000"),
            positions={"AAPL": cycle},
        )
        for k, account in enumerate((*PERSONAS, COLLABORATIVE))
    ]
    usage = [
        Usage(agent=a, model=f"house/{a}", calls=1, tokens_in=100, tokens_out=10) for a in PERSONAS
    ]
    return CycleRecord(
        arena=arena,
        cycle=cycle,
        as_of=as_of,
        trades=[placed],
        settled=settled,
        benchmark=Benchmark(symbol="SPY", price=Decimal(400 + cycle) / 2),
        logs=logs,
        snapshots=snapshots,
        usage=usage,
    )


def seed(store: ArenaStore, arena: str, first: int, last: int) -> None:
    for cycle in range(first, last + 1):
        store.record_cycle(cycle_record(arena, cycle, critique=cycle % 5 == 0))


@contextmanager
def live_server(app: Any, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """A real uvicorn server for `app` (on a free port by default), in a thread: its URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def serve_process(
    env: dict[str, str], cwd: Path | None = None, host: str | None = None
) -> Iterator[str]:
    """`mytrader serve` (on `host` if given) on a free port in its own process, with
    exactly `env` as its environment: its loopback URL once /api/arenas answers."""
    port = free_port()
    args = ["serve", *(["--host", host] if host else []), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mytrader.cli.main", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/api/arenas", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "mytrader serve did not start"
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def chromium(width: int = 1400, height: int = 1700) -> Iterator[Any]:
    """Debian's headless Chromium through Debian's chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise RuntimeError(
            "Chromium is missing: apt-get install -y chromium chromium-driver (see .ci/run)"
        )
    profile = tempfile.mkdtemp(prefix="mytrader-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",  # root in CI
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
