"""Settings, read from the environment and `.env` (pydantic-settings).

Nothing here runs at import time: call `load_settings()` where settings are needed.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mytrader.domain.endpoints import normalise_host
from mytrader.domain.hosts import bare_host
from mytrader.domain.models import COLLABORATIVE
from mytrader.domain.money import CENT
from mytrader.domain.personas import persona_prompt_path
from mytrader.domain.symbols import normalise_symbol, normalise_symbols
from mytrader.domain.warmup import MIN_WARMUP

# The seed's roster: the default of ROSTER, and the books with settings of their own
# (<name>_model, <name>_llm, <name>_alpaca_api_*). Never which accounts a loop, a report,
# a cache or a table covers: that is the roster in use, settings.personas / .accounts.
PERSONAS: tuple[str, ...] = ("grok", "deepseek", "openai")
ACCOUNTS: tuple[str, ...] = (*PERSONAS, COLLABORATIVE)


_SECRET_FIELDS = {"alpaca_api_key", "alpaca_api_secret", "openrouter_api_key", "database_url"}
_SECRET_FIELDS |= {f"{a}_alpaca_api_{k}" for a in ACCOUNTS for k in ("key", "secret")}
_SECRET_FIELDS |= {"x_bearer_token"}  # --- X search for Grok ---
_SECRET_FIELDS |= {"provider_vars"}  # --- providers: their keys and headers ---


_PERSONA_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")


def _parse_pairs(value: str) -> dict[str, str]:
    """ "a=x,b=y" -> {"a": "x", "b": "y"}; names lower-cased, each at most once."""
    pairs: dict[str, str] = {}
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        name, sep, val = (p.strip() for p in item.partition("="))
        if not sep or not name or not val:
            raise ValueError(f"{item!r} is not name=value (e.g. qwen=qwen/qwen3-235b-a22b)")
        if name.lower() in pairs:
            raise ValueError(f"{name.lower()} is given twice")
        pairs[name.lower()] = val
    return pairs


# --- providers: where each persona's model is served (README: Run a persona on your own
# machine). OpenRouter is the built-in default (OPENROUTER_BASE_URL, OPENROUTER_API_KEY);
# PROVIDERS names the others, each described by PROVIDER_<NAME>_<FIELD> settings.
DEFAULT_PROVIDER = "openrouter"
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9]{0,15}")
_PROVIDER_FIELDS = ("base_url", "api_key", "headers", "reports_cost", "prices")
_PROVIDER_VAR = re.compile(rf"provider_([a-z][a-z0-9]{{0,15}})_({'|'.join(_PROVIDER_FIELDS)})")
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")
# Header names whose values are credentials: masked like the API keys.
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie", re.IGNORECASE)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One provider: an OpenAI-compatible endpoint (see README: Configuration)."""

    name: str
    base_url: str
    api_key: SecretStr | None = None  # None: a local server that takes no key
    headers: tuple[tuple[str, str], ...] = ()
    reports_cost: bool = True  # the answers' usage carries a dollar `cost` (OpenRouter)
    # Dollars per million tokens (input, output), for a provider that reports no cost.
    prices: tuple[Decimal, Decimal] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key and every credential-like header value (masked wherever text is kept)."""
        found = [self.api_key.get_secret_value()] if self.api_key else []
        found += [v for k, v in self.headers if _SECRET_HEADER.search(k)]
        return tuple(v for v in found if v)


def is_local(url: str) -> bool:
    """Whether `url` names this machine (a local server may go without an API key)."""
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in _LOOPBACK


def _provider_problem(name: str, field: str, raw: str) -> str:
    return f"PROVIDER_{name.upper()}_{field.upper()}: {raw}"


def parse_provider(name: str, values: dict[str, str]) -> ProviderSettings:
    """PROVIDER_<NAME>_* values -> ProviderSettings; ValueError naming the setting."""
    base_url = values.get("base_url", "").strip().rstrip("/")
    if not base_url:
        raise ValueError(
            _provider_problem(name, "base_url", "missing (e.g. http://127.0.0.1:11434/v1)")
        )
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(
            _provider_problem(
                name, "base_url", f"must start with http:// or https:// ({base_url!r})"
            )
        )
    key = values.get("api_key", "").strip()
    if not key and not is_local(base_url):
        raise ValueError(
            _provider_problem(
                name, "api_key", f"missing: {base_url} is not on this machine, it needs a key"
            )
        )
    headers: tuple[tuple[str, str], ...] = ()
    if values.get("headers", "").strip():
        try:
            given = json.loads(values["headers"])
        except ValueError:
            given = None
        ok = isinstance(given, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in given.items()
        )
        if not ok or given is None:  # never echoed: a header may carry a credential
            raise ValueError(
                _provider_problem(
                    name, "headers", 'must be a JSON object of strings, e.g. {"X-Team": "a"}'
                )
            )
        headers = tuple(sorted(given.items()))
    flag = values.get("reports_cost", "").strip().lower()
    if flag and flag not in _TRUE + _FALSE:
        raise ValueError(
            _provider_problem(name, "reports_cost", f"must be true or false ({flag!r})")
        )
    prices = None
    if values.get("prices", "").strip():
        parts = [p.strip() for p in values["prices"].split(",")]
        try:
            numbers = tuple(Decimal(p) for p in parts)
        except ArithmeticError:
            numbers = ()
        if len(numbers) != 2 or not all(n.is_finite() and 0 <= n <= 10_000 for n in numbers):
            raise ValueError(
                _provider_problem(
                    name,
                    "prices",
                    "must be 'input,output' dollars per million tokens, e.g. 0.28,0.42 "
                    f"(got {values['prices']!r})",
                )
            )
        prices = (numbers[0], numbers[1])
    return ProviderSettings(
        name=name,
        base_url=base_url,
        api_key=SecretStr(key) if key else None,
        headers=headers,
        # A local server reports no cost; a hosted one is assumed to unless told otherwise.
        reports_cost=flag in _TRUE if flag else not is_local(base_url),
        prices=prices,
    )


class _ProviderVars(PydanticBaseSettingsSource):
    """Every PROVIDER_<NAME>_<FIELD> of the environment and the .env file, as one field
    (`provider_vars`): their names depend on PROVIDERS, so no field can declare them."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        sources: tuple[PydanticBaseSettingsSource, ...],
    ) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, str] = {}
        for source in self._sources:  # the .env file first: the environment wins
            env_vars = getattr(source, "env_vars", {}) or {}
            for name, value in env_vars.items():
                if value is not None and _PROVIDER_VAR.fullmatch(name.lower()):
                    found[name.lower()] = value
        return {"provider_vars": found} if found else {}


