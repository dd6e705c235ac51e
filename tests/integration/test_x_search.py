"""`search_x` over real HTTP (httpx) against a local server speaking X API v2 recent
search: only posts published by the cycle's now, capped and short; rate limits and
refusals come back as errors the model can read; bound to Grok only, and only with a
token."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from mytrader.app.services import agent_tools
from mytrader.domain.book import Book
from mytrader.tools import XSearch
from mytrader.tools.x_search import MAX_POSTS, POST_CHARS, UNTRUSTED, decision_instant
from tests.helpers import make_settings
from tests.servers.x_server import Post, XServer

NOW = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)  # the real present, for X's 7-day window
AS_OF = "2026-03-05"  # a trading day: the decision is made at its close, 21:00 UTC (EST)


def post(i: int, at: str, text: str = "", user: str = "biotrader") -> Post:
    return Post(
        id=str(1000 + i),
        text=text or f"$MRNA post {i}",
        created_at=at,
        username=user,
        likes=i,
        reposts=2 * i,
    )


@pytest.fixture
def x():
    with XServer() as server:
        yield server


def client(server: XServer, token: str | None = None) -> XSearch:
    return XSearch(SecretStr(token or server.token), server.base_url, now=lambda: NOW)


def call(server: XServer, query: str = "$MRNA", limit: int = MAX_POSTS, **kw) -> dict:
    from mytrader.tools.x_search import make_x_search_tool

    tool = make_x_search_tool(client(server, **kw), AS_OF)
    return json.loads(tool.invoke({"query": query, "limit": limit}))


def test_decision_instant_is_the_us_close():
    assert decision_instant("2026-03-05") == datetime(2026, 3, 5, 21, 0, tzinfo=UTC)
    assert decision_instant("2026-07-01") == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # EDT
    assert decision_instant("2026-03-05T15:30:00Z") == datetime(2026, 3, 5, 15, 30, tzinfo=UTC)


def test_posts_come_back_short_capped_and_only_from_before_now(x):
    x.posts = [
        post(1, "2026-03-05T14:00:00.000Z", "  $MRNA\n\ntrial   results soon  "),
        post(2, "2026-03-05T20:59:59.000Z", user="fda_watch"),
        post(3, "2026-03-05T21:00:01.000Z", "$MRNA after the close: look-ahead"),
        post(4, "2026-03-06T10:00:00.000Z", "$MRNA tomorrow: look-ahead"),
        post(5, "2026-03-04T10:00:00.000Z", "$MRNA " + "long " * 200),
        post(6, "2026-03-04T09:00:00.000Z", "$AAPL unrelated"),
    ]
    out = call(x, limit=3)
    assert out["until"] == "2026-03-05T21:00:00Z"
    assert out["note"] == UNTRUSTED
    posts = out["posts"]
    assert [p["time"] for p in posts] == [
        "2026-03-05T20:59:59Z",
        "2026-03-05T14:00:00Z",
        "2026-03-04T10:00:00Z",
    ]
    assert posts[0] == {
        "author": "@fda_watch",
        "time": "2026-03-05T20:59:59Z",
        "text": "$MRNA post 2",
        "likes": 2,
        "reposts": 4,
        "replies": 0,
        "quotes": 0,
    }
    assert posts[1]["text"] == "$MRNA trial results soon"
    assert len(posts[2]["text"]) == POST_CHARS and posts[2]["text"].endswith("...")

    seen = x.requests[-1]
    assert seen.authorization == f"Bearer {x.token}"
    assert seen.params["end_time"] == "2026-03-05T21:00:00Z"
    assert seen.params["tweet.fields"] == "created_at,public_metrics,author_id"
    assert seen.params["expansions"] == "author_id"
    assert seen.params["max_results"] == "10"  # X's minimum; the cap is applied here


def test_a_leaky_server_cannot_hand_over_a_later_post(x):
    x.honour_end_time = False
    x.posts = [
        post(1, "2026-03-05T14:00:00.000Z"),
        post(2, "2026-03-05T21:00:01.000Z", "$MRNA one second too late"),
        post(3, "2026-03-06T09:00:00.000Z", "$MRNA next day"),
    ]
    assert [p["time"] for p in call(x)["posts"]] == ["2026-03-05T14:00:00Z"]


def test_end_time_stays_behind_the_real_present():
    # Live trading: as_of is "now"; X wants end_time at least 10 s in the past.
    with XServer() as x:
        tool_now = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
        search = XSearch(SecretStr(x.token), x.base_url, now=lambda: tool_now)
        search.search("$MRNA", "2026-03-05T15:30:00Z")
        assert x.requests[-1].params["end_time"] == "2026-03-05T15:29:45Z"


def test_rate_limit_is_a_readable_error_with_the_reset(x):
    x.rate_limited(reset_epoch=int(NOW.timestamp()) + 754)
    out = call(x)
    assert set(out) == {"error"}
    assert "rate limit" in out["error"] and "429" in out["error"]
    assert "2026-03-06T20:12:34Z" in out["error"] and "in 12m 34s" in out["error"]
    # The next call, after the reset, works again.
    x.posts = [post(1, "2026-03-05T14:00:00.000Z")]
    assert len(call(x)["posts"]) == 1


def test_a_refused_token_is_a_readable_error_without_the_token(x):
    out = call(x, token="wrong-secret-token")
    assert "401" in out["error"] and "bearer token" in out["error"]
    assert "wrong-secret-token" not in json.dumps(out)


def test_an_unreachable_api_is_a_readable_error():
    with XServer() as x:
        url = x.base_url
    search = XSearch(SecretStr("t"), url, now=lambda: NOW, timeout=2)
    out = search.search("$MRNA", AS_OF)
    assert out["error"].startswith("X API unreachable")


def test_bad_arguments_are_readable_errors(x):
    assert "limit must be between 1 and 10" in call(x, limit=11)["error"]
    assert "query is empty" in call(x, query="  ")["error"]
    assert "X allows 512" in call(x, query="a" * 513)["error"]
    assert x.requests == []  # nothing was sent for input the model must fix


def tool_names(settings, agent: str) -> list[str]:
    from mytrader.adapters.sim.exchange import SimulatedExchange

    factory = agent_tools(settings, SimulatedExchange())
    assert factory is not None
    book = Book.open(agent, settings.starting_cash)
    return [t.name for t in factory(agent, "2024-03-01", book)]


def test_search_x_is_bound_to_grok_only_when_the_token_is_set():
    real = {f"{p}_llm": "openrouter" for p in ("grok", "deepseek", "openai")}
    with_token = make_settings(**real, x_bearer_token="tok", x_api_base_url="http://127.0.0.1:9")
    assert "search_x" in tool_names(with_token, "grok")
    assert "search_x" not in tool_names(with_token, "deepseek")
    assert "search_x" not in tool_names(with_token, "openai")
    without = make_settings(**real)
    assert "search_x" not in tool_names(without, "grok")
    empty = make_settings(**real, x_bearer_token="")
    assert "search_x" not in tool_names(empty, "grok")
