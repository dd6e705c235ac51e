"""Small builders shared by the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from mytrader.config import Settings
from mytrader.state import Decision, MarketView, Movers, SymbolView


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env (the environment is cleaned by conftest)."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def decision(action: str, symbol: str | None = None, qty: int = 0, conf: int = 50) -> Decision:
    return Decision(decision=action, symbol=symbol, quantity=qty, confidence=conf)  # type: ignore[arg-type]


def view(prices: dict[str, str], as_of: str = "2024-01-02") -> MarketView:
    return MarketView(
        as_of=as_of,
        movers=Movers(),
        symbols={
            s: SymbolView(symbol=s, price=Decimal(p), change_pct=0.0, volume=1000)
            for s, p in prices.items()
        },
    )


def clean_env() -> dict[str, str]:
    """This process's environment without anything that configures MyTrader, a model
    endpoint or tracing, so a subprocess sees only what its test gives it."""
    settings_names = {name.upper() for name in Settings.model_fields}
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALPACA_", "OPENROUTER_", "LANGSMITH_", "LANGCHAIN_", "MYTRADER_"))
        and k.upper() not in settings_names
    }


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`mytrader ARGS` in a fresh process, with only `env` configuring it."""
    return subprocess.run(
        [sys.executable, "-m", "mytrader.cli", *args],
        env={**clean_env(), **env, "COLUMNS": "160"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
