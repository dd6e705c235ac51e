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
    code = "import mytrader.app.studio, mytrader.graph.builder, mytrader.cli.main; print('ok')"
    env = {"VOTE_MODE": "dictator", "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    assert importlib.import_module("mytrader.app.studio").graph is not None


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


# --- settings bounded by meaning ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STARTING_CASH", "1e400"),  # finite as a Decimal, but no book holds it
        ("STARTING_CASH", "1000000000.01"),  # above MAX_STARTING_CASH
        ("STARTING_CASH", "NaN"),
        ("STARTING_CASH", "Infinity"),
        ("STARTING_CASH", "0"),
        ("STARTING_CASH", "100.001"),  # not whole cents
        ("FEE_PER_TRADE", "1e9"),
        ("FEE_PER_TRADE", "NaN"),
        ("STOP_LOSS_PCT", "150"),  # a stop below $0
        ("STOP_LOSS_PCT", "100"),  # a stop at $0
        ("STOP_LOSS_PCT", "-1"),
        ("TAKE_PROFIT_PCT", "1e6"),
        ("TAKE_PROFIT_PCT", "-5"),
        ("BUY_LIMIT_BUFFER_PCT", "100"),  # a SELL limit at $0
        ("MAX_POSITION_PCT", "101"),
        ("DAILY_LOSS_LIMIT_PCT", "250"),
        ("VOTE_EDGE_PCT", "1000"),
        ("VOTE_WINDOW", "1"),
        ("LLM_TEMPERATURE", "nan"),
        ("LLM_TEMPERATURE", "3"),
        ("LLM_TIMEOUT_S", "inf"),
        ("LLM_TIMEOUT_S", "nan"),
        ("LLM_MAX_RETRIES", "-1"),
        ("LLM_DAILY_BUDGET_USD", "1e400"),
        ("MAX_TOOL_ROUNDS", "1000000"),
        ("CRITIQUE_INTERVAL", "0"),
        ("MOVERS_TOP", "100000"),
        ("WARMUP_DAYS", "100000"),
        ("WARMUP_DAYS", "34"),
        ("ALPACA_TIMEOUT_S", "nan"),
        ("ALPACA_TIMEOUT_S", "0"),
        ("ALPACA_REQUESTS_PER_MIN", "0"),
        ("ALPACA_SCAN_CHUNK", "10000000"),
    ],
)
def test_numbers_outside_their_meaning_name_the_setting(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}: (must|Input should)") as err:
        load_settings()
    assert "Value error" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STARTING_CASH", "1000000000"),
        ("STARTING_CASH", "0.01"),
        ("STOP_LOSS_PCT", "99.99"),
        ("STOP_LOSS_PCT", "0"),
        ("TAKE_PROFIT_PCT", "1000"),
        ("MAX_POSITION_PCT", "100"),
        ("LLM_TEMPERATURE", "0"),
        ("LLM_MAX_RETRIES", "0"),
        ("WARMUP_DAYS", "35"),
    ],
)
def test_the_edges_of_each_range_are_accepted(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    load_settings()


def test_mytrader_home_must_be_a_folder_or_makeable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for home, said in ((afile, "is a file"), (afile / "below", "cannot be made")):
        monkeypatch.setenv("MYTRADER_HOME", str(home))
        with pytest.raises(ConfigError, match=f"MYTRADER_HOME: .*{said}"):
            load_settings()
    monkeypatch.setenv("MYTRADER_HOME", str(tmp_path / "new" / "home"))
    assert load_settings().mytrader_home == tmp_path / "new" / "home"
    assert not (tmp_path / "new").exists()  # checked, not made


def test_symbols_in_settings_have_one_spelling(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WATCHLIST", " brk.b , aapl,AAPL")
    monkeypatch.setenv("BENCHMARK_SYMBOL", " spy ")
    s = load_settings()
    assert s.watchlist_symbols == ["BRK.B", "AAPL"] and s.benchmark_symbol == "SPY"
    for name, value in (("BENCHMARK_SYMBOL", "S&P"), ("WATCHLIST", "AAPL,ıbm")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=f"{name}: .*not a symbol"):
            load_settings()
        monkeypatch.delenv(name)


def test_allowed_hosts_are_normalised(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPACA_ALLOWED_HOSTS", " Proxy.Example. ,127.0.0.1")
    assert load_settings().alpaca_allowed_host_names == ["proxy.example", "127.0.0.1"]
    monkeypatch.setenv("ALPACA_ALLOWED_HOSTS", "https://proxy.example/")
    with pytest.raises(ConfigError, match="ALPACA_ALLOWED_HOSTS: must be host names"):
        load_settings()


def test_own_alpaca_accounts_follow_the_roster(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    pairs = [(a, k) for a in ("grok", "openai") for k in ("key", "secret")]
    keys = {f"{a}_alpaca_api_{k}": f"{a}-{k}" for a, k in pairs}
    s = load_settings(roster="grok,deepseek", **keys)
    assert s.account_keys() == {"grok": ("grok-key", "grok-secret")}  # openai is off the roster
