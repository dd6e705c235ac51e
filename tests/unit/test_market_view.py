"""The market view: built from reads at `as_of` only, so the future cannot change it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mytrader.adapters.bars import PriceHistory, load_bars
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.domain.models import Movers
from mytrader.ports.broker import Bar
from mytrader.tools.market_view import build_market_view

SAMPLE = Path(__file__).resolve().parents[2] / "mytrader" / "data" / "sample_daily.csv.gz"
EXTRA = ["AAPL", "MRNA", "SPY"]


@pytest.fixture(scope="module")
def sample() -> PriceHistory:
    return load_bars()


def rewrite_future(tmp_path: Path, after: str) -> Path:
    """A copy of the sample where every bar after `after` is changed beyond recognition."""
    frame = pd.read_csv(SAMPLE)
    future = frame["date"] > after
    for col in ("open", "high", "low", "close"):
        frame.loc[future, col] = (frame.loc[future, col] * 10).round(4)
    frame.loc[future, "volume"] = frame.loc[future, "volume"] * 3 + 7
    path = tmp_path / "future_rewritten.csv.gz"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("t_index", [60, 250, 499])
def test_view_does_not_look_ahead(sample: PriceHistory, tmp_path: Path, t_index: int) -> None:
    t = sample.calendar[t_index]
    later = sample.calendar[t_index + 1]
    original = SimulatedExchange(sample)
    rewritten = SimulatedExchange(load_bars(rewrite_future(tmp_path, t)))

    before = build_market_view(original, t, EXTRA, 5).model_dump()
    after = build_market_view(rewritten, t, EXTRA, 5).model_dump()
    assert before == after

    # The check has teeth: the next day sees the rewritten bars.
    assert (
        build_market_view(original, later, EXTRA, 5).model_dump()
        != build_market_view(rewritten, later, EXTRA, 5).model_dump()
    )


def test_view_symbols_and_values(sample: PriceHistory) -> None:
    ex = SimulatedExchange(sample)
    t = sample.calendar[200]
    view = build_market_view(ex, t, ["AAPL", "NOPE"], 3)
    movers = {m.symbol for g in (view.movers.gainers, view.movers.losers) for m in g}
    movers |= {m.symbol for m in view.movers.most_active}
    assert set(view.symbols) == movers | {"AAPL"}  # the unknown symbol is left out
    assert view.as_of == t

    bars = ex.bars(["AAPL"], t, 2)["AAPL"]
    aapl = view.symbols["AAPL"]
    assert aapl.price == bars[-1].close and aapl.volume == bars[-1].volume
    expected = round((float(bars[-1].close) / float(bars[-2].close) - 1) * 100, 2)
    assert aapl.change_pct == expected
    assert aapl.sector == "tech"
    assert aapl.drawdown_pct is not None and aapl.drawdown_pct <= 0
    assert aapl.high_lookback is not None and aapl.high_lookback >= float(aapl.price)
    for field in ("rsi14", "macd", "macd_signal", "macd_hist", "macd_hist_prev", "sma50"):
        assert getattr(aapl, field) is not None, field
    assert view.price("AAPL") == aapl.price and view.price("NOPE") is None


def test_short_history_gives_none_not_errors(sample: PriceHistory) -> None:
    ex = SimulatedExchange(sample, warmup_days=0)
    view = build_market_view(ex, sample.calendar[0], ["AAPL"], 5)
    aapl = view.symbols["AAPL"]
    assert aapl.change_pct == 0.0 and aapl.rsi14 is None and aapl.macd is None
    assert view.movers == Movers()  # no previous session to compare with

    view = build_market_view(ex, sample.calendar[30], ["AAPL"], 5)
    aapl = view.symbols["AAPL"]
    assert aapl.rsi14 is not None and aapl.sma20 is not None
    assert aapl.sma50 is None and aapl.macd_signal is None


class CountingBroker:
    """Wraps the exchange to count reads (the view must ask for bars once)."""

    def __init__(self, inner: SimulatedExchange) -> None:
        self.inner = inner
        self.name = "counting"
        self.bar_calls: list[tuple[list[str], str, int]] = []

    def __getattr__(self, attr: str) -> object:
        if attr == "prepared":  # a broker without prepared arrays: the view reads bars
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        self.bar_calls.append((list(symbols), as_of, limit))
        return self.inner.bars(symbols, as_of, limit)


def test_one_bars_call_with_lookback(sample: PriceHistory) -> None:
    broker = CountingBroker(SimulatedExchange(sample))
    t = sample.calendar[100]
    view = build_market_view(broker, t, ["PFE"], 5, lookback=80)  # type: ignore[arg-type]
    assert len(broker.bar_calls) == 1
    symbols, as_of, limit = broker.bar_calls[0]
    assert (as_of, limit) == (t, 80) and set(symbols) == set(view.symbols)
