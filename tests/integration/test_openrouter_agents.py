"""The personas on real chat models: langchain-openai's ChatOpenAI over HTTP against the
local OpenAI-compatible server (tests/servers/openai_server.py), in process.

The real client, the openai SDK's timeouts and retries, the agents' tool loop, the
decision parser and its repair turn, the store and the leaderboard all run for real; only
the model is scripted. Whatever one model does (time out, fail, answer garbage, loop on
tools), the cycle completes, that agent HOLDs with the reason in agent_logs, and the
others trade.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from mytrader.adapters.llm.openrouter import OPENROUTER_HEADERS
from mytrader.adapters.store.db import ArenaStore
from mytrader.app.runner import CycleSummary, open_arena
from mytrader.app.storage import open_store
from mytrader.cli import main as cli
from mytrader.config import PERSONAS, Settings
from mytrader.prompts import CRITIQUE_MARKER, extract_payload
from mytrader.tools import TOOL_NAMES
from tests.helpers import make_settings
from tests.servers import ChatServer, RecordedRequest, Reply, ToolCall
from tests.servers.openai_server import Responder

API_KEY = "sk-or-test-SECRET"
MODEL = {p: make_settings().model_for(p) for p in PERSONAS}
CRITIQUE_TEXT = "I bought what everyone bought.\nADJUSTMENT: more_selective"
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

Json = dict[str, Any]


# --- the scripted models ------------------------------------------------------------------


def prompt_of(request: Json) -> str:
    return "\n".join(
        m["content"] for m in request.get("messages", []) if isinstance(m.get("content"), str)
    )


def payload_of(request: Json) -> Json:
    """The facts block of the decision prompt (the first ```json block of the chat)."""
    payload = extract_payload(prompt_of(request))
    assert payload is not None, "the prompt has no ```json facts block"
    return payload


def first_buy(request: Json, most: int = 2) -> Json:
    """BUY the first symbol the prompt shows, 1..max_buy_qty shares (at most `most`)."""
    payload = payload_of(request)
    symbol = next(iter(payload["market"]["symbols"]))
    qty = min(most, payload["max_buy_qty"][symbol])
    assert qty >= 1, f"cannot afford {symbol}: {payload['max_buy_qty']}"
    return {
        "decision": "BUY",
        "symbol": symbol,
        "quantity": qty,
        "reasoning": f"{symbol} is the first name shown",
        "confidence": 70,
    }


def trader(
    *,
    delay: float = 0.0,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    cost: float | None = None,
) -> Callable[[Json], Reply]:
    """A model that critiques in plain text and otherwise BUYs the first shown symbol."""

    def answer(request: Json) -> Reply:
        usage: Json = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost": cost,
        }
        if CRITIQUE_MARKER in prompt_of(request):
            return Reply.text(CRITIQUE_TEXT, delay=delay, **usage)
        return Reply.json(first_buy(request), delay=delay, **usage)

    return answer


def hold(request: Json) -> Reply:
    return Reply.json({"decision": "HOLD", "reasoning": "nothing to do", "confidence": 40})


def quote_first_symbol(request: Json) -> Reply:
    symbol = next(iter(payload_of(request)["market"]["symbols"]))
    return Reply.tool_call("get_quote", {"symbol": symbol})


# --- fixtures and checks ------------------------------------------------------------------


def assert_tool_protocol(request: RecordedRequest) -> None:
    """What the real API enforces and the local server does not: every assistant tool
    call is answered by one tool message with its id, right after it."""
    messages = request.messages
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        ids = sorted(call["id"] for call in message["tool_calls"])
        answered = []
        for following in messages[i + 1 :]:
            if following.get("role") != "tool":
                break
            answered.append(following["tool_call_id"])
        assert sorted(answered) == ids, f"tool calls {ids} answered by {answered}"


@pytest.fixture
def srv() -> Iterator[ChatServer]:
    """The model endpoint; unscripted requests get the trader's answer."""
    with ChatServer(default=trader()) as server:
        yield server
        assert server.errors == []
        for request in server.chat_requests:
            assert_tool_protocol(request)


