"""A local Alpaca-compatible HTTP server for tests: the real alpaca-py clients talk to it.

It speaks the JSON shapes of ``shared/reference/alpaca_py.md`` (Trading API ``/v2/...``,
Market Data ``/v2/stocks/...``, screener and news ``/v1beta1/...``) on one loopback port,
so ``TradingClient(url_override=srv.base_url)`` and the data clients all point at it::

    with AlpacaServer() as srv:
        tc = TradingClient("k", "s", paper=True, url_override=srv.base_url)
        tc.get_account().cash   # "100000"

The market is the bundled sample of daily bars (or any PriceHistory). Time is a trading
day of that history: ``srv.now`` is 15:55 New York time of session ``srv.day``, the market
is open, and nothing newer than that day is ever served. ``srv.advance()`` steps one
session; with ``tick_on_clock=True`` every ``GET /v2/clock`` steps first, so a process
that reads the clock once per cycle (the AlpacaBroker does) sees one session per cycle.

Orders behave like the simulated exchange's: one placed on day d fills at the symbol's
first bar after d (market at the open; a limit or stop at the open when the bar gapped
through it, else at its price when the bar's range reaches it); a ``day`` order not
filled on that bar expires, a ``gtc`` order waits. OCO legs cancel each other (a bar that
reaches both fills the stop). Alpaca's refusals are enforced: a duplicate
client_order_id is 422 (40010001), a buy beyond buying power or a sell beyond the shares
not held by open orders is 403 (40310000), cancelling a closed order is 422. The account's
wash-trade protection, in its strict form, is enforced: a new order while any order of the
other side in the symbol is open in the account is 403 (40310000, "potential wash trade
detected. use complex orders"); the legs of one complex order are not opposite to each
other. A cancel answers 204 and the order reads `pending_cancel` until
`cancel_delay_requests` more requests have been served, then `canceled` (it holds its
shares meanwhile and fills no more); canceling an OCO leg cancels the whole OCO.
(These rules are written here on their own, from Alpaca's documents: this server stands
for Alpaca and does not import MyTrader's model of them.)

Faults are injected with :meth:`AlpacaServer.inject` (HTTP faults: 429 with reset headers,
500, a 504 after the order was created, a hang, a 422 duplicate, a 403 refusal) and
:meth:`AlpacaServer.script_order` (an order that stays ``new`` for some sessions, a
partial fill). ``extra_symbols=N`` synthesizes N more symbols (each a scaled copy of a
real one) for universe-wide scans, and ``latency`` delays every request.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from mytrader.adapters.bars import PriceHistory, SymbolSeries, load_bars, to_decimal
from tests.servers._local import Handler, LocalServer, read_body

NY = ZoneInfo("America/New_York")
CENT4 = Decimal("0.0001")
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "mytrader/alpaca-server")
OPEN_STATUSES = frozenset(
    {"new", "accepted", "partially_filled", "held", "pending_new", "pending_cancel"}
)
WASH_TRADE = "potential wash trade detected. use complex orders"

Json = Any
Reply = tuple[int, Json, dict[str, str]]


@dataclass
class Fault:
    """One injected HTTP fault, matched by method and path prefix, used `times` times.

    status: the HTTP status answered (429, 500, 504, 422, 403, or 200 for a plain hang).
    after: handle the request first (e.g. create the order), then answer `status`.
    delay: seconds slept before answering: longer than the client's timeout is a hang.
    """

    status: int
    method: str = "*"
    path: str = ""
    times: int = 1
    after: bool = False
    delay: float = 0.0
    message: str = ""
    code: int | None = None
    reset_in: float = 1.0  # 429: X-RateLimit-Reset is now + reset_in seconds
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.hits < self.times and self.method in ("*", method) and path.startswith(self.path)
        )


@dataclass
class OrderScript:
    """How the next created order(s) of `symbol` (any if None) behave at the exchange.

    stay_new: sessions the order stays `new` before the exchange looks at it at all.
    partial: shares filled at the fill bar; a gtc order gets the rest at the next bar,
    a day order expires with the partial fill.
    """

    symbol: str | None = None
    stay_new: int = 0
    partial: int | None = None
    times: int = 1
    hits: int = 0


@dataclass
class _Order:
    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: int
    type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    created_day: int  # calendar index of the session it was placed in
    created_at: str
    order_class: str = ""
    parent: str | None = None  # id of the OCO/bracket parent
    legs: list[str] = field(default_factory=list)
    status: str = "new"
    filled_qty: int = 0
    filled_avg_price: Decimal | None = None
    filled_at: str | None = None
    updated_at: str = ""
    canceled_at: str | None = None
    expired_at: str | None = None
    checked_day: int = -1  # last calendar index whose bar was looked at
    stay_new: int = 0
    partial: int | None = None
    active: bool = True  # a bracket's exit legs wait for the entry to fill
    cancel_at: int | None = None  # pending_cancel until this many requests were served


class AlpacaServer(LocalServer):
    def __init__(
        self,
        history: PriceHistory | None = None,
        *,
        key: str = "k",
        secret: str = "s",
        start: str | None = None,
        warmup_days: int = 60,
        cash: Decimal | str = "100000",
        account_number: str = "PA1LOCAL0001",
        extra_symbols: int = 0,
        latency: float = 0.0,
        tick_on_clock: bool = False,
        rate_limit_per_min: int | None = None,
        cancel_delay_requests: int = 2,
        wash_trade_rule: bool = True,
    ) -> None:
        super().__init__()
        self.history = history if history is not None else load_bars()
        self.key, self.secret = key, secret
        cal = self.history.calendar
        first = warmup_days
        if start is not None:
            first = max(first, next((i for i, d in enumerate(cal) if d >= start), len(cal) - 1))
        self.day = min(first, len(cal) - 1)
        self.cash = Decimal(str(cash))
        self.account_number = account_number
        self.latency = latency
        self.tick_on_clock = tick_on_clock
        self.rate_limit_per_min = rate_limit_per_min
        self.cancel_delay_requests = cancel_delay_requests
        self.wash_trade_rule = wash_trade_rule
        self.refusals: list[tuple[str, str]] = []  # (client_order_id, message) of 403s
        self.real_symbols: list[str] = list(self.history.symbols)
        self.synthetic: dict[str, tuple[str, Decimal]] = {}
        for k in range(extra_symbols):
            base = self.real_symbols[k % len(self.real_symbols)]
            self.synthetic[_synthetic_name(k)] = (base, Decimal(1) + Decimal(k % 9) / 10)
        self.orders: dict[str, _Order] = {}
        self.by_cid: dict[str, str] = {}
        self.positions: dict[str, tuple[int, Decimal]] = {}  # symbol -> (qty, cost basis)
        self.news: list[dict[str, Json]] = []
        self.faults: list[Fault] = []
        self.scripts: list[OrderScript] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        # Called with the client_order_id once an order exists (a crash test kills here).
        self.on_order_created: Callable[[str], None] | None = None
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._window: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self._snap_cache: dict[tuple[int, str], Json] = {}
        self._encoded: dict[tuple[int, str], str] = {}

    # --- control (tests) -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def today(self) -> str:
        return str(self.history.calendar[self.day])

    @property
    def now(self) -> datetime:
        d = date.fromisoformat(self.today)
        return datetime(d.year, d.month, d.day, 15, 55, tzinfo=NY)

    def advance(self, sessions: int = 1) -> str:
        """Step the clock; orders whose bar is now in the past fill or expire."""
        with self._lock:
            self.day = min(self.day + sessions, len(self.history.calendar) - 1)
            self._settle()
            return self.today

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def script_order(self, script: OrderScript) -> OrderScript:
        with self._lock:
            self.scripts.append(script)
        return script

    def add_news(self, headline: str, symbols: list[str], created_at: str, **extra: Json) -> None:
        with self._lock:
            self.news.append(
                {
                    "id": len(self.news) + 1,
                    "headline": headline,
                    "source": extra.get("source", "benzinga"),
                    "url": extra.get("url"),
                    "summary": extra.get("summary", ""),
                    "created_at": created_at,
                    "updated_at": created_at,
                    "symbols": symbols,
                    "author": extra.get("author", "local"),
                    "content": extra.get("content", ""),
                    "images": [],
                }
            )

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path))

    def orders_by_cid(self, cid: str) -> _Order | None:
        oid = self.by_cid.get(cid)
        return self.orders.get(oid) if oid else None

    def close(self) -> None:
        self._closing.set()
        super().close()

    # --- HTTP ----------------------------------------------------------------------------

    def _handle(self, handler: Handler) -> None:
        method = handler.command
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = read_body(handler)
        with self._lock:
            self.requests.append((method, path))
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault is not None:
                fault.hits += 1
            limited = self._rate_limited()
        if self.latency:
            self._closing.wait(self.latency)
        if limited is not None:
            self._send(handler, *limited)
            return
        if handler.headers.get("APCA-API-KEY-ID") != self.key or (
            handler.headers.get("APCA-API-SECRET-KEY") != self.secret
        ):
            self._send(handler, 401, {"code": 40110000, "message": "request is not authorized"}, {})
            return
        if fault is not None and not fault.after:
            self._closing.wait(fault.delay)
            self._send(handler, *self._fault_reply(fault))
            return
        try:
            body = json.loads(raw) if raw else None
            reply = self._route(method, path, query, body)
        except _ApiError as exc:
            reply = (exc.status, exc.body, {})
        except (ValueError, KeyError, TypeError) as exc:
            reply = (422, {"code": 42210000, "message": f"invalid request: {exc}"}, {})
        if fault is not None:  # after=True: the request took effect, the answer is lost
            self._closing.wait(fault.delay)
            if fault.status != 200:
                reply = self._fault_reply(fault)
        self._send(handler, *reply)

    def _fault_reply(self, fault: Fault) -> Reply:
        status = fault.status
        if status == 429:
            reset = int(math.ceil(time.time() + fault.reset_in))
            headers = {
                "X-RateLimit-Limit": "200",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            }
            return (
                429,
                {"code": 42910000, "message": fault.message or "rate limit exceeded"},
                headers,
            )
        defaults = {
            403: (40310000, "insufficient buying power"),
            422: (40010001, "client_order_id must be unique"),
            500: (50010000, "internal server error"),
            504: (50410000, "gateway timeout"),
        }
        code, message = defaults.get(status, (status * 100000, "error"))
        return status, {"code": fault.code or code, "message": fault.message or message}, {}

    def _rate_limited(self) -> Reply | None:
        if not self.rate_limit_per_min:
            return None
        minute = int(time.time() // 60)
        seen = self._window[1] + 1 if self._window[0] == minute else 1
        self._window = (minute, seen)
        if seen <= self.rate_limit_per_min:
            return None
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_per_min),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str((minute + 1) * 60),
        }
        return 429, {"code": 42910000, "message": "rate limit exceeded"}, headers

    def _send(self, handler: Handler, status: int, obj: Json, headers: dict[str, str]) -> None:
        if isinstance(obj, RawJson):
            data = obj.data
        else:
            data = b"" if obj is None else json.dumps(obj).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (timeout): nothing to answer
            pass

    def _route(self, method: str, path: str, q: dict[str, str], body: Json) -> Reply:
        routes: dict[tuple[str, str], Callable[..., Json]] = {
            ("GET", "/v2/account"): self._account,
            ("GET", "/v2/clock"): self._clock,
            ("GET", "/v2/calendar"): self._calendar,
            ("GET", "/v2/assets"): self._assets,
            ("GET", "/v2/positions"): self._positions,
            ("GET", "/v2/orders"): self._list_orders,
            ("POST", "/v2/orders"): self._submit,
            ("DELETE", "/v2/orders"): self._cancel_all,
            ("GET", "/v2/orders:by_client_order_id"): self._order_by_cid,
            ("GET", "/v2/stocks/bars"): self._bars,
            ("GET", "/v2/stocks/snapshots"): self._snapshots_encoded,
            ("GET", "/v2/stocks/quotes/latest"): self._latest_quotes,
            ("GET", "/v2/stocks/trades/latest"): self._latest_trades,
            ("GET", "/v2/stocks/bars/latest"): self._latest_bars,
            ("GET", "/v1beta1/screener/stocks/movers"): self._movers,
            ("GET", "/v1beta1/screener/stocks/most-actives"): self._most_actives,
            ("GET", "/v1beta1/news"): self._news,
        }
        with self._lock:
            fn = routes.get((method, path))
            if fn is not None:
                result = fn(q, body)
                return result if isinstance(result, tuple) else (200, result, {})
            tail = path.rsplit("/", 1)[-1]
            if path.startswith("/v2/orders/") and method == "GET":
                return 200, self._order_json(self._order(tail), nested=q.get("nested")), {}
            if path.startswith("/v2/orders/") and method == "DELETE":
                self._cancel(self._order(tail))
                return 204, None, {}
            if path.startswith("/v2/positions/") and method == "GET":
                self._settle()
                if tail not in self.positions:
                    raise _ApiError(404, 40410000, "position does not exist")
                return 200, self._position_json(tail), {}
            if path.startswith("/v2/assets/") and method == "GET":
                if not self._known(tail):
                    raise _ApiError(404, 40410000, f"asset not found for {tail}")
                return 200, self._asset_json(tail), {}
        raise _ApiError(404, 40410000, "endpoint not found")

    # --- market --------------------------------------------------------------------------

    def _known(self, symbol: str) -> bool:
        return symbol in self.history or symbol in self.synthetic

    def _series(self, symbol: str) -> tuple[SymbolSeries, Decimal] | None:
        base, scale = self.synthetic.get(symbol, (symbol, Decimal(1)))
        series = self.history.series(base)
        return (series, scale) if series is not None else None

    def _bar_at(self, symbol: str, i: int) -> dict[str, Json] | None:
        """Bar i of the symbol (row index in its series), as Alpaca bar JSON numbers."""
        found = self._series(symbol)
        if found is None:
            return None
        series, scale = found
        k = float(scale)
        day = str(series.dates[i])
        return {
            "t": _bar_stamp(day),
            "o": round(float(series.open[i]) * k, 4),
            "h": round(float(series.high[i]) * k, 4),
            "l": round(float(series.low[i]) * k, 4),
            "c": round(float(series.close[i]) * k, 4),
            "v": int(series.volume[i]),
            "n": None,
            "vw": None,
            "_date": day,
            "_cal": int(series.date_idx[i]),
        }

    def _visible(self, symbol: str) -> int:
        """Rows of the symbol's series dated up to today."""
        found = self._series(symbol)
        return found[0].count_before(self.day + 1) if found else 0

    def _price(self, symbol: str) -> Decimal | None:
        n = self._visible(symbol)
        if n == 0:
            return None
        bar = self._bar_at(symbol, n - 1)
        assert bar is not None
        return to_decimal(bar["c"])

    @staticmethod
    def _public(bar: dict[str, Json] | None) -> dict[str, Json] | None:
        return None if bar is None else {k: v for k, v in bar.items() if not k.startswith("_")}

    def _symbols(self, q: dict[str, str]) -> list[str]:
        return [s for s in (q.get("symbols") or "").split(",") if s]

    def _bars(self, q: dict[str, str], _: Json) -> Json:
        if q.get("timeframe") not in ("1Day", None):
            raise _ApiError(400, None, f"timeframe {q.get('timeframe')} not served here")
        start = (q.get("start") or "0000")[:10]
        end = min((q.get("end") or "9999")[:10], self.today)
        limit = int(q.get("limit") or 1000)
        offset = int(q.get("page_token") or 0)
        rows: list[tuple[str, dict[str, Json]]] = []
        for sym in sorted(set(self._symbols(q))):
            for i in range(self._visible(sym)):
                bar = self._bar_at(sym, i)
                assert bar is not None
                if start <= bar["_date"] <= end:
                    rows.append((sym, bar))
        page = rows[offset : offset + limit]
        out: dict[str, list[Json]] = {}
        for sym, bar in page:
            out.setdefault(sym, []).append(self._public(bar))
        more = offset + limit < len(rows)
        return {"bars": out, "next_page_token": str(offset + limit) if more else None}

    def _snapshot(self, sym: str) -> Json:
        key = (self.day, sym)
        if key not in self._snap_cache:
            self._snap_cache[key] = self._make_snapshot(sym)
        return self._snap_cache[key]

    def _make_snapshot(self, sym: str) -> Json:
        n = self._visible(sym)
        if n == 0:
            return None
        daily = self._public(self._bar_at(sym, n - 1))
        prev = self._public(self._bar_at(sym, n - 2)) if n > 1 else None
        assert daily is not None
        stamp = self.now.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
        close = daily["c"]
        snap: dict[str, Json] = {
            "latestTrade": {"t": stamp, "p": close, "s": 100, "x": "V", "i": 1, "c": ["@"]},
            "latestQuote": {"t": stamp, "bp": close, "bs": 1, "ap": close, "as": 1},
            "minuteBar": {**daily, "t": stamp},
            "dailyBar": daily,
        }
        if prev is not None:
            snap["prevDailyBar"] = prev
        return snap

    def _snapshots(self, q: dict[str, str], _: Json) -> Json:
        return {s: self._snapshot(s) for s in self._symbols(q) if self._known(s)}

    def _snapshots_encoded(self, q: dict[str, str], _: Json) -> RawJson:
        """The same, from JSON encoded once per symbol and day: a scan of 10,000 symbols
        measures the client, not this server's encoder."""
        parts = []
        for sym in self._symbols(q):
            if not self._known(sym):
                continue
            key = (self.day, sym)
            if key not in self._encoded:
                self._encoded[key] = json.dumps(self._snapshot(sym))
            parts.append(f"{json.dumps(sym)}:{self._encoded[key]}")
        return RawJson(("{" + ",".join(parts) + "}").encode())

    def _latest_quotes(self, q: dict[str, str], _: Json) -> Json:
        snaps = self._snapshots(q, None)
        return {"quotes": {s: v["latestQuote"] for s, v in snaps.items() if v}}

    def _latest_trades(self, q: dict[str, str], _: Json) -> Json:
        snaps = self._snapshots(q, None)
        return {"trades": {s: v["latestTrade"] for s, v in snaps.items() if v}}

    def _latest_bars(self, q: dict[str, str], _: Json) -> Json:
        snaps = self._snapshots(q, None)
        return {"bars": {s: v["dailyBar"] for s, v in snaps.items() if v}}

    def _changes(self) -> list[tuple[str, float, float, float, int]]:
        """(symbol, pct change, change, price, volume) of the real symbols today."""
        out = []
        for sym in self.real_symbols:
            n = self._visible(sym)
            if n < 2:
                continue
            bar, prev = self._bar_at(sym, n - 1), self._bar_at(sym, n - 2)
            assert bar is not None and prev is not None
            if bar["_cal"] != self.day:
                continue
            change = bar["c"] - prev["c"]
            out.append(
                (sym, round(change / prev["c"] * 100, 4), round(change, 4), bar["c"], bar["v"])
            )
        return out

    def _stamp(self) -> str:
        return self.now.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _movers(self, q: dict[str, str], _: Json) -> Json:
        top = min(int(q.get("top") or 10), 50)
        rows = self._changes()
        up = sorted((r for r in rows if r[1] > 0), key=lambda r: (-r[1], r[0]))[:top]
        down = sorted((r for r in rows if r[1] < 0), key=lambda r: (r[1], r[0]))[:top]

        def mover(r: tuple[str, float, float, float, int]) -> Json:
            return {"symbol": r[0], "percent_change": r[1], "change": r[2], "price": r[3]}

        return {
            "gainers": [mover(r) for r in up],
            "losers": [mover(r) for r in down],
            "market_type": "stocks",
            "last_updated": self._stamp(),
        }

    def _most_actives(self, q: dict[str, str], _: Json) -> Json:
        top = min(int(q.get("top") or 10), 100)
        rows = sorted(self._changes(), key=lambda r: (-r[4], r[0]))[:top]
        return {
            "most_actives": [
                {"symbol": r[0], "volume": r[4], "trade_count": r[4] // 100} for r in rows
            ],
            "last_updated": self._stamp(),
        }

    def _news(self, q: dict[str, str], _: Json) -> Json:
        wanted = set(self._symbols(q))
        start, end = q.get("start"), q.get("end")
        limit = int(q.get("limit") or 50)
        offset = int(q.get("page_token") or 0)
        now = self.now
        items = []
        for item in self.news:
            moment = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
            if moment > now:  # the server's now: nothing from the future
                continue
            if start and moment < datetime.fromisoformat(start):
                continue
            if end and moment > datetime.fromisoformat(end):
                continue
            if wanted and not wanted.intersection(item["symbols"]):
                continue
            items.append(item)
        items.sort(key=lambda i: (i["created_at"], i["id"]), reverse=q.get("sort") != "asc")
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return {"news": page, "next_page_token": str(offset + limit) if more else None}

    # --- trading: reference data ---------------------------------------------------------

    def _clock(self, _q: dict[str, str], _b: Json) -> Json:
        if self.tick_on_clock:
            self.advance()
        cal = self.history.calendar
        nxt = cal[self.day + 1] if self.day + 1 < len(cal) else None
        d = date.fromisoformat(self.today)
        close = datetime(d.year, d.month, d.day, 16, 0, tzinfo=NY)
        if nxt is not None:
            n = date.fromisoformat(str(nxt))
            next_open = datetime(n.year, n.month, n.day, 9, 30, tzinfo=NY)
        else:
            next_open = close + timedelta(days=3650)  # history ends: the market never reopens
        return {
            "timestamp": self.now.isoformat(),
            "is_open": True,
            "next_open": next_open.isoformat(),
            "next_close": close.isoformat(),
        }

    def _calendar(self, q: dict[str, str], _: Json) -> Json:
        start, end = q.get("start") or "0000", q.get("end") or "9999"
        return [
            {"date": str(d), "open": "09:30", "close": "16:00"}
            for d in self.history.calendar
            if start <= str(d) <= end
        ]

    def _asset_json(self, sym: str) -> Json:
        return {
            "id": str(uuid.uuid5(_IDS, "asset:" + sym)),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": sym,
            "name": f"{sym} Inc.",
            "status": "active",
            "tradable": True,
            "marginable": True,
            "shortable": False,
            "easy_to_borrow": False,
            "fractionable": True,
        }

    def _assets(self, q: dict[str, str], _: Json) -> Json:
        out = [self._asset_json(s) for s in [*self.real_symbols, *self.synthetic]]
        # One inactive and one untradable listing, as the real universe has many.
        out.append({**self._asset_json("OLDCO"), "status": "inactive", "tradable": False})
        out.append({**self._asset_json("NOTRD"), "tradable": False})
        if q.get("status"):
            out = [a for a in out if a["status"] == q["status"]]
        return out

    # --- trading: account ----------------------------------------------------------------

    def _account(self, _q: dict[str, str], _b: Json) -> Json:
        self._settle()
        value = sum(
            (qty * (self._price(s) or basis / qty) for s, (qty, basis) in self.positions.items()),
            Decimal(0),
        )
        equity = self.cash + value
        return {
            "id": str(uuid.uuid5(_IDS, "account:" + self.account_number)),
            "account_number": self.account_number,
            "status": "ACTIVE",
            "currency": "USD",
            "cash": str(self.cash),
            "buying_power": str(self._buying_power()),
            "equity": str(equity),
            "last_equity": str(equity),
            "portfolio_value": str(equity),
            "long_market_value": str(value),
            "multiplier": "1",
            "shorting_enabled": False,
            "trading_blocked": False,
            "account_blocked": False,
        }

    def _buying_power(self) -> Decimal:
        held = Decimal(0)
        for o in self.orders.values():
            if o.side == "buy" and o.status in OPEN_STATUSES:
                price = o.limit_price or self._price(o.symbol) or Decimal(0)
                held += (o.qty - o.filled_qty) * price
        return self.cash - held

    def _qty_available(self, symbol: str) -> int:
        held = 0
        for o in self.orders.values():
            # OCO legs share their shares: count one leg per group.
            if o.symbol == symbol and o.side == "sell" and o.status in OPEN_STATUSES:
                if o.parent is None or o.parent not in self.orders:
                    held += o.qty - o.filled_qty
        return self.positions.get(symbol, (0, Decimal(0)))[0] - held

    def _position_json(self, sym: str) -> Json:
        qty, basis = self.positions[sym]
        price = self._price(sym) or basis / qty
        value = qty * price
        return {
            "asset_id": str(uuid.uuid5(_IDS, "asset:" + sym)),
            "symbol": sym,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "avg_entry_price": str((basis / qty).quantize(CENT4)),
            "qty": str(qty),
            "qty_available": str(self._qty_available(sym)),
            "side": "long",
            "cost_basis": str(basis),
            "market_value": str(value),
            "current_price": str(price),
            "unrealized_pl": str(value - basis),
        }

    def _positions(self, _q: dict[str, str], _b: Json) -> Json:
        self._settle()
        return [self._position_json(s) for s in sorted(self.positions)]

    # --- trading: orders -----------------------------------------------------------------

    def _order(self, oid: str) -> _Order:
        self._settle()
        order = self.orders.get(oid)
        if order is None:
            raise _ApiError(404, 40410000, "order not found")
        return order

    def _order_by_cid(self, q: dict[str, str], _: Json) -> Json:
        self._settle()
        oid = self.by_cid.get(q.get("client_order_id") or "")
        if oid is None:
            raise _ApiError(404, 40410000, "order not found")
        return self._order_json(self.orders[oid], nested="True")

    def _list_orders(self, q: dict[str, str], _: Json) -> Json:
        self._settle()
        status = q.get("status") or "open"
        nested = (q.get("nested") or "").lower() == "true"
        symbols = set(self._symbols(q))
        out = []
        for o in self.orders.values():
            if nested and o.parent is not None:
                continue
            is_open = o.status in OPEN_STATUSES
            if (status == "open" and not is_open) or (status == "closed" and is_open):
                continue
            if symbols and o.symbol not in symbols:
                continue
            out.append(o)
        out.sort(key=lambda o: o.created_at, reverse=q.get("direction") != "asc")
        limit = int(q.get("limit") or 50)
        return [self._order_json(o, nested="True" if nested else None) for o in out[:limit]]

    def _submit(self, _q: dict[str, str], body: Json) -> Json:
        self._settle()
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if cid in self.by_cid:
            raise _ApiError(422, 40010001, "client_order_id must be unique")
        symbol = body["symbol"]
        if not self._known(symbol):
            raise _ApiError(422, 40010001, f"asset {symbol} not found")
        qty = Decimal(str(body.get("qty") or 0))
        if qty <= 0 or qty != qty.to_integral_value():
            raise _ApiError(422, 40010001, "qty must be a positive whole number here")
        side, kind = body["side"], body["type"]
        tif = body.get("time_in_force", "day")
        order_class = body.get("order_class") or ""
        limit = _dec(body.get("limit_price"))
        stop = _dec(body.get("stop_price"))
        n = int(qty)
        try:
            self._account_rules(symbol, side, n, limit)
        except _ApiError as exc:
            self.refusals.append((cid, str(exc)))
            raise
        if order_class == "oco":
            tp = _dec((body.get("take_profit") or {}).get("limit_price"))
            sl = _dec((body.get("stop_loss") or {}).get("stop_price"))
            if tp is None or sl is None:
                raise _ApiError(422, 40010001, "oco orders require take_profit and stop_loss")
            parent = self._new(cid, symbol, side, n, "limit", tif, tp, None, "oco")
            leg = self._new(None, symbol, side, n, "stop", tif, None, sl, "oco")
            leg.parent, parent.legs = parent.id, [leg.id]
            return self._order_json(parent, nested="True")
        parent = self._new(cid, symbol, side, n, kind, tif, limit, stop, order_class)
        if order_class in ("bracket", "oto"):
            exit_side = "sell" if side == "buy" else "buy"
            tp = _dec((body.get("take_profit") or {}).get("limit_price"))
            sl = _dec((body.get("stop_loss") or {}).get("stop_price"))
            for leg_type, lp, sp in (("limit", tp, None), ("stop", None, sl)):
                if lp is None and sp is None:
                    continue
                leg = self._new(None, symbol, exit_side, n, leg_type, "gtc", lp, sp, order_class)
                leg.parent, leg.active = parent.id, False
                parent.legs.append(leg.id)
        return self._order_json(parent, nested="True")

    def _account_rules(self, symbol: str, side: str, n: int, limit: Decimal | None) -> None:
        """Alpaca's refusals of a new order (403, 40310000), wash-trade protection first."""
        if self.wash_trade_rule and any(
            o.symbol == symbol and o.side != side and o.status in OPEN_STATUSES
            for o in self.orders.values()
        ):
            raise _ApiError(403, 40310000, WASH_TRADE)
        if side == "buy":
            price = limit or self._price(symbol) or Decimal(0)
            if n * price > self._buying_power():
                raise _ApiError(403, 40310000, "insufficient buying power")
        elif n > self._qty_available(symbol):
            raise _ApiError(
                403,
                40310000,
                f"insufficient qty available for order (requested: {n}, "
                f"available: {max(self._qty_available(symbol), 0)})",
            )

    def _new(
        self,
        cid: str | None,
        symbol: str,
        side: str,
        qty: int,
        kind: str,
        tif: str,
        limit: Decimal | None,
        stop: Decimal | None,
        order_class: str,
    ) -> _Order:
        oid = str(uuid.uuid4())
        stamp = self.now.isoformat()
        order = _Order(
            id=oid,
            client_order_id=cid or str(uuid.uuid4()),
            symbol=symbol,
            side=side,
            qty=qty,
            type=kind,
            time_in_force=tif,
            limit_price=limit,
            stop_price=stop,
            created_day=self.day,
            created_at=stamp,
            updated_at=stamp,
            order_class=order_class,
            checked_day=self.day,
        )
        script = next(
            (
                s
                for s in self.scripts
                if s.hits < s.times and s.symbol in (None, symbol) and cid is not None
            ),
            None,
        )
        if script is not None:
            script.hits += 1
            order.stay_new, order.partial = script.stay_new, script.partial
        self.orders[oid] = order
        self.by_cid[order.client_order_id] = oid
        if cid is not None and self.on_order_created is not None:
            self.on_order_created(cid)
        return order

    def _cancel(self, order: _Order) -> None:
        """Asynchronous, as at Alpaca: `pending_cancel` now, `canceled` a few requests
        later (see `_settle`). An OCO is canceled whole, from either leg."""
        if order.order_class == "oco" and order.parent is not None:
            order = self.orders[order.parent]
        if order.status not in OPEN_STATUSES or order.status == "pending_cancel":
            raise _ApiError(422, 42210000, "order is not cancelable")
        served = len(self.requests)
        for o in [order, *(self.orders[leg] for leg in order.legs)]:
            if o.status in OPEN_STATUSES:
                o.status, o.cancel_at = "pending_cancel", served + self.cancel_delay_requests
                o.updated_at = self.now.isoformat()

    def _cancel_all(self, _q: dict[str, str], _b: Json) -> Reply:
        self._settle()
        out = []
        for o in list(self.orders.values()):
            if o.status in OPEN_STATUSES and o.status != "pending_cancel" and o.parent is None:
                self._cancel(o)
                out.append({"id": o.id, "status": 200})
        return 207, out, {}

    def _close(self, order: _Order, status: str) -> None:
        order.status = status
        order.updated_at = self.now.isoformat()
        if status == "canceled":
            order.canceled_at = order.updated_at
        elif status == "expired":
            order.expired_at = order.updated_at

    # --- the exchange --------------------------------------------------------------------

    def _settle(self) -> None:
        """Look at every open order against the bars up to today, oldest order first; a
        cancel requested long enough ago is done."""
        served = len(self.requests)
        for order in sorted(self.orders.values(), key=lambda o: (o.created_day, o.created_at)):
            if order.status == "pending_cancel":
                if order.cancel_at is not None and served >= order.cancel_at:
                    self._close(order, "canceled")
                continue  # a pending cancel fills no more
            if order.order_class == "oco" and order.parent is not None:
                continue  # an OCO's stop leg moves with its parent
            while order.status in OPEN_STATUSES and order.active and order.checked_day < self.day:
                self._step(order, order.checked_day + 1)

    def _step(self, order: _Order, day: int) -> None:
        order.checked_day = day
        if order.stay_new > 0:
            order.stay_new -= 1
            return
        found = self._series(order.symbol)
        assert found is not None
        series, scale = found
        i = series.count_before(day)
        if i >= len(series) or int(series.date_idx[i]) != day:
            return  # no bar for the symbol that session
        b = series.bar(i)
        o, h, lo = (to_decimal(float(x * scale)) for x in (b.open, b.high, b.low))
        if order.order_class == "oco" and order.legs:
            self._step_oco(order, o, h, lo, b.date)
            return
        price = _fill_price(order, o, h, lo)
        if price is None:
            if order.time_in_force == "day":
                self._close(order, "expired")
            return
        qty = order.qty - order.filled_qty
        if order.partial is not None and order.filled_qty == 0:
            qty = min(order.partial, qty)
        self._fill(order, price, b.date, qty)
        if order.status == "partially_filled" and order.time_in_force == "day":
            self._close(order, "expired")  # the rest of a day order dies with the day

    def _step_oco(self, parent: _Order, o: Decimal, h: Decimal, lo: Decimal, day: str) -> None:
        """An OCO sell (take-profit limit + stop-loss leg) on one bar: a gap through either
        fills at the open; a bar that reaches both fills the stop (the worse outcome)."""
        leg = self.orders[parent.legs[0]]
        stop, limit = leg.stop_price, parent.limit_price
        assert stop is not None and limit is not None
        if o <= stop:
            fill, price = leg, o
        elif o >= limit:
            fill, price = parent, o
        elif lo <= stop:
            fill, price = leg, stop
        elif h >= limit:
            fill, price = parent, limit
        else:
            if parent.time_in_force == "day":
                self._close(parent, "expired")
                self._close(leg, "expired")
            return
        leg.checked_day = parent.checked_day
        self._fill(fill, price, day, fill.qty)

    def _oco_group(self, order: _Order) -> list[_Order]:
        if order.order_class != "oco":
            return []
        parent = self.orders[order.parent] if order.parent else order
        return [parent, *(self.orders[leg] for leg in parent.legs)]

    def _fill(self, order: _Order, price: Decimal, day: str, qty: int) -> None:
        prev_qty, prev_avg = order.filled_qty, order.filled_avg_price or Decimal(0)
        order.filled_qty += qty
        order.filled_avg_price = ((prev_qty * prev_avg + qty * price) / order.filled_qty).quantize(
            CENT4
        )
        order.filled_at = f"{day}T13:30:00Z"
        order.updated_at = order.filled_at
        order.status = "filled" if order.filled_qty == order.qty else "partially_filled"
        held, basis = self.positions.get(order.symbol, (0, Decimal(0)))
        if order.side == "buy":
            self.cash -= qty * price
            self.positions[order.symbol] = (held + qty, basis + qty * price)
        else:
            self.cash += qty * price
            out = basis if held == qty else (basis * qty / held).quantize(CENT4)
            if held == qty:
                del self.positions[order.symbol]
            else:
                self.positions[order.symbol] = (held - qty, basis - out)
        if order.status == "filled":
            for other in self._oco_group(order):
                if other is not order and other.status in OPEN_STATUSES:
                    self._close(other, "canceled")
            for leg in order.legs:  # bracket/OTO exits start working once the entry filled
                if order.order_class in ("bracket", "oto"):
                    self.orders[leg].active = True
                    self.orders[leg].checked_day = max(self.orders[leg].checked_day, self.day)

    def _order_json(self, o: _Order, nested: str | None = None) -> Json:
        out: dict[str, Json] = {
            "id": o.id,
            "client_order_id": o.client_order_id,
            "created_at": o.created_at,
            "updated_at": o.updated_at,
            "submitted_at": o.created_at,
            "filled_at": o.filled_at,
            "canceled_at": o.canceled_at,
            "expired_at": o.expired_at,
            "asset_id": str(uuid.uuid5(_IDS, "asset:" + o.symbol)),
            "symbol": o.symbol,
            "asset_class": "us_equity",
            "qty": str(o.qty),
            "filled_qty": str(o.filled_qty),
            "filled_avg_price": None if o.filled_avg_price is None else str(o.filled_avg_price),
            "order_class": o.order_class,
            "order_type": o.type,
            "type": o.type,
            "side": o.side,
            "time_in_force": o.time_in_force,
            "limit_price": None if o.limit_price is None else str(o.limit_price),
            "stop_price": None if o.stop_price is None else str(o.stop_price),
            "status": o.status,
            "extended_hours": False,
            "legs": None,
        }
        if (nested or "").lower() == "true" and o.legs:
            out["legs"] = [self._order_json(self.orders[leg]) for leg in o.legs]
        return out


@dataclass(frozen=True)
class RawJson:
    """A response body encoded already."""

    data: bytes


class _ApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = (
            {"message": message} if code is None else {"code": code, "message": message}
        )


def _dec(value: Json) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT4)


