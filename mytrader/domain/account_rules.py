"""The broker account's rules for a new order, as Alpaca applies them (no I/O).

A broker account has rules no single book sees; Alpaca refuses (HTTP 403, code 40310000):

- wash-trade protection, strict form: an order while any order of the OTHER side in the
  symbol is open in the account ("potential wash trade detected. use complex orders").
  Legs of one complex order (an OCO take-profit/stop pair, a bracket) are not opposite
  to each other. Sources: Alpaca's "User Protection" page; forum threads "Bogus rule:
  Potential trade wash detected" and "Wash trade rules".
- shares held by open sells: a sell beyond the position minus the open sells' shares
  ("insufficient qty available for order (requested: N, available: M)").
- buying power reduced by open buys ("insufficient buying power").

The simulated exchange applies these functions; the local Alpaca server encodes the same
rules on its own (it stands for Alpaca), so a test compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]
Rule = Literal["wash_trade", "qty_available", "buying_power"]

FORBIDDEN = 403
REFUSED_CODE = 40310000
WASH_TRADE_MESSAGE = "potential wash trade detected. use complex orders"


@dataclass(frozen=True)
class AccountOrder:
    """An order of the account: open ones (what is left of them) or a new one.

    `group` names the complex order it belongs to (its parent's id): legs of one group
    are never opposite to each other. `price` is what a buy commits per share (its limit,
    else the last price)."""

    group: str
    symbol: str
    side: Side
    qty: int
    price: Decimal | None = None


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    message: str
    status: int = FORBIDDEN
    code: int = REFUSED_CODE

    def text(self, broker: str) -> str:
        """As the adapters word a refusal: `alpaca 403: <message>`."""
        return f"{broker} {self.status}: {self.message}"


def wash_trade(open_orders: Iterable[AccountOrder], new: AccountOrder) -> Refusal | None:
    for o in open_orders:
        if o.symbol == new.symbol and o.side != new.side and o.group != new.group:
            return Refusal("wash_trade", WASH_TRADE_MESSAGE)
    return None


def qty_available(open_orders: Iterable[AccountOrder], new: AccountOrder, held: int) -> int:
    """Shares of `new.symbol` a new sell may take: the position less the open sells'."""
    sold = sum(o.qty for o in open_orders if o.symbol == new.symbol and o.side == "sell")
    return held - sold


def buying_power(open_orders: Iterable[AccountOrder], cash: Decimal) -> Decimal:
    """Cash less what the open buys commit."""
    return cash - sum(
        (o.qty * (o.price or Decimal(0)) for o in open_orders if o.side == "buy"), Decimal(0)
    )


def refusal(
    open_orders: Iterable[AccountOrder],
    new: AccountOrder,
    *,
    held: int,
    cash: Decimal | None = None,
) -> Refusal | None:
    """Why the account refuses `new` (None: it accepts it). `held`: the account's position
    in the symbol; `cash`: its cash (None: buying power is not checked)."""
    standing = [o for o in open_orders if o.qty > 0]
    washed = wash_trade(standing, new)
    if washed is not None:
        return washed
    if new.side == "sell":
        available = qty_available(standing, new, held)
        if new.qty > available:
            return Refusal(
                "qty_available",
                f"insufficient qty available for order (requested: {new.qty}, "
                f"available: {max(available, 0)})",
            )
    elif cash is not None and new.qty * (new.price or Decimal(0)) > buying_power(standing, cash):
        return Refusal("buying_power", "insufficient buying power")
    return None


def is_refusal_of(reason: str, rule: Rule) -> bool:
    """Whether a recorded broker reason is this rule's refusal (bench and tests count them)."""
    marks = {
        "wash_trade": WASH_TRADE_MESSAGE,
        "qty_available": "insufficient qty available",
        "buying_power": "insufficient buying power",
    }
    return marks[rule] in reason
