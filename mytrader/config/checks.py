"""The checks of the settings that are text, a path or a roster: each returns the value
as kept (normalised) or raises ValueError with what is wrong; `Settings` runs them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mytrader.domain.endpoints import normalise_host
from mytrader.domain.hosts import bare_host
from mytrader.domain.models import COLLABORATIVE
from mytrader.domain.personas import persona_prompt_path
from mytrader.domain.symbols import normalise_symbol, normalise_symbols

# The seed's roster: the default of ROSTER, and the books with settings of their own
# (<name>_model, <name>_llm, <name>_alpaca_api_*). Never which accounts a loop, a report,
# a cache or a table covers: that is the roster in use, settings.personas / .accounts.
PERSONAS: tuple[str, ...] = ("grok", "deepseek", "openai")
ACCOUNTS: tuple[str, ...] = (*PERSONAS, COLLABORATIVE)

_PERSONA_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
# The packaged texts are files beside the prompts module (importing it here would pull in
# langchain for every command).
_PACKAGED_PROMPTS = Path(__file__).parent.parent / "prompts"


def parse_pairs(value: str) -> dict[str, str]:
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


def _pairs(v: str) -> str:
    parse_pairs(v)
    return v


def _dashboard_hosts(v: str) -> str:
    names = []
    for item in (i.strip() for i in v.split(",")):
        if item:
            name = bare_host(item)
            if name is None:
                raise ValueError(f"{item!r} is not a host name or address (no port)")
            names.append(name)
    return ",".join(names)


def _arena_id(v: str) -> str:
    # No '-': it separates the arena from the rest of a client order id.
    if not v or len(v) > 24 or not v.replace("_", "").isalnum():
        raise ValueError("must be 1-24 letters, digits or '_'")
    return v


def _database_url(v: SecretStr | None) -> SecretStr | None:
    if v is not None:
        url = v.get_secret_value()
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (or be unset)")
    return v


def _watchlist(v: str) -> str:
    try:
        return ",".join(normalise_symbols(v))
    except ValueError as exc:
        raise ValueError(f"must be symbols separated by commas, e.g. AAPL,MRNA: {exc}") from None


def _benchmark(v: str) -> str:
    return normalise_symbol(v) if v.strip() else ""


def _allowed_hosts(v: str) -> str:
    hosts = []
    for item in (i.strip() for i in v.split(",")):
        if item:
            try:
                hosts.append(normalise_host(item))
            except ValueError as exc:
                raise ValueError(f"must be host names separated by commas: {exc}") from None
    return ",".join(hosts)


def _home(v: Path) -> Path:
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


def _roster(v: str) -> str:
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


# Field -> its check, in the order pydantic ran the validators before the split.
FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "dashboard_allowed_hosts": _dashboard_hosts,
    "arena_id": _arena_id,
    "database_url": _database_url,
    "watchlist": _watchlist,
    "benchmark_symbol": _benchmark,
    "alpaca_allowed_hosts": _allowed_hosts,
    "mytrader_home": _home,
    "roster": _roster,
    "persona_models": _pairs,
    "persona_llms": _pairs,
    "persona_providers": _pairs,
}


def check_roster_complete(
    roster: tuple[str, ...],
    roster_text: str,
    personas_dir: Path | None,
    persona_models: str,
    persona_llms: str,
    persona_providers: str = "",
) -> None:
    """Every persona has a prompt file and a model; no pair names a stranger."""
    models, llms = parse_pairs(persona_models), parse_pairs(persona_llms)
    chosen = parse_pairs(persona_providers)
    named = (("PERSONA_MODELS", models), ("PERSONA_LLMS", llms), ("PERSONA_PROVIDERS", chosen))
    for setting, pairs in named:
        strangers = sorted(set(pairs) - set(roster))
        if strangers:
            raise ValueError(f"{setting}: {', '.join(strangers)} not in ROSTER ({roster_text})")
    for name, kind in llms.items():
        if kind not in ("auto", "house", "openrouter"):
            raise ValueError(f"PERSONA_LLMS: {name}={kind} must be house, openrouter or auto")
    if personas_dir is not None and not personas_dir.is_dir():
        raise ValueError(f"PERSONAS_DIR: {personas_dir} is not a folder")
    for name in roster:
        if persona_prompt_path(name, personas_dir, _PACKAGED_PROMPTS) is None:
            where = personas_dir or "a folder and set PERSONAS_DIR to it"
            raise ValueError(
                f"ROSTER: no prompt file for persona {name!r}: add persona_{name}.md to {where}"
            )
        if name not in models and name not in PERSONAS:
            raise ValueError(
                f"PERSONA_MODELS: no model id for persona {name!r} (e.g. {name}=vendor/model)"
            )