def arena_settings(backend: dict[str, Any], srv: ChatServer, **overrides: Any) -> Settings:
    return make_settings(
        **{
            **backend,
            "openrouter_api_key": API_KEY,
            "openrouter_base_url": srv.base_url,
            "llm_max_retries": 0,
            "llm_timeout_s": 5.0,
            **overrides,
        }
    )


def run_cycles(settings: Settings, n: int = 1) -> list[CycleSummary]:
    with open_arena(settings) as arena:
        return [arena.run_cycle() for _ in range(n)]


def decision_log(store: ArenaStore, settings: Settings, agent: str) -> list[Json]:
    rows = store.agent_logs(settings.arena_id, agent=agent, kind="DECISION")
    return [json.loads(r.content) for r in rows]


def filled(store: ArenaStore, settings: Settings, account: str) -> list[Any]:
    return store.trades(settings.arena_id, account=account, status="filled")


def placed(store: ArenaStore, settings: Settings, account: str) -> list[Any]:
    """Decision orders at the broker: pending until the next cycle books their fills (the
    protective stop/take-profit orders of earlier buys are pending too, until triggered)."""
    rows = store.trades(settings.arena_id, account=account, status="pending")
    return [t for t in rows if t.purpose == "decision"]


def assert_traded(summary: CycleSummary, store: ArenaStore, settings: Settings, agent: str) -> None:
    result = summary.decisions[agent]
    assert result.error is None, result.error
    assert result.decision.decision == "BUY"
    orders = [o for o in summary.orders if o.account == agent and o.purpose == "decision"]
    assert [o.status for o in orders] == ["pending"], orders  # placed; booked next cycle
    assert placed(store, settings, agent)


def assert_held_because(
    summary: CycleSummary, store: ArenaStore, settings: Settings, agent: str, reason: str
) -> None:
    result = summary.decisions[agent]
    assert result.decision.decision == "HOLD"
    assert result.error is not None and reason in result.error, result.error
    assert reason in result.decision.reasoning
    assert not [o for o in summary.orders if o.account == agent]
    (logged,) = decision_log(store, settings, agent)
    assert logged["decision"]["decision"] == "HOLD"
    assert reason in logged["error"]


# --- (a) the three personas on their models -----------------------------------------------


@SQLITE
def test_three_personas_trade_on_their_own_models_in_parallel(backend, srv, store):
    srv.set_default(trader(delay=1.0))  # long enough that a slow thread start still overlaps
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)

    assert summary.status == "trading" and summary.cycle == 1
    for persona in PERSONAS:
        assert_traded(summary, store, settings, persona)
        (request,) = srv.requests_for(MODEL[persona])
        assert request.path == "/api/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.headers["http-referer"] == OPENROUTER_HEADERS["HTTP-Referer"]
        assert request.headers["x-title"] == OPENROUTER_HEADERS["X-Title"]
        assert float(request.headers["x-stainless-read-timeout"]) == settings.llm_timeout_s
        body = request.body
        assert body["temperature"] == 0.7
        assert body["stream"] is False
        assert [t["function"]["name"] for t in body["tools"]] == list(TOOL_NAMES)
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert payload_of(body)["agent"] == persona  # each persona's prompt on its own model
        (logged,) = decision_log(store, settings, persona)
        assert logged["decision"]["decision"] == "BUY" and logged["error"] is None
        (thought,) = store.agent_logs(settings.arena_id, agent=persona, kind="THOUGHT")
        assert json.loads(thought.content) == first_buy(body)
    assert len(srv.chat_requests) == len(PERSONAS)
    assert summary.vote is not None and summary.vote.decision.decision == "BUY"
    assert placed(store, settings, "collaborative")

    # the three 0.3 s answers were all in flight at once
    requests = srv.chat_requests
    assert max(r.received_monotonic for r in requests) < min(
        r.responded_monotonic or 0.0 for r in requests
    )
    logs = store.agent_logs(settings.arena_id)
    assert logs and not any(API_KEY in row.content for row in logs)


