"""Model answers that used to kill or wedge a run, from the local OpenAI-compatible server
through the real ChatOpenAI, in `mytrader run` processes on SQLite and PostgreSQL: every
cycle completes, the answer is repaired or becomes a recorded HOLD with the reason, the
calls' usage is recorded, and the next run works.

On the old main: `1e308` and `"99999999999999999999999"` ended the run with `TypeError:
Integer exceeds 64-bit range` when the checkpoint was written; `5000000000` failed the
record step on PostgreSQL (`integer out of range`) and every later run the same way;
`"²"` raised ValueError outside the repair turn and lost the call's usage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mytrader.app.storage import open_store
from mytrader.config import PERSONAS
from mytrader.prompts import extract_payload
from tests.helpers import make_settings
from tests.integration.test_cli_openrouter import mytrader
from tests.servers import ChatServer, Reply

MODEL = {p: make_settings().model_for(p) for p in PERSONAS}
HOLD = Reply.json({"decision": "HOLD", "reasoning": "wait", "confidence": 10})


def answer(quantity: str) -> Any:
    """A BUY of the first symbol shown, with `quantity` written verbatim as JSON."""

    def reply(request: dict[str, Any]) -> Reply:
        prompt = "\n".join(
            m["content"] for m in request["messages"] if isinstance(m["content"], str)
        )
        payload = extract_payload(prompt)
        symbol = next(iter(payload["market"]["symbols"])) if payload else "AAPL"
        return Reply.text(
            f'{{"decision": "BUY", "symbol": "{symbol}", "quantity": {quantity},'
            ' "reasoning": "all in", "confidence": 90}',
            prompt_tokens=100,
            completion_tokens=7,
        )

    return reply


def test_absurd_quantities_through_the_real_client(backend, tmp_path: Path) -> None:
    grok, deepseek, openai = PERSONAS[:3]
    with ChatServer(default=HOLD) as srv:
        # cycle 1: three absurd answers, each repeated in the repair turn -> HOLDs
        # cycle 2: a unicode digit (-> HOLD), and an absurd answer repaired to 1 share
        srv.script(MODEL[grok], [answer("1e308"), answer("1e308"), answer('"²"'), answer('"²"')])
        srv.script(
            MODEL[deepseek],
            [answer('"99999999999999999999999"')] * 2 + [answer("5000000000"), answer("1")],
        )
        srv.script(MODEL[openai], [answer("5000000000"), answer("5000000000")])
        env = {
            "MYTRADER_HOME": str(backend["mytrader_home"]),
            "OPENROUTER_API_KEY": "sk-or-test",
            "OPENROUTER_BASE_URL": srv.base_url,
            "LLM_MAX_RETRIES": "0",
            "LLM_TIMEOUT_S": "10",
        }
        if backend.get("database_url"):
            env["DATABASE_URL"] = str(backend["database_url"])
        run = mytrader(["run", "--cycles", "2"], env, tmp_path)
        again = mytrader(["run", "--cycles", "1"], env, tmp_path)
        assert srv.errors == []
        assert srv.pending() == 0

    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "Traceback" not in run.stderr and "cycle 2 " in out
    lines = out.splitlines()

    def line(cycle: int, persona: str) -> str:
        block = out.split(f"cycle {cycle} ")[1].split("cycle ")[0]
        return next(x for x in block.splitlines() if re.match(rf"\s+{persona}\s", x))

    assert "HOLD" in line(1, grok) and "1e+308 is more than" in line(1, grok)
    assert "HOLD" in line(1, deepseek) and "99999999999999999999999" in line(1, deepseek)
    assert "HOLD" in line(1, openai) and "5000000000 is more than" in line(1, openai)
    assert "HOLD" in line(2, grok) and "positive whole number" in line(2, grok)
    assert re.search(r"BUY 1 \w+", line(2, deepseek)), lines  # repaired
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cycle 3 " in again.stdout

    settings = make_settings(**backend)
    with open_store(settings) as store:
        usage = store.usage(settings.arena_id)
        # every call counted: answer and repair turn in cycles 1-2, then a HOLD in cycle 3
        assert usage[grok].calls == 5 and usage[grok].tokens_in == 4 * 100 + 10
        assert usage[deepseek].calls == 5 and usage[openai].calls == 4
        logs = store.agent_logs(settings.arena_id, grok, "DECISION")
        assert any("positive whole number" in json.loads(r.content)["error"] for r in logs)
        assert store.last_cycle(settings.arena_id) == 3
