"""Where the simulated exchange keeps its orders, keyed by client_order_id.

The ledger is what makes order placement idempotent: a retried or resumed cycle that
resubmits the same client_order_id finds it here and does not trade twice. It keeps the
order *as placed* (and when it was canceled): what became of it is computed from the bars
at any later `as_of`, so the record never goes stale. It is a Protocol so a
database-backed ledger can survive restarts; the in-memory one is for single-process
runs and tests.
"""

from __future__ import annotations

import bisect
import threading
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from mytrader.domain.models import OrderRequest, OrderResult


class SimOrder(BaseModel):
    request: OrderRequest
    broker_order_id: str
    canceled_as_of: str | None = None  # canceled at this simulated now (before its next bar)
    final: OrderResult | None = None  # an order recorded by an older version, as it ended


@runtime_checkable
class OrderLedger(Protocol):
    def get(self, client_order_id: str) -> SimOrder | None:
        """The order stored under this id, or None."""
        ...

    def put(self, order: SimOrder) -> bool:
        """Store the order under its client_order_id; False (nothing stored) if that id
        exists already. Must be atomic: of two concurrent puts of one id, one wins."""
        ...

    def update(self, order: SimOrder) -> None:
        """Replace a stored order (a cancel)."""
        ...

    def find(self, prefix: str) -> list[SimOrder]:
        """Every order whose client_order_id starts with `prefix`, by id."""
        ...


class InMemoryLedger:
    """A dict behind a lock. Stores and returns copies, so callers cannot edit the record."""

    def __init__(self) -> None:
        self._orders: dict[str, SimOrder] = {}
        # The ids in order, so `find` is a bisect, not a sort of every order ever placed
        # (a 20-year backtest places tens of thousands and asks every cycle).
        self._ids: list[str] = []
        self._lock = threading.Lock()

    def get(self, client_order_id: str) -> SimOrder | None:
        with self._lock:
            order = self._orders.get(client_order_id)
        return _copy(order) if order is not None else None

    def put(self, order: SimOrder) -> bool:
        stored = _copy(order)
        with self._lock:
            if order.request.client_order_id in self._orders:
                return False
            self._orders[order.request.client_order_id] = stored
            bisect.insort(self._ids, order.request.client_order_id)
            return True

    def update(self, order: SimOrder) -> None:
        with self._lock:
            self._orders[order.request.client_order_id] = _copy(order)

    def find(self, prefix: str) -> list[SimOrder]:
        with self._lock:
            found = []
            for cid in self._ids[bisect.bisect_left(self._ids, prefix) :]:
                if not cid.startswith(prefix):
                    break
                found.append(self._orders[cid])
        return [_copy(o) for o in found]

    def __len__(self) -> int:
        with self._lock:
            return len(self._orders)


def _copy(order: SimOrder) -> SimOrder:
    # The request and the final result are frozen models (only `canceled_as_of` is set, on
    # a copy): a shallow copy keeps the record safe at a fraction of a deep one.
    return order.model_copy()
