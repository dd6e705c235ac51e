"""Backtests: the arena graph over a range of history, its report, its guarantees."""

from __future__ import annotations

import csv
import gzip
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import ROUND_FLOOR, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from mytrader.adapters.llm.house import HouseModel
from mytrader.adapters.store.db import ArenaStore
from mytrader.app.storage import open_store
from mytrader.backtest.report import SPY_BH, report_of, trade_rows, write_files
from mytrader.backtest.runner import BacktestOptions, BacktestRun, prepare, run_backtest
from mytrader.config import PERSONAS
from mytrader.prompts import CRITIQUE_MARKER, extract_payload
from tests.helpers import clean_env, rewrite_after, run_cli
from tests.servers.openai_server import ChatServer, Reply

SAMPLE = Path(str(resources.files("mytrader") / "data" / "sample_daily.csv.gz"))


def backtest(
    tmp: Path, options: BacktestOptions, models: dict[str, BaseChatModel] | None = None, **kw: Any
) -> tuple[BacktestRun, ArenaStore]:
    run, broker = prepare(options, _env_file=None, mytrader_home=tmp / "home", **kw)
    store = open_store(run.settings)
    run_backtest(run, broker, store, models=models)
    return run, store


def report_files(run: BacktestRun, store: ArenaStore, out: Path) -> None:
    report = report_of(store, run, {"start": run.start, "end": run.end})
    write_files(report, trade_rows(store, run.run_id), out)


# --- buy and hold ------------------------------------------------------------------------


class Scripted(BaseChatModel):
    """BUYs `qty` of `symbol` on its first decision, then HOLDs."""

    symbol: str
    qty: int
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
        self.calls += 1
        buy = {"decision": "BUY", "symbol": self.symbol, "quantity": self.qty, "confidence": 90}
        hold = {"decision": "HOLD", "confidence": 10}
        text = json.dumps(buy if self.calls == 1 else hold)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class Holder(Scripted):
    def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
        text = json.dumps({"decision": "HOLD", "confidence": 10})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def sample_close(symbol: str, day: str) -> Decimal:
    with gzip.open(SAMPLE, "rt") as f:
        for row in csv.DictReader(f):
            if row["symbol"] == symbol and row["date"] == day:
                return Decimal(row["close"])
    raise AssertionError(f"no {symbol} bar on {day}")


def test_one_account_buy_and_hold_reproduces_the_spy_benchmark_to_the_cent(tmp_path, monkeypatch):
    # Batches of 7 days: the in-memory checkpoints are pruned and the rows written 6 times.
    monkeypatch.setattr("mytrader.backtest.runner.BATCH_DAYS", 7)
    start, cash, fee = "2024-03-01", Decimal("100000"), Decimal("1")
    # What the risk gate lets an all-in buy have: cash for qty x (close + 3 %) + the fee.
    limit = (sample_close("SPY", start) * Decimal("1.03")).quantize(Decimal("0.01"))
    qty = int(((cash - fee) / limit).to_integral_value(rounding=ROUND_FLOOR))
    models: dict[str, BaseChatModel] = {p: Holder(symbol="", qty=0) for p in PERSONAS}
    models["grok"] = Scripted(symbol="SPY", qty=qty)
    opts = BacktestOptions(start=start, end="2024-05-31", slippage_bps=Decimal("5"))
    run, store = backtest(
        tmp_path, opts, models, max_position_pct=0, stop_loss_pct=0, take_profit_pct=0
    )
    with store:
        fills = [t for t in store.trades(run.run_id, "grok") if t.status == "filled"]
        assert len(fills) == 1 and fills[0].qty == qty
        report = report_of(store, run, {})
    grok = [e.quantize(Decimal("0.01")) for e in report.curves["grok"]]
    spy = [e.quantize(Decimal("0.01")) for e in report.curves[SPY_BH]]
    assert len(grok) == len(report.dates) > 40
    assert grok == spy
    assert grok[-1] != cash  # it did move with SPY


