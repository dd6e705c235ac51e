"""A persistent LLM cache for backtests on real models: a rerun costs nothing and is identical.

It is LangChain's own model cache (`BaseCache`, set per model with `cache=`): the key is
the exact request — the serialized messages, and the model's `llm_string` (model id,
temperature and every other parameter, plus the bound tools) — and the value the
generations as LangChain serializes them (text, tool calls, token usage, cost). So a
changed prompt, tool or parameter is a miss, never a stale hit.

Why the model cache rather than LangGraph's node cache: a node's input holds the whole
market view and book, which a backtest changes every day anyway, and an agent turn makes
several calls (critique, tool rounds, repair); per-call keys reuse whatever repeats and
keep the graph unchanged. Why not langchain-community's SQLiteCache: the same two SQL
statements behind the same interface, without the SQLAlchemy dependency tree.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumps, loads


class SQLiteLLMCache(BaseCache):
    """(prompt, llm_string) -> generations, in one SQLite file; safe across threads.

    `namespace` keeps one run's answers to itself: a study's runs share the file, and two
    variants whose personas send the same request would otherwise share an answer when run
    one after another but not when run at once on two workers (both miss, both ask), so the
    result would depend on the scheduling. A backtest's namespace is "" (the file's keys
    before namespaces existed)."""

    def __init__(self, path: Path, namespace: str = "") -> None:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # A study's workers share the file: WAL lets them read while one writes, and a
        # writer waits up to 30 s for another's commit instead of failing "locked".
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS llm_cache ("
            " key TEXT PRIMARY KEY, prompt TEXT NOT NULL, llm TEXT NOT NULL, value TEXT NOT NULL)"
        )
        self._lock = threading.Lock()
        self._namespace = namespace
        self.hits = 0
        self.misses = 0

    def _key(self, prompt: str, llm_string: str) -> str:
        space = f"{self._namespace}\x00" if self._namespace else ""
        return hashlib.sha256(f"{space}{llm_string}\x00{_request(prompt)}".encode()).hexdigest()

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM llm_cache WHERE key = ?", (self._key(prompt, llm_string),)
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return list(loads(row[0], allowed_objects="core"))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        value = dumps(list(return_val))
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO llm_cache (key, prompt, llm, value) VALUES (?, ?, ?, ?)",
                (self._key(prompt, llm_string), prompt, llm_string, value),
            )

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM llm_cache")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# Message fields that never reach the model: LangChain zeroes `usage_metadata.total_cost`
# of a cached answer, so keying on them would make a replayed conversation miss.
_NOT_SENT = ("id", "response_metadata", "usage_metadata")


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


def with_cache(models: dict[str, BaseChatModel], cache: BaseCache, real: Sequence[str]) -> None:
    """Give the models of `real` personas the cache (house models are deterministic and
    free: they need none)."""
    for persona in real:
        models[persona] = models[persona].model_copy(update={"cache": cache})
