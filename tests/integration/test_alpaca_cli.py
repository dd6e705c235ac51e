"""`mytrader` in its own process, trading through the real alpaca-py against the local
Alpaca server (keys set, both URLs pointed at it): cycles, reconcile, crashes, faults,
and the setup errors that must end a command cleanly (exit 3, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mytrader.app.storage import open_store
from tests.helpers import clean_env, killed_after_first_order, make_settings, run_cli
from tests.servers.alpaca_server import AlpacaServer, Fault, OrderScript

pytestmark = pytest.mark.slow

STARTING = Decimal("25000")  # four books over one $100,000 paper account


def alpaca_env(srv: AlpacaServer, home: Path, **extra: str) -> dict[str, str]:
    return {
        "MYTRADER_HOME": str(home),
        "ALPACA_API_KEY": "k",
        "ALPACA_API_SECRET": "s",
        "ALPACA_BASE_URL": srv.base_url,
        "ALPACA_DATA_URL": srv.base_url,
        "ALPACA_TIMEOUT_S": "2",
        "STARTING_CASH": str(STARTING),
        **extra,
    }


def server() -> AlpacaServer:
    # Every cycle reads the clock once: one trading day per cycle, as offline.
    return AlpacaServer(cash=STARTING * 4, tick_on_clock=True)


def book_totals(home: Path) -> dict[str, Any]:
    settings = make_settings(mytrader_home=home)
    with open_store(settings) as store:
        rows = store.trades(settings.arena_id)
    return {"trades": rows}


def assert_no_doubles(srv: AlpacaServer) -> None:
    counts = Counter(o.client_order_id for o in srv.orders.values() if o.parent is None)
    assert all(n == 1 for n in counts.values()), counts


def test_run_three_cycles_then_reconcile(tmp_path: Path) -> None:
    key, secret = "PKSECRETKEY42", "alpaca-secret-value-77"
    with AlpacaServer(cash=STARTING * 4, tick_on_clock=True, key=key, secret=secret) as srv:
        env = {**alpaca_env(srv, tmp_path / "home"), "ALPACA_API_KEY": key}
        env["ALPACA_API_SECRET"] = secret
        run = run_cli(["run", "--cycles", "3"], env, tmp_path)
        assert run.returncode == 0, run.stderr
        assert "trading on: alpaca paper account PA1LOCAL0001" in run.stdout
        assert "cycle 3" in run.stdout
        assert srv.count("POST", "/v2/orders") > 0  # it traded at Alpaca, not offline
        assert srv.count("GET", "/v1beta1/screener/stocks/movers") == 3
        rec = run_cli(["reconcile"], env, tmp_path)
        assert rec.returncode == 0, rec.stdout + rec.stderr
        assert "reconciled" in rec.stdout
        assert_no_doubles(srv)
        status = run_cli(["status"], env, tmp_path)
        assert "books and broker agree" in status.stdout, status.stdout + status.stderr
        # The keys are in no output, table or checkpoint.
        for text in (run.stdout + run.stderr, rec.stdout, status.stdout):
            assert key not in text and secret not in text
        for path in (tmp_path / "home").rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert key.encode() not in data and secret.encode() not in data, path
        # A position changed behind the books' back: reconcile says so and exits 1.
        srv.positions["ZZTOP"] = (3, Decimal("30"))
        srv.cash -= 90
        rec = run_cli(["reconcile"], env, tmp_path)
        assert rec.returncode == 1
        assert "ZZTOP: broker holds 3, books hold 0" in rec.stdout


def resume_and_check(srv: AlpacaServer, env: dict[str, str], cwd: Path, placed: str) -> None:
    resumed = run_cli(["run", "--cycles", "2"], env, cwd)
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
    assert_no_doubles(srv)
    assert srv.orders_by_cid(placed) is not None
    rec = run_cli(["reconcile"], env, cwd)
    assert rec.returncode == 0, rec.stdout + rec.stderr
    settings = make_settings(mytrader_home=Path(env["MYTRADER_HOME"]))
    with open_store(settings) as store:
        counts = Counter(t.client_order_id for t in store.trades(settings.arena_id))
    assert counts[placed] == 1 and all(n == 1 for n in counts.values())


def test_killed_right_after_submit_resumes_without_duplicate(tmp_path: Path) -> None:
    with server() as srv:
        env = alpaca_env(srv, tmp_path / "home")
        # Dies right after Alpaca answered the cycle's first order.
        placed = killed_after_first_order(env, tmp_path, cycles=40)
        resume_and_check(srv, env, tmp_path, placed)


def test_killed_after_alpaca_created_the_order_before_the_answer(tmp_path: Path) -> None:
    """SIGKILL while the answer of POST /v2/orders is on its way: Alpaca has the order,
    the process never learnt it. The next run adopts it instead of placing it again."""
    with server() as srv:
        env = alpaca_env(srv, tmp_path / "home")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mytrader.cli.main", "run", "--cycles", "40", "--quiet"],
            env={**clean_env(), **env, "COLUMNS": "160"},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        created: list[str] = []

        def kill(cid: str) -> None:
            created.append(cid)
            os.kill(proc.pid, signal.SIGKILL)

        srv.on_order_created = kill
        srv.inject(Fault(200, method="POST", path="/v2/orders", after=True, delay=30.0))
        assert proc.wait(timeout=300) == -signal.SIGKILL
        srv.on_order_created = None
        srv.faults.clear()
        assert created, "no order was placed"
        resume_and_check(srv, env, tmp_path, created[0])


@pytest.mark.parametrize(
    "fault",
    [
        Fault(429, path="/v2/stocks/bars", reset_in=1.0),
        Fault(500, method="POST", path="/v2/orders", after=True),
        Fault(504, method="POST", path="/v2/orders", after=True),
        Fault(200, method="POST", path="/v2/orders", after=True, delay=3.0),
        Fault(422, method="POST", path="/v2/orders", after=True),
        Fault(403, method="POST", path="/v2/orders", message="insufficient buying power"),
        OrderScript(stay_new=2),
        OrderScript(partial=1),
    ],
    ids=["429", "500", "504", "hang", "422", "403", "stays-new", "partial"],
)
def test_every_fault_ends_reconciled(tmp_path: Path, fault: Fault | OrderScript) -> None:
    with server() as srv:
        if isinstance(fault, Fault):
            fault.times = 2
            srv.inject(fault)
        else:
            fault.times = 2
            srv.script_order(fault)
        env = alpaca_env(srv, tmp_path / "home")
        run = run_cli(["run", "--cycles", "4", "--quiet"], env, tmp_path)
        assert run.returncode == 0, run.stderr
        assert (fault.hits if isinstance(fault, Fault) else fault.hits) >= 1
        assert_no_doubles(srv)
        rec = run_cli(["reconcile"], env, tmp_path)
        assert rec.returncode == 0, rec.stdout + rec.stderr
        if isinstance(fault, Fault) and fault.status == 403:
            rows = book_totals(tmp_path / "home")["trades"]
            assert any("insufficient buying power" in t.reason for t in rows)


@pytest.mark.parametrize("case", ["bad-key", "live-url", "unreachable"])
def test_setup_errors_exit_3_without_traceback(tmp_path: Path, case: str) -> None:
    with server() as srv:
        env = alpaca_env(srv, tmp_path / "home")
        if case == "bad-key":
            env["ALPACA_API_KEY"] = "wrong"
        elif case == "live-url":
            env["ALPACA_BASE_URL"] = "https://api.alpaca.markets"
        else:
            srv.close()
            env["ALPACA_TIMEOUT_S"] = "0.5"
        for args in (["run", "--cycles", "1"], ["reconcile"]):
            result = run_cli(args, env, tmp_path)
            assert result.returncode == 3, result.stdout + result.stderr
            assert "Traceback" not in result.stdout + result.stderr
            text = result.stdout + result.stderr
            want = {
                "bad-key": "401",
                "live-url": "ALLOW_LIVE_TRADING",
                "unreachable": "unreachable",
            }
            assert want[case] in text
        # Nothing half-written: no cycle recorded, no checkpoint.
        home = tmp_path / "home"
        if home.exists():
            settings = make_settings(mytrader_home=home)
            with open_store(settings) as store:
                assert store.last_cycle(settings.arena_id) is None
        time.sleep(0)
