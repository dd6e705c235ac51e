"""`mytrader run` on bad input a user can fix: exit status 3, a message naming the file,
the line and the problem, no traceback; unknown WATCHLIST symbols are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli

HEADER = "symbol,date,open,high,low,close,volume"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the file is empty"),
        (f"{HEADER}\nAAA,2024-01-02,10,11,9,10,100\nAAA,2024-01-03,-10,11,9,10,100\n", "line 3"),
        (f"{HEADER}\nAAA,2024-01-02,10,11,9,10,100\nAAA,2024-01-03,10,8,9,10,100\n", "line 3"),
        (f"{HEADER}\nAAA,2024-01-02,10,11,9,ten,100\n", "line 2: bad value in close"),
    ],
    ids=["empty", "negative-price", "high-below-low", "non-numeric"],
)
def test_bad_data_file_exits_3_naming_file_and_line(tmp_path: Path, text: str, said: str) -> None:
    data = tmp_path / "bars.csv"
    data.write_text(text)
    env = {"MYTRADER_HOME": str(tmp_path / "home"), "MARKET_DATA_PATH": str(data)}
    out = run_cli(["run", "--cycles", "1"], env, tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    shown = "".join(out.stdout.split())  # rich wraps long paths
    assert "".join(str(data).split()) in shown and "".join(said.split()) in shown, out.stdout


def test_unknown_watchlist_symbols_are_named(tmp_path: Path) -> None:
    env = {"MYTRADER_HOME": str(tmp_path / "home"), "WATCHLIST": "AAPL,NOPE,ZZZZ"}
    out = run_cli(["run", "--cycles", "1", "--quiet"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "warning: WATCHLIST symbol(s) not in the market data, ignored: NOPE, ZZZZ" in (
        " ".join(out.stdout.split())
    )
    assert "NOPE, ZZZZ" in out.stderr  # logged too
