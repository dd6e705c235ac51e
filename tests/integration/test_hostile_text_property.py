"""Property: whatever a model answers or a provider replies (markup, escape sequences,
NUL, bidi overrides, the API key itself), every surface shows it as text and keeps no
secret: `run`, `logs`, `trades`, `status`, `leaderboard`, the dashboard's API and the
database files. Real ChatOpenAI in `mytrader` processes against the local server; few
examples (each starts processes): the surface functions get many more in
tests/unit/test_text.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mytrader.config import PERSONAS
from mytrader.web.serve import build
from tests.dashboard_support import live_server
from tests.helpers import make_settings
from tests.integration.test_outside_text import ACTED_ON, KEY, MODEL, env_for, mytrader
from tests.servers import ChatServer, Reply

MARKUP = ["[/]", "[/red]", "[bold]", "[link=file:///etc/passwd]click[/link]", "\\[x]"]
TOKENS = [
    *MARKUP,
    "\x1b[2J",
    "\x1b[31m",
    "\x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\",
    "\x00",
    "\u202e",
    "\x9b2J",
    "\r",
    "=SUM(1)",
    KEY,
    "AAPL",
    "x" * 300,
]
answers = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map(" ".join)


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def squeezed(text: str) -> str:
    """Without whitespace: Rich wraps long lines."""
    return "".join(text.split())


@given(answers)
@settings(
    max_examples=2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@example(" ".join(TOKENS))
def test_hostile_answers_are_shown_as_text_everywhere(answer: str) -> None:
    grok, deepseek, openai = PERSONAS[:3]
    with tempfile.TemporaryDirectory() as tmp, ChatServer() as srv:
        cwd, home = Path(tmp), Path(tmp) / "home"
        srv.set_default(Reply.json({"decision": "HOLD", "reasoning": answer, "confidence": 5}))
        srv.script(MODEL[grok], [Reply.text(answer)] * 2)  # not JSON: THOUGHT rows
        srv.script(MODEL[deepseek], [Reply.json({"decision": answer})] * 2)  # quoted in errors
        srv.script(MODEL[openai], [Reply.server_error(500, answer)])  # a provider's body
        env = env_for(home, srv)
        outputs = [
            mytrader(args, env, cwd)
            for args in (
                ["run", "--cycles", "1"],
                ["logs", "--cycles", "1"],
                ["trades"],
                ["status"],
                ["leaderboard"],
            )
        ]
        app, reader = build(make_settings(mytrader_home=home))
        try:
            with live_server(app) as base, httpx.Client(base_url=base, timeout=10) as client:
                api = [client.get(p).text for p in ("/api/logs", "/api/agents", "/api/trades")]
        finally:
            reader.close()
        files = b"".join(f.read_bytes() for f in home.glob("*.sqlite*"))
    for out in outputs:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Traceback" not in out.stderr
        assert ACTED_ON.search(out.stdout + out.stderr) is None, repr(out.stdout)
        assert KEY not in out.stdout + out.stderr
    run = squeezed(outputs[0].stdout)
    for tag in {t for t in MARKUP if t in answer}:
        assert squeezed(tag) in run  # shown as typed, not applied
    for body in api:
        assert KEY not in body
        for text in strings(json.loads(body)):
            assert ACTED_ON.search(text.replace("\t", "")) is None, text
    assert KEY.encode() not in files
