"""Settings, read from the environment and `.env` (pydantic-settings).

- `settings`: the Settings class and `load_settings` (a bad value: ConfigError);
- `bounds`: the range each numeric setting means something in (BOUNDS);
- `checks`: the checks of the text, path and roster settings, the seed's roster;
- `providers`: the providers a persona's real model may be served by.

This module only re-exports them. Nothing here runs at import time: call
`load_settings()` where settings are needed.
"""

from mytrader.config.bounds import BOUNDS, MAX_STARTING_CASH, Bounds
from mytrader.config.checks import ACCOUNTS, PERSONAS
from mytrader.config.providers import DEFAULT_PROVIDER, ProviderSettings
from mytrader.config.settings import SECRET_FIELDS, ConfigError, Settings, load_settings
from mytrader.domain.models import COLLABORATIVE

__all__ = [
    "ACCOUNTS",
    "BOUNDS",
    "COLLABORATIVE",
    "DEFAULT_PROVIDER",
    "MAX_STARTING_CASH",
    "PERSONAS",
    "ProviderSettings",
    "SECRET_FIELDS",
    "Bounds",
    "ConfigError",
    "Settings",
    "load_settings",
]
