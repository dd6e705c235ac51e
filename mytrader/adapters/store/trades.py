"""The order rows: read by filters, the open ones, a batch's statuses, and the one
correction a row gets when the broker closed an order the table still calls open."""

from __future__ import annotations

from collections.abc import Iterable

from mytrader.adapters.store.connection import Tables
from mytrader.adapters.store.cycles import TRADE_COLUMNS
from mytrader.adapters.store.filters import where
from mytrader.domain.models import OPEN_STATUSES, OrderResult, OrderStatus
from mytrader.domain.records import TradeRow


class TradeTables(Tables):
    def trades(
        self,
        arena: str,
        account: str | None = None,
        status: OrderStatus | None = None,
        since_cycle: int | None = None,
    ) -> list[TradeRow]:
        clause, params = where(arena, account=account, status=status, since_cycle=since_cycle)
        query = f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades{clause} ORDER BY cycle, id"
        with self._tx(write=False) as tx:
            return [TradeRow.model_validate(r) for r in tx.rows(query, params)]

    def open_trades(self, arena: str) -> dict[str, str]:
        """client order id -> status of every row the table calls open (pending or
        partially filled): after a cycle, exactly the broker's open orders."""
        statuses = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))
        with self._tx(write=False) as tx:
            rows = tx.rows(
                "SELECT client_order_id, status FROM trades"
                f" WHERE arena = ? AND status IN ({statuses})",
                (arena,),
            )
        return {r["client_order_id"]: r["status"] for r in rows}

    def correct_trade(self, arena: str, order: OrderResult, reason: str, cycle: int) -> None:
        """Rewrite one row left open for an order the broker closed: the broker's status
        and fills, why, and the cycle that saw it (its fee and realized P&L stay)."""
        bind = self._db.dialect.bind
        with self._tx() as tx:
            tx.run(
                "UPDATE trades SET status = ?, reason = ?, filled_qty = ?,"
                " filled_avg_price = ?, filled_at = ?, booked_cycle = ?"
                " WHERE arena = ? AND client_order_id = ?",
                (
                    order.status,
                    reason,
                    order.filled_qty,
                    bind(order.filled_avg_price),
                    order.filled_at,
                    cycle,
                    arena,
                    order.client_order_id,
                ),
            )

    def trade_statuses(self, arena: str, client_order_ids: Iterable[str]) -> dict[str, str]:
        """client order id -> its row's status, for those of `client_order_ids` recorded."""
        wanted = sorted(set(client_order_ids))
        out: dict[str, str] = {}
        with self._tx(write=False) as tx:
            for start in range(0, len(wanted), 500):  # bounded statement size
                part = wanted[start : start + 500]
                rows = tx.rows(
                    "SELECT client_order_id, status FROM trades WHERE arena = ?"
                    f" AND client_order_id IN ({', '.join('?' * len(part))})",
                    (arena, *part),
                )
                out |= {r["client_order_id"]: r["status"] for r in rows}
        return out
