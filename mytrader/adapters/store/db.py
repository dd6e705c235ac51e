"""`ArenaStore`: every table of the arena, on SQLite (a file, the default) or PostgreSQL
(a URL), behind one façade. Safe to share between threads.

Each table group is a module of its own, and the store is their sum:

- `connection`: where the data lives (`StoreConfig`), the two backends, `Tables`;
- `dialect`: queries written once with `?`, money bound exactly;
- `cycles`, `trades`, `usage`: the rows of recorded cycles;
- `failures`, `heartbeats`, `ledger`: failed cycles, unattended runs, simulated orders;
- `migrations`: the tables created and upgraded when a writer opens them;
- `filters`: the one filter and page helper; `url`: a URL's secrets masked.

The names importers used before the split are still importable from here.
"""

from __future__ import annotations

from mytrader.adapters.store.connection import (
    ARENA_FILE,
    Backend,
    StoreConfig,
    bounded,
    check_postgres,
)
from mytrader.adapters.store.cycles import CYCLE_CHANNEL, CycleTables
from mytrader.adapters.store.dialect import Row
from mytrader.adapters.store.errors import StoreError
from mytrader.adapters.store.failures import FailureTables
from mytrader.adapters.store.heartbeats import HeartbeatTables
from mytrader.adapters.store.ledger import LedgerTables, StoreLedger
from mytrader.adapters.store.migrations import setup
from mytrader.adapters.store.trades import TradeTables
from mytrader.adapters.store.url import mask_url, scrub, url_passwords
from mytrader.adapters.store.usage import UsageTables

__all__ = [
    "ARENA_FILE",
    "CYCLE_CHANNEL",
    "ArenaStore",
    "Row",
    "StoreConfig",
    "StoreError",
    "StoreLedger",
    "bounded",
    "check_postgres",
    "mask_url",
    "scrub",
    "url_passwords",
]


class ArenaStore(
    CycleTables, TradeTables, UsageTables, FailureTables, HeartbeatTables, LedgerTables
):
    """Every table of the arena, on SQLite or PostgreSQL. Opening it creates the tables
    and upgrades older ones (`setup`)."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.setup()

    def setup(self) -> None:
        """Create the tables and indexes if missing; safe to call any number of times."""
        with self._tx() as tx:
            setup(tx)