def _fill_price(order: _Order, o: Decimal, h: Decimal, lo: Decimal) -> Decimal | None:
    """The exchange's rule: through at the open fills at the open, else at the level."""
    buy = order.side == "buy"
    if order.type == "market":
        return o
    if order.type == "limit":
        lim = order.limit_price
        assert lim is not None
        if buy:
            return o if o <= lim else (lim if lo <= lim else None)
        return o if o >= lim else (lim if h >= lim else None)
    if order.type == "stop":
        stop = order.stop_price
        assert stop is not None
        if buy:
            return o if o >= stop else (stop if h >= stop else None)
        return o if o <= stop else (stop if lo <= stop else None)
    raise ValueError(f"order type {order.type} not served here")


@functools.lru_cache(maxsize=4096)
def _bar_stamp(day: str) -> str:
    """A daily bar's `t`: midnight New York time, in UTC, as Alpaca sends it."""
    d = date.fromisoformat(day)
    t = datetime(d.year, d.month, d.day, tzinfo=NY).astimezone(ZoneInfo("UTC"))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _synthetic_name(k: int) -> str:
    """ZA, ZB, ... then ZAA...: letters only, never a real sample symbol."""
    letters = []
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        letters.append(chr(ord("A") + r))
    return "Z" + "".join(reversed(letters)) + "X"


def main() -> None:
    """Serve in its own process: `python -m tests.servers.alpaca_server --port-file F`.
    The port goes to F once the server listens; it serves until killed."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-symbols", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--start", default=None)
    parser.add_argument("--tick-on-clock", action="store_true")
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    srv = AlpacaServer(
        extra_symbols=args.extra_symbols,
        latency=args.latency,
        start=args.start,
        tick_on_clock=args.tick_on_clock,
    ).start()
    Path(args.port_file).write_text(str(srv.port))
    threading.Event().wait()


if __name__ == "__main__":
    main()