class ConfigError(ValueError):
    """A setting has a wrong value; the message names the setting."""


# Cash a book may start with: beyond it, sums of shares x prices leave exact arithmetic
# (and 1,000,000,000 shares, the largest order, of a $1 stock is as much).
MAX_STARTING_CASH = Decimal("1000000000")


@dataclass(frozen=True, slots=True)
class Bounds:
    """The range a numeric setting means something in; `below`: high itself is out."""

    low: Decimal | int | float
    high: Decimal | int | float
    meaning: str
    above: bool = False  # low itself is out
    below: bool = False
    cents: bool = False  # money: whole cents

    def problem(self, v: Decimal | int | float) -> str | None:
        finite = v.is_finite() if isinstance(v, Decimal) else math.isfinite(v)
        if not finite:  # NaN, infinity
            return f"must be a finite number ({self.meaning})"
        out_low = v <= self.low if self.above else v < self.low
        out_high = v >= self.high if self.below else v > self.high
        if out_low or out_high:
            lo, hi = "(" if self.above else "[", ")" if self.below else "]"
            return f"must be in {lo}{self.low}, {self.high}{hi} ({self.meaning})"
        if self.cents and isinstance(v, Decimal) and v != v.quantize(CENT):
            return f"must be whole cents ({self.meaning})"
        return None


