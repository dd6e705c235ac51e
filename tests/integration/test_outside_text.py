"""Text that did not come from our code, through the real surfaces: a model's answers and
errors from the local OpenAI-compatible server through the real ChatOpenAI in `mytrader`
processes, settings and options holding markup, and the backtest's CSV files.

On the base commit (6bff6b1): an answer `{"decision": "[/]"}` ended `mytrader run` with a
MarkupError traceback (exit 1) after recording the cycle, and every later run the same
way; `[link=...]` made a working hyperlink; a model's escape sequences, NUL and U+202E
reached the terminal through `run` and `logs`; a provider's 401 echoing the key put the
key on the screen and in agent_logs (critique and decision rows); `VOTE_MODE='[/]'` and
friends gave a traceback instead of exit 2; trades.csv wrote `@SUM(1)` as a formula.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mytrader.app.storage import open_store
from mytrader.backtest.report import Report, write_files
from mytrader.config import PERSONAS
from mytrader.prompts import extract_payload
from mytrader.web.serve import build
from tests.dashboard_support import live_server
from tests.helpers import make_settings, run_cli
from tests.servers import ChatServer, Reply, TraceCollector

KEY = "sk-or-v1-ECHOED-4b1d9e77c0ffee"
MODEL = {p: make_settings().model_for(p) for p in PERSONAS}
HOLD = Reply.json({"decision": "HOLD", "reasoning": "wait", "confidence": 10})
LINK = "[link=file:///etc/passwd]click[/link]"
SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # Rich's own colours and cursor moves (FORCE_COLOR)
# What a terminal acts on: C0 but newline, DEL, C1, bidi controls, line separators.
ACTED_ON = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def env_for(home: Path, srv: ChatServer, **more: str) -> dict[str, str]:
    return {
        "MYTRADER_HOME": str(home),
        "OPENROUTER_API_KEY": KEY,
        "OPENROUTER_BASE_URL": srv.base_url,
        "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT_S": "10",
        **more,
    }


def mytrader(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    return run_cli(args, env, cwd, timeout=120)


def persona_line(out: str, persona: str) -> str:
    return next(x for x in out.splitlines() if re.match(rf"\s+{persona}\s", x))


def test_markup_in_an_answer_never_stops_the_arena_nor_links(tmp_path: Path) -> None:
    grok, deepseek, openai = PERSONAS[:3]
    with ChatServer(default=HOLD) as srv:
        srv.script(MODEL[grok], [Reply.json({"decision": "[/]"})] * 8)
        srv.script(MODEL[deepseek], [Reply.json({"decision": LINK})] * 8)
        env = env_for(tmp_path / "home", srv, FORCE_COLOR="1")  # a terminal: links are live
        first = mytrader(["run", "--cycles", "1"], env, tmp_path)
        again = mytrader(["run", "--cycles", "1"], env, tmp_path)
        every = mytrader(["run", "--every", "1s", "--cycles", "2"], env, tmp_path)
        assert srv.errors == []
    for run in (first, again, every):
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        assert "\x1b]8;" not in run.stdout  # no OSC 8 hyperlink
    assert "cycle 2 " in SGR.sub("", again.stdout)
    unattended = SGR.sub("", every.stdout)
    assert "cycle 3 " in unattended and "cycle 4 " in unattended  # it goes on
    text = SGR.sub("", first.stdout)
    assert 'got "[/]"' in persona_line(text, grok)  # shown as typed
    assert f'got "{LINK}"' in persona_line(text, deepseek)
    assert "HOLD" in persona_line(text, openai)


def test_escape_sequences_nul_and_bidi_never_reach_the_terminal(tmp_path: Path) -> None:
    grok, deepseek = PERSONAS[:2]
    hostile = "clear\x1b[2J red\x1b[31m link\x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\"
    hostile += " nul\x00 bidi\u202eevil c1\x9b2J"
    body = f"<html>upstream down {hostile}</html>"
    with ChatServer(default=HOLD) as srv:
        srv.script(MODEL[grok], [Reply.text(hostile)] * 2)  # no JSON: repaired, then a HOLD
        srv.script(MODEL[deepseek], [Reply.server_error(500, body)])
        env = env_for(tmp_path / "home", srv)
        run = mytrader(["run", "--cycles", "1"], env, tmp_path)
        logs = mytrader(["logs", "--cycles", "1"], env, tmp_path)
        trades = mytrader(["trades"], env, tmp_path)
        assert srv.errors == []
    for done in (run, logs, trades):
        assert done.returncode == 0, done.stdout + done.stderr
        assert ACTED_ON.search(done.stdout + done.stderr) is None, repr(done.stdout)
    assert "upstream down" in persona_line(run.stdout, deepseek)  # the 500 body, as text
    # Shown by code (\\x1b[2J) or removed where the state keeps outside text: never raw.
    line = persona_line(run.stdout, deepseek)
    assert "\x1b" not in line and "upstream down clear" in line.replace("\\x1b[2J", "")
    assert "clear" in logs.stdout and "bidievil" in logs.stdout  # stored without them


def buy_first(request: dict[str, Any]) -> Reply:
    prompt = "\n".join(m["content"] for m in request["messages"] if isinstance(m["content"], str))
    payload = extract_payload(prompt)
    assert payload is not None
    symbol = next(iter(payload["market"]["symbols"]))
    return Reply.json(
        {"decision": "BUY", "symbol": symbol, "quantity": 1, "reasoning": "x", "confidence": 60}
    )


def test_a_provider_echoing_the_key_gets_it_shown_or_kept_nowhere(tmp_path: Path) -> None:
    echo = Reply.error(401, f"Incorrect API key provided: {KEY}. Find your key at openrouter")
    home = tmp_path / "home"
    with ChatServer(default=echo) as srv:
        for persona in PERSONAS:  # one trade each, so a critique is due next
            srv.script(MODEL[persona], [buy_first])
        env = env_for(home, srv, CRITIQUE_INTERVAL="1")
        run = mytrader(["--verbose", "run", "--cycles", "3"], env, tmp_path)
        logs = mytrader(["logs", "--cycles", "3"], env, tmp_path)
        assert srv.errors == []
    assert run.returncode == 0, run.stdout + run.stderr
    settings = make_settings(mytrader_home=home)
    with open_store(settings) as store:
        rows = store.agent_logs(settings.arena_id, None, None, 1)
    failed = [r for r in rows if "Incorrect API key provided" in r.content]
    kinds = {r.kind for r in failed}
    assert kinds == {"CRITIQUE", "DECISION"}, [(r.kind, r.content[:80]) for r in rows]
    assert all("***" in r.content for r in failed)
    app, reader = build(settings)
    try:
        with live_server(app) as base:
            api = httpx.get(f"{base}/api/logs", params={"limit": 500}, timeout=10).text
    finally:
        reader.close()
    assert "Incorrect API key provided" in api
    files = b"".join(f.read_bytes() for f in home.glob("*.sqlite*"))  # tables, checkpoints
    everything = run.stdout + run.stderr + logs.stdout + logs.stderr + api
    assert "Incorrect API key provided: ***" in run.stdout
    assert KEY not in everything and KEY.encode() not in files


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["run"], {"VOTE_MODE": "[/]"}, "VOTE_MODE"),
        (["run"], {"ARENA_ID": "[/]"}, "ARENA_ID"),
        (["leaderboard"], {"VOTE_MODE": "[bold]x[/red]"}, "VOTE_MODE"),
        (["logs", "--kind", "[/]"], {}, "--kind"),
        (["run", "--every", "[/]"], {}, "--every"),
        (["status", "--every", "[/]"], {}, "--every"),
    ],
    ids=["vote-mode", "arena-id", "leaderboard", "logs-kind", "run-every", "status-every"],
)
def test_markup_in_a_setting_or_option_is_a_message_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    out = run_cli(args, {"MYTRADER_HOME": str(tmp_path / "home"), **env}, tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr and "MarkupError" not in out.stderr
    assert said in out.stdout and "[/" in out.stdout  # the value, shown as typed


def test_csv_cells_are_text_not_formulas_and_numbers_stay_numbers(tmp_path: Path) -> None:
    report = Report(
        run={},
        dates=["2024-01-02"],
        curves={"=HYPERLINK(1)": [Decimal("-12.5")]},
        accounts={},
        benchmarks={},
    )
    trade = {
        "cycle": 1,
        "as_of": "2024-01-02",
        "account": "grok",
        "side": "buy",
        "symbol": "@SUM(1)",
        "qty": 3,
        "status": "rejected",
        "filled_qty": 0,
        "filled_avg_price": None,
        "filled_at": None,
        "fee": Decimal("0"),
        "realized_pnl": Decimal("-12.50"),
        "reason": "-2+3",
    }
    tab = {**trade, "symbol": "\tAAPL", "reason": "=1+1", "realized_pnl": Decimal("4")}
    write_files(report, [trade, tab], tmp_path / "out")
    with (tmp_path / "out" / "trades.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["symbol"], r["reason"], r["realized_pnl"]) for r in rows] == [
        ("'@SUM(1)", "'-2+3", "-12.50"),
        ("'\tAAPL", "'=1+1", "4"),
    ]
    with (tmp_path / "out" / "equity.csv").open(newline="", encoding="utf-8") as f:
        (equity,) = list(csv.DictReader(f))
    assert equity == {"date": "2024-01-02", "series": "'=HYPERLINK(1)", "equity": "-12.50"}


def test_stored_text_holds_no_control_character(tmp_path: Path) -> None:
    """The store's one choke point: every text it writes, on every table."""
    home = tmp_path / "home"
    settings = make_settings(mytrader_home=home)
    from tests.dashboard_support import cycle_record

    rec = cycle_record("arena", 1, critique=True)
    rec.logs[0].content = "a\x1b[2Jb\x00c\u202ed"
    with open_store(settings) as store:
        store.record_cycle(rec)
    with sqlite3.connect(home / "arena.sqlite") as db:
        contents = [r[0] for r in db.execute("SELECT content FROM agent_logs")]
    assert "abcd" in contents  # escape sequence, NUL and U+202E removed
    assert not any(ACTED_ON.search(c.replace("\t", "")) for c in contents)


def test_a_provider_echoing_the_key_gets_it_in_no_trace(tmp_path: Path) -> None:
    """The failed call's own run in LangSmith (its error), the agent's and the cycle's."""
    echo = Reply.error(401, f"Incorrect API key provided: {KEY}")
    with ChatServer(default=echo) as srv, TraceCollector() as col:
        env = env_for(
            tmp_path / "home",
            srv,
            LANGSMITH_TRACING="true",
            LANGSMITH_ENDPOINT=col.url,
            LANGSMITH_API_KEY="ls-test-key",
            LANGSMITH_PROJECT="textsafe",
        )
        run = mytrader(["run", "--cycles", "1"], env, tmp_path)
        col.wait_for(lambda runs: len([r for r in runs if r["end_time"]]) == len(runs) > 0)
        errors = [str(r.get("error")) for r in col.runs() if r.get("error")]
        seen = col.contains("Incorrect API key provided")
        leaked = col.contains(KEY)
    assert run.returncode == 0, run.stdout + run.stderr
    assert seen and errors  # the failed calls are traced, with the provider's reason...
    assert not leaked  # ...and without the key
