"""The Alpaca broker of the settings: Settings -> AlpacaConfig, and the accounts opened
and checked. The adapter itself takes only its `AlpacaConfig`."""

from __future__ import annotations

from pydantic import SecretStr

from mytrader.adapters.alpaca.accounts import AccountRouter
from mytrader.adapters.alpaca.broker import AlpacaBroker
from mytrader.adapters.alpaca.config import AlpacaConfig
from mytrader.config import Settings
from mytrader.ports.broker import Broker, BrokerSetupError


def alpaca_config(settings: Settings, key: str, secret: str) -> AlpacaConfig:
    """The settings' Alpaca options, for one account's keys."""
    return AlpacaConfig(
        key=SecretStr(key),
        secret=SecretStr(secret),
        base_url=settings.alpaca_base_url,
        data_url=settings.alpaca_data_url,
        feed=settings.alpaca_data_feed,
        timeout=settings.alpaca_timeout_s,
        allow_live=settings.allow_live_trading,
        allowed_hosts=frozenset(settings.alpaca_allowed_host_names),
        requests_per_min=settings.alpaca_requests_per_min,
        scan_chunk=settings.alpaca_scan_chunk,
        screener=settings.alpaca_screener,
    )


def open_alpaca(settings: Settings) -> Broker:
    """The broker of the settings' keys, its account checked (keys, reachability). With
    per-account keys (`GROK_ALPACA_API_KEY`...), each of those books trades its own
    account and the rest trade the main one."""
    key, secret = settings.alpaca_api_key, settings.alpaca_api_secret
    if key is None or secret is None or not key.get_secret_value():
        raise BrokerSetupError("BROKER=alpaca needs ALPACA_API_KEY and ALPACA_API_SECRET")
    main = AlpacaBroker(alpaca_config(settings, key.get_secret_value(), secret.get_secret_value()))
    main.account()  # fails here, with a clear message, on bad keys or no connection
    own = {}
    for account, (k, s) in settings.account_keys().items():
        broker = AlpacaBroker(alpaca_config(settings, k, s))
        broker.account()
        own[account] = broker
    return AccountRouter(main, own) if own else main
