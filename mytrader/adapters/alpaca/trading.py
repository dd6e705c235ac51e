"""Alpaca's trading API for one account: the account, positions, the clock, the tradable
universe and the orders.

An order is placed once: alpaca-py's retry is off (`http.harden`), and a submit whose
answer was lost is settled by looking its client_order_id up and adopting only the same
order. `as_of` is the real time of the cycle (Alpaca's clock, New York time).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest

from mytrader.adapters.alpaca.http import (
    NO_ANSWER,
    AlpacaHttp,
    BrokerUnavailable,
    api_message,
    backoff,
    is_duplicate,
    keys_refused,
    reset_wait,
)
from mytrader.adapters.alpaca.parsing import as_json, ny, order_request, order_result
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.domain.sectors import sector_of
from mytrader.ports.broker import (
    AssetInfo,
    BrokerError,
    BrokerSetupError,
    DuplicateOrderError,
    MarketClock,
)

log = logging.getLogger(__name__)

_SUBMIT_ATTEMPTS = 3
_CANCEL_POLLS = 10
_OPEN = ("new", "accepted", "partially_filled", "held", "pending_new")


@dataclass(frozen=True)
class AccountInfo:
    account_number: str
    status: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal


class AlpacaTrading:
    """The trading half of an `AlpacaBroker`. Reads are safe from threads."""

    def __init__(self, http: AlpacaHttp) -> None:
        self.http = http
        self._assets: dict[str, str] | None = None
        self._clocks: dict[str, dict[str, Any]] = {}

    # --- account -------------------------------------------------------------------------

    def account(self) -> AccountInfo:
        """The account, checked: this is the first call a command makes (bad keys, a
        blocked account or an unreachable host stop it here, before anything is written)."""
        http = self.http
        try:
            raw = http.trade(lambda: http.trading.get("/account"), "account")
        except BrokerUnavailable as exc:
            raise BrokerSetupError(f"Alpaca is unreachable at {http.base_url}: {exc}") from None
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

    def positions(self) -> dict[str, int]:
        """Shares held per symbol (whole shares; fractional parts are rounded down)."""
        raw = self.http.trade(lambda: self.http.trading.get("/positions"), "positions")
        assert isinstance(raw, list)
        return {p["symbol"]: int(Decimal(str(p["qty"]))) for p in raw}

    # --- clock ---------------------------------------------------------------------------

    def _read_clock(self) -> dict[str, Any]:
        raw = as_json(self.http.trade(self.http.trading.get_clock, "clock"))
        raw["timestamp"] = ny(raw["timestamp"]).isoformat()
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
            next_open=ny(raw["next_open"]).isoformat(),
            next_close=ny(raw["next_close"]).isoformat(),
        )

    # --- reference data ------------------------------------------------------------------

    def _universe(self) -> dict[str, str]:
        """Active, tradable symbols -> name; read once per broker (one request)."""
        if self._assets is None:
            # Raw JSON: alpaca-py's strict enums reject a whole list over one new value.
            params = {"status": "active", "asset_class": "us_equity"}
            raw = self.http.trade(lambda: self.http.trading.get("/assets", params), "assets")
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
            self.http.take_trade_slot()
            try:
                return order_result(self.http.trading.submit_order(request))
            except APIError as exc:
                status = exc.status_code or 0
                if (refused := keys_refused(exc)) is not None:
                    raise refused from None
                if is_duplicate(exc):
                    raise DuplicateOrderError(
                        f"client_order_id {order.client_order_id} was used already"
                    ) from None
                if status in (400, 403, 404, 422):
                    reason = f"alpaca {status}: {api_message(exc)}"
                    return OrderResult.of(order, "rejected", reason)
                if status == 429:
                    time.sleep(reset_wait(exc))
                why = f"{status} {api_message(exc)}"
            except NO_ANSWER as exc:
                why = type(exc).__name__
            log.warning("submit %s: %s; looking the id up", order.client_order_id, why)
            existing = self._lookup(order.client_order_id)
            if existing is not None:
                found = order_result(existing)
                if not found.same_order(order):
                    raise DuplicateOrderError(
                        f"client_order_id {order.client_order_id} is another order at Alpaca"
                    )
                log.info("order %s reached Alpaca: adopted", order.client_order_id)
                return found
            backoff(attempt)
        raise BrokerUnavailable(
            f"order {order.client_order_id} not placed: Alpaca did not answer after "
            f"{_SUBMIT_ATTEMPTS} tries (it is not at Alpaca: a later cycle may place it)"
        )

    def _lookup(self, client_order_id: str) -> dict[str, Any] | None:
        trading = self.http.trading
        try:
            found = self.http.trade(
                lambda: trading.get_order_by_client_id(client_order_id), "order lookup"
            )
        except BrokerError as exc:
            if "404" in str(exc):
                return None
            raise
        return as_json(found)

    def get_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        """The order as Alpaca reports it now (live, `as_of` is the present anyway)."""
        raw = self._lookup(client_order_id)
        return None if raw is None else order_result(raw)

    def cancel_order(self, client_order_id: str, as_of: str | None = None) -> OrderResult | None:
        raw = self._lookup(client_order_id)
        if raw is None:
            return None
        if raw["status"] in _OPEN:
            oid = raw["id"]
            try:
                self.http.trade(lambda: self.http.trading.cancel_order_by_id(oid), "cancel")
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
        return order_result(raw)

    def find_orders(self, prefix: str, as_of: str | None = None) -> list[OrderResult]:
        """Orders whose client_order_id starts with `prefix` (one cycle's), oldest first:
        Alpaca has no prefix query, so the last days' orders are listed and filtered."""
        since = ny(as_of) - timedelta(days=7) if as_of else None
        request = GetOrdersRequest(
            status=QueryOrderStatus.ALL, limit=500, nested=True, after=since, direction=Sort.ASC
        )
        rows = self._orders(request, "orders")
        # Filtered before parsing: other orders on the account may not carry our ids.
        return [order_result(r) for r in rows if str(r["client_order_id"]).startswith(prefix)]

    def open_orders(self, as_of: str | None = None) -> list[OrderResult]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500, nested=True)
        return [order_result(r) for r in self._orders(request, "open orders")]

    def _orders(self, request: GetOrdersRequest, what: str) -> list[dict[str, Any]]:
        found = self.http.trade(lambda: self.http.trading.get_orders(request), what)
        assert isinstance(found, list)
        return [as_json(o) for o in found]
