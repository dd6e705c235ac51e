"""Client order ids tied to what an order is, and placement that never doubles an order:
the one way an order reaches the broker (`gate_and_place`: the risk gate, then `place`).

An id is `{arena}-{cycle}-{account}-{purpose}-{symbol}-{side}`: the same leg of the same
cycle always gets the same id, whatever other legs the cycle has (settings may change
between a crash and the resume), and two different legs never share one. A broker
remembers every id it was sent, so a resumed cycle finds what it placed before the
crash; a stored order is adopted only when it is the same order.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mytrader.domain.book import Book
from mytrader.domain.limits import RiskLimits
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.domain.risk import GateResult, Leg, Reserved, check_leg
from mytrader.ports.broker import Broker, BrokerError, DuplicateOrderError

log = logging.getLogger(__name__)


def mismatch(existing: OrderResult, request: OrderRequest) -> OrderResult:
    """A leg whose id is taken by a different order: recorded, never substituted."""
    reason = (
        f"client order id {request.client_order_id} is taken by a different order "
        f"({existing.side} {existing.qty} {existing.symbol} {existing.type}); "
        f"this leg ({request.side} {request.qty} {request.symbol} {request.type}) was not sent"
    )
    leg = OrderResult.of(request, "rejected", reason)
    # Never sent, so its id is only the key of its trades row, beside the stored order's.
    return leg.model_copy(update={"client_order_id": f"{request.client_order_id}!mismatch"})


def adopt(existing: OrderResult, request: OrderRequest) -> tuple[OrderResult, OrderResult | None]:
    """The stored order if it is the order `request` describes; else the mismatch leg, and
    the stored order as a stray (it is real at the broker: the caller keeps and books it)."""
    if not existing.same_order(request):
        log.error("order id %s: stored order differs", request.client_order_id)
        return mismatch(existing, request), existing
    log.info("order %s existed already: adopted", request.client_order_id)
    return existing, None


def place(broker: Broker, request: OrderRequest) -> tuple[OrderResult, OrderResult | None]:
    """Submit once; if the id is known already (a rerun), adopt the stored order when it is
    the same order. Returns the leg's result and a stray order (see `adopt`)."""
    try:
        return broker.submit_order(request), None
    except DuplicateOrderError:
        existing = broker.get_order(request.client_order_id, request.as_of)
        if existing is None:
            raise
        return adopt(existing, request)


def gate_at_broker(
    broker: Broker,
    leg: Leg,
    book: Book,
    prices: dict[str, Decimal],
    limits: RiskLimits,
    as_of: str,
    reserved: Reserved | None,
) -> GateResult:
    """The risk gate with the broker's facts at `as_of` (market open, symbol tradable):
    the one way a decision, an exit or a protective order is checked."""
    return check_leg(
        leg,
        book,
        prices,
        limits,
        market_open=broker.is_open(as_of),
        tradable=broker.asset(leg.symbol) is not None,
        day=as_of[:10],
        reserved=reserved,
    )


def gate_and_place(
    broker: Broker,
    leg: Leg,
    book: Book,
    request: OrderRequest,
    prices: dict[str, Decimal],
    limits: RiskLimits,
    reserved: Reserved | None,
    reason: str,
) -> tuple[OrderResult, OrderResult | None]:
    """Gate, then place: the one path of a decision's leg, an exit and a protective order.

    A leg the gate stops is recorded `refused` with the gate's reason, one the broker
    refuses (BrokerError) `rejected` with the broker's message; both keep the request's
    terms (side, quantity, type, prices) and were never placed. A placed order keeps the
    broker's reason, else `reason`. Returns the leg's result and a stray (see `adopt`)."""
    gate = gate_at_broker(broker, leg, book, prices, limits, request.as_of, reserved)
    if not gate.approved:
        return OrderResult.of(request, "refused", gate.reason), None
    try:
        result, stray = place(broker, request)
    except BrokerError as exc:
        return OrderResult.of(request, "rejected", f"broker: {exc}"), None
    return result.model_copy(update={"reason": result.reason or reason}), stray
