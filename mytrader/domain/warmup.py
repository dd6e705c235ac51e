"""The indicators' warm-up: the trading days of history before the first traded day.

One rule for `mytrader run` and `mytrader backtest`: a history no longer than its
warm-up has no day left to trade.
"""

from __future__ import annotations

MIN_WARMUP = 35  # MACD's signal line needs 35 closes; fewer and the view lacks it


def warmup_shortfall(trading_days: int, warmup_days: int) -> str | None:
    """Why `trading_days` of history cannot be traded after `warmup_days` of warm-up;
    None when at least one day is left."""
    if trading_days > warmup_days:
        return None
    return f"the data has {trading_days} trading days: not enough for {warmup_days} warm-up days"
