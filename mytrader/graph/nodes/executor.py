"""executor: the only node that touches orders.

For every account, in a fixed order: stop-loss / take-profit exits, then the account's
decision (the agents' own, or the vote's for the collaborative book). Each leg passes the
risk gate, then goes to the broker under a client order id tied to what the leg is (see
`orders.py`), so a resumed or retried cycle adopts the order it placed already instead of
placing it twice. Orders are pending here: the books change when the broker reports
fills, at the start of the next cycle (the screener books them).

The books that share a broker account go through one order manager
(`mytrader.domain.order_plan`): it sees every book's orders of the cycle on that account
and the account's open orders, and holds back, sequences and cancels so that nothing is
sent the account would refuse as a wash trade. Protective sells canceled for a BUY are
restored as soon as no BUY of the symbol is open (within the cycle when the broker says
so within `fill_wait_s`, live; else at the next cycle's start).
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from mytrader.domain.book import Book
from mytrader.domain.models import (
    COLLABORATIVE,
    AgentDecision,
    Decision,
    MarketView,
    OrderRequest,
    OrderResult,
    PendingOrder,
    VoteResult,
)
from mytrader.domain.order_ids import cycle_prefix, order_id
from mytrader.domain.order_plan import AccountPlan, Intent, Standing, plan_account
from mytrader.domain.risk import Leg, Reserved, decision_leg
from mytrader.graph.account_check import buys_blocked
from mytrader.graph.context import ArenaContext, ArenaServices, StateNode, arena_key
from mytrader.graph.orders import adopt, gate_and_place, gate_at_broker
from mytrader.graph.protective import cancel, exit_purpose, protect, release
from mytrader.graph.state import ArenaState
from mytrader.graph.typed import dump, shared, shared_list
from mytrader.ports.broker import Broker

log = logging.getLogger(__name__)


def account_decision(state: ArenaState, account: str) -> Decision:
    if account == COLLABORATIVE:
        vote = state.get("vote")
        return shared(VoteResult, vote).decision if vote else Decision.hold("no vote")
    agent = (state.get("decisions") or {}).get(account)
    return shared(AgentDecision, agent).decision if agent else Decision.hold("none")


def collaborative_size(leg: Leg, book: Book) -> Leg:
    """The vote proposes; code sizes: the collaborative book sells at most what it holds."""
    if leg.side == "sell":
        qty = min(leg.qty, book.qty(leg.symbol)) or leg.qty
        return Leg(leg.symbol, leg.side, qty, leg.reason, leg.purpose)
    return leg


def standing_orders(
    pending: list[PendingOrder], placed: dict[str, OrderResult], books: tuple[str, ...]
) -> list[Standing]:
    """The account's open orders: earlier cycles' (pending) and this cycle's found after a
    restart."""
    found = [p.order for p in pending] + list(placed.values())
    return [
        Standing(o.client_order_id, o.account, o.symbol, o.side, o.purpose == "protect")
        for o in found
        if o.is_open and o.account in books
    ]


def reaches_broker(order: OrderResult) -> bool:
    """An order the broker holds (open) or filled in part: it must be booked later."""
    return order.is_open or order.filled_qty > 0


def make_executor(services: ArenaServices) -> StateNode:
    def executor(state: ArenaState, runtime: Runtime[ArenaContext]) -> dict[str, Any]:
        knobs = services.knobs(runtime)
        return execute(services.broker, knobs, arena_key(get_config(), knobs.arena_id), state)

    return executor


def execute(broker: Broker, knobs: ArenaContext, arena: str, state: ArenaState) -> dict[str, Any]:
    """The cycle's orders, account by account: what the executor node returns."""
    limits = knobs.limits

    def limit_of(leg: Leg, price: Decimal | None) -> Decimal | None:
        """A BUY is a marketable limit at the gate's price; a SELL is a market order."""
        return limits.buy_limit(price) if leg.side == "buy" and price is not None else None

    def terms(leg: Leg, cid: str, account: str, price: Decimal | None) -> dict[str, Any]:
        """The leg's order terms: a BUY is a marketable limit at the gate's price."""
        limit = limit_of(leg, price)
        return {
            "client_order_id": cid,
            "account": account,
            "symbol": leg.symbol,
            "side": leg.side,
            "qty": leg.qty,
            "type": "limit" if limit is not None else "market",
            "limit_price": limit,
            "purpose": leg.purpose,
        }

    def refused(
        leg: Leg, cid: str, account: str, reason: str, price: Decimal | None
    ) -> OrderResult:
        """A leg stopped before the broker, with the terms it was refused with."""
        return OrderResult(**terms(leg, cid, account, price), status="refused", reason=reason)

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
        request = OrderRequest(**terms(leg, cid, book.account, price), as_of=as_of)
        if existing is not None:  # placed before a crash: the broker has it, gate or not
            return adopt(existing, request)
        return gate_and_place(broker, leg, book, request, prices, limits, reserved, leg.reason)

    def intents_of(
        account: str,
        book: Book,
        wanted: Leg | None,
        prices: dict[str, Decimal],
        as_of: str,
        pending: list[PendingOrder],
        blocked: str,
    ) -> list[Intent]:
        """What the book would send this cycle: its exits, and its decision unless the gate
        (or a reconcile block) refuses it anyway (then nothing is canceled for it)."""
        out = [
            Intent(account, sym, "sell")
            for sym in sorted(book.positions)
            if exit_purpose(book, sym, prices, limits) is not None
            and not (wanted is not None and wanted.side == "sell" and wanted.symbol == sym)
        ]
        if wanted is None:
            return out
        if wanted.side == "buy":
            mine = (p for p in pending if p.order.account == account and p.order.is_open)
            reserved = Reserved.of(mine, limits.fee_per_trade)
            gate = gate_at_broker(broker, wanted, book, prices, limits, as_of, reserved)
            if blocked or not gate.approved:
                return out
        return [*out, Intent(account, wanted.symbol, wanted.side)]  # type: ignore[arg-type]

    def held_exits(
        arena: str, cycle: int, book: Book, plan: AccountPlan, prices: dict[str, Decimal]
    ) -> list[OrderResult]:
        """Exits the manager holds back, recorded with the reason (never silently dropped)."""
        out = []
        for sym in sorted(book.positions):
            purpose = exit_purpose(book, sym, prices, limits)
            why = plan.reason_held(Intent(book.account, sym, "sell"))
            if purpose is None or why is None:
                continue
            leg = Leg(sym, "sell", book.qty(sym), why, purpose)
            cid = order_id(arena, cycle, book.account, purpose, sym, "sell")
            out.append(refused(leg, cid, book.account, why, prices.get(sym)))
        return out

    def cancel_for_buys(
        pending: list[PendingOrder], plan: AccountPlan, as_of: str
    ) -> tuple[list[PendingOrder], dict[str, str]]:
        """Cancel the protective sells the plan names; a cancel the broker has not confirmed
        (pending_cancel: the sell still holds) holds the symbol's buys back, with why."""
        which = [p for p in pending if p.order.client_order_id in plan.cancel]
        why = (
            "for a BUY of the symbol in this account (wash-trade protection); "
            "placed again once no BUY of it is open"
        )
        pending = cancel(broker, pending, which, as_of, why)
        unconfirmed = {
            p.order.symbol: (
                f"held back: the cancel of protective order {p.order.client_order_id} "
                "is not confirmed by the broker yet (pending_cancel)"
            )
            for p in pending
            if p.order.client_order_id in plan.cancel and p.order.is_open
        }
        return pending, unconfirmed

    def wait_for_buys(buys: list[OrderResult]) -> list[OrderResult]:
        """Live: the broker's word on this cycle's buys within `fill_wait_s` (offline a
        fill comes at the next open, so the simulated exchange is not asked to wait)."""
        if broker.name == "sim" or knobs.fill_wait_s <= 0:
            return buys
        deadline = time.monotonic() + knobs.fill_wait_s
        out = list(buys)
        while any(o.is_open for o in out) and time.monotonic() < deadline:
            time.sleep(0.5)  # at most 2 requests a second of the budget
            out = [(broker.get_order(o.client_order_id) or o) if o.is_open else o for o in out]
        return out

    def run() -> dict[str, Any]:
        cycle, as_of = state["cycle"], state["as_of"] or ""
        view = shared(MarketView, state["market"])
        prices = {s: v.price for s, v in view.symbols.items()}
        books = {a: shared(Book, state["books"][a]) for a in knobs.accounts}  # read-only
        pending = shared_list(PendingOrder, state.get("pending"))
        # Orders this cycle placed before a crash: adopted, never placed twice.
        placed = {
            o.client_order_id: o for o in broker.find_orders(cycle_prefix(arena, cycle), as_of)
        }
        fee = limits.fee_per_trade
        orders: list[OrderResult] = []
        strays: dict[str, OrderResult] = {}
        blocked = buys_blocked(state.get("reconcile"))  # books differ from the account
        for group in knobs.account_groups:
            wanted: dict[str, Leg | None] = {}
            for account in group:
                leg = decision_leg(account_decision(state, account))
                if leg is not None and account == COLLABORATIVE:
                    leg = collaborative_size(leg, books[account])
                wanted[account] = leg
            plan = AccountPlan()
            if knobs.order_manager:
                intents = [
                    i
                    for a in group
                    for i in intents_of(a, books[a], wanted[a], prices, as_of, pending, blocked)
                ]
                plan = plan_account(intents, standing_orders(pending, placed, group))
            pending, unconfirmed = cancel_for_buys(pending, plan, as_of)
            for account in group:
                book = books[account]
                # Stop-loss and take-profit are protective orders at the broker (protective.py).
                legs: list[Leg] = []
                leg = wanted[account]
                if leg is not None:
                    why = plan.reason_held(Intent(account, leg.symbol, leg.side))  # type: ignore[arg-type]
                    if why is None and leg.side == "buy":
                        why = unconfirmed.get(leg.symbol)
                    if why is not None:
                        cid = order_id(arena, cycle, account, leg.purpose, leg.symbol, leg.side)
                        orders.append(refused(leg, cid, account, why, prices.get(leg.symbol)))
                        placed.pop(cid, None)
                        leg = None
                    else:
                        legs.append(leg)
                pending = release(broker, pending, account, leg, as_of)  # a SELL frees shares
                orders += held_exits(arena, cycle, book, plan, prices)
                pending, guards = protect(
                    broker,
                    limits,
                    arena,
                    cycle,
                    book,
                    pending,
                    leg,
                    prices,
                    as_of,
                    placed,
                    wait=plan.wait,
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
                        reserved.add(
                            result.side, result.symbol, result.qty, result.limit_price, fee
                        )
                    if stray is not None:
                        strays[stray.client_order_id] = stray
            pending, restored = restore(
                arena, cycle, group, books, plan, orders, pending, prices, as_of, placed
            )
            orders += restored
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
            "pending": [dump(p) for p in pending],  # entries left as they were: as they were
        }

    def restore(
        arena: str,
        cycle: int,
        group: tuple[str, ...],
        books: dict[str, Book],
        plan: AccountPlan,
        orders: list[OrderResult],
        pending: list[PendingOrder],
        prices: dict[str, Decimal],
        as_of: str,
        placed: dict[str, OrderResult],
    ) -> tuple[list[PendingOrder], list[OrderResult]]:
        """Protect again the symbols whose protective orders waited for a BUY of this
        cycle, once no BUY of them is open: the buy was refused or rejected (a refusal the
        manager could not foresee), or filled within the wait (live)."""
        held = {s for a in group for s in books[a].positions}  # what needs protecting
        waited = (plan.wait & held) - {
            o.symbol for o in standing_orders(pending, {}, group) if o.side == "buy"
        }
        buys = [o for o in orders if o.side == "buy" and o.symbol in waited and o.account in group]
        # What the broker said meanwhile is what the records keep (a fill is booked later).
        now = {o.client_order_id: o for o in wait_for_buys([o for o in buys if o.is_open])}
        orders[:] = [now.get(o.client_order_id, o) for o in orders]
        still = {o.symbol for o in now.values() if o.is_open}
        back = frozenset(waited - still)
        restored: list[OrderResult] = []
        if not back:
            return pending, restored
        for account in group:
            # protect() sees this cycle's orders too (a SELL working on a symbol waits).
            work = pending + [
                PendingOrder(order=o, cycle=cycle, as_of=as_of) for o in orders if reaches_broker(o)
            ]
            work, guards = protect(
                broker,
                limits,
                arena,
                cycle,
                books[account],
                work,
                None,
                prices,
                as_of,
                placed,
                only=back,
            )
            pending = work[: len(pending)]
            restored += guards
        return pending, restored

    return run()
