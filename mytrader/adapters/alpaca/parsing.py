"""Alpaca's JSON <-> our models: order requests out; orders, bars, snapshots and news in.
Pure functions, no requests."""

from __future__ import annotations

import heapq
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
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

from mytrader.adapters.news import NewsItem
from mytrader.domain.models import Mover, Movers, OrderRequest, OrderResult, OrderStatus
from mytrader.domain.order_ids import account_of, purpose_of
from mytrader.ports.broker import Bar

NY = ZoneInfo("America/New_York")

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


# --- orders -------------------------------------------------------------------------------


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


def as_json(model: Any) -> dict[str, Any]:
    """An alpaca-py model as the wire's JSON (enums as their values, ids as text)."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json")
    assert isinstance(model, dict)
    return dict(model)


def order_result(model: Any) -> OrderResult:
    """An order as Alpaca reports it (a model or its JSON), for the book its id names."""
    raw = as_json(model)
    return result_from_json(raw, account_of(raw["client_order_id"]))


def result_from_json(raw: dict[str, Any], account: str) -> OrderResult:
    """Alpaca's order JSON as an OrderResult. An OCO (a take-profit limit whose leg is the
    stop-loss) is one result: whichever leg filled, at its price."""
    legs = raw.get("legs") or []
    oco = raw.get("order_class") == "oco"
    fill = raw
    if oco and legs:
        fill = next((x for x in [raw, *legs] if dec(x.get("filled_qty"))), raw)
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
        qty=int(dec(raw.get("qty"))),
        status=status,
        reason=_reason_of(status, str(fill.get("status"))),
        type=kind if kind in ("market", "limit", "stop") else "market",  # type: ignore[arg-type]
        order_class="oco" if oco else "simple",
        purpose=purpose_of(raw["client_order_id"]),
        limit_price=dec(raw.get("limit_price")) if raw.get("limit_price") else None,
        stop_price=dec(stop) if stop else None,
        broker_order_id=raw.get("id"),
        filled_qty=int(dec(fill.get("filled_qty"))),
        filled_avg_price=dec(price) if price not in (None, "") else None,
        filled_at=ny(filled_at).isoformat() if filled_at else None,
    )


def _reason_of(status: OrderStatus, alpaca_status: str) -> str:
    """Alpaca's status when ours says less: a rejection, or a cancel not done yet
    (`pending_cancel`: still open, it holds its shares; the order manager waits)."""
    if status == "rejected" or alpaca_status == "pending_cancel":
        return f"alpaca: {alpaca_status}"
    return ""


# --- numbers and times --------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def ny(moment: str | datetime) -> datetime:
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


def _price(x: Any) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.0001"))


# --- market data --------------------------------------------------------------------------


def bar(b: dict[str, Any]) -> Bar:
    day = ny(b["t"]).date().isoformat()
    return Bar(
        date=day,
        open=_price(b["o"]),
        high=_price(b["h"]),
        low=_price(b["l"]),
        close=_price(b["c"]),
        volume=int(b["v"]),
    )


Row = tuple[str, float, float, int]  # symbol, price, % change, volume


def snapshot_row(symbol: str, snap: dict[str, Any] | None) -> Row | None:
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


def mover(row: Row) -> Mover:
    return Mover(symbol=row[0], price=_price(row[1]), change_pct=row[2], volume=row[3])


def rank_movers(rows: list[Row], top: int) -> Movers:
    """Only the winners become models: a scan ranks 10,000 plain tuples."""
    up = heapq.nsmallest(top, (r for r in rows if r[2] > 0), key=lambda r: (-r[2], r[0]))
    down = heapq.nsmallest(top, (r for r in rows if r[2] < 0), key=lambda r: (r[2], r[0]))
    active = heapq.nsmallest(top, rows, key=lambda r: (-r[3], r[0]))
    return Movers(
        gainers=[mover(r) for r in up],
        losers=[mover(r) for r in down],
        most_active=[mover(r) for r in active],
    )


def news_item(n: Any) -> NewsItem:
    """One of alpaca-py's news models as our item."""
    return NewsItem(
        id=str(n.id),
        headline=n.headline,
        summary=n.summary or "",
        source=n.source or "",
        symbols=list(n.symbols or []),
        created_at=n.created_at.isoformat(),
        url=n.url,
    )
