"""The Alpaca broker: the `Broker` protocol over alpaca-py (trading, market data, screener,
news), for a paper account by default.

Three things alpaca-py does not do, done here:
- a timeout on every request (alpaca-py sets none: a dead connection would hang a cycle);
- no blind retry of POST /v2/orders (alpaca-py resends after a 504, when the first attempt
  may have created the order): every client runs with its retry off, reads are retried
  here (a 429 waits for its X-RateLimit-Reset), and a submit that may have reached Alpaca
  is settled by looking its client_order_id up and adopting only the same order;
- a request budget: Alpaca allows 200 requests a minute (trading and data apart), so
  every request takes a slot of a sliding one-minute window first.

`as_of` is the real time of the cycle (Alpaca's clock, New York time): bars are read up
to it, never after.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.enums import MostActivesBy
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.screener import ScreenerClient
from alpaca.data.requests import (
    MarketMoversRequest,
    MostActivesRequest,
    NewsRequest,
    StockBarsRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)
from alpaca.trading.requests import (
    OrderRequest as AlpacaOrderRequest,
)
from pydantic import BaseModel

from mytrader.adapters.news import NewsItem, select_news
from mytrader.config import Settings
from mytrader.domain.endpoints import (
    Endpoint,
    EndpointPolicy,
    EndpointRefused,
    HostKind,
    check_endpoint,
    parse_endpoint,
)
from mytrader.domain.models import (
    Mover,
    Movers,
    OrderRequest,
    OrderResult,
    OrderStatus,
)
from mytrader.domain.order_ids import account_of, purpose_of
from mytrader.domain.sectors import sector_of
from mytrader.ports.broker import (
    AssetInfo,
    Bar,
    Broker,
    BrokerError,
    BrokerSetupError,
    DuplicateOrderError,
    MarketClock,
)

log = logging.getLogger(__name__)

NY = ZoneInfo("America/New_York")
PAPER_URL = "https://paper-api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
_MAX_RESET_WAIT = 65.0  # a 429's reset is at most a minute away
_READ_ATTEMPTS = 4
_SUBMIT_ATTEMPTS = 3
_CANCEL_POLLS = 10

T = TypeVar("T")
C = TypeVar("C", bound=RESTClient)


class BrokerUnavailable(BrokerError):
    """A request failed after its retries (timeout, 5xx, connection)."""


# --- live guard ---------------------------------------------------------------------------


def is_live_url(url: str) -> bool:
    """Alpaca's live trading host (api.alpaca.markets) in any spelling DNS and TLS accept
    (case, trailing dot, percent-encoding, port, path), as opposed to paper or a local one."""
    try:
        return parse_endpoint(url).kind is HostKind.LIVE
    except ValueError:
        return False


def check_live_guard(
    base_url: str, data_url: str = DATA_URL, policy: EndpointPolicy | None = None
) -> tuple[Endpoint, Endpoint]:
    """The trading and data endpoints the clients may connect to, checked before any
    connection: the live host only with ALLOW_LIVE_TRADING, other hosts only when named
    in ALPACA_ALLOWED_HOSTS, plain http only on loopback."""
    policy = policy or EndpointPolicy()
    try:
        trading = check_endpoint(base_url, "ALPACA_BASE_URL", HostKind.PAPER, policy)
        data = check_endpoint(data_url, "ALPACA_DATA_URL", HostKind.DATA, policy)
    except EndpointRefused as exc:
        raise BrokerSetupError(str(exc)) from None
    return trading, data


# --- request budget and retries --------------------------------------------------------


class MinuteWindow:
    """At most `per_minute` requests in any 60 s (Alpaca's rule), shared by threads."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                wait = 60.0 - (now - self._sent[0])
            self.waited += wait
            time.sleep(wait)


def _error_body(exc: APIError) -> dict[str, Any]:
    try:
        body = json.loads(str(exc))
    except ValueError:
        return {"message": str(exc)[:200]}
    return body if isinstance(body, dict) else {"message": str(body)[:200]}


def api_message(exc: APIError) -> str:
    return str(_error_body(exc).get("message") or str(exc)[:200])


def _reset_wait(exc: APIError) -> float:
    """Seconds until a 429's X-RateLimit-Reset (unix seconds); 1 s when absent."""
    response = exc.response
    reset = response.headers.get("X-RateLimit-Reset") if response is not None else None
    try:
        return min(max(float(reset) - time.time(), 0.05), _MAX_RESET_WAIT) if reset else 1.0
    except ValueError:
        return 1.0


def _is_duplicate(exc: APIError) -> bool:
    return exc.status_code == 422 and "unique" in api_message(exc).lower()


def _harden(client: C, timeout: float) -> C:
    """A timeout on every request, and alpaca-py's own retry off (it would resend a POST)."""
    session = client._session
    session.request = functools.partial(session.request, timeout=timeout)  # type: ignore[method-assign]
    client._retry = 0
    client._retry_wait = 0
    return client


# --- the broker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountInfo:
    account_number: str
    status: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal


_STATUS = {
    "filled": "filled",
    "partially_filled": "partially_filled",
    "canceled": "canceled",
    "expired": "expired",
    "done_for_day": "expired",
    "replaced": "canceled",
    "rejected": "rejected",
    "suspended": "rejected",
    "stopped": "pending",
}


class AlpacaBroker:
    """Broker over one Alpaca account. Reads are safe from threads."""

    name: str = "alpaca"

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        base_url: str = PAPER_URL,
        data_url: str = DATA_URL,
        feed: str = "iex",
        timeout: float = 10.0,
        allow_live: bool = False,
        allowed_hosts: frozenset[str] = frozenset(),
        requests_per_min: int = 200,
        scan_chunk: int = 1000,
        scan_workers: int = 12,
        screener: str = "endpoints",
    ) -> None:
        policy = EndpointPolicy(allow_live=allow_live, allowed_hosts=allowed_hosts)
        trading, data = check_live_guard(base_url, data_url, policy)
        # The clients get the URLs rebuilt from what was judged: the host checked is the
        # host reached, whatever the spelling.
        self.base_url, self.data_url, self.feed = trading.url, data.url, feed
        self.live = trading.kind is HostKind.LIVE
        self.timeout = timeout
        self.scan_chunk, self.scan_workers, self.screener = scan_chunk, scan_workers, screener
        self._keys = (key, secret)
        paper = not self.live
        self.trading = _harden(
            TradingClient(key, secret, paper=paper, url_override=self.base_url), timeout
        )
        self.data = _harden(
            StockHistoricalDataClient(key, secret, url_override=self.data_url), timeout
        )
        self.screener_client = _harden(
            ScreenerClient(key, secret, url_override=self.data_url), timeout
        )
        self.news_client = _harden(NewsClient(key, secret, url_override=self.data_url), timeout)
        self.trade_window = MinuteWindow(requests_per_min)
        self.data_window = MinuteWindow(requests_per_min)
        self._raw = threading.local()  # one raw-data client per scan thread
        self._assets: dict[str, str] | None = None
        self._clocks: dict[str, dict[str, Any]] = {}
        self.requests = 0  # sent, for the README's cost figures and the benchmark

    # --- plumbing ------------------------------------------------------------------------

    def _call(self, window: MinuteWindow, fn: Callable[[], T], what: str) -> T:
        """A read: retried on 429 (after its reset), 5xx, timeouts and lost connections."""
        for attempt in range(_READ_ATTEMPTS):
            window.acquire()
            self.requests += 1
            try:
                return fn()
            except APIError as exc:
                status = exc.status_code or 0
                if status == 401:
                    raise BrokerSetupError(
                        f"Alpaca refused the keys ({status}: {api_message(exc)}): check "
                        "ALPACA_API_KEY and ALPACA_API_SECRET (paper keys for the paper URL)"
                    ) from None
                if status == 429:
                    wait = _reset_wait(exc)
                    log.warning("alpaca %s: rate limited, waiting %.1fs for the reset", what, wait)
                    time.sleep(wait)
                    continue
                if status >= 500 and attempt + 1 < _READ_ATTEMPTS:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise BrokerError(f"alpaca {what}: {status} {api_message(exc)}") from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt + 1 < _READ_ATTEMPTS:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise BrokerUnavailable(
                    f"alpaca {what}: no answer from {self._host_of(what)} ({type(exc).__name__})"
                ) from None
        raise BrokerUnavailable(f"alpaca {what}: still rate limited after {_READ_ATTEMPTS} tries")

    def _host_of(self, what: str) -> str:
        return (
            self.data_url
            if what.startswith(("bars", "snapshots", "movers", "news"))
            else (self.base_url)
        )

    def _trade(self, fn: Callable[[], T], what: str) -> T:
        return self._call(self.trade_window, fn, what)

    def _data(self, fn: Callable[[], T], what: str) -> T:
        return self._call(self.data_window, fn, what)

    def _raw_data(self) -> StockHistoricalDataClient:
        client = getattr(self._raw, "client", None)
        if client is None:
            key, secret = self._keys
            client = _harden(
                StockHistoricalDataClient(key, secret, raw_data=True, url_override=self.data_url),
                self.timeout,
            )
            self._raw.client = client
        return client

    # --- account -------------------------------------------------------------------------

    def account(self) -> AccountInfo:
        """The account, checked: this is the first call a command makes (bad keys, a
        blocked account or an unreachable host stop it here, before anything is written)."""
        try:
            raw = self._trade(lambda: self.trading.get("/account"), "account")
        except BrokerUnavailable as exc:
            raise BrokerSetupError(f"Alpaca is unreachable at {self.base_url}: {exc}") from None
        except BrokerError as exc:
            raise BrokerSetupError(f"Alpaca account: {exc}") from None
        assert isinstance(raw, dict)
        return AccountInfo(
            account_number=str(raw.get("account_number")),
            status=str(raw.get("status")),
            cash=Decimal(str(raw.get("cash") or "0")),
            equity=Decimal(str(raw.get("equity") or "0")),
            buying_power=Decimal(str(raw.get("buying_power") or "0")),
        )

    def describe(self) -> str:
        info = self.account()
        kind = "LIVE" if self.live else "paper"
        return f"alpaca {kind} account {info.account_number} at {self.base_url}"

    def account_cash(self) -> Decimal:
        return self.account().cash

    def positions(self) -> dict[str, int]:
        """Shares held per symbol (whole shares; fractional parts are rounded down)."""
        raw = self._trade(lambda: self.trading.get("/positions"), "positions")
        assert isinstance(raw, list)
        return {p["symbol"]: int(Decimal(str(p["qty"]))) for p in raw}

    # --- clock ---------------------------------------------------------------------------

    def _read_clock(self) -> dict[str, Any]:
        found = self._trade(self.trading.get_clock, "clock")
        raw = _as_json(found)
        raw["timestamp"] = _ny(raw["timestamp"]).isoformat()
        self._clocks[raw["timestamp"]] = raw
        return raw

    def next_session(self, after: str | None) -> str | None:
        """Now, by Alpaca's clock (New York time): live, time only moves forward."""
        return str(self._read_clock()["timestamp"])

    def is_open(self, as_of: str) -> bool:
        raw = self._clocks.get(as_of) or self._read_clock()
        return bool(raw["is_open"])

    def clock(self, as_of: str | None = None) -> MarketClock:
        raw = (self._clocks.get(as_of) if as_of else None) or self._read_clock()
        return MarketClock(
            timestamp=raw["timestamp"],
            is_open=bool(raw["is_open"]),
            next_open=_ny(raw["next_open"]).isoformat(),
            next_close=_ny(raw["next_close"]).isoformat(),
        )

    # --- reference data ------------------------------------------------------------------

    def _universe(self) -> dict[str, str]:
        """Active, tradable symbols -> name; read once per broker (one request)."""
        if self._assets is None:
            # Raw JSON: alpaca-py's strict enums reject a whole list over one new value.
            params = {"status": "active", "asset_class": "us_equity"}
            raw = self._trade(lambda: self.trading.get("/assets", params), "assets")
            assert isinstance(raw, list)
            self._assets = {
                a["symbol"]: a.get("name") or ""
                for a in raw
                if a.get("tradable") and a.get("status") == "active"
            }
        return self._assets

    def universe(self) -> list[str]:
        return sorted(self._universe())

    def asset(self, symbol: str) -> AssetInfo | None:
        name = self._universe().get(symbol)
        if name is None:
            return None
        return AssetInfo(symbol=symbol, name=name, sector=sector_of(symbol))

    # --- market data ---------------------------------------------------------------------

    def bars(self, symbols: list[str], as_of: str, limit: int) -> dict[str, list[Bar]]:
        """Daily bars up to `as_of` (never after), oldest first, at most `limit` each."""
        out: dict[str, list[Bar]] = {s: [] for s in symbols}
        if not symbols or limit <= 0:
            return out
        end = _ny(as_of)
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
            raw = self._data(functools.partial(self._raw_data().get_stock_bars, request), "bars")
            assert isinstance(raw, dict)
            for sym, rows in raw.items():
                bars = [_bar(b) for b in rows]
                out[sym] = [b for b in bars if b.date <= end.date().isoformat()][-limit:]
        return out

    def snapshots(self, symbols: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Raw snapshots, chunk by chunk, concurrently, within the request budget."""
        chunks = _chunks(list(symbols), self.scan_chunk)

        def one(chunk: list[str]) -> dict[str, Any]:
            request = StockSnapshotRequest(symbol_or_symbols=chunk, feed=self.feed)  # type: ignore[arg-type]
            raw = self._data(lambda: self._raw_data().get_stock_snapshot(request), "snapshots")
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
        try:
            mv = self._data(
                lambda: self.screener_client.get_market_movers(
                    MarketMoversRequest(top=min(top, 50))
                ),
                "movers",
            )
            act = self._data(
                lambda: self.screener_client.get_most_actives(
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
        rows = {s: _mover(r) for s in snaps if (r := _snapshot_row(s, snaps[s])) is not None}
        pick = lambda syms: [rows[s] for s in syms if s in rows][:top]  # noqa: E731
        return Movers(gainers=pick(gainers), losers=pick(losers), most_active=pick(active))

    def scan_movers(self, top: int) -> Movers:
        """Gainers, losers and most active over every active tradable symbol."""
        snaps = self.snapshots(self.universe())
        rows = [r for s, snap in snaps.items() if (r := _snapshot_row(s, snap)) is not None]
        return rank_movers(rows, top)

    # --- news ----------------------------------------------------------------------------

    def news(self, symbols: list[str], as_of: str, limit: int) -> list[NewsItem]:
        """Alpaca news about `symbols` published up to `as_of`, newest first."""
        if limit <= 0:
            return []
        request = NewsRequest(
            symbols=",".join(symbols) if symbols else None,
            end=_ny(as_of),
            limit=min(limit, 50),
            sort="desc",
        )
        raw = self._data(lambda: self.news_client.get_news(request), "news")
        items = [
            NewsItem(
                id=str(n.id),
                headline=n.headline,
                summary=n.summary or "",
                source=n.source or "",
                symbols=list(n.symbols or []),
                created_at=n.created_at.isoformat(),
                url=n.url,
            )
            for n in raw.data.get("news", [])  # type: ignore[union-attr]
        ]
        return select_news(items, symbols, as_of, limit)

    # --- orders --------------------------------------------------------------------------

    def submit_order(self, order: OrderRequest) -> OrderResult:
        """Place the order once: `pending`, or `rejected` with Alpaca's message (403, 422).

        alpaca-py's retry is off. A submit whose answer was lost (timeout, 5xx, 429) looks
        its id up first: the same order is adopted, an id Alpaca never saw is sent again
        under the same id, a different order under it raises DuplicateOrderError, as does
        a 422 'client_order_id must be unique' (the caller adopts or records a mismatch).
        """
        request = order_request(order)
        for attempt in range(_SUBMIT_ATTEMPTS):
            self.trade_window.acquire()
            self.requests += 1
            try:
                placed = self.trading.submit_order(request)
                return self._result(_as_json(placed))
            except APIError as exc:
                status = exc.status_code or 0
                if status == 401:
                    raise BrokerSetupError(
                        f"Alpaca refused the keys (401): {api_message(exc)}"
                    ) from None
                if _is_duplicate(exc):
                    raise DuplicateOrderError(
                        f"client_order_id {order.client_order_id} was used already"
                    ) from None
                if status in (400, 403, 404, 422):
                    return result_of(order, "rejected", f"alpaca {status}: {api_message(exc)}")
                if status == 429:
                    time.sleep(_reset_wait(exc))
                why = f"{status} {api_message(exc)}"
            except (requests.Timeout, requests.ConnectionError) as exc:
                why = type(exc).__name__
            log.warning("submit %s: %s; looking the id up", order.client_order_id, why)
            existing = self._lookup(order.client_order_id)
            if existing is not None:
                found = self._result(existing)
                if not found.same_order(order):
                    raise DuplicateOrderError(
                        f"client_order_id {order.client_order_id} is another order at Alpaca"
                    )
                log.info("order %s reached Alpaca: adopted", order.client_order_id)
                return found
            time.sleep(0.2 * 2**attempt)
        raise BrokerUnavailable(
            f"order {order.client_order_id} not placed: Alpaca did not answer after "
            f"{_SUBMIT_ATTEMPTS} tries (it is not at Alpaca: a later cycle may place it)"
        )

    def _lookup(self, client_order_id: str) -> dict[str, Any] | None:
        try:
            found = self._trade(
                lambda: self.trading.get_order_by_client_id(client_order_id), "order lookup"
            )
        except BrokerError as exc:
            if "404" in str(exc):
                return None
            raise
        return _as_json(found)

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        """The order as Alpaca reports it now (live, `as_of` is the present anyway)."""
        raw = self._lookup(client_order_id)
        return None if raw is None else self._result(raw)

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        raw = self._lookup(client_order_id)
        if raw is None:
            return None
        if raw["status"] in ("new", "accepted", "partially_filled", "held", "pending_new"):
            oid = raw["id"]
            try:
                self._trade(lambda: self.trading.cancel_order_by_id(oid), "cancel")
            except BrokerError as exc:
                if "422" not in str(exc):  # 422: it filled or closed meanwhile
                    raise
            # A cancel is asynchronous at Alpaca (pending_cancel first): wait for the end,
            # so the shares are free for the SELL that follows.
            for _ in range(_CANCEL_POLLS):
                raw = self._lookup(client_order_id) or raw
                if raw["status"] not in ("pending_cancel", "new", "accepted", "held"):
                    break
                time.sleep(0.2)
        return self._result(raw)

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        """Orders whose client_order_id starts with `prefix` (one cycle's), oldest first:
        Alpaca has no prefix query, so the last days' orders are listed and filtered."""
        since = _ny(as_of) - timedelta(days=7) if as_of else None
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL, limit=500, nested=True, after=since, direction=Sort.ASC
        )
        found = self._trade(lambda: self.trading.get_orders(request), "orders")
        assert isinstance(found, list)
        rows = [_as_json(o) for o in found]
        return [self._result(r) for r in rows if str(r["client_order_id"]).startswith(prefix)]

    def open_orders(self, as_of: str | None = None) -> list[OrderResult]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500, nested=True)
        found = self._trade(lambda: self.trading.get_orders(request), "open orders")
        assert isinstance(found, list)
        return [self._result(_as_json(o)) for o in found]

    def _result(self, raw: dict[str, Any]) -> OrderResult:
        return result_from_json(raw, account_of(raw["client_order_id"]))


