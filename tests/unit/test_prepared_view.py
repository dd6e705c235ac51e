"""The market view from prepared arrays equals the view computed from the bars."""

from __future__ import annotations

import pytest

from mytrader.adapters.bars import PriceHistory, load_bars
from mytrader.adapters.sim.exchange import SimulatedExchange
from mytrader.tools.market_view import build_market_view


class BarsOnly:
    """The same exchange, without prepared arrays: the view takes the reference path."""

    def __init__(self, inner: SimulatedExchange) -> None:
        self.inner = inner

    def __getattr__(self, attr: str) -> object:
        if attr == "prepared":
            raise AttributeError(attr)
        return getattr(self.inner, attr)


@pytest.fixture(scope="module")
def sample() -> PriceHistory:
    return load_bars()


def test_prepared_view_equals_the_reference_on_every_day(sample: PriceHistory) -> None:
    ex = SimulatedExchange(sample, warmup_days=0)
    shown = list(sample.symbols)  # every symbol, every 7th day from the very first
    for day in sample.calendar[::7]:
        fast = build_market_view(ex, day, shown, 5)
        slow = build_market_view(BarsOnly(ex), day, shown, 5)  # type: ignore[arg-type]
        assert fast.model_dump() == slow.model_dump(), day


def test_prepared_view_with_a_short_lookback(sample: PriceHistory) -> None:
    ex = SimulatedExchange(sample)
    day = sample.calendar[300]
    fast = build_market_view(ex, day, ["AAPL", "MRNA"], 5, lookback=60)
    slow = build_market_view(BarsOnly(ex), day, ["AAPL", "MRNA"], 5, lookback=60)  # type: ignore[arg-type]
    assert fast.model_dump() == slow.model_dump()
