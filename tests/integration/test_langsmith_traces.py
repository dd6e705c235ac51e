"""LangSmith traces of `mytrader run`, collected by the local LangSmith-compatible server.

The command runs in its own process with the real langsmith client, the three personas on
the local OpenAI-compatible server; the trace tree, the run names, tags and metadata a
reader searches by, and the absence of secrets are checked on what the collector got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mytrader.config import PERSONAS
from mytrader.prompts import CRITIQUE_MARKER, extract_payload
from tests.helpers import make_settings, run_cli
from tests.servers import ChatServer, Reply, TraceCollector

OPENROUTER_KEY = "sk-or-SECRET"
LANGSMITH_KEY = "ls-SECRET-key"
PROJECT = "mytrader-test"
MODEL = {p: make_settings().model_for(p) for p in PERSONAS}
NODES = ["agent", "agent", "agent", "executor", "record", "screener", "vote"]
CRITIQUES = ["critique", "critique", "critique"]  # cycle 2: every persona traded in cycle 1
Run = dict[str, Any]


def prompt_of(request: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in request["messages"] if isinstance(m["content"], str))


def first_symbol(request: dict[str, Any]) -> str:
    payload = extract_payload(prompt_of(request))
    assert payload is not None
    return next(iter(payload["market"]["symbols"]))


def model_answer(request: dict[str, Any]) -> Reply:
    if CRITIQUE_MARKER in prompt_of(request):
        return Reply.text("I follow the herd.\nADJUSTMENT: more_selective")
    order = {
        "decision": "BUY",
        "symbol": first_symbol(request),
        "quantity": 1,
        "reasoning": "first name shown",
        "confidence": 55,
    }
    return Reply.json(order)


def quote_first(request: dict[str, Any]) -> Reply:
    return Reply.tool_call("get_quote", {"symbol": first_symbol(request)})


def run_traced(tmp_path: Path, srv: ChatServer, col: TraceCollector, **env: str) -> str:
    """`mytrader run --cycles 2` with the collector as LangSmith endpoint; its stdout."""
    out = run_cli(
        ["run", "--cycles", "2"],
        {
            "MYTRADER_HOME": str(tmp_path / "home"),
            "OPENROUTER_API_KEY": OPENROUTER_KEY,
            "OPENROUTER_BASE_URL": srv.base_url,
            "LLM_MAX_RETRIES": "0",
            "CRITIQUE_INTERVAL": "1",
            "LANGSMITH_ENDPOINT": col.url,
            "LANGSMITH_API_KEY": LANGSMITH_KEY,
            "LANGSMITH_PROJECT": PROJECT,
            **env,
        },
        tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert OPENROUTER_KEY not in out.stdout + out.stderr
    assert LANGSMITH_KEY not in out.stdout + out.stderr
    return out.stdout


def names(runs: list[Run]) -> list[str]:
    return sorted(str(r["name"]) for r in runs)


def test_one_trace_per_cycle_named_tagged_and_without_secrets(tmp_path):
    with ChatServer(default=model_answer) as srv, TraceCollector() as col:
        srv.script(MODEL["grok"], [quote_first])  # grok reads a quote in cycle 1
        stdout = run_traced(tmp_path, srv, col, LANGSMITH_TRACING="true")
        assert "cycle 2" in stdout
        assert srv.errors == []
        col.wait_for(lambda runs: len([r for r in runs if r["end_time"]]) == len(runs) > 0)
        assert col.errors == []

        roots = col.roots()
        assert names(roots) == ["mytrader.cycle", "mytrader.cycle"]
        assert sorted(r["metadata"]["cycle"] for r in roots) == [1, 2]
        for root in roots:
            cycle = root["metadata"]["cycle"]
            assert root["metadata"]["thread_id"] == "arena"
            assert root["metadata"]["arena"] == "arena"
            assert root["session_name"] == PROJECT
            assert root["error"] is None
            nodes = col.children(root)
            assert names(nodes) == sorted(NODES + (CRITIQUES if cycle == 2 else []))
            # the critique is its own node; inside it a run named after the persona holds
            # the `<persona>.critique` call
            reviews = [t for n in nodes if n["name"] == "critique" for t in col.children(n)]
            assert names(reviews) == (sorted(PERSONAS) if cycle == 2 else [])
            for review in reviews:
                calls = [r["name"] for r in col.children(review) if r["run_type"] == "llm"]
                assert calls == [f"{review['name']}.critique"]
            branches = [n for n in nodes if n["name"] == "agent"]
            # inside each `agent` node, one run named after its persona holds the turn
            agents = [turn for b in branches for turn in col.children(b)]
            assert names(agents) == sorted(PERSONAS)
            for turn in agents:
                assert f"agent:{turn['name']}" in turn["tags"]
            llm_runs = [run for a in agents for run in col.children(a) if run["run_type"] == "llm"]
            expected = [f"{p}.analyze" for p in PERSONAS]
            if cycle == 1:
                expected.append("grok.analyze")  # the answer after the tool round
            assert names(llm_runs) == sorted(expected)
            reviewed = [r for t in reviews for r in col.children(t) if r["run_type"] == "llm"]
            for run in llm_runs + reviewed:
                agent, step = run["name"].split(".")
                assert {f"agent:{agent}", f"model:{MODEL[agent]}", step} <= set(run["tags"])
                meta = run["metadata"]
                assert meta["cycle"] == cycle and meta["thread_id"] == "arena"
                assert meta["agent"] == agent and meta["model"] == MODEL[agent]
                assert run["trace_id"] == root["id"]
                assert run["inputs"] and run["outputs"]  # prompt and answer are readable
            for review in reviews:  # a critique comes before its agent's decision
                turn = next(a for a in agents if a["name"] == review["name"])
                assert review["end_time"] <= turn["start_time"]

        tools = col.find("get_quote")
        assert len(tools) == 1
        (tool,) = tools
        assert tool["run_type"] == "tool"
        assert "agent:grok" in tool["tags"]
        assert tool["metadata"]["cycle"] == 1
        assert col.run(str(tool["parent_run_id"]))["name"] == "grok"

        assert not col.contains(OPENROUTER_KEY)
        assert not col.contains(LANGSMITH_KEY)
        ingest = [r for r in col.requests if r.path != "/info"]
        assert ingest and {r.headers.get("x-api-key") for r in ingest} == {LANGSMITH_KEY}
        assert all(OPENROUTER_KEY not in str(r.headers) for r in col.requests)


@pytest.mark.parametrize("tracing", [None, "false"], ids=["unset", "false"])
def test_tracing_off_sends_nothing(tmp_path, tracing: str | None):
    env = {} if tracing is None else {"LANGSMITH_TRACING": tracing}
    with ChatServer(default=model_answer) as srv, TraceCollector() as col:
        stdout = run_traced(tmp_path, srv, col, **env)
        assert "cycle 2" in stdout
        assert len(srv.chat_requests) == 3 + 3 + 3  # the models were used
        assert col.requests == []
