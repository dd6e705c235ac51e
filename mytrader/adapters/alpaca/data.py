"""Alpaca's market data for the agents and the screener: daily bars, snapshots, movers
(the screener endpoints, or a scan of every tradable symbol's snapshot) and news.
`as_of` is the real time of the cycle: bars and news are read up to it, never after."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from alpaca.data.enums import MostActivesBy
from alpaca.data.requests import (
    MarketMoversRequest,
    MostActivesRequest,
    NewsRequest,
    StockBarsRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame

from mytrader.adapters.alpaca.config import AlpacaConfig
from mytrader.adapters.alpaca.http import AlpacaHttp
from mytrader.adapters.alpaca.parsing import (
    bar,
    mover,
    news_item,
    ny,
    rank_movers,
    snapshot_row,
)
from mytrader.adapters.news import NewsItem, select_news
from mytrader.domain.models import Movers
from mytrader.ports.broker import Bar, BrokerError, BrokerSetupError

log = logging.getLogger(__name__)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class AlpacaData:
    """The market-data half of an `AlpacaBroker`; `universe` lists the symbols a scan
    covers (the trading API's active, tradable assets)."""

    def __init__(
        self, http: AlpacaHttp, config: AlpacaConfig, universe: Callable[[], list[str]]
    ) -> None:
        self.http = http
        self.feed = config.feed
        self.scan_chunk, self.scan_workers = config.scan_chunk, config.scan_workers
        self.screener = config.screener
        self._universe = universe

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        """Daily bars up to `as_of` (never after), oldest first, at most `limit` each."""
        out: dict[str, list[Bar]] = {s: [] for s in symbols}
        if not symbols or limit <= 0:
            return out
        end = ny(as_of)
        # Trading days are ~250 of 365: ask for enough calendar days, then keep `limit`.
        start = end - timedelta(days=int(limit * 1.5) + 10)
        for chunk in _chunks(sorted(set(symbols)), 200):
            request = StockBarsRequest(
                symbol_or_symbols=chunk,
                timeframe=TimeFrame.Day,
                start=start,
                end=end,
                feed=self.feed,  # type: ignore[arg-type]
            )
            read = functools.partial(self.http.raw_data().get_stock_bars, request)
            raw = self.http.data_read(read, "bars")
            assert isinstance(raw, dict)
            for sym, rows in raw.items():
                bars = [bar(b) for b in rows]
                out[sym] = [b for b in bars if b.date <= end.date().isoformat()][-limit:]
        return out

    def snapshots(self, symbols: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Raw snapshots, chunk by chunk, concurrently, within the request budget."""
        chunks = _chunks(list(symbols), self.scan_chunk)

        def one(chunk: list[str]) -> dict[str, Any]:
            request = StockSnapshotRequest(symbol_or_symbols=chunk, feed=self.feed)  # type: ignore[arg-type]
            raw = self.http.data_read(
                lambda: self.http.raw_data().get_stock_snapshot(request), "snapshots"
            )
            assert isinstance(raw, dict)
            return raw

        out: dict[str, dict[str, Any]] = {}
        if len(chunks) <= 1:
            for chunk in chunks:
                out.update(one(chunk))
            return out
        with ThreadPoolExecutor(max_workers=self.scan_workers) as pool:
            for part in pool.map(one, chunks):
                out.update(part)
        return out

    def movers(self, as_of: str, top: int) -> Movers:
        """Alpaca's screener (movers, most actives), completed from snapshots; a scan of
        the whole universe's snapshots when the screener endpoints can't answer."""
        if top <= 0:
            return Movers()
        if self.screener == "scan":
            return self.scan_movers(top)
        screener = self.http.screener
        try:
            mv = self.http.data_read(
                lambda: screener.get_market_movers(MarketMoversRequest(top=min(top, 50))),
                "movers",
            )
            act = self.http.data_read(
                lambda: screener.get_most_actives(
                    MostActivesRequest(top=min(top, 100), by=MostActivesBy.VOLUME)
                ),
                "movers (most actives)",
            )
        except BrokerSetupError:
            raise
        except BrokerError as exc:
            log.warning("screener endpoints failed (%s): scanning the universe instead", exc)
            return self.scan_movers(top)
        gainers = [m.symbol for m in mv.gainers]  # type: ignore[union-attr]
        losers = [m.symbol for m in mv.losers]  # type: ignore[union-attr]
        active = [m.symbol for m in act.most_actives]  # type: ignore[union-attr]
        snaps = self.snapshots(sorted(set(gainers + losers + active)))
        rows = {s: mover(r) for s in snaps if (r := snapshot_row(s, snaps[s])) is not None}
        pick = lambda syms: [rows[s] for s in syms if s in rows][:top]  # noqa: E731
        return Movers(gainers=pick(gainers), losers=pick(losers), most_active=pick(active))

    def scan_movers(self, top: int) -> Movers:
        """Gainers, losers and most active over every active tradable symbol."""
        snaps = self.snapshots(self._universe())
        rows = [r for s, snap in snaps.items() if (r := snapshot_row(s, snap)) is not None]
        return rank_movers(rows, top)

    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        """Alpaca news about `symbols` published up to `as_of`, newest first."""
        if limit <= 0:
            return []
        request = NewsRequest(
            symbols=",".join(symbols) if symbols else None,
            end=ny(as_of),
            limit=min(limit, 50),
            sort="desc",
        )
        raw = self.http.data_read(lambda: self.http.news.get_news(request), "news")
        items = [news_item(n) for n in raw.data.get("news", [])]  # type: ignore[union-attr]
        return select_news(items, symbols, as_of, limit)
