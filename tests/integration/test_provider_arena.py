"""Side by side: a five-persona arena where three personas run on three providers (three
local OpenAI-compatible servers: one shaped like OpenRouter, one like Ollama's /v1, one
like a vendor's own API) and two on house models, through `mytrader run` in its own
process with LangSmith tracing to the local collector. Then every byte the run left
behind, and every byte it sent, is searched for the three providers' keys."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from mytrader.config import COLLABORATIVE
from mytrader.prompts import CRITIQUE_MARKER, extract_payload
from tests.helpers import free_port, make_settings, run_cli
from tests.servers import ChatServer, Reply, TraceCollector

OPENROUTER_KEY = "sk-or-SECRET-arena-4b1e"
OLLAMA_KEY = "ollama-SECRET-arena-8c2d"
VENDOR_KEY = "sk-vendor-SECRET-arena-d93f"
LANGSMITH_KEY = "ls-SECRET-arena-key"
KEYS = (OPENROUTER_KEY, OLLAMA_KEY, VENDOR_KEY, LANGSMITH_KEY)
GROK_MODEL = make_settings().model_for("grok")  # OpenRouter's id, today's default
QWEN, O4 = "qwen3:8b", "o4-mini"
ROSTER = ("grok", "deepseek", "openai", "quant", "macro")
WHERE = {  # persona -> (provider, model id in logs, usage and traces)
    "grok": ("openrouter", GROK_MODEL),
    "deepseek": ("ollama", QWEN),
    "openai": ("vendor", O4),
    "quant": ("house", "house/quant"),
    "macro": ("house", "house/macro"),
}
CYCLES = 3
Json = dict[str, Any]


def prompt_of(request: Json) -> str:
    return "\n".join(m["content"] for m in request["messages"] if isinstance(m["content"], str))


def buyer(
    shape: Callable[[str, str], Reply], *, tool_first: bool = False
) -> Callable[[Json], Reply]:
    """Critiques in a line; otherwise BUYs 1 share of the first symbol shown, the answer
    shaped by `shape(real answer, decoy)`: the decoy BUYs the last symbol, 7 shares."""

    def answer(request: Json) -> Reply:
        prompt = prompt_of(request)
        if CRITIQUE_MARKER in prompt:
            return Reply.text("Steady.\nADJUSTMENT: none", prompt_tokens=40, completion_tokens=8)
        payload = extract_payload(prompt)
        assert payload is not None
        symbols = list(payload["market"]["symbols"])
        if tool_first and not any(m["role"] == "tool" for m in request["messages"]):
            return Reply.tool_call("get_quote", {"symbol": symbols[0]})
        real = {"decision": "BUY", "symbol": symbols[0], "quantity": 1, "confidence": 60}
        decoy = {"decision": "BUY", "symbol": symbols[-1], "quantity": 7, "confidence": 99}
        return shape(
            json.dumps({**real, "reasoning": "the real answer"}),
            json.dumps({**decoy, "reasoning": "DECOY"}),
        )

    return answer


def openrouter_shape(real: str, decoy: str) -> Reply:  # a <think> block, cost in usage
    return Reply.think(f"first thought: {decoy}", real, prompt_tokens=300, cost=0.0021)


def ollama_shape(real: str, decoy: str) -> Reply:  # the reasoning field (no cost: quirk)
    return Reply.thinking(f"let me see: {decoy}", real, prompt_tokens=200, completion_tokens=20)


def vendor_shape(real: str, decoy: str) -> Reply:
    return Reply.thinking(
        f"plan: {decoy}", real, field="reasoning_content", prompt_tokens=1000, completion_tokens=50
    )


def arena_env(tmp_path: Path, router: ChatServer, ollama: ChatServer, vendor: ChatServer) -> Json:
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    for name in ("quant", "macro"):
        (personas / f"persona_{name}.md").write_text(f"## Who you are: {name}\n")
    return {
        "MYTRADER_HOME": str(tmp_path / "home"),
        "ROSTER": ",".join(ROSTER),
        "PERSONAS_DIR": str(personas),
        # --- as a user writes them (README: Run a persona on your own machine) ---
        "OPENROUTER_API_KEY": OPENROUTER_KEY,
        "OPENROUTER_BASE_URL": router.base_url,
        "PROVIDERS": "ollama,vendor",
        "PROVIDER_OLLAMA_BASE_URL": ollama.openai_base_url,
        "PROVIDER_OLLAMA_API_KEY": OLLAMA_KEY,
        "PROVIDER_VENDOR_BASE_URL": vendor.openai_base_url,
        "PROVIDER_VENDOR_API_KEY": VENDOR_KEY,
        "PROVIDER_VENDOR_REPORTS_COST": "false",
        "PROVIDER_VENDOR_PRICES": "1.10,4.40",
        "PERSONA_PROVIDERS": "deepseek=ollama,openai=vendor",
        "PERSONA_MODELS": f"deepseek={QWEN},openai={O4},quant=house,macro=house",
        "PERSONA_LLMS": "quant=house,macro=house",
        # ---
        "LLM_MAX_RETRIES": "0",
        "CRITIQUE_INTERVAL": "1",
    }


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def database(home: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(home / "arena.sqlite")
    conn.row_factory = sqlite3.Row
    return conn


def test_three_providers_and_two_house_personas_side_by_side(tmp_path):
    with (
        ChatServer(default=buyer(openrouter_shape, tool_first=True)) as router,
        ChatServer(default=buyer(ollama_shape), quirks={"no_cost", "no_tools"}) as ollama,
        ChatServer(default=buyer(vendor_shape), quirks={"no_cost", "no_temperature"}) as vendor,
        TraceCollector() as col,
    ):
        env = arena_env(tmp_path, router, ollama, vendor)
        traced = {
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_ENDPOINT": col.url,
            "LANGSMITH_API_KEY": LANGSMITH_KEY,
            "LANGSMITH_PROJECT": "providers",
        }
        run = run_cli(
            ["--verbose", "run", "--cycles", str(CYCLES)], {**env, **traced}, tmp_path, 180
        )
        assert run.returncode == 0, run.stdout + run.stderr
        board = run_cli(["leaderboard", "--json"], env, tmp_path)
        col.wait_for(lambda runs: len([r for r in runs if r["end_time"]]) == len(runs) > 0)
        servers = {"router": router, "ollama": ollama, "vendor": vendor}
        requests = {name: srv.requests for name, srv in servers.items()}
        errors = {name: srv.errors for name, srv in servers.items()}
        runs = col.runs()
        assert col.errors == []
        sent_to_collector = [KEY for KEY in KEYS[:3] if col.contains(KEY)]
    print(run.stdout)  # the run's table, for the record
    print(board.stdout)
    assert errors == {"router": [], "ollama": [], "vendor": []}

    # --- every persona decided, every cycle, and the vote ran ---
    out = run.stdout
    for cycle in range(1, CYCLES + 1):
        assert f"cycle {cycle} " in out
    lines = out.splitlines()
    for persona in ("grok", "deepseek", "openai"):
        buys = [
            line for line in lines if line.strip().startswith(f"{persona} ") and " BUY 1 " in line
        ]
        assert len(buys) == CYCLES, out  # the real answer, never the decoy's 7 shares
    assert len([line for line in lines if line.strip().startswith("vote ")]) == CYCLES

    # --- the quirks, each met once: one 400 per model, then remembered ---
    def chats(name: str) -> list[Any]:
        return [r for r in requests[name] if r.method == "POST"]

    assert [r.status for r in chats("vendor")].count(400) == 1
    assert all("temperature" not in r.body for r in chats("vendor")[1:])
    assert [r.status for r in chats("ollama")].count(400) == 1
    assert all("tools" not in r.body for r in chats("ollama")[1:])
    assert any(r.body.get("tools") for r in chats("router"))  # OpenRouter's model uses tools
    # the reachability probe came first, before any chat
    for name in ("ollama", "vendor"):
        assert (requests[name][0].method, requests[name][0].path) == ("GET", "/v1/models")
    assert all(r.method == "POST" for r in requests["router"])  # OpenRouter is not probed
    # each key went to its own provider only
    for name, key in (("router", OPENROUTER_KEY), ("ollama", OLLAMA_KEY), ("vendor", VENDOR_KEY)):
        assert {r.headers["authorization"] for r in requests[name]} == {f"Bearer {key}"}

    # --- the books and the leaderboard ---
    assert board.returncode == 0, board.stderr
    rows = {row["account"]: row for row in json.loads(board.stdout)}
    assert set(rows) == {*ROSTER, COLLABORATIVE}
    assert all(row["cycle"] == CYCLES for row in rows.values())
    for persona in ("grok", "deepseek", "openai"):
        assert rows[persona]["trades"] == CYCLES - 1  # the last cycle's BUY is still pending
    # OpenRouter's cost as reported; Ollama's 0; the vendor's from its price table
    grok, deepseek, openai = rows["grok"], rows["deepseek"], rows["openai"]
    assert Decimal(grok["llm_cost_usd"]) == Decimal("0.0021") * CYCLES  # the decisions' cost
    assert Decimal(deepseek["llm_cost_usd"]) == 0 and deepseek["tokens_in"] > 0
    priced = Decimal(openai["tokens_in"]) * Decimal("1.10") + openai["tokens_out"] * Decimal("4.40")
    assert Decimal(openai["llm_cost_usd"]) == priced / 1_000_000 > 0
    for house in ("quant", "macro"):
        assert Decimal(rows[house]["llm_cost_usd"]) == 0

    # --- llm_usage names provider and model; the reasoning is a thought, not the decision ---
    home = tmp_path / "home"
    with database(home) as db:
        usage = db.execute("SELECT agent, provider, model, unmetered FROM llm_usage").fetchall()
        books = db.execute(
            "SELECT account, COUNT(*) AS n FROM portfolio_snapshots GROUP BY account"
        ).fetchall()
        thoughts = db.execute(
            "SELECT agent, content FROM agent_logs WHERE kind = 'THOUGHT'"
        ).fetchall()
        decisions = db.execute(
            "SELECT agent, content FROM agent_logs WHERE kind = 'DECISION'"
        ).fetchall()
    assert {(r["agent"], r["provider"], r["model"]) for r in usage} == {
        (agent, *WHERE[agent]) for agent in ROSTER
    }
    assert {r["unmetered"] for r in usage} == {0}
    assert {r["account"]: r["n"] for r in books} == {a: CYCLES for a in (*ROSTER, COLLABORATIVE)}
    for persona in ("deepseek", "openai"):
        assert any(
            r["agent"] == persona
            and r["content"].startswith("reasoning: ")
            and "DECOY" in r["content"]
            for r in thoughts
        )
    for r in decisions:
        assert "DECOY" not in r["content"]

    # --- the LangSmith runs name provider and model ---
    llm_runs = [r for r in runs if r["run_type"] == "llm"]
    assert {r["name"].split(".")[0] for r in llm_runs} == {
        "grok",
        "deepseek",
        "openai",
        "quant",
        "macro",
    }
    for r in llm_runs:
        agent = r["name"].split(".")[0]
        provider, model = WHERE[agent]
        assert r["metadata"]["provider"] == provider and r["metadata"]["model"] == model
        assert f"provider:{provider}" in r["tags"] and f"model:{model}" in r["tags"]
    turns = [r for r in runs if r["name"] in ROSTER]
    assert {(r["name"], r["metadata"]["provider"]) for r in turns} == {
        (a, WHERE[a][0]) for a in ROSTER
    }

    # --- the secrets scan: no key in any byte stored, logged or traced ---
    stored = every_byte(home)
    for key in KEYS:
        assert key.encode() not in stored, f"{key} stored"
        assert key not in run.stdout + run.stderr + board.stdout + board.stderr
    assert sent_to_collector == []


def test_an_unreachable_provider_or_a_bad_name_stops_before_the_first_cycle(tmp_path):
    with ChatServer() as router, ChatServer() as ollama, ChatServer() as vendor:
        env = arena_env(tmp_path, router, ollama, vendor)
        dead = f"http://127.0.0.1:{free_port()}/v1"
        down = run_cli(["run"], {**env, "PROVIDER_OLLAMA_BASE_URL": dead}, tmp_path)
        typo = run_cli(["run"], {**env, "PERSONA_PROVIDERS": "deepseek=olama"}, tmp_path)
        chats = [r for s in (router, ollama, vendor) for r in s.chat_requests]
    assert down.returncode == 3, down.stdout + down.stderr
    assert "PROVIDER_OLLAMA_BASE_URL" in down.stdout and dead in down.stdout
    assert "cycle 1" not in down.stdout
    assert typo.returncode == 2, typo.stdout + typo.stderr
    assert "PERSONA_PROVIDERS: deepseek=olama" in typo.stdout
    assert chats == []  # no model was asked anything
    for key in KEYS:
        assert key not in down.stdout + down.stderr + typo.stdout + typo.stderr
