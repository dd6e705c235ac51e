"""Client order ids tied to what an order is: the one codec, used to make and to read them.

An id is `{arena}-{cycle}-{account}-{purpose}-{symbol}-{side}`: the same leg of the same
cycle always gets the same id, whatever other legs the cycle has, and two different legs
never share one. The account stays readable in every id (a broker's order names its
book); the tail is hashed when the whole would pass MAX_ID characters.
"""

from __future__ import annotations

import hashlib

from mytrader.domain.models import Purpose

MAX_ID = 48  # Alpaca accepts 128, but some of its docs and SDKs say 48: stay within both
_ARENA_CHARS = 13
_PURPOSE_CODE: dict[Purpose, str] = {
    "decision": "d",
    "stop_loss": "sl",
    "take_profit": "tp",
    "protect": "p",
}
_PURPOSE_OF: dict[str, Purpose] = {code: purpose for purpose, code in _PURPOSE_CODE.items()}


def _short(text: str, chars: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:chars]


def arena_prefix(arena: str) -> str:
    """The ids' first field: the arena key, hashed when long (ids must stay short)."""
    return arena if len(arena) <= _ARENA_CHARS else "a" + _short(arena, _ARENA_CHARS - 1)


def cycle_prefix(arena: str, cycle: int) -> str:
    """The prefix of every order id of one cycle of one arena."""
    return f"{arena_prefix(arena)}-{cycle}-"


def order_id(arena: str, cycle: int, account: str, purpose: Purpose, symbol: str, side: str) -> str:
    """The leg's id; the tail after the account is hashed if the whole would be too long,
    so the account always stays readable (an order at the broker names its book)."""
    head = f"{cycle_prefix(arena, cycle)}{account}-"
    tail = f"{_PURPOSE_CODE[purpose]}-{symbol}-{side[0]}"
    if len(head) + len(tail) > MAX_ID:
        tail = _short(tail, max(8, MAX_ID - len(head)))
    return head + tail


def account_of(client_order_id: str) -> str:
    """The book an order id belongs to (its third field)."""
    parts = client_order_id.split("-")
    return parts[2] if len(parts) > 2 else ""


def purpose_of(client_order_id: str) -> Purpose:
    """The purpose in one of our ids (its fourth field); an id we did not make (or whose
    tail was hashed) reads as a decision."""
    parts = client_order_id.split("-")
    code = parts[3] if len(parts) > 3 else ""
    return _PURPOSE_OF.get(code, "decision")
