"""Providers as settings: PROVIDERS, PROVIDER_<NAME>_*, PERSONA_PROVIDERS; each mistake a
message naming the setting, never echoing a key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mytrader.app.models import model_id, provider_name
from mytrader.app.repair import secret_values
from mytrader.config import ConfigError, load_settings

ARENA = {
    "PROVIDERS": "ollama,vendor",
    "PROVIDER_OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
    "PROVIDER_VENDOR_BASE_URL": "https://api.vendor.example/v1",
    "PROVIDER_VENDOR_API_KEY": "sk-vendor-SECRET",
    "PROVIDER_VENDOR_HEADERS": '{"X-Api-Key": "hdr-SECRET", "X-Team": "arena"}',
    "PROVIDER_VENDOR_PRICES": "0.28,0.42",
    "PERSONA_MODELS": "deepseek=qwen3:8b,openai=o4-mini",
    "PERSONA_PROVIDERS": "deepseek=ollama,openai=vendor",
}


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here

    def setenv(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return setenv


def test_each_persona_on_its_provider(env):
    env(**ARENA)
    s = load_settings()
    ollama, vendor = s.provider("ollama"), s.provider("vendor")
    assert ollama.api_key is None and not ollama.reports_cost  # local: no key, no cost
    assert vendor.reports_cost and vendor.prices == (Decimal("0.28"), Decimal("0.42"))
    assert dict(vendor.headers)["X-Team"] == "arena"
    # no OPENROUTER_API_KEY: grok stays on the house model, the others on their providers
    assert [provider_name(s, p) for p in s.personas] == ["house", "ollama", "vendor"]
    assert model_id(s, "deepseek") == "qwen3:8b"
    secrets = secret_values(s)
    assert "sk-vendor-SECRET" in secrets and "hdr-SECRET" in secrets
    assert "arena" not in secrets  # a header that is no credential is no secret


def test_openrouter_stays_the_default_with_todays_settings(env):
    env(OPENROUTER_API_KEY="sk-or-x", OPENROUTER_BASE_URL="http://127.0.0.1:9/api/v1")
    s = load_settings()
    assert {provider_name(s, p) for p in s.personas} == {"openrouter"}
    assert s.provider("openrouter").base_url == "http://127.0.0.1:9/api/v1"


def test_the_env_file_is_read_too(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    lines = [f"{k}={v}" for k, v in ARENA.items() if k != "PROVIDER_VENDOR_HEADERS"]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    s = load_settings()
    assert s.provider("vendor").api_key is not None
    assert provider_name(s, "openai") == "vendor"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PERSONA_PROVIDERS": "openai=olama"}, "PERSONA_PROVIDERS: openai=olama: no such"),
        ({"PERSONA_PROVIDERS": "stranger=ollama"}, "PERSONA_PROVIDERS: stranger not in ROSTER"),
        ({"PROVIDER_VENDOR_API_KEY": ""}, "PROVIDER_VENDOR_API_KEY: missing"),
        ({"PROVIDER_OLLAMA_BASE_URL": ""}, "PROVIDER_OLLAMA_BASE_URL: missing"),
        ({"PROVIDER_OLLAMA_BASE_URL": "127.0.0.1:11434"}, "PROVIDER_OLLAMA_BASE_URL: must start"),
        ({"PROVIDER_OLAMA_BASE_URL": "http://x"}, "PROVIDER_OLAMA_BASE_URL: 'olama' is not in"),
        ({"PROVIDER_VENDOR_HEADERS": "{sk-vendor-SECRET"}, "PROVIDER_VENDOR_HEADERS: must be"),
        ({"PROVIDER_VENDOR_PRICES": "cheap"}, "PROVIDER_VENDOR_PRICES: must be"),
        ({"PROVIDER_OLLAMA_REPORTS_COST": "maybe"}, "PROVIDER_OLLAMA_REPORTS_COST: must be"),
        ({"PROVIDERS": "openrouter"}, "PROVIDERS: 'openrouter' is built in"),
        ({"PROVIDERS": "ollama,ollama"}, "PROVIDERS: duplicate provider ollama"),
        ({"PROVIDERS": "my-box"}, "PROVIDERS: 'my-box' is not a provider name"),
    ],
)
def test_a_mistake_names_its_setting_and_hides_keys(env, change, named):
    env(**{**ARENA, **change})
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert named in str(err.value)
    assert "SECRET" not in str(err.value)
