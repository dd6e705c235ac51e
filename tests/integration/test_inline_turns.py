"""House models' turns run one after another in the calling thread (graph/inline.py);
models that wait on the network keep LangGraph's threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from mytrader.adapters.llm.house import HouseModel
from mytrader.app.runner import open_arena
from mytrader.config import Settings


class ThreadNoting(HouseModel):
    """A house model that notes the thread of every call."""

    threads: list[int] = []

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.threads.append(threading.get_ident())
        return super()._generate(messages, *args, **kwargs)


@pytest.mark.parametrize("inline", [None, False])
def test_house_turns_run_in_the_calling_thread_unless_told_otherwise(tmp_path, inline):
    settings = Settings(_env_file=None, mytrader_home=tmp_path)  # type: ignore[call-arg]
    models = {p: ThreadNoting(persona=p, threads=[]) for p in settings.personas}
    with open_arena(settings, models=models) as arena:
        if inline is not None:
            arena.inline_turns = inline
        for _ in range(3):
            assert arena.run_cycle().status == "trading"
    seen = {t for m in models.values() for t in m.threads}
    assert sum(len(m.threads) for m in models.values()) >= 9  # three turns a cycle
    me = threading.get_ident()
    if inline is None:  # house models only: decided from the settings
        assert seen == {me}
    else:
        assert me not in seen


def test_a_network_model_keeps_langgraphs_threads(tmp_path):
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, mytrader_home=tmp_path, grok_llm="openrouter", openrouter_api_key="k"
    )
    with open_arena(settings, models={p: HouseModel(persona=p) for p in settings.personas}) as a:
        assert not a.inline_turns
