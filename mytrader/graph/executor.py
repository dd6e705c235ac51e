"""executor: the only node that touches orders.

For every account, in a fixed order: stop-loss / take-profit exits, then the account's
decision (the agents' own, or the vote's for the collaborative book). Each leg passes the
risk gate, then goes to the broker under a client order id tied to what the leg is (see
`orders.py`), so a resumed or retried cycle adopts the order it placed already instead of
placing it twice. Orders are pending here: the books change when the broker reports
fills, at the start of the next cycle (the screener books them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from langchain_core.runnables import RunnableConfig

from mytrader.config import COLLABORATIVE
from mytrader.graph.context import ArenaServices, arena_key
from mytrader.graph.orders import adopt, cycle_prefix, order_id, place
from mytrader.graph.protective import protect, release
from mytrader.graph.risk import Leg, Reserved, buy_limit, check_leg, decision_leg
from mytrader.market.broker import BrokerError
from mytrader.reconcile import buys_blocked
from mytrader.state import (
    AgentDecision,
    ArenaState,
    Book,
    Decision,
    MarketView,
    OrderRequest,
    OrderResult,
    VoteResult,
)
from mytrader.state.models import PendingOrder

log = logging.getLogger(__name__)


def account_decision(state: ArenaState, account: str) -> Decision:
    if account == COLLABORATIVE:
        vote = state.get("vote")
        return VoteResult.model_validate(vote).decision if vote else Decision.hold("no vote")
    agent = (state.get("decisions") or {}).get(account)
    return AgentDecision.model_validate(agent).decision if agent else Decision.hold("none")


def collaborative_size(leg: Leg, book: Book) -> Leg:
    """The vote proposes; code sizes: the collaborative book sells at most what it holds."""
    if leg.side == "sell":
        qty = min(leg.qty, book.qty(leg.symbol)) or leg.qty
        return Leg(leg.symbol, leg.side, qty, leg.reason, leg.purpose)
    return leg


def reaches_broker(order: OrderResult) -> bool:
    """An order the broker holds (open) or filled in part: it must be booked later."""
    return order.is_open or order.filled_qty > 0


def make_executor(services: ArenaServices) -> Callable[..., dict[str, Any]]:
    settings, broker = services.settings, services.broker

    def limit_of(leg: Leg, price: Decimal | None) -> Decimal | None:
        """A BUY is a marketable limit at the gate's price; a SELL is a market order."""
        return buy_limit(price, settings) if leg.side == "buy" and price is not None else None

    def request_for(
        leg: Leg, cid: str, account: str, price: Decimal | None, as_of: str
    ) -> OrderRequest:
        limit = limit_of(leg, price)
        return OrderRequest(
            client_order_id=cid,
            account=account,
            symbol=leg.symbol,
            side=leg.side,  # type: ignore[arg-type]
            qty=leg.qty,
            type="limit" if limit is not None else "market",
            limit_price=limit,
            purpose=leg.purpose,
            as_of=as_of,
        )

    def refused(
        leg: Leg, cid: str, account: str, reason: str, price: Decimal | None
    ) -> OrderResult:
        """A leg the gate stopped, with the terms it was refused with (a BUY's limit)."""
        limit = limit_of(leg, price)
        return OrderResult(
            client_order_id=cid,
            account=account,
            symbol=leg.symbol,
            side=leg.side,  # type: ignore[arg-type]
            qty=leg.qty,
            status="refused",
            reason=reason,
            type="limit" if limit is not None else "market",
            limit_price=limit,
            purpose=leg.purpose,
        )

    def run_leg(
        book: Book,
        leg: Leg,
        cid: str,
        prices: dict[str, Decimal],
        as_of: str,
        reserved: Reserved,
        existing: OrderResult | None,
    ) -> tuple[OrderResult, OrderResult | None]:
        """The leg's result, and a stray order found under its id that is not this leg."""
        price = prices.get(leg.symbol)
        if leg.qty <= 0:
            return refused(leg, cid, book.account, "quantity must be positive", price), existing
        request = request_for(leg, cid, book.account, price, as_of)
        if existing is not None:  # placed before a crash: the broker has it, gate or not
            return adopt(existing, request)
        gate = check_leg(
            leg,
            book,
            prices,
            settings,
            market_open=broker.is_open(as_of),
            tradable=broker.asset(leg.symbol) is not None,
            day=as_of[:10],
            reserved=reserved,
        )
        if not gate.approved:
            return refused(leg, cid, book.account, gate.reason, price), None
        stray = None
        try:
            result, stray = place(broker, request)
        except BrokerError as exc:
            result = OrderResult.of(request, "rejected", f"broker: {exc}")  # its terms kept
        return result.model_copy(update={"reason": result.reason or leg.reason}), stray

    def executor(state: ArenaState, config: RunnableConfig) -> dict[str, Any]:
        arena = arena_key(config, settings.arena_id)
        cycle, as_of = state["cycle"], state["as_of"] or ""
        view = MarketView.model_validate(state["market"])
        prices = {s: v.price for s, v in view.symbols.items()}
        books = {a: Book.model_validate(state["books"][a]) for a in settings.accounts}
        pending = [PendingOrder.model_validate(p) for p in state.get("pending") or []]
        # Orders this cycle placed before a crash: adopted, never placed twice.
        placed = {
            o.client_order_id: o for o in broker.find_orders(cycle_prefix(arena, cycle), as_of)
        }
        fee = settings.fee_per_trade
        orders: list[OrderResult] = []
        strays: dict[str, OrderResult] = {}
        blocked = buys_blocked(state.get("reconcile"))  # books differ from the account
        for account in settings.accounts:
            book = books[account]
            # Stop-loss and take-profit are protective orders at the broker (protective.py).
            legs: list[Leg] = []
            wanted = decision_leg(account_decision(state, account))
            if wanted is not None:
                if account == COLLABORATIVE:
                    wanted = collaborative_size(wanted, book)
                legs.append(wanted)
            pending = release(broker, pending, account, wanted, as_of)  # a SELL frees shares
            pending, guards = protect(
                broker, settings, arena, cycle, book, pending, wanted, prices, as_of, placed
            )
            orders += guards
            mine = (p for p in pending if p.order.account == account and p.order.is_open)
            reserved = Reserved.of(mine, fee)
            for guard in guards:
                if reaches_broker(guard):
                    reserved.add(guard.side, guard.symbol, guard.qty, guard.limit_price, fee)
            for leg in legs:
                cid = order_id(arena, cycle, account, leg.purpose, leg.symbol, leg.side)
                existing = placed.pop(cid, None)
                if leg.side == "buy" and blocked and existing is None:
                    orders.append(refused(leg, cid, account, blocked, prices.get(leg.symbol)))
                    continue
                result, stray = run_leg(book, leg, cid, prices, as_of, reserved, existing)
                orders.append(result)
                if reaches_broker(result):
                    reserved.add(result.side, result.symbol, result.qty, result.limit_price, fee)
                if stray is not None:
                    strays[stray.client_order_id] = stray
        for left in [*placed.values(), *strays.values()]:
            # At the broker under this cycle's ids but not one of its legs (the settings
            # changed between a crash and the resume, or the id holds a different order):
            # it is real, so it is kept and booked like any other, never silently replaced.
            log.warning("order %s placed before a restart is kept", left.client_order_id)
            note = "placed before a restart; not a leg of the resumed cycle, kept and booked"
            orders.append(left.model_copy(update={"reason": note}))
        pending += [
            PendingOrder(order=o, cycle=cycle, as_of=as_of) for o in orders if reaches_broker(o)
        ]
        return {
            "orders": [o.model_dump(mode="json") for o in orders],
            "pending": [p.model_dump(mode="json") for p in pending],
        }

    return executor
