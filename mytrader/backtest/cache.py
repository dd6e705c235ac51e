"""Which LLM cache a backtest's real models get (adapters/store/llm_cache.py), and giving
it to them: LLM_CACHE=file (default), a SQLite file under MYTRADER_HOME, one per machine;
LLM_CACHE=database, the tables' database, which a study's workers on every machine of a
cluster share through DATABASE_URL. `--cache FILE` names a file whatever the setting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel

from mytrader.adapters.store.llm_cache import LLMCache
from mytrader.app.storage import store_config
from mytrader.config import Settings

CACHE_FILE = "llm_cache.sqlite"  # under MYTRADER_HOME


def open_llm_cache(settings: Settings, file: Path | None = None, namespace: str = "") -> LLMCache:
    if file is None and settings.llm_cache == "database":
        return LLMCache.in_database(store_config(settings), namespace)
    return LLMCache.in_file(file or settings.mytrader_home / CACHE_FILE, namespace)


def with_cache(models: dict[str, BaseChatModel], cache: BaseCache, real: Sequence[str]) -> None:
    """Give the models of `real` personas the cache (house models are deterministic and
    free: they need none)."""
    for persona in real:
        models[persona] = models[persona].model_copy(update={"cache": cache})
