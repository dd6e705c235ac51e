"""A study's grid: windows x variants -> runs, each one `mytrader backtest`. Pure: the data's
trading dates and the names of the known settings are passed in.

Windows (inclusive trading-date ranges), given one of three ways:

- explicit: a list of Window(start, end);
- Yearly() (or the word "yearly"): one window per calendar year present in the data, from its
  first to its last trading date (a partial first or last year included unless it has under
  `min_days` dates);
- Rolling(days=N): back-to-back windows of N consecutive trading dates from the first date;
  a trailing remainder shorter than N is left out. (Back to back, not overlapping: a study's
  windows must not overlap, so that each window is a separate sample.)

Rules (StudyGridError, a ValueError, with a message naming the problem):

- at least one window and one variant;
- windows must not overlap (ends are inclusive: one may start the day after another ends);
- every window must lie within the data's first and last trading date and hold at least one
  trading date;
- variant names: 1-40 letters, digits, '_', '-', '.', starting with a letter or digit, unique
  ignoring case (they name files, and some file systems ignore case);
- a variant's override keys must be known settings (the caller passes the known names).

Runs come window by window in time order, and within a window in the variants' order. A run id
is "st_" + the first 16 hex digits of SHA-256 over the study id, the window and the variant
name: stable across reruns (for resuming), and a valid arena id (at most 24 letters, digits or
'_'). The run's fingerprint hashes its overrides too, so a resume can tell a variant whose
settings changed under the same name.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Collection, Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RUN_PREFIX = "st_"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$"
STUDY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"

OverrideValue = str | int | float | bool | None


class StudyGridError(ValueError):
    """A study grid that cannot run; the message names the problem."""


class Window(BaseModel):
    """An inclusive range of trading dates."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"window {self.start} .. {self.end} ends before it starts")
        return self

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


class Yearly(BaseModel):
    """One window per calendar year of the data."""

    kind: Literal["yearly"] = "yearly"
    min_days: int = Field(default=1, ge=1)


class Rolling(BaseModel):
    """Back-to-back windows of `days` consecutive trading dates."""

    kind: Literal["rolling"] = "rolling"
    days: int = Field(ge=1)


WindowSpec = list[Window] | Yearly | Rolling


class Variant(BaseModel):
    """A named set of settings overrides."""

    name: str = Field(pattern=NAME_PATTERN)
    overrides: dict[str, OverrideValue] = Field(default_factory=dict)


class Run(BaseModel):
    """One backtest of the study: a window and a variant."""

    run_id: str
    study_id: str
    window: Window
    variant: Variant
    fingerprint: str  # also covers the overrides


class StudyGrid(BaseModel):
    """The study as written: its id, its windows (or how to make them), its variants."""

    study_id: str = Field(pattern=STUDY_ID_PATTERN)
    windows: WindowSpec
    variants: list[Variant]

    @field_validator("windows", mode="before")
    @classmethod
    def _yearly_word(cls, v: object) -> object:
        return Yearly() if v == "yearly" else v  # `windows = "yearly"` in a study file

    @model_validator(mode="after")
    def _consistent(self) -> StudyGrid:
        check_variants(self.variants)
        if isinstance(self.windows, list):
            check_windows(self.windows)
        return self


def _trading_dates(dates: Sequence[date]) -> list[date]:
    found = sorted(set(dates))
    if not found:
        raise StudyGridError("the data has no trading dates")
    return found


def yearly_windows(dates: Sequence[date], min_days: int = 1) -> list[Window]:
    """One window per calendar year: its first to its last trading date in the data."""
    by_year: dict[int, list[date]] = {}
    for d in _trading_dates(dates):
        by_year.setdefault(d.year, []).append(d)
    windows = [Window(start=ds[0], end=ds[-1]) for ds in by_year.values() if len(ds) >= min_days]
    if not windows:
        raise StudyGridError(f"no calendar year of the data has {min_days} trading dates")
    return windows


def rolling_windows(dates: Sequence[date], days: int) -> list[Window]:
    """Back-to-back windows of `days` trading dates; a shorter remainder is left out."""
    if days < 1:
        raise StudyGridError(f"a rolling window needs at least 1 trading date, not {days}")
    found = _trading_dates(dates)
    if len(found) < days:
        raise StudyGridError(
            f"the data has {len(found)} trading dates, fewer than one {days}-day window"
        )
    return [
        Window(start=found[i], end=found[i + days - 1])
        for i in range(0, len(found) - days + 1, days)
    ]


def resolve_windows(spec: WindowSpec, dates: Sequence[date]) -> list[Window]:
    """The windows of a spec over the data's trading dates, in time order."""
    if isinstance(spec, Yearly):
        return yearly_windows(dates, spec.min_days)
    if isinstance(spec, Rolling):
        return rolling_windows(dates, spec.days)
    return sorted(spec, key=lambda w: (w.start, w.end))


def check_windows(windows: Sequence[Window], dates: Sequence[date] | None = None) -> None:
    """No windows, overlapping windows, and (given the data's dates) a window outside them or
    holding no trading date: StudyGridError."""
    if not windows:
        raise StudyGridError("the study has no windows")
    ordered = sorted(windows, key=lambda w: (w.start, w.end))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start <= before.end:
            raise StudyGridError(f"windows {before.label} and {after.label} overlap")
    if dates is None:
        return
    found = _trading_dates(dates)
    first, last = found[0], found[-1]
    for w in ordered:
        if w.start < first or w.end > last:
            raise StudyGridError(
                f"window {w.label} is outside the data's dates ({first} .. {last})"
            )
        if not any(w.start <= d <= w.end for d in found):
            raise StudyGridError(f"window {w.label} holds no trading date of the data")


def check_variants(variants: Sequence[Variant], known: Collection[str] | None = None) -> None:
    """No variants, duplicate names (ignoring case), and (given the known setting names) an
    unknown override key: StudyGridError."""
    if not variants:
        raise StudyGridError("the study has no variants")
    seen: dict[str, str] = {}
    for v in variants:
        key = v.name.casefold()
        if key in seen:
            raise StudyGridError(f"variant name {v.name!r} is used twice (as {seen[key]!r})")
        seen[key] = v.name
    if known is None:
        return
    for v in variants:
        for name in sorted(set(v.overrides) - set(known)):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudyGridError(f"variant {v.name!r}: {name!r} is not a setting{hint}")


def digest(payload: dict[str, object]) -> str:
    """16 hex digits of SHA-256 over the payload as canonical JSON (values JSON cannot
    hold, such as Decimal or Path, as their text)."""
    text = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_id(study_id: str, window: Window, variant_name: str) -> str:
    """The stable id of a study's run (a valid arena id)."""
    return RUN_PREFIX + digest(
        {
            "study": study_id,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "variant": variant_name,
        }
    )


def plan(grid: StudyGrid, dates: Sequence[date], known_settings: Collection[str]) -> list[Run]:
    """Every run of the study, window by window in time order, then in the variants' order;
    StudyGridError if the grid cannot run on this data with these settings."""
    check_variants(grid.variants, known_settings)
    windows = resolve_windows(grid.windows, dates)
    check_windows(windows, dates)
    runs = []
    for w in windows:
        for v in grid.variants:
            fingerprint = digest(
                {
                    "study": grid.study_id,
                    "start": w.start.isoformat(),
                    "end": w.end.isoformat(),
                    "variant": v.name,
                    "overrides": v.overrides,
                }
            )
            runs.append(
                Run(
                    run_id=run_id(grid.study_id, w, v.name),
                    study_id=grid.study_id,
                    window=w,
                    variant=v,
                    fingerprint=fingerprint,
                )
            )
    return runs
