"""The local wire-protocol servers, proven with the real clients over HTTP.

``ChatOpenAI`` (langchain-openai) and the ``openai`` SDK talk to ``ChatServer``; the real
``langsmith.Client`` talks to ``TraceCollector``. Nothing here touches the network.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import langsmith
import openai
import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.servers.langsmith_collector import TraceCollector
from tests.servers.openai_server import ANY_MODEL, ChatServer, Reply, ToolCall

MODEL = "x/y"
HEADERS = {"HTTP-Referer": "https://example.test", "X-Title": "MyTrader"}


def _server_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith(("ChatServer:", "TraceCollector:"))
        or "process_request_thread" in t.name
    ]


def _assert_port_free(port: int) -> None:
    """Nothing listens on ``port`` any more (TIME_WAIT leftovers are fine)."""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))  # fails if a listening socket still holds it


@pytest.fixture(autouse=True)
def _no_ambient_tracing() -> Iterator[None]:
    """Whatever the environment says, nothing here may trace to a real LangSmith."""
    with langsmith.tracing_context(enabled=False):
        yield


@pytest.fixture
def srv() -> Iterator[ChatServer]:
    with ChatServer() as server:
        port = server.port
        yield server
    assert _server_threads() == []
    _assert_port_free(port)


@pytest.fixture
def col() -> Iterator[TraceCollector]:
    with TraceCollector() as collector:
        port = collector.port
        yield collector
    assert _server_threads() == []
    _assert_port_free(port)


def make_llm(srv: ChatServer, **kwargs: Any) -> ChatOpenAI:
    params: dict[str, Any] = {
        "model": MODEL,
        "base_url": srv.base_url,
        "api_key": "sk-test",
        "default_headers": HEADERS,
        "max_retries": 0,
        "timeout": 2,
    }
    params.update(kwargs)
    return ChatOpenAI(**params)


# -- OpenAI-compatible server ---------------------------------------------------------


def test_scripted_answer_headers_body_and_usage(srv: ChatServer) -> None:
    srv.script(
        MODEL, [Reply.text("hello trader", prompt_tokens=12, completion_tokens=3, cost=0.0021)]
    )

    msg = make_llm(srv).invoke("hi")

    assert isinstance(msg, AIMessage)
    assert msg.content == "hello trader"
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_tokens"] == 12
    assert msg.usage_metadata["output_tokens"] == 3
    assert msg.usage_metadata["total_tokens"] == 15
    # OpenRouter's usage.cost is not in usage_metadata, only in the raw token usage
    assert msg.response_metadata["token_usage"]["cost"] == 0.0021
    assert msg.response_metadata["finish_reason"] == "stop"

    (req,) = srv.requests_for(MODEL)
    assert req.path == "/api/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.headers["http-referer"] == "https://example.test"
    assert req.headers["x-title"] == "MyTrader"
    assert req.headers["content-type"] == "application/json"
    # what ChatOpenAI.invoke actually sends with a custom base_url
    assert req.body == {
        "model": MODEL,
        "stream": False,
        "messages": [{"content": "hi", "role": "user"}],
    }
    assert "stream_options" not in req.body
    srv.assert_exhausted()


def test_tool_call_reply_becomes_ai_message_tool_calls(srv: ChatServer) -> None:
    @tool
    def get_price(symbol: str) -> float:
        """Last trade price of a symbol."""
        return 1.0

    srv.script(
        MODEL,
        [
            Reply.tool_call("get_price", {"symbol": "AAPL"}, id="call_abc"),
            Reply.tool_calls_reply(
                [ToolCall("get_price", {"symbol": "MSFT"}), ToolCall("get_price", '{"symbol": ')]
            ),
        ],
    )
    llm = make_llm(srv).bind_tools([get_price])

    first = llm.invoke("price of AAPL?")
    assert isinstance(first, AIMessage)
    assert first.tool_calls == [
        {"name": "get_price", "args": {"symbol": "AAPL"}, "id": "call_abc", "type": "tool_call"}
    ]
    assert first.response_metadata["finish_reason"] == "tool_calls"

    second = llm.invoke("and MSFT?")
    assert isinstance(second, AIMessage)
    assert [c["args"] for c in second.tool_calls] == [{"symbol": "MSFT"}]
    assert [c["name"] for c in second.invalid_tool_calls] == ["get_price"]  # malformed args

    body = srv.requests_for(MODEL)[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_price",
                "description": "Last trade price of a symbol.",
                "parameters": {
                    "type": "object",
                    "properties": {"symbol": {"type": "string"}},
                    "required": ["symbol"],
                },
            },
        }
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.think("bull case is weak", "HOLD"), "<think>\nbull case is weak\n</think>\nHOLD"),
        (
            Reply.fenced_json({"action": "buy"}, prose="Here:"),
            'Here:\n\n```json\n{\n  "action": "buy"\n}\n```',
        ),
        (Reply.invalid_json(), '{"action": "buy", "qty": '),
        (Reply.wrong_schema(), '{"unexpected": true, "verdict": 42}'),
        (Reply.json({"action": "sell", "qty": 2}), '{"action": "sell", "qty": 2}'),
    ],
    ids=["think", "fenced", "invalid", "wrong-schema", "json"],
)
def test_content_kinds_arrive_verbatim(srv: ChatServer, reply: Reply, expected: str) -> None:
    srv.script(MODEL, [reply])
    assert make_llm(srv).invoke("decide").content == expected


def test_callable_default_and_wildcard_responders(srv: ChatServer) -> None:
    def by_prompt(request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        return Reply.text("BUY" if "bull" in prompt else "SELL")

    srv.script(MODEL, [by_prompt, by_prompt])
    srv.script(ANY_MODEL, ["wild"])
    srv.set_default(lambda request: f"default for {request['model']}")
    llm = make_llm(srv)

    assert llm.invoke("you are the bull").content == "BUY"
    assert llm.invoke("you are the bear").content == "SELL"
    assert make_llm(srv, model="other/m").invoke("?").content == "wild"
    assert make_llm(srv, model="other/m").invoke("?").content == "default for other/m"
    assert [r.model for r in srv.chat_requests] == [MODEL, MODEL, "other/m", "other/m"]
    assert srv.requests_for(MODEL)[1].prompt_text == "you are the bear"
    srv.assert_exhausted()


def test_unscripted_and_streaming_requests_fail_loudly(srv: ChatServer) -> None:
    with pytest.raises(openai.BadRequestError, match="no scripted reply"):
        make_llm(srv).invoke("hi")
    srv.script(MODEL, ["never used"])
    with pytest.raises(openai.BadRequestError, match="stream_not_supported"):
        list(make_llm(srv).stream("hi"))
    streamed = srv.requests[-1].body
    assert streamed["stream"] is True
    assert "stream_options" not in streamed  # stream_usage is off with a custom base_url
    assert len(srv.errors) == 2
    with pytest.raises(AssertionError, match="unused scripted replies"):
        srv.assert_exhausted()


def test_http_errors_map_to_openai_exceptions(srv: ChatServer) -> None:
    srv.script(
        MODEL, [Reply.server_error(500), Reply.rate_limited(retry_after=7), Reply.server_error(503)]
    )
    llm = make_llm(srv)

    with pytest.raises(openai.InternalServerError) as e500:
        llm.invoke("a")
    assert e500.value.status_code == 500

    with pytest.raises(openai.RateLimitError) as e429:
        llm.invoke("b")
    assert e429.value.response.headers["retry-after"] == "7"
    assert e429.value.body == {
        "message": "Rate limit exceeded",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }

    with pytest.raises(openai.InternalServerError) as e503:
        llm.invoke("c")
    assert e503.value.status_code == 503
    assert len(srv.chat_requests) == 3  # max_retries=0: no retries


def test_rate_limit_then_success_with_retries(srv: ChatServer) -> None:
    # openai honours retry-after-ms, then retry-after, only when 0 < value <= 120 s; a bare
    # "retry-after: 0" falls back to its 0.5 s * 2**n backoff (minus up to 25% jitter).
    # rate_limited() sends "retry-after: 0"; the extra 1 ms retry-after-ms keeps this fast.
    srv.script(
        MODEL,
        [
            Reply.rate_limited(retry_after_ms=1),
            Reply.error(503, retry_after_ms=1),
            Reply.text("finally"),
        ],
    )
    srv.script("x/z", [Reply.error(503, retry_after_ms=1)] * 2)

    assert make_llm(srv, max_retries=2).invoke("go").content == "finally"
    reqs = srv.requests_for(MODEL)
    assert [r.status for r in reqs] == [429, 503, 200]
    assert [r.headers["x-stainless-retry-count"] for r in reqs] == ["0", "1", "2"]

    with pytest.raises(openai.InternalServerError):  # retries exhausted
        make_llm(srv, model="x/z", max_retries=1).invoke("go")
    assert len(srv.requests_for("x/z")) == 2
    srv.assert_exhausted()


def test_delay_beyond_timeout_raises_timeout(srv: ChatServer) -> None:
    srv.script(MODEL, [Reply.text("too late").delayed(1.5)])
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        make_llm(srv, timeout=0.3).invoke("hurry")
    assert time.monotonic() - start < 1.5  # gave up before the answer could come
    # closing the server (fixture) interrupts the sleeping handler thread


def test_delayed_requests_are_served_in_parallel(srv: ChatServer) -> None:
    srv.script(MODEL, [Reply.text(f"r{i}").delayed(0.5) for i in range(3)])
    results = make_llm(srv).batch(["a", "b", "c"], config={"max_concurrency": 3})

    assert sorted(str(m.content) for m in results) == ["r0", "r1", "r2"]
    reqs = srv.requests_for(MODEL)
    last_in = max(r.received_monotonic for r in reqs)
    first_out = min(r.responded_monotonic or 0.0 for r in reqs)
    assert last_in < first_out  # all three were in flight at once


def test_plain_openai_sdk_on_v1_path(srv: ChatServer) -> None:
    srv.script("gpt-x", [Reply.text("plain", cost=0.5)])
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="sk-test", max_retries=0)
    try:
        completion = client.chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "hi"}]
        )
    finally:
        client.close()
    assert completion.choices[0].message.content == "plain"
    assert completion.usage is not None and completion.usage.total_tokens == 15
    assert srv.requests_for("gpt-x")[0].path == "/v1/chat/completions"


def test_close_interrupts_pending_delays_and_frees_the_port() -> None:
    before = len(threading.enumerate())
    server = ChatServer().start()
    port = server.port
    server.script(MODEL, [Reply.text("x").delayed(30)])
    llm = make_llm(server, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        llm.invoke("hi")
    start = time.monotonic()
    server.close()
    assert time.monotonic() - start < 10  # did not wait out the 30 s reply
    assert _server_threads() == []
    assert len(threading.enumerate()) <= before
    _assert_port_free(port)


# -- LangSmith collector --------------------------------------------------------------


@langsmith.traceable(name="child_a", tags=["child:a"], metadata={"leg": "a"})
def child_a(x: int) -> int:
    return x + 1


@langsmith.traceable(name="child_b", run_type="tool", tags=["child:b"], metadata={"leg": "b"})
def child_b(x: int) -> int:
    return x * 2


@langsmith.traceable(name="parent", tags=["parent"], metadata={"cycle": 7})
def parent(x: int) -> int:
    return child_a(x) + child_b(x)


@pytest.fixture
def ls_client(col: TraceCollector) -> Iterator[langsmith.Client]:
    client = langsmith.Client(api_url=col.url, api_key="ls-test")
    yield client
    client.close(timeout=5)


def _inc(x: int) -> int:
    return x + 1


def _trace_sample(client: langsmith.Client) -> None:
    with langsmith.tracing_context(enabled=True, client=client, project_name="t"):
        parent(3)
        RunnableLambda(_inc).invoke(
            1, config={"run_name": "x", "tags": ["runnable"], "metadata": {"persona": "bull"}}
        )
    client.flush()


def _check_sample_tree(col: TraceCollector) -> None:
    assert col.errors == []
    root = col.one("parent")
    assert root["parent_run_id"] is None
    assert root["trace_id"] == root["id"]
    assert root["tags"] == ["parent"]
    assert root["metadata"]["cycle"] == 7
    assert root["inputs"]["x"] == 3
    assert root["outputs"] == {"output": 10}
    assert root["start_time"] and root["end_time"]
    assert root["error"] is None

    kids = {r["name"]: r for r in col.children(root)}
    assert set(kids) == {"child_a", "child_b"}
    assert kids["child_a"]["run_type"] == "chain"
    assert kids["child_b"]["run_type"] == "tool"
    for name, leg in (("child_a", "a"), ("child_b", "b")):
        kid = kids[name]
        assert kid["trace_id"] == root["id"]
        # langsmith 0.14: a @traceable child inherits its @traceable parent's tags and metadata
        assert set(kid["tags"]) == {"parent", f"child:{leg}"}
        assert kid["metadata"]["leg"] == leg
        assert kid["metadata"]["cycle"] == 7
    assert kids["child_a"]["outputs"] == {"output": 4}

    runnable = col.one("x")
    assert runnable["parent_run_id"] is None
    assert runnable["tags"] == ["runnable"]
    assert runnable["metadata"]["persona"] == "bull"
    assert runnable["inputs"] == {"input": 1} and runnable["outputs"] == {"output": 2}
    assert {r["name"] for r in col.roots()} == {"parent", "x"}
    assert {r["session_name"] for r in col.runs()} == {"t"}


def test_langsmith_client_traces_to_collector(
    col: TraceCollector, ls_client: langsmith.Client
) -> None:
    _trace_sample(ls_client)
    _check_sample_tree(col)

    paths = [(r.method, r.path) for r in col.requests]
    assert paths[0] == ("GET", "/info")
    assert set(paths[1:]) == {("POST", "/runs/multipart")}
    for req in col.requests:
        assert req.headers["x-api-key"] == "ls-test"
        assert "content-encoding" not in req.headers  # compression is off
    assert col.parts()[0].name.startswith(("post.", "patch."))


@pytest.mark.parametrize("mode", ["zstd", "batch"])
def test_collector_handles_zstd_and_batch_ingestion(mode: str) -> None:
    with TraceCollector(compression=mode == "zstd", multipart=mode != "batch") as collector:
        client = langsmith.Client(api_url=collector.url, api_key="ls-test")
        if mode == "zstd":
            # The client's background thread reads /info and only then switches to zstd:
            # runs queued before that go out uncompressed. Wait for the switch.
            deadline = time.monotonic() + 5
            while client.compressed_traces is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert client.compressed_traces is not None
        try:
            _trace_sample(client)
        finally:
            client.close(timeout=5)
        _check_sample_tree(collector)
        ingest = [r for r in collector.requests if r.path != "/info"]
        if mode == "zstd":
            assert {r.headers.get("content-encoding") for r in ingest} == {"zstd"}
            assert all(r.raw != r.body for r in ingest)
        else:
            assert {r.path for r in ingest} == {"/runs/batch"}
    assert _server_threads() == []


@pytest.mark.parametrize("queued", [True, False], ids=["multipart", "direct"])
def test_post_then_patch_are_merged(
    col: TraceCollector, ls_client: langsmith.Client, queued: bool
) -> None:
    # With trace_id + dotted_order the client queues the run for /runs/multipart; without
    # them it sends POST /runs and PATCH /runs/<id> directly.
    run_id = uuid.uuid4()
    start = datetime.now(UTC)
    ids: dict[str, Any] = {}
    if queued:
        ids = {"trace_id": run_id, "dotted_order": f"{start:%Y%m%dT%H%M%S%f}Z{run_id}"}
    ls_client.create_run(
        "manual",
        inputs={"q": 1},
        run_type="llm",
        id=run_id,
        project_name="t",
        start_time=start,
        tags=["m"],
        extra={"metadata": {"stage": "start", "early": True}},
        **ids,
    )
    ls_client.flush()
    ls_client.update_run(
        run_id,
        outputs={"a": 2},
        error="boom",
        end_time=datetime.now(UTC),
        extra={"metadata": {"stage": "end"}},
        **ids,
    )
    ls_client.flush()

    assert col.errors == []
    run = col.run(str(run_id))
    assert run["_ops"] == ["post", "patch"]
    assert run["name"] == "manual" and run["run_type"] == "llm" and run["tags"] == ["m"]
    assert run["inputs"] == {"q": 1} and run["outputs"] == {"a": 2}
    assert run["error"] == "boom" and run["end_time"]
    assert run["metadata"]["stage"] == "end" and run["metadata"]["early"] is True
    ingest = [(r.method, r.path) for r in col.requests if r.path != "/info"]
    if queued:
        assert ingest == [("POST", "/runs/multipart")] * 2
    else:
        assert ingest == [("POST", "/runs"), ("PATCH", f"/runs/{run_id}")]


def test_secret_in_trace_is_found_by_body_scan(
    col: TraceCollector, ls_client: langsmith.Client
) -> None:
    secret = "sk-live-SECRET-" + uuid.uuid4().hex
    assert not col.contains(secret)
    with langsmith.tracing_context(enabled=True, client=ls_client, project_name="t"):
        parent(1)
        RunnableLambda(_inc).invoke(
            0, config={"run_name": "leaky", "metadata": {"api_key": secret}}
        )
    ls_client.flush()

    assert col.contains(secret)
    assert any(secret.encode() in body for body in col.raw_bodies())
    assert col.one("leaky")["metadata"]["api_key"] == secret
    assert not col.contains("ls-test")  # the API key travels only in the x-api-key header


def test_collector_accepts_gzip_json_and_rejects_garbage(col: TraceCollector) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy env
    run_id = str(uuid.uuid4())
    payload = {"post": [{"id": run_id, "name": "gz", "run_type": "chain", "inputs": {"a": 1}}]}
    req = urllib.request.Request(
        f"{col.url}/runs/batch",
        data=gzip.compress(json.dumps(payload).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        method="POST",
    )
    with opener.open(req, timeout=2) as resp:
        assert resp.status == 202
    assert col.run(run_id)["inputs"] == {"a": 1}
    assert col.contains('"name": "gz"')

    bad = urllib.request.Request(
        f"{col.url}/runs/multipart",
        data=b"not multipart",
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(bad, timeout=2)
    assert err.value.code == 400
    err.value.close()
    assert len(col.errors) == 1