_PERCENT_OF_EQUITY = "% of the book's equity; 0 disables"
BOUNDS: dict[str, Bounds] = {
    "starting_cash": Bounds(0, MAX_STARTING_CASH, "dollars per book", above=True, cents=True),
    "fee_per_trade": Bounds(0, 1000, "dollars per filled order", cents=True),
    "llm_daily_budget_usd": Bounds(0, 1_000_000, "dollars per agent per day"),
    "llm_temperature": Bounds(0.0, 2.0, "the models' sampling temperature"),
    "llm_timeout_s": Bounds(0.0, 3600.0, "seconds per model call", above=True),
    "llm_max_retries": Bounds(0, 10, "retries per model call"),
    "max_tool_rounds": Bounds(1, 50, "tool-call rounds per turn"),
    "critique_interval": Bounds(1, 10_000, "trades between critiques"),
    "warmup_days": Bounds(MIN_WARMUP, 10_000, "trading days of history; MACD needs 35 bars"),
    "movers_top": Bounds(1, 50, "symbols per movers list"),
    "max_position_pct": Bounds(0, 100, _PERCENT_OF_EQUITY),
    "daily_loss_limit_pct": Bounds(0, 100, "% of the day's opening equity; 0 disables"),
    "stop_loss_pct": Bounds(
        0, 100, "% below the average cost: 100 would put the stop at $0; 0 disables", below=True
    ),
    "take_profit_pct": Bounds(0, 1000, "% above the average cost; 0 disables"),
    "buy_limit_buffer_pct": Bounds(
        0, 100, "% above (BUY) or below (SELL) the last price", below=True
    ),
    "vote_window": Bounds(2, 10_000, "cycles of trailing return"),
    "vote_edge_pct": Bounds(0, 100, "points of trailing return"),
    "alpaca_timeout_s": Bounds(0.0, 300.0, "seconds per Alpaca request", above=True),
    "alpaca_requests_per_min": Bounds(1, 10_000, "Alpaca's request budget per minute"),
    "alpaca_scan_chunk": Bounds(1, 10_000, "symbols per snapshot request"),
    "fill_wait_s": Bounds(0.0, 60.0, "seconds a cycle waits for a BUY's fill (live)"),
}