# --- JSON <-> models ----------------------------------------------------------------------


def order_request(order: OrderRequest) -> AlpacaOrderRequest:
    """alpaca-py's request model: whole shares, our client_order_id. An OCO is a sell
    limit (the take-profit) with a stop-loss leg, as Alpaca models it."""
    common: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": order.qty,
        "side": OrderSide(order.side),
        "time_in_force": TimeInForce(order.time_in_force),
        "client_order_id": order.client_order_id,
    }
    if order.order_class == "oco":
        assert order.limit_price is not None and order.stop_price is not None
        return LimitOrderRequest(
            **common,
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=float(order.limit_price)),
            stop_loss=StopLossRequest(stop_price=float(order.stop_price)),
        )
    if order.type == "limit":
        assert order.limit_price is not None
        return LimitOrderRequest(**common, limit_price=float(order.limit_price))
    if order.type == "stop":
        assert order.stop_price is not None
        return StopOrderRequest(**common, stop_price=float(order.stop_price))
    return MarketOrderRequest(**common)


def _as_json(model: Any) -> dict[str, Any]:
    """An alpaca-py model as the wire's JSON (enums as their values, ids as text)."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json")
    assert isinstance(model, dict)
    return dict(model)


def result_of(order: OrderRequest, status: OrderStatus, reason: str = "") -> OrderResult:
    return OrderResult.of(order, status, reason)


def result_from_json(raw: dict[str, Any], account: str) -> OrderResult:
    """Alpaca's order JSON as an OrderResult. An OCO (a take-profit limit whose leg is the
    stop-loss) is one result: whichever leg filled, at its price."""
    legs = raw.get("legs") or []
    oco = raw.get("order_class") == "oco"
    fill = raw
    if oco and legs:
        fill = next((x for x in [raw, *legs] if _dec(x.get("filled_qty"))), raw)
    status: OrderStatus = _STATUS.get(str(fill.get("status")), "pending")  # type: ignore[assignment]
    if oco and legs and status == "canceled":
        # One leg canceled by the other's fill was handled above; both canceled: canceled.
        status = "canceled" if all(x.get("status") == "canceled" for x in legs) else "pending"
    price = fill.get("filled_avg_price")
    filled_at = fill.get("filled_at")
    stop = raw.get("stop_price") or next((x.get("stop_price") for x in legs), None)
    kind = str(raw.get("type") or raw.get("order_type") or "market")
    return OrderResult(
        client_order_id=raw["client_order_id"],
        account=account,
        symbol=raw.get("symbol") or "",
        side=raw.get("side") or "buy",
        qty=int(_dec(raw.get("qty"))),
        status=status,
        reason=_reason_of(status, str(fill.get("status"))),
        type=kind if kind in ("market", "limit", "stop") else "market",  # type: ignore[arg-type]
        order_class="oco" if oco else "simple",
        purpose=purpose_of(raw["client_order_id"]),
        limit_price=_dec(raw.get("limit_price")) if raw.get("limit_price") else None,
        stop_price=_dec(stop) if stop else None,
        broker_order_id=raw.get("id"),
        filled_qty=int(_dec(fill.get("filled_qty"))),
        filled_avg_price=_dec(price) if price not in (None, "") else None,
        filled_at=_ny(filled_at).isoformat() if filled_at else None,
    )


def _reason_of(status: OrderStatus, alpaca_status: str) -> str:
    """Alpaca's status when ours says less: a rejection, or a cancel not done yet
    (`pending_cancel`: still open, it holds its shares; the order manager waits)."""
    if status == "rejected" or alpaca_status == "pending_cancel":
        return f"alpaca: {alpaca_status}"
    return ""


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _ny(moment: str | datetime) -> datetime:
    """A timestamp (or date) in New York time; a date is that day's close."""
    if isinstance(moment, datetime):
        value = moment
    elif len(moment) == 10:
        d = date.fromisoformat(moment)
        return datetime(d.year, d.month, d.day, 16, 0, tzinfo=NY)
    else:
        value = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=NY)
    return value.astimezone(NY)


