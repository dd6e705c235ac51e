"""A bars file a user got wrong: the error names the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from mytrader.adapters.bars import MarketDataError, load_bars

HEADER = "symbol,date,open,high,low,close,volume"
GOOD = "A,2024-01-02,10,11,9,10.5,100"


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bars.csv"
    path.write_text(text)
    with pytest.raises(MarketDataError) as err:
        load_bars(path)
    message = str(err.value)
    assert str(path) in message  # always names the file
    return message


def test_empty_file(tmp_path: Path) -> None:
    assert "the file is empty" in _error(tmp_path, "")


def test_header_only(tmp_path: Path) -> None:
    assert "no bars after the header" in _error(tmp_path, HEADER + "\n")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("A,2024-01-03,-1,11,9,10,100", "open must be positive, got -1"),
        ("A,2024-01-03,10,11,9,0,100", "close must be positive, got 0"),
        ("A,2024-01-03,10,8,9,8.5,100", "high 8 is below low 9"),
        ("A,2024-01-03,10,11,9,abc,100", "bad value in close: 'abc' is not a number"),
        ("A,2024-01-03,10,11,,10,100", "bad value in low: empty"),
        ("A,2024-01-03,10,11,9,10,1.5", "bad value in volume"),
        ("A,2024-01-03,10,11,9,10,-5", "volume must be 0 or more, got -5"),
        ("A,03/01/2024,10,11,9,10,100", "bad date '03/01/2024'"),
        ("A,2024-02-30,10,11,9,10,100", "bad date '2024-02-30'"),
        ("A,2024-01-02,10,11,9,10,100", "duplicate bar for A on 2024-01-02"),
        (",2024-01-03,10,11,9,10,100", "empty symbol or date"),
    ],
)
def test_bad_row_is_named_by_line(tmp_path: Path, row: str, problem: str) -> None:
    # Line 1 header, 2-3 good bars, a blank line (4) that is skipped, the bad row on 5.
    text = "\n".join([HEADER, GOOD, "B,2024-01-02,5,6,4,5,10", "", row, GOOD.replace("A", "C")])
    message = _error(tmp_path, text + "\n")
    assert "line 5" in message and problem in message, message


def test_good_file_with_blank_lines_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("\n".join([HEADER, GOOD, "", "A,2024-01-03,10,11,9,10,100"]) + "\n")
    assert load_bars(path).calendar == ("2024-01-02", "2024-01-03")


def test_symbols_are_upper_cased_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("\n".join([HEADER, "brk.b,2024-01-02,10,11,9,10,100", GOOD]) + "\n")
    history = load_bars(path)
    assert history.symbols == ("A", "BRK.B") and history.series("BRK.B") is not None


@pytest.mark.parametrize(
    ("symbol", "line"),
    [("BRK B", 3), ("=SUM(1)", 3), ("1AB", 3), ("TOOLONGSYMB", 3), ("ıbm", 3), ("A\u202e", 3)],
)
def test_a_bad_symbol_is_named_with_its_line(tmp_path: Path, symbol: str, line: int) -> None:
    message = _error(tmp_path, "\n".join([HEADER, GOOD, f"{symbol},2024-01-03,1,1,1,1,1"]) + "\n")
    assert f"line {line}: bad symbol" in message and "BRK.B" in message, message


def test_one_symbol_in_two_cases_is_a_duplicate(tmp_path: Path) -> None:
    message = _error(tmp_path, "\n".join([HEADER, GOOD, GOOD.replace("A,", "a,", 1)]) + "\n")
    assert "line 3: duplicate bar for A on 2024-01-02" in message
