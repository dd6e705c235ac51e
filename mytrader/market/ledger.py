"""Where the simulated exchange keeps its orders, keyed by client_order_id.

The ledger is what makes order placement idempotent: a retried or resumed cycle that
resubmits the same client_order_id finds it here and does not trade twice. It is a
Protocol so a database-backed ledger can survive restarts; the in-memory one is for
single-process runs and tests.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from mytrader.state.models import OrderResult


@runtime_checkable
class OrderLedger(Protocol):
    def get(self, client_order_id: str) -> OrderResult | None:
        """The order stored under this id, or None."""
        ...

    def put(self, order: OrderResult) -> bool:
        """Store the order under its client_order_id; False (nothing stored) if that id
        exists already. Must be atomic: of two concurrent puts of one id, one wins."""
        ...


class InMemoryLedger:
    """A dict behind a lock. Stores and returns copies, so callers cannot edit the record."""

    def __init__(self) -> None:
        self._orders: dict[str, OrderResult] = {}
        self._lock = threading.Lock()

    def get(self, client_order_id: str) -> OrderResult | None:
        with self._lock:
            order = self._orders.get(client_order_id)
        return order.model_copy(deep=True) if order is not None else None

    def put(self, order: OrderResult) -> bool:
        stored = order.model_copy(deep=True)
        with self._lock:
            if order.client_order_id in self._orders:
                return False
            self._orders[order.client_order_id] = stored
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._orders)
