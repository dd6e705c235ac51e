"""The Settings class: every knob of the arena, read from the environment and `.env`
(pydantic-settings), and `load_settings`, which turns a bad value into a ConfigError naming
the setting. The ranges of the numbers are in bounds.py, the checks of the rest in
checks.py.

Nothing here runs at import time: call `load_settings()` where settings are needed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

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

from mytrader.config.bounds import BOUNDS, check_bounds
from mytrader.config.checks import (
    FIELD_CHECKS,
    PERSONAS,
    check_roster_complete,
    parse_pairs,
)
from mytrader.config.providers import (
    DEFAULT_PROVIDER,
    PROVIDER_NAME,
    PROVIDER_VAR,
    ProviderSettings,
    ProviderVars,
    parse_provider,
)
from mytrader.domain.models import COLLABORATIVE


class ConfigError(ValueError):
    """A setting has a wrong value; the message names the setting."""


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
    # Where backtests keep real models' answers: "file" (MYTRADER_HOME/llm_cache.sqlite, one
    # per machine) or "database" (the tables' database: DATABASE_URL, shared by a cluster).
    llm_cache: Literal["file", "database"] = "file"

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

    @property
    def dashboard_hosts(self) -> tuple[str, ...]:
        return tuple(n for n in self.dashboard_allowed_hosts.split(",") if n)

    # --- roster ---
    # The personas, in order; each needs persona_<name>.md in PERSONAS_DIR or in the
    # packaged prompts. Beyond the seed three, each needs a model id in PERSONA_MODELS.
    roster: str = ",".join(PERSONAS)
    personas_dir: Path | None = None
    # "name=model id" pairs, e.g. "qwen=qwen/qwen3-235b-a22b"; they win over <NAME>_MODEL.
    persona_models: str = ""
    # "name=house|openrouter|auto" pairs; they win over <NAME>_LLM (default auto).
    persona_llms: str = ""

    # --- providers (providers.py) ---
    # The providers besides OpenRouter, e.g. "ollama,deepseek"; each is described by
    # PROVIDER_<NAME>_BASE_URL, _API_KEY (optional on this machine), _HEADERS (JSON),
    # _REPORTS_COST and _PRICES ("input,output" dollars per million tokens).
    providers: str = ""
    # "persona=provider" pairs, e.g. "qwen=ollama,openai=deepseek"; others: openrouter.
    persona_providers: str = ""
    # Every PROVIDER_<NAME>_<FIELD> setting, lower-cased (read by ProviderVars).
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
            ProviderVars(settings_cls, found),
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
            if not PROVIDER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a provider name (a-z then a-z, 0-9; 1-16)")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate provider {', '.join(dupes)}")
        return ",".join(names)

    def _check_providers(self, chosen: dict[str, str]) -> None:
        listed = self.provider_names
        for var in sorted(self.provider_vars):
            match = PROVIDER_VAR.fullmatch(var)
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
        return parse_pairs(self.persona_providers).get(persona, DEFAULT_PROVIDER).lower()

    # --- vote ---
    # Weighted vote: trailing returns over this many cycles; an agent "clearly" beats
    # another when its trailing return is at least vote_edge_pct points higher.
    vote_window: int = 20
    vote_edge_pct: Decimal = Decimal("1")

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
        models = parse_pairs(self.persona_models)
        if persona in models:
            return models[persona]
        return str(getattr(self, f"{persona}_model", persona))

    def llm_kind(self, persona: str) -> Literal["house", "openrouter"]:
        """ "house", or "openrouter": a real model, on the persona's provider (provider_for)."""
        kind = parse_pairs(self.persona_llms).get(persona) or getattr(
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

    # --- checks (bounds.py, checks.py) ---

    @field_validator(*BOUNDS)
    @classmethod
    def _bounded(cls, v: Decimal | int | float | None, info: ValidationInfo) -> object:
        """Every numeric setting within the range it means something in (BOUNDS)."""
        return check_bounds(str(info.field_name), v)

    @field_validator(*FIELD_CHECKS)
    @classmethod
    def _checked(cls, v: object, info: ValidationInfo) -> object:
        """The text, path and roster settings, normalised (checks.FIELD_CHECKS)."""
        return FIELD_CHECKS[str(info.field_name)](v)

    @model_validator(mode="after")
    def _roster_complete(self) -> Settings:
        """Every persona has a prompt file and a model; no pair names a stranger."""
        check_roster_complete(
            self.personas,
            self.roster,
            self.personas_dir,
            self.persona_models,
            self.persona_llms,
            self.persona_providers,
        )
        self._check_providers(parse_pairs(self.persona_providers))
        return self


# The settings whose values are secrets: every SecretStr one (keys, tokens, the database
# URL) and the providers' variables (their keys and headers). Never echoed, never shipped.
SECRET_FIELDS = frozenset(
    name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)
) | {"provider_vars"}


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
            shown = "" if name in SECRET_FIELDS else f" (got {err.get('input')!r})"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name.upper()}: {message}{shown}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
