"""`langgraph dev` serves the same graph, offline; two cycles on one thread via the SDK."""

from __future__ import annotations

import pytest

from tests.servers.langgraph_dev import langgraph_dev


@pytest.fixture
def dev_server(tmp_path):
    with langgraph_dev(tmp_path) as url:
        yield url


@pytest.mark.slow
def test_studio_runs_two_cycles_on_one_thread(dev_server):
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=dev_server)
    thread = client.threads.create()
    first = client.runs.wait(thread["thread_id"], "mytrader", input={})
    assert first["cycle"] == 1, first
    assert set(first["decisions"]) == {"grok", "deepseek", "openai"}
    second = client.runs.wait(thread["thread_id"], "mytrader", input={})
    assert second["cycle"] == 2
    assert second["as_of"] > first["as_of"]
    assert client.threads.get_state(thread["thread_id"])["next"] == []
    graph = client.assistants.get_graph("mytrader")
    names = {n["id"] for n in graph["nodes"]}
    assert {"screener", "critique", "agent", "vote", "executor", "record"} <= names
