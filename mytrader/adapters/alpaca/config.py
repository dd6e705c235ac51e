"""What an Alpaca broker is built from: keys, endpoints, the live opt-in, timeouts and
the request budget, as one frozen value. The application builds it from the settings
(`mytrader.app.brokers`); the adapter never reads the settings itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

PAPER_URL = "https://paper-api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"


@dataclass(frozen=True)
class AlpacaConfig:
    key: SecretStr
    secret: SecretStr
    base_url: str = PAPER_URL
    data_url: str = DATA_URL
    feed: str = "iex"  # the free plan has no SIP
    timeout: float = 10.0  # seconds per request (alpaca-py itself sets none)
    allow_live: bool = False  # the live host only with this opt-in
    allowed_hosts: frozenset[str] = frozenset()  # hosts other than Alpaca's own
    requests_per_min: int = 200  # Alpaca's limit per key (trading and data apart)
    scan_chunk: int = 1000  # symbols per snapshot request of the scan
    scan_workers: int = 12
    screener: str = "endpoints"  # or "scan": every active symbol's snapshot

    @classmethod
    def of(cls, key: str, secret: str, **options: Any) -> AlpacaConfig:
        """Plain-text keys and any of the other fields by name."""
        return replace(cls(SecretStr(key), SecretStr(secret)), **options)
