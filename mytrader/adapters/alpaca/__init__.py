"""Alpaca through alpaca-py: the HTTP guard and retries, trading, market data, JSON parsing,
and the `AlpacaBroker` façade; `AlpacaConfig` is all it knows of the settings."""
