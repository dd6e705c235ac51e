"""`mytrader run` in a separate process on real chat models: the command talks HTTP to the
local OpenAI-compatible server started by the test, as it would talk to OpenRouter."""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from mytrader.adapters.llm.openrouter import OPENROUTER_HEADERS
from mytrader.config import PERSONAS
from mytrader.prompts import extract_payload
from tests.helpers import make_settings, run_cli
from tests.servers import ChatServer, Reply

API_KEY = "sk-or-SECRET-cli"
MODEL = {p: make_settings().model_for(p) for p in PERSONAS}


def mytrader(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, cwd, timeout=120)


def buy_first_symbol(request: dict[str, Any]) -> Reply:
    prompt = "\n".join(m["content"] for m in request["messages"] if isinstance(m["content"], str))
    payload = extract_payload(prompt)
    assert payload is not None
    symbol = next(iter(payload["market"]["symbols"]))
    order = {
        "decision": "BUY",
        "symbol": symbol,
        "quantity": min(2, payload["max_buy_qty"][symbol]),
        "reasoning": "first name shown",
        "confidence": 66,
    }
    return Reply.json(order, prompt_tokens=500, completion_tokens=25, cost=0.00125)


def test_run_trades_end_to_end_through_the_real_client(backend, tmp_path):
    with ChatServer(default=buy_first_symbol) as srv:
        # cycle 2: openai's model is down; the cycle still completes
        srv.script(MODEL["openai"], [buy_first_symbol, Reply.server_error(500)])
        env = {
            "MYTRADER_HOME": str(backend["mytrader_home"]),
            "OPENROUTER_API_KEY": API_KEY,
            "OPENROUTER_BASE_URL": srv.base_url,
            "LLM_MAX_RETRIES": "0",
            "LLM_TIMEOUT_S": "10",
        }
        if backend.get("database_url"):
            env["DATABASE_URL"] = str(backend["database_url"])
        run = mytrader(["run", "--cycles", "3"], env, tmp_path)
        board = mytrader(["leaderboard", "--json"], env, tmp_path)
        requests = srv.chat_requests
        assert srv.errors == []

    assert run.returncode == 0, run.stderr
    out = run.stdout
    for cycle in (1, 2, 3):
        assert f"cycle {cycle} " in out
    lines = out.splitlines()
    for persona in PERSONAS:
        buys = [line for line in lines if re.match(rf"\s+{persona}\s+BUY 2 ", line)]
        assert len(buys) == (2 if persona == "openai" else 3), out
    (failed,) = [line for line in lines if re.match(r"\s+openai\s+HOLD", line)]
    assert "Error code: 500" in failed  # the failing agent's reason is shown
    assert API_KEY not in out + run.stderr
    assert len(requests) == 9
    for request in requests:
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.headers["x-title"] == OPENROUTER_HEADERS["X-Title"]
    assert sorted(str(r.model) for r in requests) == sorted(
        MODEL[p] for p in PERSONAS for _ in "123"
    )

    assert board.returncode == 0, board.stderr
    rows = {row["account"]: row for row in json.loads(board.stdout)}
    assert set(rows) == {*PERSONAS, "collaborative"}
    for persona in PERSONAS:
        row = rows[persona]
        answered = 2 if persona == "openai" else 3  # a failed call is not billed
        assert row["cycle"] == 3
        # Fills are booked at the next cycle's start: cycle 3's order is pending at its end.
        assert row["trades"] == answered - 1
        assert row["llm_calls"] == answered
        assert (row["tokens_in"], row["tokens_out"]) == (500 * answered, 25 * answered)
        assert Decimal(row["llm_cost_usd"]) == Decimal("0.00125") * answered
    assert rows["collaborative"]["llm_calls"] == 0
    assert Decimal(rows["collaborative"]["llm_cost_usd"]) == 0