@SQLITE
def test_buying_max_buy_qty_passes_the_risk_gate(backend, srv, store):
    """max_buy_qty is what the risk gate lets through, cash checked at the BUY limit price
    (no position cap here, so cash is the bound)."""

    def all_in(request: Json) -> Reply:
        payload = payload_of(request)
        symbol = next(iter(payload["market"]["symbols"]))
        order = {**first_buy(request), "quantity": payload["max_buy_qty"][symbol]}
        return Reply.json(order)

    srv.set_default(all_in)
    settings = arena_settings(backend, srv, max_position_pct=0)
    (summary,) = run_cycles(settings)
    for persona in PERSONAS:
        assert_traded(summary, store, settings, persona)


# --- (b) tools ----------------------------------------------------------------------------


@SQLITE
def test_tool_call_round_trip(backend, srv, store):
    grok = MODEL["grok"]

    def quote_and_try_to_trade(request: Json) -> Reply:
        symbol = next(iter(payload_of(request)["market"]["symbols"]))
        return Reply.tool_calls_reply(
            [
                ToolCall("get_quote", {"symbol": symbol}, id="call_quote"),
                ToolCall("place_order", {"symbol": symbol, "qty": 5}, id="call_order"),
            ]
        )

    srv.script(grok, [quote_and_try_to_trade, trader()])
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)

    first, second = srv.requests_for(grok)
    payload = payload_of(first.body)
    symbol = next(iter(payload["market"]["symbols"]))
    *_, call, quote, refusal = second.messages
    assert call["role"] == "assistant"
    assert [c["function"]["name"] for c in call["tool_calls"]] == ["get_quote", "place_order"]
    assert quote == {"role": "tool", "tool_call_id": "call_quote", "content": quote["content"]}
    result = json.loads(quote["content"])
    assert result["symbol"] == symbol
    assert Decimal(result["close"]) == Decimal(payload["market"]["symbols"][symbol]["price"])
    assert result["session"] <= payload["as_of"]  # nothing after the decision's now
    assert refusal["tool_call_id"] == "call_order"
    assert "unknown tool place_order" in json.loads(refusal["content"])["error"]
    for persona in PERSONAS:
        assert_traded(summary, store, settings, persona)
    assert store.usage(settings.arena_id)["grok"].calls == 2
    thoughts = [r.content for r in store.agent_logs(settings.arena_id, "grok", "THOUGHT")]
    assert thoughts[0].startswith(f'tool get_quote({{"symbol": "{symbol}"}}) -> {{')
    assert thoughts[1].startswith('tool place_order({"qty": 5, ') and "unknown tool" in thoughts[1]
    srv.assert_exhausted()


@SQLITE
def test_malformed_tool_arguments_get_an_error_result(backend, srv, store):
    grok = MODEL["grok"]
    broken = Reply.tool_calls_reply([ToolCall("get_bars", '{"symbol": ', id="call_bad")])
    srv.script(grok, [broken, trader()])
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)

    _, second = srv.requests_for(grok)
    *_, call, answer = second.messages
    assert call["tool_calls"][0]["id"] == "call_bad"
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_bad"
    assert "bad arguments for get_bars" in json.loads(answer["content"])["error"]
    assert_traded(summary, store, settings, "grok")
    srv.assert_exhausted()


