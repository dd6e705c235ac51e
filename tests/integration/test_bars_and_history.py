"""Bars files and histories that used to pass silently: lower-case symbols (the arena
never traded and the backtest's SPY benchmark vanished), a history no longer than the
warm-up ("market history exhausted after None", exit 0), bad settings that failed only
after files were written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mytrader.adapters.bars import load_bars
from tests.helpers import run_cli

SAMPLE = Path(__file__).parents[2] / "mytrader" / "data" / "sample_daily.csv.gz"
HEADER = "symbol,date,open,high,low,close,volume"


def sample_copy(path: Path, *, lower: bool = False, drop: str | None = None) -> Path:
    frame = pd.read_csv(SAMPLE)
    if drop:
        frame = frame[frame["symbol"] != drop]
    if lower:
        frame["symbol"] = frame["symbol"].str.lower()
    frame.to_csv(path, index=False)
    return path


def text(out) -> str:  # type: ignore[no-untyped-def]
    return " ".join((out.stdout + out.stderr).split())  # rich wraps long lines


def test_a_lower_case_file_trades_exactly_like_the_upper_case_one(tmp_path: Path) -> None:
    boards = []
    for name, lower in (("upper", False), ("lower", True)):
        data = sample_copy(tmp_path / f"{name}.csv", lower=lower)
        env = {"MYTRADER_HOME": str(tmp_path / name), "MARKET_DATA_PATH": str(data)}
        out = run_cli(["run", "--cycles", "3", "--quiet"], env, tmp_path)
        assert out.returncode == 0, text(out)
        board = run_cli(["leaderboard", "--json"], env, tmp_path)
        boards.append(json.loads(board.stdout))
    upper, lower_board = boards
    assert sum(row["trades"] for row in upper) > 0  # the sample trades in 3 cycles
    assert lower_board == upper
    assert lower_board[0]["spy_return_pct"] is not None  # the benchmark is SPY, not spy


def test_the_backtest_keeps_spy_from_a_lower_case_file(tmp_path: Path) -> None:
    data = sample_copy(tmp_path / "lower.csv", lower=True)
    args = ["backtest", "--data", str(data), "--start", "2024-06-03", "--end", "2024-06-07"]
    out = run_cli(
        [*args, "--out", str(tmp_path / "report")], {"MYTRADER_HOME": str(tmp_path)}, tmp_path
    )
    assert out.returncode == 0, text(out)
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert "SPY" in metrics["benchmarks"]


def test_the_backtest_says_when_spy_is_not_in_the_data(tmp_path: Path) -> None:
    data = sample_copy(tmp_path / "nospy.csv", drop="SPY")
    args = ["backtest", "--data", str(data), "--start", "2024-06-03", "--end", "2024-06-07"]
    out = run_cli(
        [*args, "--out", str(tmp_path / "report")], {"MYTRADER_HOME": str(tmp_path)}, tmp_path
    )
    assert out.returncode == 0, text(out)
    assert "warning: SPY is not in" in text(out) and "no SPY buy-and-hold" in text(out)
    env = {"MYTRADER_HOME": str(tmp_path / "run"), "MARKET_DATA_PATH": str(data)}
    run = run_cli(["run", "--cycles", "1", "--quiet"], env, tmp_path)
    assert run.returncode == 0, text(run)
    assert "BENCHMARK_SYMBOL SPY is not in the market data" in text(run)


def test_a_bad_symbol_names_the_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    data.write_text(f"{HEADER}\nAAA,2024-01-02,10,11,9,10,100\n=SUM(1),2024-01-02,1,1,1,1,1\n")
    env = {"MYTRADER_HOME": str(tmp_path / "home"), "MARKET_DATA_PATH": str(data)}
    out = run_cli(["run", "--cycles", "1"], env, tmp_path)
    assert out.returncode == 3, text(out)
    said = "".join(text(out).split())
    assert f"{data},line3:badsymbol" in said and "Traceback" not in said


@pytest.mark.parametrize("case", ["one-row", "warmup-beyond-history"])
def test_run_refuses_a_history_too_short_to_trade(tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    if case == "one-row":
        data = tmp_path / "one.csv"
        data.write_text(f"{HEADER}\nAAA,2024-01-02,10,11,9,10,100\n")
        env = {"MYTRADER_HOME": str(home), "MARKET_DATA_PATH": str(data)}
        days, warmup = 1, 60
    else:
        days, warmup = len(load_bars(None).calendar), 5000
        env = {"MYTRADER_HOME": str(home), "WARMUP_DAYS": str(warmup)}
    for args in (["run", "--cycles", "1"], ["run", "--every", "1s", "--cycles", "1"]):
        out = run_cli(args, env, tmp_path)
        said = text(out)
        assert out.returncode == 2, said
        assert f"the data has {days} trading days: not enough for {warmup} warm-up days" in said
        assert "WARMUP_DAYS" in said and "exhausted" not in said and "Traceback" not in said
    board = run_cli(["leaderboard", "--json"], env, tmp_path)
    assert json.loads(board.stdout) == []  # no cycle recorded


@pytest.mark.parametrize(
    ("name", "value"),
    [("STARTING_CASH", "1e400"), ("STOP_LOSS_PCT", "150"), ("MYTRADER_HOME", "{file}")],
)
def test_bad_settings_exit_2_before_anything_is_written(
    tmp_path: Path, name: str, value: str
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    env = {"MYTRADER_HOME": str(tmp_path / "home"), name: value.format(file=afile)}
    out = run_cli(["run", "--cycles", "1"], env, tmp_path)
    assert out.returncode == 2, text(out)
    assert f"{name}:" in text(out) and "Traceback" not in text(out)
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--slippage-bps", "inf", "--slippage-bps: Input should be a finite number"),
        ("--slippage-bps", "10000", "--slippage-bps: must be in [0, 10000)"),
        ("--fee", "inf", "--fee: Input should be a finite number"),
        ("--fee", "1e9", "FEE_PER_TRADE: must be in [0, 1000]"),
    ],
)
def test_backtest_options_outside_their_meaning_exit_2(
    tmp_path: Path, option: str, value: str, named: str
) -> None:
    args = ["backtest", "--start", "2024-06-03", "--end", "2024-06-05", option, value]
    out = run_cli([*args, "--out", str(tmp_path / "r")], {"MYTRADER_HOME": str(tmp_path)}, tmp_path)
    said = "".join(text(out).replace("│", "").split())
    assert out.returncode == 2, text(out)
    assert "".join(named.split()) in said and "Traceback" not in said, text(out)
    assert not (tmp_path / "r").exists()
