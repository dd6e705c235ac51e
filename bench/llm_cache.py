"""What the LLM cache costs per model call, in each place it can live: a lookup that misses,
the update after the answer, and a lookup that hits, with realistic requests (a persona's
prompt of ~6 KB and an answer with a tool call's worth of text).

    python bench/llm_cache.py [--calls 500] [--database-url postgresql://...]

Prints the median ms per call for LLM_CACHE=database on PostgreSQL (default: the local
server's `test` database; the bench writes under a namespace of its own and deletes exactly
its rows) against the baseline measured in the same run, LLM_CACHE=file (SQLite, WAL).
Both are to be set against a model's own latency (1-60 s a call).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration

from mytrader.adapters.store.connection import StoreConfig
from mytrader.adapters.store.llm_cache import LLMCache

LLM = '{"model": "deepseek/deepseek-v3.2", "temperature": 0.7, "tools": ["quote", "bars"]}'
SYSTEM = "You are DeepSeek, the chartist. " * 40
MARKET = "AAPL 2025-02-03 close 228.01 RSI 61.2 MACD 1.3 BB 221-233 vol 54M\n" * 60


def requests(n: int) -> list[str]:
    return [dumps([SystemMessage(SYSTEM), HumanMessage(f"day {i}\n{MARKET}")]) for i in range(n)]


ANSWER = [
    ChatGeneration(
        message=AIMessage(
            content='{"action": "BUY", "symbol": "AAPL", "confidence": 0.72, "reason": "'
            + "momentum above the upper band " * 10
            + '"}'
        )
    )
]


def per_call_ms(cache: LLMCache, prompts: list[str]) -> dict[str, float]:
    timings: dict[str, list[float]] = {"miss": [], "update": [], "hit": []}
    for p in prompts:
        t = time.perf_counter()
        assert cache.lookup(p, LLM) is None
        timings["miss"].append(time.perf_counter() - t)
        t = time.perf_counter()
        cache.update(p, LLM, ANSWER)
        timings["update"].append(time.perf_counter() - t)
    for p in prompts:
        t = time.perf_counter()
        assert cache.lookup(p, LLM) is not None
        timings["hit"].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1000 for k, v in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    prompts = requests(args.calls)
    namespace = f"bench:{secrets.token_hex(4)}"  # its own keys; nothing else is touched
    with tempfile.TemporaryDirectory() as home:
        file_cache = LLMCache.in_file(Path(home) / "llm_cache.sqlite", namespace)
        baseline = per_call_ms(file_cache, prompts)
        file_cache.close()
        config = StoreConfig(home=Path(home), database_url=args.database_url)
        db_cache = LLMCache.in_database(config, namespace)
        try:
            figure = per_call_ms(db_cache, prompts)
        finally:
            keys = [(db_cache._key(p, LLM),) for p in prompts]
            with db_cache._backend.transaction() as tx:  # the bench's own rows only
                tx.run_many("DELETE FROM llm_cache WHERE key = ?", keys)
            db_cache.close()
    print(f"{args.calls} calls, request {len(prompts[0]) / 1024:.1f} KB, median ms per call:")
    print(f"{'':28}{'miss':>8}{'update':>8}{'hit':>8}")
    print(f"{'LLM_CACHE=database (Postgres)':28}" + "".join(f"{figure[k]:8.2f}" for k in figure))
    print(f"{'LLM_CACHE=file (baseline)':28}" + "".join(f"{baseline[k]:8.2f}" for k in baseline))
    extra = sum(figure.values()) - sum(baseline.values())
    print(f"a call through PostgreSQL costs {extra:+.2f} ms against the file; a model takes 1-60 s")


if __name__ == "__main__":
    main()