@SQLITE
def test_the_repair_turn_keeps_the_tool_exchange(backend, srv, store):
    grok = MODEL["grok"]
    srv.script(grok, [quote_first_symbol, Reply.invalid_json(), trader()])
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)

    assert_traded(summary, store, settings, "grok")
    *_, repair_request = srv.requests_for(grok)
    roles = [m["role"] for m in repair_request.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert "could not be used" in repair_request.messages[-1]["content"]
    srv.assert_exhausted()


# --- (c) one agent fails, the others trade ------------------------------------------------


@dataclass(frozen=True)
class Fault:
    persona: str
    replies: list[Responder]
    reason: str  # in the HOLD's error and in agent_logs
    requests: int  # chat requests the failing persona sends
    settings: Json = field(default_factory=dict)
    repair_shows: str | None = None  # the first error, shown in the repair turn


def _wrong_quantity(request: Json) -> Reply:
    return Reply.json({**first_buy(request), "quantity": "lots"})


FAULTS = {
    "timeout": Fault(
        "grok",
        [Reply.text("too late").delayed(3.0)],
        "TimeoutError: Request timed out",
        1,
        {"llm_timeout_s": 0.5},
    ),
    "http_500": Fault(
        "deepseek", [Reply.server_error(500)], "model error: OpenAIAPIError: Error code: 500", 1
    ),
    "http_429_after_retries": Fault(
        "openai",
        [Reply.rate_limited(retry_after_ms=1)] * 3,
        "RateLimitError: Error code: 429",
        3,
        {"llm_max_retries": 2},
    ),
    "html_body": Fault(
        "grok",
        [Reply.raw("<html><body>Bad gateway</body></html>", content_type="text/html")],
        "model error:",
        1,
    ),
    "invalid_json_twice": Fault(
        "deepseek",
        [Reply.invalid_json(), Reply.invalid_json('{"decision": "BUY", "symbol": ')],
        'invalid answer after repair: no JSON object with a "decision" key',
        2,
        repair_shows='no JSON object with a "decision" key found in the answer',
    ),
    "wrong_schema": Fault(
        "openai",
        [Reply.wrong_schema(), _wrong_quantity],
        'invalid answer after repair: quantity must be a positive whole number, got "lots"',
        2,
        repair_shows='no JSON object with a "decision" key found in the answer',
    ),
    "empty_answer": Fault(
        "grok",
        [Reply(content=None), Reply.text("")],
        "invalid answer after repair: empty answer",
        2,
        repair_shows="empty answer",
    ),
    "unknown_symbol": Fault(
        "deepseek",
        [
            Reply.json({"decision": "BUY", "symbol": "ZZZZ", "quantity": 1, "confidence": 90}),
            Reply.json({"decision": "BUY", "symbol": "ZZZZ", "quantity": 1, "confidence": 95}),
        ],
        "invalid answer after repair: unknown symbol 'ZZZZ'",
        2,
        repair_shows="unknown symbol 'ZZZZ': not among the symbols shown",
    ),
    "runaway_tool_loop": Fault(
        "openai",
        [quote_first_symbol] * 3,
        "tool loop exceeded 2 rounds",
        3,  # max_tool_rounds + 1
        {"max_tool_rounds": 2},
    ),
}


@SQLITE
@pytest.mark.parametrize("fault", FAULTS.values(), ids=list(FAULTS))
def test_one_failing_agent_holds_and_the_others_trade(backend, srv, store, fault: Fault):
    model = MODEL[fault.persona]
    srv.script(model, fault.replies)
    settings = arena_settings(backend, srv, **fault.settings)
    (summary,) = run_cycles(settings)

    assert summary.status == "trading" and summary.cycle == 1
    assert_held_because(summary, store, settings, fault.persona, fault.reason)
    for persona in PERSONAS:
        if persona != fault.persona:
            assert_traded(summary, store, settings, persona)
    requests = srv.requests_for(model)
    assert len(requests) == fault.requests
    assert srv.pending(model) == 0
    if fault.repair_shows is not None:
        *_, bad_answer, repair = requests[-1].messages
        assert bad_answer["role"] == "assistant"
        assert repair["role"] == "user"
        assert f"could not be used: {fault.repair_shows}" in repair["content"]
    if fault.settings.get("llm_max_retries"):
        retries = [r.headers["x-stainless-retry-count"] for r in requests]
        assert retries == [str(i) for i in range(fault.requests)]


@SQLITE
def test_think_block_fence_and_prose_parse_without_repair(backend, srv, store):
    grok = MODEL["grok"]

    def chatty(request: Json) -> Reply:
        order = first_buy(request)
        decoy = json.dumps({"decision": "SELL", "symbol": order["symbol"], "quantity": 9})
        answer = (
            "Sure! After weighing it all, here is my call:\n\n"
            f"```json\n{json.dumps(order, indent=2)}\n```\n\nLet me know if you need more."
        )
        return Reply.think(f"Maybe {decoy}? No: the crowd is wrong today.", answer)

    srv.script(grok, [chatty])
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)

    assert_traded(summary, store, settings, "grok")
    (request,) = srv.requests_for(grok)
    assert summary.decisions["grok"].decision.model_dump(exclude={"reasoning"}) == {
        "decision": "BUY",
        "symbol": first_buy(request.body)["symbol"],
        "quantity": first_buy(request.body)["quantity"],
        "confidence": 70,
    }
    (thought,) = store.agent_logs(settings.arena_id, agent="grok", kind="THOUGHT")
    assert "<think>" in thought.content  # the raw answer is kept for the reader


