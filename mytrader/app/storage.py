"""The settings -> the store's parameters: where the arena's tables, checkpoints and
lock live (DATABASE_URL, or files under MYTRADER_HOME) and how long a database call may
wait. The store itself takes a `StoreConfig` and never reads the settings."""

from __future__ import annotations

from mytrader.adapters.store.connection import StoreConfig
from mytrader.adapters.store.db import ArenaStore
from mytrader.adapters.store.reads import ArenaReader
from mytrader.config import Settings


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(
        home=settings.mytrader_home.expanduser(),
        database_url=settings.postgres_url,
        timeout_s=settings.database_timeout_s,
    )


def open_store(settings: Settings) -> ArenaStore:
    """The arena's tables (created or upgraded as needed): PostgreSQL when DATABASE_URL
    is set, else `<MYTRADER_HOME>/arena.sqlite`."""
    return ArenaStore.open(store_config(settings))


def open_reader(settings: Settings) -> ArenaReader:
    """The dashboard's read-only view of the same tables."""
    return ArenaReader.open(store_config(settings))