class Settings(BaseSettings):
    """Every knob of the arena. Environment names are the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Outside systems (the seed's names). Empty means: use the offline implementation.
    alpaca_api_key: SecretStr | None = None
    alpaca_api_secret: SecretStr | None = None
    alpaca_base_url: str = "https://paper-api.alpaca.markets"
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    database_url: SecretStr | None = None
    # Connecting, waiting for a pooled connection, and one statement: a lost database
    # ends the command within this bound instead of hanging (README: Damaged databases).
    database_timeout_s: float = Field(10.0, gt=0, le=600)
    mytrader_home: Path = Field(default_factory=lambda: Path.home() / ".mytrader")

    # Which model each persona runs on. "house" is the offline deterministic model.
    grok_model: str = "x-ai/grok-4.1-fast"
    deepseek_model: str = "deepseek/deepseek-v3.2"
    openai_model: str = "openai/gpt-5-mini"
    # "auto": real model when OPENROUTER_API_KEY is set, house model otherwise.
    grok_llm: Literal["auto", "house", "openrouter"] = "auto"
    deepseek_llm: Literal["auto", "house", "openrouter"] = "auto"
    openai_llm: Literal["auto", "house", "openrouter"] = "auto"

    # How agents talk to their models.
    max_tool_rounds: int = 4
    llm_temperature: float = 0.7
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 2
    # OpenAI JSON mode (response_format json_object) for models that support it.
    llm_json_mode: bool = False
    # Read-only market tools for real models (house models decide from the prompt alone).
    agent_tools: bool = True
    # Dollars an agent may spend on its model per trading day; then it HOLDs. None: no cap.
    llm_daily_budget_usd: Decimal | None = None
    news_path: Path | None = None  # offline news: a JSON-lines file (see README)

    # The arena.
    arena_id: str = "arena"
    starting_cash: Decimal = Decimal("100000")
    fee_per_trade: Decimal = Decimal("1")
    critique_interval: int = 5
    vote_mode: Literal["majority", "weighted"] = "majority"
    market_data_path: Path | None = None
    warmup_days: int = 60
    movers_top: int = 5
    # Symbols always shown to the agents besides the day's movers and held symbols.
    watchlist: str = ""
    # Read at every cycle for the leaderboard's "vs buy and hold" (empty: none).
    benchmark_symbol: str = "SPY"

    # Risk limits (percentages of the book's equity or of the average cost).
    max_position_pct: Decimal = Decimal("25")
    daily_loss_limit_pct: Decimal = Decimal("5")
    stop_loss_pct: Decimal = Decimal("10")
    take_profit_pct: Decimal = Decimal("25")
    buy_limit_buffer_pct: Decimal = Decimal("3")

    # The broker account's rules (issue 14): the order manager sequences every book's orders
    # on one account so none is refused as a wash trade; the simulated exchange enforces
    # the account's rules (wash trade, shares held by open sells, buying power). Off: the
    # old behaviour, for comparison (bench/account_rules.py).
    order_manager: bool = True
    sim_account_rules: bool = True
    # Live: seconds to wait for a BUY's fill before its symbol's protective orders are
    # restored at once (else at the next cycle's start).
    fill_wait_s: float = 5.0

    # --- alpaca: the real broker (adapters/alpaca/, built in app/brokers.py) ---
    # auto: Alpaca when ALPACA_API_KEY and ALPACA_API_SECRET are set, else the simulated exchange.
    broker: Literal["auto", "sim", "alpaca"] = "auto"
    alpaca_data_url: str = "https://data.alpaca.markets"
    alpaca_data_feed: Literal["iex", "sip", "delayed_sip"] = "iex"  # the free plan has no SIP
    allow_live_trading: bool = False  # a live ALPACA_BASE_URL is refused without it
    # Hosts besides Alpaca's and loopback that ALPACA_BASE_URL/ALPACA_DATA_URL may name
    # (e.g. a proxy), comma-separated; Alpaca's live host still needs ALLOW_LIVE_TRADING.
    alpaca_allowed_hosts: str = ""
    alpaca_timeout_s: float = 10.0  # every request (alpaca-py itself sets no timeout)
    alpaca_requests_per_min: int = 200  # Alpaca's limit per key (trading and data apart)
    # Movers from Alpaca's screener endpoints ("endpoints"; a scan when they fail), or
    # always from a scan of the whole universe's snapshots ("scan").
    alpaca_screener: Literal["endpoints", "scan"] = "endpoints"
    alpaca_scan_chunk: int = 1000  # symbols per snapshot request of the scan
    # Optional: a paper account of its own per book (the others trade the main account).
    grok_alpaca_api_key: SecretStr | None = None
    grok_alpaca_api_secret: SecretStr | None = None
    deepseek_alpaca_api_key: SecretStr | None = None
    deepseek_alpaca_api_secret: SecretStr | None = None
    openai_alpaca_api_key: SecretStr | None = None
    openai_alpaca_api_secret: SecretStr | None = None
    collaborative_alpaca_api_key: SecretStr | None = None
    collaborative_alpaca_api_secret: SecretStr | None = None

    def account_keys(self) -> dict[str, tuple[str, str]]:
        """Book -> (key, secret) of the roster's books with an Alpaca account of their own
        (only the seed books have key settings; a book off the roster trades nowhere)."""
        out = {}
        for account in self.accounts:
            key = getattr(self, f"{account}_alpaca_api_key", None)
            secret = getattr(self, f"{account}_alpaca_api_secret", None)
            if key is not None and secret is not None and key.get_secret_value():
                out[account] = (key.get_secret_value(), secret.get_secret_value())
        return out

    @property
    def broker_kind(self) -> Literal["sim", "alpaca"]:
        if self.broker == "auto":
            return "alpaca" if self.alpaca_api_key and self.alpaca_api_secret else "sim"
        return self.broker

    # --- X search for Grok ---
    # X API v2 app bearer token: Grok gets the `search_x` tool when it is set.
    x_bearer_token: SecretStr | None = None
    x_api_base_url: str = "https://api.x.com"

    # --- dashboard ---
    # Required by `mytrader serve` on any host but loopback, and then on every request.
    dashboard_token: SecretStr | None = None
    # Names (besides loopback ones) the dashboard answers to in Host and Origin, e.g.
    # "mybox.local,192.168.1.20"; served on loopback, any other name is refused.
    dashboard_allowed_hosts: str = ""

    @field_validator("dashboard_allowed_hosts")
    @classmethod
    def _dashboard_hosts(cls, v: str) -> str:
        names = []
        for item in (i.strip() for i in v.split(",")):
            if item:
                name = bare_host(item)
                if name is None:
                    raise ValueError(f"{item!r} is not a host name or address (no port)")
                names.append(name)
        return ",".join(names)

    @property
    def dashboard_hosts(self) -> tuple[str, ...]:
        return tuple(n for n in self.dashboard_allowed_hosts.split(",") if n)

    @field_validator(*BOUNDS)
    @classmethod
    def _bounded(cls, v: Decimal | int | float | None, info: ValidationInfo) -> object:
        """Every numeric setting within the range it means something in (BOUNDS)."""
        problem = None if v is None else BOUNDS[str(info.field_name)].problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("arena_id")
    @classmethod
    def _arena_id(cls, v: str) -> str:
        # No '-': it separates the arena from the rest of a client order id.
        if not v or len(v) > 24 or not v.replace("_", "").isalnum():
            raise ValueError("must be 1-24 letters, digits or '_'")
        return v

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            url = v.get_secret_value()
            if url and not url.startswith(("postgresql://", "postgres://")):
                raise ValueError("must start with postgresql:// (or be unset)")
        return v

    @field_validator("watchlist")
    @classmethod
    def _watchlist(cls, v: str) -> str:
        try:
            return ",".join(normalise_symbols(v))
        except ValueError as exc:
            raise ValueError(
                f"must be symbols separated by commas, e.g. AAPL,MRNA: {exc}"
            ) from None

    @field_validator("benchmark_symbol")
    @classmethod
    def _benchmark(cls, v: str) -> str:
        return normalise_symbol(v) if v.strip() else ""

    @field_validator("alpaca_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, v: str) -> str:
        hosts = []
        for item in (i.strip() for i in v.split(",")):
            if item:
                try:
                    hosts.append(normalise_host(item))
                except ValueError as exc:
                    raise ValueError(f"must be host names separated by commas: {exc}") from None
        return ",".join(hosts)

    @field_validator("mytrader_home")
    @classmethod
    def _home(cls, v: Path) -> Path:
        """A folder, or a place where one can be made: not a file, not read-only."""
        home = v.expanduser()
        if home.exists() and not home.is_dir():
            raise ValueError(f"{home} is a file, not a folder")
        parent = home
        while not parent.exists():  # the nearest existing folder is where it gets made
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"{home} cannot be made: {parent} is a file")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(f"{home}: {parent} is not writable")
        return v

    # --- roster ---
    # The personas, in order; each needs persona_<name>.md in PERSONAS_DIR or in the
    # packaged prompts. Beyond the seed three, each needs a model id in PERSONA_MODELS.
    roster: str = ",".join(PERSONAS)
    personas_dir: Path | None = None
    # "name=model id" pairs, e.g. "qwen=qwen/qwen3-235b-a22b"; they win over <NAME>_MODEL.
    persona_models: str = ""
    # "name=house|openrouter|auto" pairs; they win over <NAME>_LLM (default auto).
    persona_llms: str = ""

    # --- providers ---
    # The providers besides OpenRouter, e.g. "ollama,deepseek"; each is described by
    # PROVIDER_<NAME>_BASE_URL, _API_KEY (optional on this machine), _HEADERS (JSON),
    # _REPORTS_COST and _PRICES ("input,output" dollars per million tokens).
    providers: str = ""
    # "persona=provider" pairs, e.g. "qwen=ollama,openai=deepseek"; others: openrouter.
    persona_providers: str = ""
    # Every PROVIDER_<NAME>_<FIELD> setting, lower-cased (read by _ProviderVars).
    provider_vars: dict[str, str] = Field(default_factory=dict, repr=False)
    # Seconds the providers' reachability check waits per provider (before the first cycle).
    provider_probe_timeout_s: float = Field(5.0, gt=0, le=120)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        found = tuple(
            s
            for s in (dotenv_settings, env_settings)
            if isinstance(s, EnvSettingsSource | DotEnvSettingsSource)
        )
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            _ProviderVars(settings_cls, found),
        )

    @field_validator("providers")
    @classmethod
    def _providers(cls, v: str) -> str:
        names = [n.strip().lower() for n in v.split(",") if n.strip()]
        for name in names:
            if name in (DEFAULT_PROVIDER, "house"):
                raise ValueError(
                    f"{name!r} is built in: set OPENROUTER_BASE_URL/OPENROUTER_API_KEY"
                    if name == DEFAULT_PROVIDER
                    else "'house' is not a provider: set PERSONA_LLMS=<persona>=house"
                )
            if not _PROVIDER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a provider name (a-z then a-z, 0-9; 1-16)")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate provider {', '.join(dupes)}")
        return ",".join(names)

    # --- vote ---
    # Weighted vote: trailing returns over this many cycles; an agent "clearly" beats
    # another when its trailing return is at least vote_edge_pct points higher.
    vote_window: int = 20
    vote_edge_pct: Decimal = Decimal("1")

    @field_validator("roster")
    @classmethod
    def _roster(cls, v: str) -> str:
        names = [n.strip().lower() for n in v.split(",") if n.strip()]
        if not names:
            raise ValueError("must name at least one persona, e.g. grok,deepseek,openai")
        for name in names:
            if not _PERSONA_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a persona name (a-z, 0-9, '_', 1-16)")
            if name == COLLABORATIVE:
                raise ValueError(f"{name!r} is the vote's account, not a persona")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate persona {', '.join(dupes)}")
        return ",".join(names)

    @field_validator("persona_models", "persona_llms", "persona_providers")
    @classmethod
    def _pairs(cls, v: str) -> str:
        _parse_pairs(v)
        return v

    @model_validator(mode="after")
    def _roster_complete(self) -> Settings:
        """Every persona has a prompt file and a model; no pair names a stranger."""
        roster = self.personas
        models, llms = _parse_pairs(self.persona_models), _parse_pairs(self.persona_llms)
        chosen = _parse_pairs(self.persona_providers)
        named = (("PERSONA_MODELS", models), ("PERSONA_LLMS", llms), ("PERSONA_PROVIDERS", chosen))
        for setting, pairs in named:
            strangers = sorted(set(pairs) - set(roster))
            if strangers:
                raise ValueError(f"{setting}: {', '.join(strangers)} not in ROSTER ({self.roster})")
        for name, kind in llms.items():
            if kind not in ("auto", "house", "openrouter"):
                raise ValueError(f"PERSONA_LLMS: {name}={kind} must be house, openrouter or auto")
        self._check_providers(chosen)
        if self.personas_dir is not None and not self.personas_dir.is_dir():
            raise ValueError(f"PERSONAS_DIR: {self.personas_dir} is not a folder")
        for name in roster:
            # The packaged texts are files beside the prompts module (importing it here
            # would pull in langchain for every command).
            packaged = Path(__file__).parent / "prompts"
            if persona_prompt_path(name, self.personas_dir, packaged) is None:
                where = self.personas_dir or "a folder and set PERSONAS_DIR to it"
                raise ValueError(
                    f"ROSTER: no prompt file for persona {name!r}: add persona_{name}.md to {where}"
                )
            if name not in models and name not in PERSONAS:
                raise ValueError(
                    f"PERSONA_MODELS: no model id for persona {name!r} (e.g. {name}=vendor/model)"
                )
        return self

    def _check_providers(self, chosen: dict[str, str]) -> None:
        listed = self.provider_names
        for var in sorted(self.provider_vars):
            match = _PROVIDER_VAR.fullmatch(var)
            if match and match.group(1) not in listed:
                raise ValueError(
                    f"{var.upper()}: {match.group(1)!r} is not in PROVIDERS "
                    f"({self.providers or 'empty'}); add it there"
                )
        for persona, provider in chosen.items():
            if provider.lower() not in (DEFAULT_PROVIDER, *listed):
                known = ", ".join((DEFAULT_PROVIDER, *listed))
                raise ValueError(
                    f"PERSONA_PROVIDERS: {persona}={provider}: no such provider (known: {known};"
                    " a new one goes in PROVIDERS)"
                )
        for name in listed:
            self.provider(name)  # raises, naming the PROVIDER_<NAME>_* setting

    @property
    def provider_names(self) -> tuple[str, ...]:
        """The providers of PROVIDERS (OpenRouter, the built-in one, is not among them)."""
        return tuple(n for n in self.providers.split(",") if n)

    def provider(self, name: str) -> ProviderSettings:
        """A provider's settings; OpenRouter's are OPENROUTER_BASE_URL and _API_KEY."""
        if name == DEFAULT_PROVIDER:
            return ProviderSettings(
                name=name, base_url=self.openrouter_base_url, api_key=self.openrouter_api_key
            )
        prefix = f"provider_{name}_"
        values = {
            k.removeprefix(prefix): v for k, v in self.provider_vars.items() if k.startswith(prefix)
        }
        return parse_provider(name, values)

    def provider_for(self, persona: str) -> str:
        """The provider of a persona's real model (PERSONA_PROVIDERS, else openrouter)."""
        return _parse_pairs(self.persona_providers).get(persona, DEFAULT_PROVIDER).lower()

    @property
    def personas(self) -> tuple[str, ...]:
        return tuple(n for n in self.roster.split(",") if n)

    @property
    def accounts(self) -> tuple[str, ...]:
        return (*self.personas, COLLABORATIVE)

    @property
    def alpaca_allowed_host_names(self) -> list[str]:
        return [h for h in self.alpaca_allowed_hosts.split(",") if h]

    @property
    def watchlist_symbols(self) -> list[str]:
        return [s for s in self.watchlist.split(",") if s]

    def model_for(self, persona: str) -> str:
        models = _parse_pairs(self.persona_models)
        if persona in models:
            return models[persona]
        return str(getattr(self, f"{persona}_model", persona))

    def llm_kind(self, persona: str) -> Literal["house", "openrouter"]:
        """ "house", or "openrouter": a real model, on the persona's provider (provider_for)."""
        kind = _parse_pairs(self.persona_llms).get(persona) or getattr(
            self, f"{persona}_llm", "auto"
        )
        if kind == "auto":  # a real model where it can be called
            if self.provider_for(persona) != DEFAULT_PROVIDER:
                return "openrouter"
            return "openrouter" if self.openrouter_api_key else "house"
        return "house" if kind == "house" else "openrouter"

    @property
    def postgres_url(self) -> str | None:
        if self.database_url is None:
            return None
        return self.database_url.get_secret_value() or None


def load_settings(**overrides: object) -> Settings:
    """Build settings; a wrong value raises ConfigError naming the setting (env name)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            if not name:  # a check across settings: its message names them
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            # Never echo a secret back: only non-secret values are shown.
            shown = "" if name in _SECRET_FIELDS else f" (got {err.get('input')!r})"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name.upper()}: {message}{shown}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