@SQLITE
def test_rate_limit_and_5xx_are_retried_then_trade(backend, srv, store):
    deepseek = MODEL["deepseek"]
    srv.script(
        deepseek,
        [Reply.rate_limited(retry_after_ms=1), Reply.error(503, retry_after_ms=1), trader()],
    )
    settings = arena_settings(backend, srv, llm_max_retries=2)
    (summary,) = run_cycles(settings)

    assert_traded(summary, store, settings, "deepseek")
    requests = srv.requests_for(deepseek)
    assert [r.status for r in requests] == [429, 503, 200]
    assert [r.headers["x-stainless-retry-count"] for r in requests] == ["0", "1", "2"]
    assert store.usage(settings.arena_id)["deepseek"].calls == 1  # one answer, billed once


@SQLITE
def test_a_broken_turn_outside_the_model_still_ends_in_a_hold(backend, srv, store):
    settings = arena_settings(backend, srv)
    with open_arena(settings) as arena:
        make_tools = arena.services.tools
        assert make_tools is not None

        def tools(agent: str, as_of: str, book: Any) -> list[Any]:
            if agent == "openai":
                raise RuntimeError("market data feed is down")
            return make_tools(agent, as_of, book)

        arena.services.tools = tools
        summary = arena.run_cycle()
    reason = "agent turn failed: RuntimeError: market data feed is down"
    assert_held_because(summary, store, settings, "openai", reason)
    assert srv.requests_for(MODEL["openai"]) == []
    for persona in ("grok", "deepseek"):
        assert_traded(summary, store, settings, persona)


# --- (d) usage and cost -------------------------------------------------------------------


def test_usage_and_cost_reach_the_store_and_the_leaderboard(backend, srv, monkeypatch, tmp_path):
    grok, deepseek, openai = (MODEL[p] for p in PERSONAS)
    for _ in range(2):  # two cycles
        srv.script(
            grok,
            [
                Reply.tool_call(
                    "get_my_book", prompt_tokens=1000, completion_tokens=20, cost=0.0002
                ),
                trader(prompt_tokens=1200, completion_tokens=40, cost=0.0013),
            ],
        )
        srv.script(deepseek, [trader(prompt_tokens=321, completion_tokens=45, cost=0.00042)])
        srv.script(openai, [trader(prompt_tokens=77, completion_tokens=9)])  # no cost reported
    settings = arena_settings(backend, srv)
    run_cycles(settings, 2)
    srv.assert_exhausted()

    expected = {
        "grok": (4, 4400, 120, Decimal("0.003")),
        "deepseek": (2, 642, 90, Decimal("0.00084")),
        "openai": (2, 154, 18, Decimal("0")),
        "collaborative": (0, 0, 0, Decimal("0")),
    }
    with open_store(settings) as store:
        usage = store.usage(settings.arena_id)
    assert set(usage) == set(PERSONAS)
    for persona in PERSONAS:
        u = usage[persona]
        assert (u.calls, u.tokens_in, u.tokens_out, u.cost_usd) == expected[persona]
        assert u.model == MODEL[persona]

    # `mytrader leaderboard --json`, reading the same database from the environment
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("MYTRADER_HOME", str(settings.mytrader_home))
    if settings.postgres_url:
        monkeypatch.setenv("DATABASE_URL", settings.postgres_url)
    out = CliRunner().invoke(cli.app, ["leaderboard", "--json"])
    assert out.exit_code == 0, out.output
    rows = {row["account"]: row for row in json.loads(out.stdout)}
    assert set(rows) == set(expected)
    for account, (calls, tokens_in, tokens_out, cost) in expected.items():
        row = rows[account]
        assert (row["llm_calls"], row["tokens_in"], row["tokens_out"]) == (
            calls,
            tokens_in,
            tokens_out,
        )
        assert Decimal(row["llm_cost_usd"]) == cost