# --- same run, same files ----------------------------------------------------------------


def test_the_same_backtest_twice_gives_byte_identical_metrics_and_trades(tmp_path):
    args = ["backtest", "--start", "2024-06-03", "--end", "2024-08-30", "--slippage-bps", "5"]
    env = {"MYTRADER_HOME": str(tmp_path / "home")}
    outs = []
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        done = run_cli([*args, "--out", str(out)], env, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SPY" in done.stdout and "equal weight" in done.stdout
        outs.append(out)
    a, b = outs
    for name in ("metrics.json", "trades.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "equity.png").stat().st_size > 10_000
    metrics = json.loads((a / "metrics.json").read_text())
    assert set(metrics["accounts"]) == {"grok", "deepseek", "openai", "collaborative"}
    assert set(metrics["benchmarks"]) == {"SPY", "equal weight"}
    # the evidence section: the same accounts, who beats whom with SPY, in both runs' bytes
    ev = metrics["evidence"]
    assert {a["account"] for a in ev["accounts"]} == set(metrics["accounts"])
    assert ev["beats"]["names"][-1] == "SPY" and ev["params"]["min_days"] == 20
    assert all(a["status"]["text"] for a in ev["accounts"])
    assert "Who beats whom" in done.stdout and "Calibration" in done.stdout
    trades = list(csv.DictReader((a / "trades.csv").open()))
    assert any(t["status"] == "filled" for t in trades)
    equity = list(csv.DictReader((a / "equity.csv").open()))
    assert {r["series"] for r in equity} == {*metrics["accounts"], *metrics["benchmarks"]}
    # Two runs, two arenas in the database; --list shows both with their figures.
    listed = run_cli(["backtest", "--list"], env, tmp_path)
    assert listed.returncode == 0
    assert len(re.findall(r"bt_[0-9a-f]{8}", listed.stdout)) == 2


# --- bad input ---------------------------------------------------------------------------

GOOD_ROWS = [
    ("AAA", f"2024-{m:02d}-{d:02d}", "10.0", "11.0", "9.0", "10.5", "1000")
    for m in (1, 2, 3, 4)
    for d in range(1, 29)
]


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


BAD_FILES = {
    "missing column": (
        ["symbol", "date", "open", "high", "low", "volume"],
        [r[:5] + r[6:] for r in GOOD_ROWS],
        "missing column(s) close",
    ),
    "non-numeric price": (
        ["symbol", "date", "open", "high", "low", "close", "volume"],
        [*GOOD_ROWS[:5], ("AAA", "2024-05-01", "10", "11", "9", "ten", "100")],
        "bad value",
    ),
    "unsorted dates": (
        ["symbol", "date", "open", "high", "low", "close", "volume"],
        [GOOD_ROWS[1], GOOD_ROWS[0], *GOOD_ROWS[2:]],
        "dates are not sorted: row 3 has AAA on 2024-01-01 after 2024-01-02",
    ),
}


@pytest.mark.parametrize("problem", sorted(BAD_FILES))
def test_a_bad_data_file_exits_2_with_its_problem_named(tmp_path, problem):
    header, rows, message = BAD_FILES[problem]
    data = write_csv(tmp_path / "bars.csv", header, rows)
    done = run_cli(["backtest", "--data", str(data)], {"MYTRADER_HOME": str(tmp_path)}, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    text = " ".join((done.stdout + done.stderr).split())
    assert message in text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2001-01-02"], "--start 2001-01-02 is outside the data"),
        (["--end", "2030-01-02"], "--end 2030-01-02 is outside the data"),
        (["--start", "2024-05-01", "--end", "2024-04-01"], "is after --end"),
        (["--start", "2024-13-01"], "is not a date"),
    ],
)
def test_a_range_outside_the_data_exits_2(tmp_path, args, message):
    done = run_cli(["backtest", *args], {"MYTRADER_HOME": str(tmp_path)}, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    text = " ".join((done.stdout + done.stderr).split())
    assert message in text
    if "outside" in message:  # says what the data covers
        assert "the data covers 2023-10-09 to 2025-10-07" in text
    assert "Traceback" not in text


# --- no look-ahead -----------------------------------------------------------------------


def decisions_and_fills(store: ArenaStore, run: BacktestRun, upto: str) -> tuple[list, list]:
    cycles = {d: n for n, d in enumerate(run.dates, 1)}
    last = max(n for d, n in cycles.items() if d <= upto)
    logs = [
        (r.cycle, r.agent, r.kind, r.content)
        for r in store.agent_logs(run.run_id)
        if r.cycle <= last and r.kind == "DECISION"
    ]
    fills = [
        (t.cycle, t.account, t.symbol, t.side, t.qty, t.status, t.filled_avg_price, t.fee)
        for t in store.trades(run.run_id)
        if t.filled_at is not None and t.filled_at <= upto
    ]
    return logs, fills


def test_rewriting_every_bar_after_t_changes_no_decision_or_fill_up_to_t(tmp_path):
    opts = BacktestOptions(start="2024-02-01", end="2024-03-28")
    base, store_a = backtest(tmp_path / "a", opts, critique_interval=2)
    t = base.dates[24]
    altered = rewrite_after(SAMPLE, tmp_path / "altered.csv", t, 0.61, (5, 3))
    other, store_b = backtest(
        tmp_path / "b", opts.model_copy(update={"data": altered}), critique_interval=2
    )
    with store_a, store_b:
        a = decisions_and_fills(store_a, base, t)
        b = decisions_and_fills(store_b, other, t)
        assert a[0] and a[1]
        assert a == b
        # The rewrite shows right after t, so the comparison above can fail.
        assert decisions_and_fills(store_a, base, "9999") != decisions_and_fills(
            store_b, other, "9999"
        )


def everything_recorded(store: ArenaStore, run_id: str) -> tuple[list, list, list]:
    # The run id is the arena's key and a prefix of every client order id: set aside.
    def plain(row: Any) -> str:
        skip = {"id", "recorded_at", "broker_order_id"}  # (a hash of the client order id)
        return row.model_dump_json(exclude=skip).replace(run_id, "RUN")

    return (
        [plain(t) for t in store.trades(run_id)],
        [plain(s) for s in store.snapshots(run_id)],
        [plain(r) for r in store.agent_logs(run_id)],
    )


def test_the_fast_path_changes_nothing_in_the_result(tmp_path):
    """A backtest of house models writes its in-memory checkpoint when each cycle ends
    (durability exit) and runs the personas' turns one after another in the calling
    thread; a live arena checkpoints after every step and runs the turns on LangGraph's
    threads. The recorded run is the same, row by row."""
    opts = BacktestOptions(start="2024-03-01", end="2024-05-31", slippage_bps=Decimal("5"))
    recorded = []
    for durability, inline in (("exit", None), ("sync", False)):
        run, broker = prepare(
            opts, _env_file=None, mytrader_home=tmp_path / durability, critique_interval=3
        )
        with open_store(run.settings) as store:
            run_backtest(run, broker, store, durability=durability, inline_turns=inline)
            recorded.append(everything_recorded(store, run.run_id))
    fast, stepwise = recorded
    trades, snapshots, logs = fast
    assert any('"status":"filled"' in t for t in trades) and snapshots
    assert any('"kind":"CRITIQUE"' in entry for entry in logs)
    assert fast == stepwise


# --- blind mode and the cache, through the real ChatOpenAI --------------------------------

API_KEY = "sk-test-backtest"


def prompt_of(request: dict[str, Any]) -> str:
    return "\n".join(
        m["content"] for m in request.get("messages", []) if isinstance(m.get("content"), str)
    )


def trader(request: dict[str, Any]) -> Reply:
    """Critique in text; else quote the first symbol shown, then BUY it (2 shares)."""
    text = prompt_of(request)
    if CRITIQUE_MARKER in text:
        return Reply.text("Fine.\nADJUSTMENT: none")
    payload = extract_payload(text)
    assert payload is not None
    symbol = next(iter(payload["market"]["symbols"]))
    if not any(m.get("role") == "tool" for m in request["messages"]):
        return Reply.tool_call("get_quote", {"symbol": symbol})
    qty = min(2, payload["max_buy_qty"][symbol])
    return Reply.json({"decision": "BUY", "symbol": symbol, "quantity": qty, "confidence": 60})


def real_model_settings(srv: ChatServer, tmp: Path) -> dict[str, Any]:
    return {
        "openrouter_api_key": API_KEY,
        "openrouter_base_url": srv.base_url,
        "llm_max_retries": 0,
        "critique_interval": 2,
    }


def test_blind_mode_shows_no_real_ticker_or_date_to_the_model(tmp_path):
    with ChatServer(default=trader) as srv:
        opts = BacktestOptions(
            start="2024-04-01", end="2024-04-12", models="openrouter", blind=True
        )
        run, store = backtest(tmp_path, opts, **real_model_settings(srv, tmp_path))
        assert srv.errors == []
        bodies = [r.raw.decode() for r in srv.chat_requests]
    universe = run.history.symbols
    assert bodies and any('"role": "tool"' in b or '"role":"tool"' in b for b in bodies)
    leaks = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(universe) + r")(?![A-Za-z0-9_])")
    for body in bodies:
        assert not re.search(r"\d{4}-\d{2}-\d{2}", body), body[:2000]
        assert not leaks.search(body), leaks.search(body)
    assert re.search(r"[A-Z]{3}_\d+", bodies[0]) and re.search(r"\bD\d+\b", bodies[0])
    with store:  # the books keep the real names
        filled = [t for t in store.trades(run.run_id) if t.status == "filled"]
        assert filled and all(t.symbol in universe for t in filled)
        thoughts = [r.content for r in store.agent_logs(run.run_id) if r.kind == "THOUGHT"]
        # ...and the tool exchange as logged shows the real symbol and session date.
        assert any("get_quote" in c and re.search(r"2024-04-\d\d", c) for c in thoughts)


def test_a_rerun_on_real_models_is_served_by_the_cache_and_identical(tmp_path):
    with ChatServer(default=trader) as srv:
        extra = real_model_settings(srv, tmp_path)
        opts = BacktestOptions(
            start="2024-04-01", end="2024-04-10", models="openrouter", cache=tmp_path / "c.sqlite"
        )
        first, store1 = backtest(tmp_path / "1", opts, **extra)
        calls = len(srv.chat_requests)
        second, store2 = backtest(tmp_path / "2", opts, **extra)
        assert calls > 0 and len(srv.chat_requests) == calls  # not one call the second time
        assert srv.errors == []
    assert second.cache_misses == 0 and second.cache_hits == first.cache_misses
    with store1, store2:
        report_files(first, store1, tmp_path / "r1")
        report_files(second, store2, tmp_path / "r2")
    for name in ("metrics.json", "trades.csv"):
        assert (tmp_path / "r1" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes()


class RecordingHouse(HouseModel):
    seen: list[str] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append("\n".join(str(m.content) for m in messages))
        return super()._generate(messages, *args, **kwargs)


def test_blind_house_models_still_trade_under_pseudonyms(tmp_path):
    models: dict[str, BaseChatModel] = {p: RecordingHouse(persona=p) for p in PERSONAS}
    opts = BacktestOptions(start="2024-04-01", end="2024-05-15", blind=True)
    run, store = backtest(tmp_path, opts, models, critique_interval=2)
    seen = "\n".join(s for m in models.values() for s in m.seen)  # type: ignore[attr-defined]
    assert "BIO_" in seen and "TEC_" in seen
    assert not re.search(r"\b(AAPL|MRNA|NVDA|SPY)\b|\d{4}-\d{2}-\d{2}", seen)
    with store:
        assert any(t.status == "filled" for t in store.trades(run.run_id))


# --- the live leaderboard uses the same metrics ---------------------------------------------


def test_leaderboard_json_has_drawdown_spy_and_no_sharpe_too_early(tmp_path):
    from mytrader.app.runner import open_arena
    from mytrader.domain.metrics import figures
    from tests.helpers import make_settings

    settings = make_settings(mytrader_home=tmp_path / "home")
    with open_arena(settings) as arena:
        dates = [arena.run_cycle().as_of or "" for _ in range(12)]
    done = run_cli(["leaderboard", "--json"], {"MYTRADER_HOME": str(tmp_path / "home")}, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {r["account"]: r for r in json.loads(done.stdout)}
    with open_store(settings) as store:
        snaps = store.snapshots(settings.arena_id)
    for account, row in rows.items():
        mine = [s for s in snaps if s.account == account]
        f = figures([s.as_of for s in mine], [s.equity for s in mine])
        # 11 daily returns: below the minimum days, no Sharpe at all, and the words
        assert f.sharpe is not None and row["sharpe"] is None
        assert row["status"] == "too early to tell: 11 of 20 days"
        assert row["max_drawdown_pct"] == round(f.drawdown.max_drawdown_pct or 0.0, 4)
    spy = sample_close("SPY", dates[-1]) / sample_close("SPY", dates[0]) - 1
    assert {r["spy_return_pct"] for r in rows.values()} == {round(float(spy) * 100, 4)}


# --- Ctrl-C ------------------------------------------------------------------------------


def recorded_days(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            row = conn.execute(
                "SELECT COUNT(DISTINCT cycle) FROM portfolio_snapshots WHERE arena LIKE 'bt_%'"
            ).fetchone()
        except sqlite3.OperationalError:  # the tables are not there yet
            return 0
    return int(row[0])


def test_ctrl_c_stops_after_the_day_in_progress_and_keeps_every_day_done(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mytrader.cli.main", "backtest", "--out", str(out)],
        env={**clean_env(), "MYTRADER_HOME": str(home), "COLUMNS": "160"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while recorded_days(home / "arena.sqlite") < 100:  # the first batch is written
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no day recorded in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, stdout + stderr
    done = re.search(r"interrupted after (\d+) of (\d+) days", stdout)
    assert done, stdout
    days, planned = int(done[1]), int(done[2])
    assert 100 <= days < planned
    # Every finished day is in the tables, and nothing of the day that was cut short.
    assert recorded_days(home / "arena.sqlite") == days
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["interrupted"] is True and metrics["run"]["days"] == days
    equity = list(csv.DictReader((out / "equity.csv").open()))
    assert len({r["date"] for r in equity}) == days


class InterruptsOnce(Holder):
    """HOLDs; on its `at`-th call it sends this process SIGINT from inside the turn (the
    place where a KeyboardInterrupt once came out of pydantic as a ValidationError)."""

    at: int = 3

    def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return super()._generate(messages, *a, **k)


def test_ctrl_c_inside_a_turn_finishes_that_day_then_stops(tmp_path):
    models: dict[str, BaseChatModel] = {p: Holder(symbol="AAPL", qty=1) for p in PERSONAS}
    models["grok"] = InterruptsOnce(symbol="AAPL", qty=1)
    options = BacktestOptions(start="2024-06-03", end="2024-07-31")
    run, store = backtest(tmp_path, options, models)
    assert run.interrupted
    # The day whose turn took the signal was finished and recorded; no later day ran.
    assert len(run.dates) == 3 < run.days_total
    assert recorded_days(tmp_path / "home" / "arena.sqlite") == 3
    # A handler is no longer installed: the process's Ctrl-C is Python's again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
