"""The LangGraph internals mytrader uses (mytrader/graph/compat.py): each test fails
loudly when a LangGraph release moves or reshapes one of them."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from mytrader.graph import compat
from mytrader.graph.inline import inline_submit


class S(TypedDict, total=False):
    n: int
    seen: Annotated[list[int], operator.add]


def counter() -> Any:
    b = StateGraph(S)
    b.add_node("step", lambda s: {"n": (s.get("n") or 0) + 1, "seen": [1]})
    b.add_edge(START, "step")
    b.add_edge("step", END)
    return b


def test_the_runner_submit_hook_is_langgraphs_private_constant() -> None:
    from langgraph._internal._constants import CONFIG_KEY_RUNNER_SUBMIT

    assert compat.CONFIG_KEY_RUNNER_SUBMIT == CONFIG_KEY_RUNNER_SUBMIT


def test_the_runner_submit_hook_is_called() -> None:
    calls: list[str] = []

    def submit() -> Any:
        def run(fn: Any, *args: Any, **kw: Any) -> Any:
            calls.append(getattr(fn, "__name__", "?"))
            return inline_submit()(fn, *args, **kw)

        return run

    b = StateGraph(S)  # two branches in one step: LangGraph submits them to its runner
    b.add_node("a", lambda s: {"seen": [1]})
    b.add_node("b", lambda s: {"seen": [2]})
    b.add_edge(START, "a")
    b.add_edge(START, "b")
    graph = b.compile()
    config: Any = {"configurable": {compat.CONFIG_KEY_RUNNER_SUBMIT: submit}}
    assert sorted(graph.invoke({}, config)["seen"]) == [1, 2]
    assert calls, "LangGraph no longer asks the runner's submit hook: inline turns are off"


def test_checkpoint_values_reads_a_stored_checkpoint() -> None:
    saver = InMemorySaver()
    graph = counter().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "t"}}
    graph.invoke({}, config)
    graph.invoke({}, config)
    found = saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}})
    assert compat.checkpoint_values(found) == {"n": 2, "seen": [1, 1]}
    assert compat.checkpoint_values(None) == {}


def test_keep_latest_prunes_in_memory_storage_and_the_thread_goes_on() -> None:
    saver = InMemorySaver()
    graph = counter().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "t"}}
    for _ in range(3):
        graph.invoke({}, config)
    assert len(saver.storage["t"][""]) > 1
    compat.keep_latest(saver, "t")
    assert len(saver.storage["t"][""]) == 1
    assert not [w for w in saver.writes if w[0] == "t"]
    assert graph.invoke({}, config)["n"] == 4