@SQLITE
def test_an_unreadable_cost_is_not_a_failure(backend, srv, store):
    def junk_cost(request: Json) -> Reply:
        return Reply.json(first_buy(request)).with_extra(
            usage={"prompt_tokens": 7, "completion_tokens": 3, "cost": "n/a"}
        )

    srv.script(MODEL["grok"], [junk_cost])
    settings = arena_settings(backend, srv)
    (summary,) = run_cycles(settings)
    assert_traded(summary, store, settings, "grok")
    usage = store.usage(settings.arena_id)["grok"]
    assert (usage.calls, usage.tokens_in, usage.tokens_out, usage.cost_usd) == (1, 7, 3, 0)


# --- (e) the daily budget -----------------------------------------------------------------


@SQLITE
def test_zero_budget_holds_the_paid_agent_without_a_request(backend, srv, store):
    settings = arena_settings(
        backend,
        srv,
        llm_daily_budget_usd=Decimal("0"),
        grok_llm="openrouter",
        deepseek_llm="house",
        openai_llm="house",
    )
    (summary,) = run_cycles(settings)

    assert srv.requests == []
    assert summary.status == "trading"
    assert_held_because(summary, store, settings, "grok", "daily LLM budget reached")
    for persona in ("deepseek", "openai"):  # house models cost nothing: no budget applies
        assert summary.decisions[persona].error is None


@SQLITE
def test_zero_budget_on_every_paid_agent_sends_nothing(backend, srv, store):
    settings = arena_settings(backend, srv, llm_daily_budget_usd=Decimal("0"))
    (summary,) = run_cycles(settings)
    assert srv.requests == []
    assert summary.status == "trading" and summary.vote is not None
    for persona in PERSONAS:
        assert_held_because(summary, store, settings, persona, "daily LLM budget reached")
    assert summary.orders == []


@SQLITE
def test_an_agent_that_spent_its_budget_today_holds_until_the_next_day(backend, srv, store):
    grok = MODEL["grok"]
    srv.script(grok, [trader(cost=0.02)])
    settings = arena_settings(backend, srv, llm_daily_budget_usd=Decimal("0.01"))
    with open_arena(settings) as arena:
        first = arena.run_cycle()
        assert_traded(first, store, settings, "grok")  # the budget is checked before a turn
        spend = arena.values()["spend"]
        assert spend["grok"] == {"day": first.as_of, "usd": "0.02"}
        # Offline, every cycle is a new trading day; live, several cycles share one.
        # Book today's spend on the next session, as a live arena would have it.
        today = arena.services.broker.next_session(first.as_of)
        assert today is not None
        arena.graph.update_state(
            arena.config, {"spend": {**spend, "grok": {**spend["grok"], "day": today}}}
        )
        before = len(srv.requests_for(grok))
        second = arena.run_cycle()
        assert second.as_of == today
        assert len(srv.requests_for(grok)) == before  # no call at all
        assert second.decisions["grok"].error == ("daily LLM budget reached: spent $0.02 of $0.01")
        for persona in ("deepseek", "openai"):
            assert_traded(second, store, settings, persona)
        third = arena.run_cycle()  # a new day: the budget is fresh
        assert third.decisions["grok"].error is None
        assert len(srv.requests_for(grok)) == before + 1
    rows = [r for r in decision_log(store, settings, "grok") if r["error"]]
    assert [r["error"] for r in rows] == ["daily LLM budget reached: spent $0.02 of $0.01"]


# --- (f) mixed house and OpenRouter -------------------------------------------------------


