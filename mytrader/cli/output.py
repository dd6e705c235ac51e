"""What every command shares: the console and its messages, the log format that hides the
settings' secrets, the settings or exit 2, the errors a user can fix as exit 3."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from mytrader.config import ConfigError, Settings, load_settings
from mytrader.domain.text import for_log, scrub_secrets

console = Console(emoji=False)  # `:name:` in a model's text stays text


def say_error(message: object) -> None:
    """An error for the operator: in red, shown as text (it may quote a setting's value,
    a model's answer or a server's reply)."""
    console.print(for_log(message), style="red", markup=False, highlight=False)


def say(message: object) -> None:
    """A message of ours that quotes outside text (an option, a setting), shown as text."""
    console.print(for_log(message), markup=False, highlight=False)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        say_error(exc)
        raise typer.Exit(2) from None
    hide_in_logs(settings)
    return settings


class ScrubbingFormatter(logging.Formatter):
    """Log lines with the settings' secrets masked and control characters shown."""

    secrets: tuple[str, ...] = ()

    def format(self, record: logging.LogRecord) -> str:
        return for_log(scrub_secrets(super().format(record), self.secrets))


LOG_FORMAT = ScrubbingFormatter("%(levelname)s %(name)s: %(message)s")


def hide_in_logs(settings: Settings) -> None:
    from mytrader.app.repair import secret_values

    ScrubbingFormatter.secrets = secret_values(settings)


@contextmanager
def reported_errors() -> Iterator[None]:
    """What a user can fix (a busy arena, a database or data file that is not there)
    ends the command with its message and exit status 3, not a traceback."""
    from mytrader.adapters.bars import MarketDataError
    from mytrader.adapters.news import NewsError
    from mytrader.adapters.store.db import StoreError
    from mytrader.adapters.store.lock import ArenaBusy
    from mytrader.app.providers import ProviderUnreachable
    from mytrader.app.repair import CycleFailed
    from mytrader.ports.broker import BrokerSetupError

    try:
        yield
    except (
        ArenaBusy,
        StoreError,
        MarketDataError,
        NewsError,
        CycleFailed,
        BrokerSetupError,
        ProviderUnreachable,
    ) as exc:
        say_error(exc)
        raise typer.Exit(3) from None
    except ConfigError as exc:  # e.g. a history too short for WARMUP_DAYS (runner.py)
        console.print(str(exc), markup=False, highlight=False, style="red")
        raise typer.Exit(2) from None


def flush_traces() -> None:
    """A short-lived process must send its LangSmith runs before it exits."""
    from langchain_core.tracers.langchain import wait_for_all_tracers

    wait_for_all_tracers()
