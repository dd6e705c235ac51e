"""A backtest follows the roster in use, not the seed's three: a five-persona run on real
models (the local OpenAI-compatible server) shows every persona in the terminal tables,
in the LLM cache and in metrics.json."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mytrader.backtest.runner import BacktestOptions, prepare
from tests.helpers import make_settings, run_cli
from tests.integration.test_backtest import trader
from tests.servers.openai_server import ChatServer

HOUSE = ("grok", "deepseek", "openai")
CUSTOM = {"qwen": "qwen/qwen3-235b-a22b", "mistral": "mistralai/mistral-medium-3"}
ROSTER = (*HOUSE, *CUSTOM)
MODEL = {**{p: make_settings().model_for(p) for p in HOUSE}, **CUSTOM}
PAIRS = ",".join(f"{p}={m}" for p, m in CUSTOM.items())


def personas_dir(tmp: Path) -> Path:
    folder = tmp / "personas"
    folder.mkdir()
    for name in CUSTOM:
        (folder / f"persona_{name}.md").write_text(
            f"## Who you are: {name}, a patient generalist\n\n"
            "Buy quality names in an uptrend on a pullback; sell a downtrend. Most days HOLD.\n",
            encoding="utf-8",
        )
    return folder


def test_a_five_persona_backtest_on_real_models_reports_and_caches_every_persona(tmp_path):
    cache, out = tmp_path / "llm_cache.sqlite", tmp_path / "report"
    with ChatServer(default=trader) as srv:
        env = {
            "MYTRADER_HOME": str(tmp_path / "home"),
            "ROSTER": ",".join(ROSTER),
            "PERSONAS_DIR": str(personas_dir(tmp_path)),
            "PERSONA_MODELS": PAIRS,
            "OPENROUTER_API_KEY": "sk-test-roster",
            "OPENROUTER_BASE_URL": srv.base_url,
            "LLM_MAX_RETRIES": "0",
        }
        args = ["backtest", "--models", "openrouter", "--start", "2024-04-01", "--end"]
        args += ["2024-04-05", "--cache", str(cache), "--out", str(out)]
        done = run_cli(args, env, tmp_path, timeout=240)
        asked = {str(r.model) for r in srv.chat_requests}
        assert srv.errors == []
    assert done.returncode == 0, done.stderr
    assert asked == set(MODEL.values())  # every persona ran on its own model

    # The terminal: performance, trading, the evidence and who beats whom have a row per
    # account (calibration too, once an account closed a trade).
    for account in (*ROSTER, "collaborative"):
        rows = [line for line in done.stdout.splitlines() if f"│ {account} " in line]
        assert len(rows) >= 4, (account, done.stdout)

    # metrics.json: every account's figures.
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["accounts"]) == {*ROSTER, "collaborative"}
    for persona in ROSTER:
        assert metrics["accounts"][persona]["trades"] > 0, persona

    # The LLM cache: entries for every persona's model.
    with sqlite3.connect(cache) as conn:
        llms = [row[0] for row in conn.execute("SELECT llm FROM llm_cache")]
    for persona, model in MODEL.items():
        assert any(model in llm for llm in llms), persona


def test_house_models_for_a_backtest_means_the_whole_roster(tmp_path):
    """`--models house` with an OpenRouter key set: custom personas too stay offline."""
    options = BacktestOptions(start="2024-04-01", end="2024-04-05", models="house")
    run, _ = prepare(
        options,
        _env_file=None,
        mytrader_home=tmp_path / "home",
        roster=",".join(ROSTER),
        personas_dir=personas_dir(tmp_path),
        persona_models=PAIRS,
        openrouter_api_key="sk-test-roster",
    )
    assert {p: run.settings.llm_kind(p) for p in ROSTER} == dict.fromkeys(ROSTER, "house")
