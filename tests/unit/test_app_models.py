"""The persona -> chat model step the app takes from the settings (app/models.py)."""

from __future__ import annotations

import pytest

from mytrader.adapters.llm.house import HouseModel
from mytrader.app.models import build_models, model_id
from mytrader.config import load_settings


def test_offline_roster_gets_house_models(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    s = load_settings()
    models = build_models(s)
    assert tuple(models) == tuple(s.personas)
    assert all(isinstance(m, HouseModel) and m.persona == p for p, m in models.items())
    assert model_id(s, "grok") == "house/grok"


def test_openrouter_without_a_key_names_the_setting(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROK_LLM", "openrouter")
    s = load_settings()
    assert model_id(s, "grok") == s.model_for("grok")
    with pytest.raises(ValueError, match="GROK_LLM=openrouter needs OPENROUTER_API_KEY"):
        build_models(s)
