"""The order manager's plan for one broker account and one cycle (pure: no I/O).

Every book on the account says what it wants (its decision, its stop-loss/take-profit
exits); the account holds orders from earlier cycles. Per symbol, the plan decides what
goes, what is held back (with the reason), which protective sells are canceled first and
where protective orders wait, so nothing is sent that the account would refuse as a wash
trade (see `account_rules`):

1. A SELL (decision or exit) while a BUY of the symbol is open at the broker: the sell
   waits until the buy is done (next cycle; live buys are limits that fill in seconds).
2. Books selling and buying one symbol in the same cycle: the sells go, the buys are held
   back to a later cycle (an exit or a sell lowers risk; a buy can wait).
3. A BUY while a non-protective SELL of the symbol is open (a sell still working): held.
4. A BUY that goes: first every book's protective sell of the symbol is canceled; the
   symbol's protective orders wait while a BUY of it is open, and are placed again (the
   executor restores them) as soon as no BUY of it is open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Intent:
    """An order a book wants to send this cycle."""

    book: str
    symbol: str
    side: Side


@dataclass(frozen=True)
class Standing:
    """An order open at the broker on this account."""

    order_id: str
    book: str
    symbol: str
    side: Side
    protective: bool


@dataclass(frozen=True)
class AccountPlan:
    held: dict[Intent, str] = field(default_factory=dict)  # not sent this cycle, and why
    cancel: tuple[str, ...] = ()  # protective orders canceled before the buys
    wait: frozenset[str] = frozenset()  # symbols whose protective orders wait for a BUY

    def reason_held(self, intent: Intent) -> str | None:
        return self.held.get(intent)


def _books(orders: Iterable[Intent | Standing]) -> str:
    return ", ".join(sorted({o.book for o in orders}))


def plan_account(intents: Iterable[Intent], standing: Iterable[Standing]) -> AccountPlan:
    wanted, open_orders = list(intents), list(standing)
    held: dict[Intent, str] = {}
    cancel: list[str] = []
    wait: set[str] = set()
    for symbol in sorted({i.symbol for i in wanted} | {o.symbol for o in open_orders}):
        buys = [i for i in wanted if i.symbol == symbol and i.side == "buy"]
        sells = [i for i in wanted if i.symbol == symbol and i.side == "sell"]
        here = [o for o in open_orders if o.symbol == symbol]
        open_buys = [o for o in here if o.side == "buy"]
        working_sells = [o for o in here if o.side == "sell" and not o.protective]
        if open_buys:
            wait.add(symbol)
            for s in sells:
                held[s] = (
                    f"held back: a BUY of {symbol} is open ({_books(open_buys)}); "
                    "the sell waits until it is done (wash-trade rule)"
                )
            sells = []
        if not buys:
            continue
        if sells:
            why = f"held back: {_books(sells)} sells {symbol} this cycle; sells go first"
        elif working_sells:
            why = f"held back: a SELL of {symbol} is open ({_books(working_sells)})"
        else:
            wait.add(symbol)
            cancel += [o.order_id for o in here if o.side == "sell" and o.protective]
            continue
        for b in buys:
            held[b] = f"{why} (wash-trade rule)"
    return AccountPlan(held=held, cancel=tuple(cancel), wait=frozenset(wait))
