"""Each provider quirk through the real ChatOpenAI (our ProviderChat) over HTTP, against the
local OpenAI-compatible server set to behave like that provider (ChatServer quirks)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import openai
import pytest
from langchain_core.tools import tool
from pydantic import SecretStr

from mytrader.adapters.llm.provider import TOOLESS_NOTE, provider_model
from mytrader.graph.nodes.agent import UsageMeter, reasoning_of, text_of
from tests.servers import ChatServer, Reply

_models = itertools.count()


def model_on(srv: ChatServer, name: str = "", **kw: object) -> object:
    """A fresh model id per test: what a model refused is remembered per URL and model."""
    params: dict[str, object] = {
        "provider": "local",
        "model": name or f"m{next(_models)}",
        "base_url": srv.openai_base_url,
        "api_key": None,
        "temperature": 0.7,
        "timeout_s": 10,
        "max_retries": 0,
        "json_mode": False,
    }
    params.update(kw)
    return provider_model(**params)  # type: ignore[arg-type]


@tool
def get_quote(symbol: str) -> str:
    """The last price of a symbol."""
    return "1"


def test_a_refused_temperature_is_dropped_once_and_remembered():
    with ChatServer(default=Reply.text("ok"), quirks={"no_temperature"}) as srv:
        llm = model_on(srv, "o4-mini")
        assert llm.invoke("hi").content == "ok"  # type: ignore[attr-defined]
        assert llm.invoke("again").content == "ok"  # type: ignore[attr-defined]
        again = model_on(srv, "o4-mini")  # a new client of the same model: remembered too
        assert again.invoke("third").content == "ok"  # type: ignore[attr-defined]
        sent = [r.body.get("temperature") for r in srv.chat_requests]
        statuses = [r.status for r in srv.chat_requests]
    assert sent == [0.7, None, None, None]
    assert statuses == [400, 200, 200, 200]  # one 400, never a second one


def test_another_400_is_not_retried():
    with ChatServer(default=Reply.error(400, "context length exceeded")) as srv:
        with pytest.raises(openai.BadRequestError):
            model_on(srv).invoke("hi")  # type: ignore[attr-defined]
        assert len(srv.chat_requests) == 1


def test_a_model_refusing_tools_answers_without_them():
    with ChatServer(default=Reply.text('{"decision": "HOLD"}'), quirks={"no_tools"}) as srv:
        llm = model_on(srv, "gemma:2b").bind_tools([get_quote])  # type: ignore[attr-defined]
        assert "HOLD" in llm.invoke("decide").content
        assert "HOLD" in llm.invoke("decide again").content
        requests = srv.chat_requests
    assert [r.status for r in requests] == [400, 200, 200]
    assert "tools" in requests[0].body
    for request in requests[1:]:
        assert "tools" not in request.body and "tool_choice" not in request.body
        assert request.messages[-1]["content"] == TOOLESS_NOTE


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_the_reasoning_field_is_kept_apart_from_the_answer(field):
    decoy = '{"decision": "BUY", "symbol": "AAPL", "quantity": 5, "confidence": 90}'
    with ChatServer(default=Reply.thinking(f"maybe {decoy}", "", field=field)) as srv:
        answer = model_on(srv).invoke("decide")  # type: ignore[attr-defined]
    assert text_of(answer) == ""
    assert reasoning_of(answer) == f"maybe {decoy}"


def test_cost_from_the_provider_or_its_price_table_or_none():
    reply = Reply.text("ok", prompt_tokens=1_000_000, completion_tokens=500_000, cost=0.5)
    with (
        ChatServer(default=reply) as hosted,
        ChatServer(default=reply, quirks={"no_cost"}) as local,
    ):
        reported = model_on(hosted).invoke("hi")  # type: ignore[attr-defined]
        free = model_on(local).invoke("hi")  # type: ignore[attr-defined]
        prices = (Decimal("0.28"), Decimal("0.42"))
        priced = model_on(local, reports_cost=False, prices=prices).invoke("hi")  # type: ignore[attr-defined]
    costs = []
    for answer in (reported, free, priced):
        meter = UsageMeter("qwen", "m", provider="local")
        meter.add(answer)
        assert (meter.usage.tokens_in, meter.usage.tokens_out) == (1_000_000, 500_000)
        assert meter.usage.unmetered == 0
        costs.append(meter.usage.cost_usd)
    assert costs == [Decimal("0.5"), Decimal("0"), Decimal("0.28") + Decimal("0.21")]


def test_no_usage_at_all_is_unknown_not_a_crash():
    with ChatServer(default=Reply.text("ok"), quirks={"no_usage"}) as srv:
        answer = model_on(srv, prices=(Decimal(1), Decimal(1))).invoke("hi")  # type: ignore[attr-defined]
    meter = UsageMeter("qwen", "m", provider="local")
    meter.add(answer)
    assert meter.usage.calls == 1 and meter.usage.unmetered == 1
    assert (meter.usage.tokens_in, meter.usage.tokens_out, meter.usage.cost_usd) == (0, 0, 0)
    assert meter.usage.provider == "local"


def test_a_local_server_gets_no_real_key_and_a_hosted_one_its_own():
    with ChatServer(default=Reply.text("ok")) as srv:
        model_on(srv).invoke("hi")  # type: ignore[attr-defined]
        key = SecretStr("sk-vendor-own")
        model_on(srv, api_key=key, headers={"X-Team": "a"}).invoke("hi")  # type: ignore[attr-defined]
        first, second = srv.chat_requests
    assert first.headers["authorization"] == "Bearer no-key"
    assert second.headers["authorization"] == "Bearer sk-vendor-own"
    assert second.headers["x-team"] == "a"
