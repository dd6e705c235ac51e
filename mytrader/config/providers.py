"""Providers: where each persona's real model is served (README: Run a persona on your own
machine). OpenRouter is the built-in default (OPENROUTER_BASE_URL, OPENROUTER_API_KEY);
PROVIDERS names the others, each described by PROVIDER_<NAME>_<FIELD> settings, which
`ProviderVars` collects from the environment and `.env` (their names depend on PROVIDERS,
so no field can declare them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

DEFAULT_PROVIDER = "openrouter"
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9]{0,15}")
_PROVIDER_FIELDS = ("base_url", "api_key", "headers", "reports_cost", "prices")
PROVIDER_VAR = re.compile(rf"provider_([a-z][a-z0-9]{{0,15}})_({'|'.join(_PROVIDER_FIELDS)})")
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


class ProviderVars(PydanticBaseSettingsSource):
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
                if value is not None and PROVIDER_VAR.fullmatch(name.lower()):
                    found[name.lower()] = value
        return {"provider_vars": found} if found else {}
