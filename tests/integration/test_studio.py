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


@pytest.mark.slow
def test_studio_shows_the_context_schema_and_a_run_overrides_a_field(dev_server):
    """The run's knobs are the graph's context_schema: Studio shows them with the
    server's settings as defaults, and a run overriding one field sees it take effect."""
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=dev_server)
    assistant = client.assistants.search(graph_id="mytrader")[0]
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    fields = schemas["context_schema"]["properties"]
    assert {"vote_mode", "vote_window", "critique_interval", "max_tool_rounds"} <= set(fields)
    assert {"stop_loss_pct", "fee_per_trade", "model_ids", "personas"} <= set(fields)
    assert fields["vote_mode"]["default"] == "majority"
    thread = client.threads.create()
    plain = client.runs.wait(thread["thread_id"], "mytrader", input={})
    assert plain["vote"]["mode"] == "majority"
    weighted = client.runs.wait(
        thread["thread_id"], "mytrader", input={}, context={"vote_mode": "weighted"}
    )
    assert weighted["vote"]["mode"] == "weighted", weighted["vote"]
