"""What a study is, as the user writes it: a small TOML or YAML file, or command-line options.

    id = "vote-modes"            # names studies/<id>/ (default: the file's name)
    data = "sp500_daily.csv.gz"  # optional: the bundled sample otherwise
    windows = "yearly"           # or {rolling = 60}, or [["2024-01-02", "2024-06-28"], ...]
    account = "collaborative"    # whose curve the study judges (any account of the arena)

    [[variants]]
    name = "majority"
    vote_mode = "majority"

    [[variants]]
    name = "weighted-blind"
    vote_mode = "weighted"
    blind = true                 # backtest options: models, blind, slippage_bps

A variant's keys other than `name` are settings (their names as in the environment, any
case) or the backtest options `models`, `blind`, `slippage_bps`. The rules of the grid
(overlap, unknown names, windows outside the data) are `mytrader.domain.study_grid`'s.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from mytrader.config import SECRET_FIELDS, Settings
from mytrader.domain.study_grid import (
    OverrideValue,
    Rolling,
    StudyGrid,
    StudyGridError,
    Variant,
    Window,
    WindowSpec,
    Yearly,
)

# Backtest options a variant may set beside the settings.
OPTION_KEYS = frozenset({"models", "blind", "slippage_bps"})
# Settings a variant may not set: the study decides them (the run id, the data) or they say
# where things are, not how the arena trades (and some are secrets).
FIXED_SETTINGS = frozenset(
    {
        "arena_id",
        "market_data_path",
        "mytrader_home",
        "database_url",
        "database_timeout_s",
        "llm_cache",  # the driver's, carried by each task (RunTask.llm_cache)
    }
)
DEFAULT_ACCOUNT = "collaborative"


class StudyInputError(ValueError):
    """A study that cannot start (exit 2); the message names the problem."""


class StudySpec(BaseModel):
    """A study ready to plan: the grid, the data, the account judged, CSCV's blocks."""

    grid: StudyGrid
    data: Path | None = None
    account: str = DEFAULT_ACCOUNT
    blocks: int = Field(default=16, ge=2, le=20)  # CSCV splits: C(blocks, blocks / 2)


def known_variant_keys() -> frozenset[str]:
    """What a variant may override: settings (not fixed, not secret) and backtest options."""
    settings = frozenset(Settings.model_fields) - FIXED_SETTINGS - SECRET_FIELDS
    return settings | OPTION_KEYS


def validation_problem(exc: ValidationError) -> str:
    """`where: what` for each error of a pydantic validation."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _variant(raw: object, i: int) -> Variant:
    if not isinstance(raw, dict) or "name" not in raw:
        raise StudyInputError(f"variant {i + 1}: a table with a `name` and its settings")
    overrides = {str(k).lower(): v for k, v in raw.items() if k != "name"}
    try:
        return Variant(name=str(raw["name"]), overrides=overrides)
    except ValidationError as exc:
        raise StudyInputError(f"variant {raw['name']!r}: {validation_problem(exc)}") from None


def parse_windows(raw: object) -> WindowSpec:
    """ "yearly", {rolling = N} / "rolling:N", or a list of [start, end] pairs or "a..b"."""
    if isinstance(raw, str):
        text = raw.strip()
        if text == "yearly":
            return Yearly()
        m = re.fullmatch(r"rolling[:=](\d+)", text)
        if m:
            return Rolling(days=int(m.group(1)))
        raw = [part for part in text.split(",") if part.strip()]
    if isinstance(raw, dict) and set(raw) == {"rolling"}:
        try:
            return Rolling(days=raw["rolling"])
        except ValidationError as exc:
            raise StudyInputError(f"windows: rolling: {validation_problem(exc)}") from None
    if not isinstance(raw, list):
        raise StudyInputError(
            f"windows: 'yearly', 'rolling:N' or a list of ranges (start..end), not {raw!r}"
        )
    windows = []
    for item in raw:
        pair = item.split("..") if isinstance(item, str) else item
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise StudyInputError(f"windows: {item!r} is not a range start..end")
        try:
            start, end = (
                d if isinstance(d, date) else date.fromisoformat(str(d).strip()) for d in pair
            )
            windows.append(Window(start=start, end=end))
        except (ValueError, ValidationError) as exc:
            msg = validation_problem(exc) if isinstance(exc, ValidationError) else str(exc)
            raise StudyInputError(f"windows: {item!r}: {msg}") from None
    return windows


def spec_of(raw: dict[str, Any], default_id: str | None = None) -> StudySpec:
    """A study from its parsed file (or the options gathered into the same shape)."""
    unknown = sorted(set(raw) - {"id", "data", "windows", "variants", "account", "blocks"})
    if unknown:
        raise StudyInputError(f"unknown study key {unknown[0]!r}")
    study_id = raw.get("id") or default_id
    if not study_id:
        raise StudyInputError("the study needs an id (`id = ...` or --id)")
    if "windows" not in raw:
        raise StudyInputError("the study has no windows")
    variants = raw.get("variants") or []
    if not isinstance(variants, list):
        raise StudyInputError("variants: a list of tables, each with a `name`")
    try:
        grid = StudyGrid(
            study_id=str(study_id),
            windows=parse_windows(raw["windows"]),
            variants=[_variant(v, i) for i, v in enumerate(variants)],
        )
        data = raw.get("data")
        return StudySpec(
            grid=grid,
            data=Path(str(data)).expanduser() if data else None,
            account=str(raw.get("account") or DEFAULT_ACCOUNT),
            blocks=raw.get("blocks", 16),
        )
    except StudyGridError as exc:
        raise StudyInputError(str(exc)) from None
    except ValidationError as exc:
        raise StudyInputError(validation_problem(exc)) from None


def load_study_file(path: Path) -> StudySpec:
    """A study file (.toml, .yaml or .yml); its name is the default id."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyInputError(f"study file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise StudyInputError(f"study file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise StudyInputError(f"study file {path}: a table of id, windows, variants")
    spec = spec_of(raw, default_id=re.sub(r"[^A-Za-z0-9_\-]", "-", path.stem))
    if spec.data is not None and not spec.data.is_absolute():
        spec = spec.model_copy(update={"data": path.parent / spec.data})
    return spec


def parse_variant(text: str) -> dict[str, OverrideValue]:
    """`--variant "name:key=value,key=value"` -> {"name": ..., key: value}; values are
    read as TOML scalars where they parse (true, 3, 2.5) and as text otherwise."""
    name, _, rest = text.partition(":")
    out: dict[str, OverrideValue] = {"name": name.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise StudyInputError(f"--variant {text!r}: {part!r} is not key=value")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out
