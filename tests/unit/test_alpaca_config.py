"""Settings -> AlpacaConfig (the app's step): every Alpaca option reaches the adapter,
and the keys stay secret in the value the adapter is given."""

from __future__ import annotations

from mytrader.adapters.alpaca.config import AlpacaConfig
from mytrader.app.brokers import alpaca_config
from tests.helpers import make_settings


def test_settings_reach_the_adapter_and_keys_stay_hidden() -> None:
    settings = make_settings(
        alpaca_base_url="https://paper-api.alpaca.markets",
        alpaca_data_url="http://127.0.0.1:9",
        alpaca_data_feed="sip",
        alpaca_timeout_s=2.5,
        allow_live_trading=True,
        alpaca_allowed_hosts="broker.example.com",
        alpaca_requests_per_min=50,
        alpaca_scan_chunk=300,
        alpaca_screener="scan",
    )
    config = alpaca_config(settings, "the-key", "the-secret")
    assert config == AlpacaConfig.of(
        "the-key",
        "the-secret",
        base_url="https://paper-api.alpaca.markets",
        data_url="http://127.0.0.1:9",
        feed="sip",
        timeout=2.5,
        allow_live=True,
        allowed_hosts=frozenset({"broker.example.com"}),
        requests_per_min=50,
        scan_chunk=300,
        screener="scan",
    )
    assert "the-key" not in repr(config) and "the-secret" not in repr(config)
    assert config.key.get_secret_value() == "the-key"