@SQLITE
def test_only_the_openrouter_persona_calls_the_server(backend, srv, store, monkeypatch):
    monkeypatch.setenv("GROK_LLM", "openrouter")
    monkeypatch.setenv("DEEPSEEK_LLM", "house")
    monkeypatch.setenv("OPENAI_LLM", "house")
    settings = arena_settings(backend, srv)
    assert [settings.llm_kind(p) for p in PERSONAS] == ["openrouter", "house", "house"]
    summaries = run_cycles(settings, 3)

    assert {r.model for r in srv.chat_requests} == {MODEL["grok"]}
    assert len(srv.chat_requests) == 3
    for summary in summaries:
        assert summary.decisions["grok"].model == MODEL["grok"]
        assert summary.decisions["deepseek"].model == "house/deepseek"
        assert summary.decisions["openai"].model == "house/openai"
        assert all(d.error is None for d in summary.decisions.values())
    # cycles 1 and 2's orders were booked at the next cycle's start; cycle 3's is pending
    assert len(filled(store, settings, "grok")) == 2
    assert len(placed(store, settings, "grok")) == 1


# --- (g) the critique, when due ------------------------------------------------------------


@SQLITE
def test_critique_is_sent_before_the_decision_when_due(backend, srv, store):
    srv.script(MODEL["deepseek"], [hold])  # deepseek does not trade in cycle 1
    settings = arena_settings(backend, srv, critique_interval=1)
    with open_arena(settings) as arena:
        first = arena.run_cycle()
        cycle1 = srv.chat_requests
        second = arena.run_cycle()
        cycle2 = srv.chat_requests[len(cycle1) :]

    assert first.decisions["deepseek"].decision.decision == "HOLD"
    assert not any(CRITIQUE_MARKER in r.prompt_text for r in cycle1)
    assert len(cycle1) == len(PERSONAS)  # no critique due yet
    due = ["grok", "openai"]  # one filled trade each, critique_interval=1
    assert len(cycle2) == len(PERSONAS) + len(due)
    for persona in PERSONAS:
        mine = [r for r in cycle2 if r.model == MODEL[persona]]
        kinds = ["critique" if CRITIQUE_MARKER in r.prompt_text else "decide" for r in mine]
        if persona in due:
            assert kinds == ["critique", "decide"]
            assert payload_of(mine[1].body)["last_critique"] == CRITIQUE_TEXT
            (note,) = store.agent_logs(settings.arena_id, agent=persona, kind="CRITIQUE")
            assert note.cycle == 2 and note.content == CRITIQUE_TEXT
        else:
            assert kinds == ["decide"]
            assert store.agent_logs(settings.arena_id, agent=persona, kind="CRITIQUE") == []
    for persona in PERSONAS:
        assert_traded(second, store, settings, persona)
    calls = {p: u.calls for p, u in store.usage(settings.arena_id).items()}
    assert calls == {"grok": 3, "deepseek": 2, "openai": 3}


@SQLITE
def test_a_failed_critique_keeps_the_turn_going(backend, srv, store):
    settings = arena_settings(backend, srv, critique_interval=1)
    with open_arena(settings) as arena:
        arena.run_cycle()
        srv.script(MODEL["grok"], [Reply.server_error(500), trader()])
        summary = arena.run_cycle()
    assert_traded(summary, store, settings, "grok")
    (note,) = store.agent_logs(settings.arena_id, agent="grok", kind="CRITIQUE")
    assert note.content.startswith("critique failed: OpenAIAPIError: Error code: 500")
    srv.assert_exhausted()


@SQLITE
def test_json_mode_asks_for_a_json_object(backend, srv, store):
    settings = arena_settings(
        backend,
        srv,
        llm_json_mode=True,
        grok_llm="openrouter",
        deepseek_llm="house",
        openai_llm="house",
    )
    (summary,) = run_cycles(settings)
    assert_traded(summary, store, settings, "grok")
    (request,) = srv.requests_for(MODEL["grok"])
    assert request.body["response_format"] == {"type": "json_object"}
    plain = arena_settings(
        backend,
        srv,
        arena_id="plain",
        grok_llm="openrouter",
        deepseek_llm="house",
        openai_llm="house",
    )
    run_cycles(plain)
    assert "response_format" not in srv.requests_for(MODEL["grok"])[-1].body