def _bar(b: dict[str, Any]) -> Bar:
    day = _ny(b["t"]).date().isoformat()
    return Bar(
        date=day,
        open=_price(b["o"]),
        high=_price(b["h"]),
        low=_price(b["l"]),
        close=_price(b["c"]),
        volume=int(b["v"]),
    )


def _price(x: Any) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.0001"))


Row = tuple[str, float, float, int]  # symbol, price, % change, volume


def _snapshot_row(symbol: str, snap: dict[str, Any] | None) -> Row | None:
    """Price, % change vs the previous close, and the day's volume from one snapshot."""
    if not snap:
        return None
    daily, prev = snap.get("dailyBar") or {}, snap.get("prevDailyBar") or {}
    trade = snap.get("latestTrade") or {}
    price = trade.get("p") or daily.get("c")
    if not price or not prev.get("c"):
        return None
    change = round((float(price) / float(prev["c"]) - 1.0) * 100.0, 2)
    return symbol, float(price), change, int(daily.get("v") or 0)


def _mover(row: Row) -> Mover:
    return Mover(symbol=row[0], price=_price(row[1]), change_pct=row[2], volume=row[3])


def rank_movers(rows: list[Row], top: int) -> Movers:
    """Only the winners become models: a scan ranks 10,000 plain tuples."""
    up = heapq.nsmallest(top, (r for r in rows if r[2] > 0), key=lambda r: (-r[2], r[0]))
    down = heapq.nsmallest(top, (r for r in rows if r[2] < 0), key=lambda r: (r[2], r[0]))
    active = heapq.nsmallest(top, rows, key=lambda r: (-r[3], r[0]))
    return Movers(
        gainers=[_mover(r) for r in up],
        losers=[_mover(r) for r in down],
        most_active=[_mover(r) for r in active],
    )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def open_alpaca(settings: Settings) -> Broker:
    """The broker of the settings' keys, its account checked (keys, reachability). With
    per-account keys (`GROK_ALPACA_API_KEY`...), each of those books trades its own
    account and the rest trade the main one."""
    from mytrader.adapters.alpaca.accounts import AccountRouter

    key, secret = settings.alpaca_api_key, settings.alpaca_api_secret
    if key is None or secret is None or not key.get_secret_value():
        raise BrokerSetupError("BROKER=alpaca needs ALPACA_API_KEY and ALPACA_API_SECRET")
    main = alpaca_for(settings, key.get_secret_value(), secret.get_secret_value())
    main.account()  # fails here, with a clear message, on bad keys or no connection
    own = {}
    for account, (k, s) in settings.account_keys().items():
        broker = alpaca_for(settings, k, s)
        broker.account()
        own[account] = broker
    return AccountRouter(main, own) if own else main


def alpaca_for(settings: Settings, key: str, secret: str) -> AlpacaBroker:
    return AlpacaBroker(
        key,
        secret,
        base_url=settings.alpaca_base_url,
        data_url=settings.alpaca_data_url,
        feed=settings.alpaca_data_feed,
        timeout=settings.alpaca_timeout_s,
        allow_live=settings.allow_live_trading,
        allowed_hosts=frozenset(settings.alpaca_allowed_host_names),
        requests_per_min=settings.alpaca_requests_per_min,
        scan_chunk=settings.alpaca_scan_chunk,
        screener=settings.alpaca_screener,
    )
