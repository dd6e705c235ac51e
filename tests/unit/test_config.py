"""Settings: defaults, overrides, and errors that name the setting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mytrader.config import ConfigError, load_settings


def test_defaults_run_offline(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    s = load_settings()
    assert s.postgres_url is None
    assert {s.llm_kind(p) for p in ("grok", "deepseek", "openai")} == {"house"}
    assert s.fee_per_trade == Decimal("1") and s.critique_interval == 5
    assert s.vote_mode == "majority"


def test_openrouter_key_switches_auto_personas_only(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-x")
    monkeypatch.setenv("DEEPSEEK_LLM", "house")
    s = load_settings()
    assert s.llm_kind("grok") == "openrouter" and s.llm_kind("deepseek") == "house"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VOTE_MODE", "dictator"),
        ("STARTING_CASH", "-5"),
        ("FEE_PER_TRADE", "-1"),
        ("CRITIQUE_INTERVAL", "0"),
        ("STOP_LOSS_PCT", "abc"),
        ("ARENA_ID", "has-dash"),
        ("WATCHLIST", "AAPL,MS FT"),
        ("LLM_TIMEOUT_S", "0"),
        ("GROK_LLM", "gpt"),
    ],
)
def test_bad_value_names_the_setting(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_secret_values_are_never_echoed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "DATABASE_URL" in str(err.value) and "hunter2" not in str(err.value)


def test_dotenv_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("VOTE_MODE=weighted\nWATCHLIST= aapl , mrna\n")
    s = load_settings()
    assert s.vote_mode == "weighted"
    assert s.watchlist_symbols == ["AAPL", "MRNA"]


def test_graph_modules_build_no_settings_at_import(monkeypatch, tmp_path):
    import importlib
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    # A bad setting would fail any import that built Settings; the imports must pass.
    code = "import mytrader.graph.app, mytrader.graph.builder, mytrader.cli; print('ok')"
    env = {"VOTE_MODE": "dictator", "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    assert importlib.import_module("mytrader.graph.app").graph is not None


# --- roster ---------------------------------------------------------------------------------


def test_roster_default_is_the_seed_three(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.personas == ("grok", "deepseek", "openai")
    assert s.accounts == ("grok", "deepseek", "openai", "collaborative")


def test_a_user_persona_from_settings_alone(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "persona_qwen.md").write_text("## Who you are: Qwen\n")
    monkeypatch.setenv("ROSTER", "grok,deepseek,openai,qwen")
    monkeypatch.setenv("PERSONAS_DIR", str(tmp_path))
    monkeypatch.setenv("PERSONA_MODELS", "qwen=qwen/qwen3-235b-a22b")
    s = load_settings()
    assert s.personas[-1] == "qwen" and s.model_for("qwen") == "qwen/qwen3-235b-a22b"
    assert s.llm_kind("qwen") == "house"  # no key: offline
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-x")
    monkeypatch.setenv("PERSONA_LLMS", "qwen=house")
    assert load_settings().llm_kind("qwen") == "house"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ROSTER": "grok,deepseek,grok"}, "ROSTER: .*duplicate persona grok"),
        ({"ROSTER": "grok,collaborative"}, "ROSTER: .*vote's account"),
        ({"ROSTER": "grok,Mis-Named"}, "ROSTER: .*not a persona name"),
        ({"ROSTER": "grok,qwen", "PERSONA_MODELS": "qwen=q/q"}, "ROSTER: no prompt file .*qwen"),
        (
            {"ROSTER": "grok,mistral", "PERSONAS_DIR": "{dir}"},
            "PERSONA_MODELS: no model id .*mistral",
        ),
        ({"PERSONA_MODELS": "qwen=q/q"}, "PERSONA_MODELS: qwen not in ROSTER"),
        ({"PERSONA_LLMS": "grok=gpu"}, "PERSONA_LLMS: grok=gpu"),
        ({"PERSONAS_DIR": "/no/such/dir"}, "PERSONAS_DIR: .* is not a folder"),
    ],
)
def test_roster_errors_name_the_setting(monkeypatch, tmp_path, env, named):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "persona_mistral.md").write_text("## Mistral\n")
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(dir=tmp_path))
    with pytest.raises(ConfigError, match=named):
        load_settings()
