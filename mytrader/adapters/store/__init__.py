"""The arena's storage: its tables (ArenaStore; ArenaReader for the dashboard) and
LangGraph checkpoints, configured by a StoreConfig (module map: `db`)."""

from mytrader.adapters.store.checkpointer import delete_thread, open_checkpointer, prune_thread
from mytrader.adapters.store.connection import StoreConfig
from mytrader.adapters.store.db import ArenaStore, StoreError, StoreLedger, mask_url
from mytrader.domain.records import CycleRecord, LogEntry, LogRow, Snapshot, TradeRow, Usage

__all__ = [
    "ArenaStore",
    "CycleRecord",
    "LogEntry",
    "LogRow",
    "Snapshot",
    "StoreConfig",
    "StoreError",
    "StoreLedger",
    "TradeRow",
    "Usage",
    "delete_thread",
    "mask_url",
    "open_checkpointer",
    "prune_thread",
]
