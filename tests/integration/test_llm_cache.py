"""The LLM cache on each place it can live: a file of its own, or the tables' database
(SQLite or PostgreSQL, LLM_CACHE=database). An answer comes back as it was given; a run's
namespace keeps its answers to itself; two caches on one database see each other's."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration

from mytrader.backtest.cache import CACHE_FILE, open_llm_cache
from mytrader.config import Settings, load_settings

LLM = '{"model": "x-ai/grok-4.1-fast", "temperature": 0.7}'


def prompt(text: str) -> str:
    from langchain_core.load import dumps

    return dumps([HumanMessage(text)])


def answer(text: str) -> list[ChatGeneration]:
    return [ChatGeneration(message=AIMessage(content=text, id="run-1"))]


@pytest.fixture(params=["file", "database"])
def cache_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    return load_settings(**{**settings.model_dump(), "llm_cache": request.param}, _env_file=None)


def test_an_answer_comes_back_as_given_and_a_namespace_keeps_its_own(
    cache_settings: Settings,
) -> None:
    # Outside text as a model may send it: an escape sequence, a bidi control, non-ASCII.
    said = "BUY 10 NVDA \x1b[31m‮ café 🚀"
    cache = open_llm_cache(cache_settings)
    try:
        assert cache.lookup(prompt("hi"), LLM) is None
        cache.update(prompt("hi"), LLM, answer(said))
        got = cache.lookup(prompt("hi"), LLM)
        assert got is not None and got[0].message.content == said  # type: ignore[attr-defined]
        assert cache.lookup(prompt("hi"), LLM.replace("0.7", "0.2")) is None  # other params
        assert (cache.hits, cache.misses) == (1, 2)
    finally:
        cache.close()
    other = open_llm_cache(cache_settings, namespace="study:abc")
    same = open_llm_cache(cache_settings)  # a second process or machine on the same place
    try:
        assert other.lookup(prompt("hi"), LLM) is None
        again = same.lookup(prompt("hi"), LLM)
        assert again is not None and again[0].message.content == said  # type: ignore[attr-defined]
    finally:
        other.close()
        same.close()
    home = cache_settings.mytrader_home
    in_file = (home / CACHE_FILE).exists()
    assert in_file == (cache_settings.llm_cache == "file")


def test_an_explicit_file_wins_over_the_setting(cache_settings: Settings, tmp_path: Path) -> None:
    cache = open_llm_cache(cache_settings, file=tmp_path / "mine.sqlite")
    try:
        cache.update(prompt("x"), LLM, answer("HOLD"))
    finally:
        cache.close()
    assert (tmp_path / "mine.sqlite").stat().st_size > 0
    assert not (cache_settings.mytrader_home / CACHE_FILE).exists()
