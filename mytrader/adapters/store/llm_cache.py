"""A persistent LLM cache for backtests on real models: a rerun costs nothing and is identical.

It is LangChain's own model cache (`BaseCache`, set per model with `cache=`): the key is
the exact request — the serialized messages, and the model's `llm_string` (model id,
temperature and every other parameter, plus the bound tools) — and the value the
generations as LangChain serializes them (text, tool calls, token usage, cost). So a
changed prompt, tool or parameter is a miss, never a stale hit.

Where it lives: a SQLite file of its own (one machine), or the tables' database, PostgreSQL
for a cluster, so every worker of a study on any machine reads and adds the same answers.
One table, the same queries on both (the store's backends and dialect).

Why the model cache rather than LangGraph's node cache: a node's input holds the whole
market view and book, which a backtest changes every day anyway, and an agent turn makes
several calls (critique, tool rounds, repair); per-call keys reuse whatever repeats and
keep the graph unchanged. Why not langchain-community's SQLiteCache: the same two SQL
statements behind the same interface, without the SQLAlchemy dependency tree.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.load import dumps, loads

from mytrader.adapters.store.connection import (
    Backend,
    SqliteBackend,
    StoreConfig,
    open_backend,
)
from mytrader.adapters.store.errors import mapped
from mytrader.adapters.store.migrations import SETUP_LOCK_KEY

_TABLE = (
    "CREATE TABLE IF NOT EXISTS llm_cache ("
    " key TEXT PRIMARY KEY, prompt TEXT NOT NULL, llm TEXT NOT NULL, value TEXT NOT NULL)"
)
_PUT = (
    "INSERT INTO llm_cache (key, prompt, llm, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# Message fields that never reach the model: LangChain zeroes `usage_metadata.total_cost`
# of a cached answer, so keying on them would make a replayed conversation miss.
_NOT_SENT = ("id", "response_metadata", "usage_metadata")


class LLMCache(BaseCache):
    """(prompt, llm_string) -> generations in the `llm_cache` table of `backend`; safe
    across threads (the backend serializes), processes and, on PostgreSQL, machines.

    `namespace` keeps one run's answers to itself: a study's runs share the table, and two
    variants whose personas send the same request would otherwise share an answer when run
    one after another but not when run at once on two workers (both miss, both ask), so the
    result would depend on the scheduling. A backtest's namespace is "" (the keys from
    before namespaces existed)."""

    def __init__(self, backend: Backend, namespace: str = "") -> None:
        self._backend = backend
        with backend.transaction() as tx:
            if tx.dialect.name == "postgres":  # concurrent CREATE ... IF NOT EXISTS collide
                tx.run("SELECT pg_advisory_xact_lock(?)", (SETUP_LOCK_KEY,))
            tx.run(_TABLE)
        self._namespace = namespace
        self.hits = 0
        self.misses = 0

    @classmethod
    def in_file(cls, path: Path, namespace: str = "") -> LLMCache:
        """A SQLite file of its own (WAL; a writer waits up to 30 s for another's commit)."""
        path = Path(path).expanduser()
        with mapped(str(path)):  # its folder a file, or not writable: StoreError
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls(SqliteBackend(path), namespace)

    @classmethod
    def in_database(cls, config: StoreConfig, namespace: str = "") -> LLMCache:
        """The tables' database: PostgreSQL at the URL, else the arena's SQLite file."""
        return cls(open_backend(config), namespace)

    def _key(self, prompt: str, llm_string: str) -> str:
        space = f"{self._namespace}\x00" if self._namespace else ""
        return hashlib.sha256(f"{space}{llm_string}\x00{_request(prompt)}".encode()).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        with self._backend.transaction(write=False) as tx:
            rows = tx.rows(
                "SELECT value FROM llm_cache WHERE key = ?", (self._key(prompt, llm_string),)
            )
        if not rows:
            self.misses += 1
            return None
        self.hits += 1
        return list(loads(rows[0]["value"], allowed_objects="core"))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        # ASCII JSON (LangChain's dumps escapes the rest): stored byte for byte, on both.
        value = dumps(list(return_val))
        with self._backend.transaction() as tx:
            tx.run(_PUT, (self._key(prompt, llm_string), prompt, llm_string, value))

    def clear(self, **kwargs: Any) -> None:
        with self._backend.transaction() as tx:
            tx.run("DELETE FROM llm_cache")

    def close(self) -> None:
        self._backend.close()


def _request(prompt: str) -> str:
    """The serialized messages without the fields that are not part of the request."""
    try:
        value = json.loads(prompt)
    except ValueError:
        return prompt

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in _NOT_SENT}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(value), sort_keys=True)
