"""The simulated exchange's order ledger, kept in the arena's database: each order once
by its client order id, updated as it fills."""

from __future__ import annotations

import json
from typing import Protocol

from mytrader.adapters.store.connection import Tables
from mytrader.domain.models import OrderRequest, OrderResult
from mytrader.ports.ledger import SimOrder


class LedgerTables(Tables):
    def ledger_get(self, client_order_id: str) -> SimOrder | None:
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT result FROM sim_orders WHERE client_order_id = ?", (client_order_id,)
            )
        return _sim_order(rows[0]["result"]) if rows else None

    def ledger_put(self, order: SimOrder) -> bool:
        """Store an order once: False (and no change) when its id is already there.

        One INSERT ... ON CONFLICT DO NOTHING, so two racing puts can't both win.
        """
        with self._tx() as tx:
            inserted = tx.run(
                "INSERT INTO sim_orders (client_order_id, result) VALUES (?, ?)"
                " ON CONFLICT (client_order_id) DO NOTHING",
                (order.request.client_order_id, order.model_dump_json()),
            )
        return inserted == 1

    def ledger_update(self, order: SimOrder) -> None:
        with self._tx() as tx:
            tx.run(
                "UPDATE sim_orders SET result = ? WHERE client_order_id = ?",
                (order.model_dump_json(), order.request.client_order_id),
            )

    def ledger_find(self, prefix: str) -> list[SimOrder]:
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT result FROM sim_orders WHERE substr(client_order_id, 1, length(?)) = ?"
                " ORDER BY client_order_id",
                (prefix, prefix),
            )
        return [_sim_order(r["result"]) for r in rows]


def _sim_order(text: str) -> SimOrder:
    """A ledger row; rows of older versions held the order's final result only."""
    data = json.loads(text)
    if "request" in data:
        return SimOrder.model_validate(data)
    final = OrderResult.model_validate(data)
    request = OrderRequest(
        client_order_id=final.client_order_id,
        account=final.account,
        symbol=final.symbol,
        side=final.side,
        qty=max(final.qty, 1),
        as_of=final.filled_at or "",
    )
    return SimOrder(request=request, broker_order_id=final.broker_order_id or "", final=final)


class _Ledgers(Protocol):
    def ledger_get(self, client_order_id: str) -> SimOrder | None: ...
    def ledger_put(self, order: SimOrder) -> bool: ...
    def ledger_update(self, order: SimOrder) -> None: ...
    def ledger_find(self, prefix: str) -> list[SimOrder]: ...


class StoreLedger:
    """The simulated exchange's `OrderLedger` (get/put), kept in the arena's database."""

    def __init__(self, store: _Ledgers) -> None:
        self._store = store

    def get(self, client_order_id: str) -> SimOrder | None:
        return self._store.ledger_get(client_order_id)

    def put(self, order: SimOrder) -> bool:
        return self._store.ledger_put(order)

    def update(self, order: SimOrder) -> None:
        self._store.ledger_update(order)

    def find(self, prefix: str) -> list[SimOrder]:
        return self._store.ledger_find(prefix)
