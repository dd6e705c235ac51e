"""Settings, read from the environment and `.env` (pydantic-settings).

Nothing here runs at import time: call `load_settings()` where settings are needed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mytrader.domain.hosts import bare_host

# The seed's roster: the default of ROSTER (settings.personas is the roster in use).
PERSONAS: tuple[str, ...] = ("grok", "deepseek", "openai")
COLLABORATIVE = "collaborative"
ACCOUNTS: tuple[str, ...] = (*PERSONAS, COLLABORATIVE)


_SECRET_FIELDS = {"alpaca_api_key", "alpaca_api_secret", "openrouter_api_key", "database_url"}
_SECRET_FIELDS |= {f"{a}_alpaca_api_{k}" for a in ACCOUNTS for k in ("key", "secret")}
_SECRET_FIELDS |= {"x_bearer_token"}  # --- X search for Grok ---


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


def persona_prompt_path(persona: str, personas_dir: Path | None) -> Path | None:
    """The persona's prompt file: the user's folder first, then the packaged prompts."""
    filename = f"persona_{persona}.md"
    if personas_dir is not None and (personas_dir / filename).is_file():
        return personas_dir / filename
    # The packaged texts are files beside this module (importing mytrader.prompts here
    # would pull in langchain for every command).
    packaged = Path(__file__).parent / "prompts" / filename
    return packaged if packaged.is_file() else None


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

    # --- alpaca: the real broker (market/alpaca.py) ---
    # auto: Alpaca when ALPACA_API_KEY and ALPACA_API_SECRET are set, else the simulated exchange.
    broker: Literal["auto", "sim", "alpaca"] = "auto"
    alpaca_data_url: str = "https://data.alpaca.markets"
    alpaca_data_feed: Literal["iex", "sip", "delayed_sip"] = "iex"  # the free plan has no SIP
    allow_live_trading: bool = False  # a live ALPACA_BASE_URL is refused without it
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
        """Book -> (key, secret) of the books with an Alpaca account of their own."""
        out = {}
        for account in ACCOUNTS:
            key = getattr(self, f"{account}_alpaca_api_key")
            secret = getattr(self, f"{account}_alpaca_api_secret")
            if key is not None and secret is not None and key.get_secret_value():
                out[account] = (key.get_secret_value(), secret.get_secret_value())
        return out

    @field_validator("alpaca_timeout_s")
    @classmethod
    def _alpaca_timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be more than 0 seconds")
        return v

    @field_validator("alpaca_requests_per_min", "alpaca_scan_chunk")
    @classmethod
    def _alpaca_positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

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

    @field_validator("starting_cash")
    @classmethod
    def _positive_cash(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("llm_daily_budget_usd")
    @classmethod
    def _budget(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v < 0:
            raise ValueError("must be 0 or more (or unset for no cap)")
        return v

    @field_validator("llm_timeout_s")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be more than 0 seconds")
        return v

    @field_validator("fee_per_trade")
    @classmethod
    def _fee(cls, v: Decimal) -> Decimal:
        if v < 0:
            raise ValueError("must be 0 or more")
        return v

    @field_validator("critique_interval", "movers_top", "max_tool_rounds")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("warmup_days")
    @classmethod
    def _warmup(cls, v: int) -> int:
        if v < 35:
            raise ValueError("must be at least 35 (MACD needs 35 bars)")
        return v

    @field_validator(
        "max_position_pct",
        "daily_loss_limit_pct",
        "stop_loss_pct",
        "take_profit_pct",
        "buy_limit_buffer_pct",
    )
    @classmethod
    def _percent(cls, v: Decimal) -> Decimal:
        if v < 0 or v > 1000:
            raise ValueError("must be a percentage between 0 and 1000 (0 disables)")
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
        symbols = [s.strip().upper() for s in v.split(",") if s.strip()]
        if any(not s.replace(".", "").isalnum() for s in symbols):
            raise ValueError("must be symbols separated by commas, e.g. AAPL,MRNA")
        return ",".join(symbols)

    # --- roster ---
    # The personas, in order; each needs persona_<name>.md in PERSONAS_DIR or in the
    # packaged prompts. Beyond the seed three, each needs a model id in PERSONA_MODELS.
    roster: str = ",".join(PERSONAS)
    personas_dir: Path | None = None
    # "name=model id" pairs, e.g. "qwen=qwen/qwen3-235b-a22b"; they win over <NAME>_MODEL.
    persona_models: str = ""
    # "name=house|openrouter|auto" pairs; they win over <NAME>_LLM (default auto).
    persona_llms: str = ""

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

    @field_validator("persona_models", "persona_llms")
    @classmethod
    def _pairs(cls, v: str) -> str:
        _parse_pairs(v)
        return v

    @field_validator("vote_window")
    @classmethod
    def _window(cls, v: int) -> int:
        if v < 2:
            raise ValueError("must be at least 2 cycles")
        return v

    @field_validator("vote_edge_pct")
    @classmethod
    def _edge(cls, v: Decimal) -> Decimal:
        if v < 0:
            raise ValueError("must be 0 or more percentage points")
        return v

    @model_validator(mode="after")
    def _roster_complete(self) -> Settings:
        """Every persona has a prompt file and a model; no pair names a stranger."""
        roster = self.personas
        models, llms = _parse_pairs(self.persona_models), _parse_pairs(self.persona_llms)
        for setting, pairs in (("PERSONA_MODELS", models), ("PERSONA_LLMS", llms)):
            strangers = sorted(set(pairs) - set(roster))
            if strangers:
                raise ValueError(f"{setting}: {', '.join(strangers)} not in ROSTER ({self.roster})")
        for name, kind in llms.items():
            if kind not in ("auto", "house", "openrouter"):
                raise ValueError(f"PERSONA_LLMS: {name}={kind} must be house, openrouter or auto")
        if self.personas_dir is not None and not self.personas_dir.is_dir():
            raise ValueError(f"PERSONAS_DIR: {self.personas_dir} is not a folder")
        for name in roster:
            if persona_prompt_path(name, self.personas_dir) is None:
                where = self.personas_dir or "a folder and set PERSONAS_DIR to it"
                raise ValueError(
                    f"ROSTER: no prompt file for persona {name!r}: add persona_{name}.md to {where}"
                )
            if name not in models and name not in PERSONAS:
                raise ValueError(
                    f"PERSONA_MODELS: no model id for persona {name!r} (e.g. {name}=vendor/model)"
                )
        return self

    @property
    def personas(self) -> tuple[str, ...]:
        return tuple(n for n in self.roster.split(",") if n)

    @property
    def accounts(self) -> tuple[str, ...]:
        return (*self.personas, COLLABORATIVE)

    @property
    def watchlist_symbols(self) -> list[str]:
        return [s for s in self.watchlist.split(",") if s]

    def model_for(self, persona: str) -> str:
        models = _parse_pairs(self.persona_models)
        if persona in models:
            return models[persona]
        return str(getattr(self, f"{persona}_model", persona))

    def llm_kind(self, persona: str) -> Literal["house", "openrouter"]:
        kind = _parse_pairs(self.persona_llms).get(persona) or getattr(
            self, f"{persona}_llm", "auto"
        )
        if kind == "auto":
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
            problems.append(f"{name.upper()}: {err['msg']}{shown}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None
