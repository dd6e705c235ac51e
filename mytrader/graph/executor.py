"""executor: the only node that touches orders.

For every account, in a fixed order: stop-loss / take-profit exits, then the account's
decision (the agents' own, or the vote's for the collaborative book). Each leg passes the
risk gate, then goes to the broker under a deterministic client_order_id
`<arena>-<account>-<cycle>-<leg>`, so a resumed or retried cycle finds the order it
already placed instead of placing it twice. Fills update the book and pay the fee.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from langchain_core.runnables import RunnableConfig

from mytrader.config import COLLABORATIVE
from mytrader.graph.context import ArenaServices, arena_key
from mytrader.graph.risk import Leg, check_leg, decision_leg, exit_legs
from mytrader.market.broker import Broker, BrokerError, DuplicateOrderError
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

log = logging.getLogger(__name__)


def client_order_id(arena: str, account: str, cycle: int, leg: int) -> str:
    return f"{arena}-{account}-{cycle}-{leg}"


def place(broker: Broker, request: OrderRequest) -> OrderResult:
    """Submit once; if the id is known already (a rerun), take the existing order."""
    try:
        return broker.submit_order(request)
    except DuplicateOrderError:
        existing = broker.get_order(request.client_order_id)
        if existing is None:
            raise
        log.info("order %s existed already: reused", request.client_order_id)
        return existing


def account_decision(state: ArenaState, account: str) -> Decision:
    if account == COLLABORATIVE:
        vote = state.get("vote")
        return VoteResult.model_validate(vote).decision if vote else Decision.hold("no vote")
    agent = (state.get("decisions") or {}).get(account)
    return AgentDecision.model_validate(agent).decision if agent else Decision.hold("none")


def collaborative_size(leg: Leg, book: Book) -> Leg:
    """The vote proposes; code sizes: the collaborative book sells at most what it holds."""
    if leg.side == "sell":
        return Leg(leg.symbol, leg.side, min(leg.qty, book.qty(leg.symbol)) or leg.qty, leg.reason)
    return leg


def make_executor(services: ArenaServices) -> Callable[..., dict[str, Any]]:
    settings, broker = services.settings, services.broker

    def run_leg(
        book: Book, leg: Leg, cid: str, prices: dict[str, Decimal], as_of: str, cycle: int
    ) -> OrderResult:
        gate = check_leg(
            leg,
            book,
            prices,
            settings,
            market_open=broker.is_open(as_of),
            tradable=broker.asset(leg.symbol) is not None,
            day=as_of[:10],
        )
        base: dict[str, Any] = {
            "client_order_id": cid,
            "account": book.account,
            "symbol": leg.symbol,
            "side": leg.side,
            "qty": leg.qty,
        }
        if not gate.approved:
            return OrderResult(**base, status="refused", reason=gate.reason)
        request = OrderRequest(**base, limit_price=gate.limit_price, as_of=as_of)
        try:
            result = place(broker, request)
        except BrokerError as exc:
            return OrderResult(**base, status="rejected", reason=f"broker: {exc}")
        result = result.model_copy(update={"reason": result.reason or leg.reason})
        if result.status != "filled":
            return result
        result = result.model_copy(update={"fee": settings.fee_per_trade})
        return book.apply_fill(result, cycle)

    def executor(state: ArenaState, config: RunnableConfig) -> dict[str, Any]:
        arena = arena_key(config, settings.arena_id)
        cycle, as_of = state["cycle"], state["as_of"] or ""
        view = MarketView.model_validate(state["market"])
        prices = {s: v.price for s, v in view.symbols.items()}
        books = {a: Book.model_validate(state["books"][a]) for a in settings.accounts}
        orders: list[OrderResult] = []
        for account in settings.accounts:
            book = books[account]
            legs = exit_legs(book, prices, settings)
            wanted = decision_leg(account_decision(state, account))
            if wanted is not None:
                if account == COLLABORATIVE:
                    wanted = collaborative_size(wanted, book)
                legs.append(wanted)
            for n, leg in enumerate(legs):
                cid = client_order_id(arena, account, cycle, n)
                orders.append(run_leg(book, leg, cid, prices, as_of, cycle))
        return {
            "books": {a: b.model_dump(mode="json") for a, b in books.items()},
            "orders": [o.model_dump(mode="json") for o in orders],
        }

    return executor
