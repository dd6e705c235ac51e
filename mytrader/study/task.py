"""One run of a study, on whichever worker takes it: exactly `mytrader backtest`.

The task carries everything that decides the result (the window, the variant, the driver's
settings apart from secrets and locations), so every worker computes the same run whatever
its environment; a worker's own environment gives only the secrets and where things are
(DATABASE_URL, MYTRADER_HOME, API keys). The run's report files come back as bytes, so the
driver writes them under studies/<id>/runs/<run id>/ even when the worker is another machine.

A task may run twice (its worker was killed, and the engine gave it to another): it starts by
forgetting whatever the run id has in the tables, so the second attempt records exactly what
one attempt records.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from mytrader.adapters.bars import PriceHistory
from mytrader.app.storage import open_store
from mytrader.backtest.command import run_facts
from mytrader.backtest.data import load_history
from mytrader.backtest.report import report_of, trade_rows, write_files
from mytrader.backtest.runner import BacktestOptions, prepare, run_backtest
from mytrader.config import SECRET_FIELDS, Settings
from mytrader.domain.evidence import Evidence
from mytrader.domain.study_grid import Run, digest
from mytrader.study.spec import FIXED_SETTINGS, OPTION_KEYS


class RunTask(BaseModel):
    """What a worker needs to run one backtest of the study."""

    run: Run
    data: Path | None  # the same path on every worker (a shared or copied file)
    data_digest: str | None  # SHA-256 of the data file: a worker with another file refuses
    settings: dict[str, Any]  # the driver's settings that decide the result
    # Where the answers of real models are kept: the driver's LLM_CACHE, so one setting
    # where the study starts puts a cluster's answers in its shared database.
    llm_cache: Literal["file", "database"] = "file"

    @property
    def cache_namespace(self) -> str:
        """The run's LLM answers are its own, keyed by what decides the run but not the
        study's name: another study with the same window, variant and settings reuses them."""
        return "study:" + digest(
            {
                "start": self.run.window.start.isoformat(),
                "end": self.run.window.end.isoformat(),
                "overrides": self.run.variant.overrides,
                "settings": self.settings,
                "data": self.data_digest,
            }
        )

    @property
    def fingerprint(self) -> str:
        """The run's own (window, variant, overrides), the settings and the data: a resume
        redoes a run when any of them changed."""
        return fingerprint_of(self.run, self.settings, self.data_digest)


class RunResult(BaseModel):
    """What a run gives back: its curves (cents, as text) and report, and how it went."""

    run_id: str
    variant: str
    start: str
    end: str
    fingerprint: str
    dates: list[str]
    curves: dict[str, list[str]]  # account or benchmark -> equity per date, in cents
    evidence: dict[str, Any] | None  # the headline figures of metrics.json's evidence
    trades: dict[str, int]
    interrupted: bool
    files: dict[str, bytes] = {}  # the backtest report by file name (not in result.json)
    elapsed_s: float
    worker: str


def fingerprint_of(run: Run, settings: dict[str, Any], data_digest: str | None) -> str:
    return digest({"run": run.fingerprint, "settings": settings, "data": data_digest})


def shipped_settings(settings: Settings) -> dict[str, Any]:
    """The driver's settings a worker must use: all but secrets and locations."""
    skip = SECRET_FIELDS | FIXED_SETTINGS
    return {k: v for k, v in settings.model_dump().items() if k not in skip}


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# One load per worker process and file: the 20-year S&P 500 file takes seconds and ~650 MB,
# so a process keeps the last one it loaded (a study has one data file).
_loaded: dict[tuple[Path | None, str | None], PriceHistory] = {}


def _history(path: Path | None, sha: str | None) -> PriceHistory:
    key = (path, sha)
    if key not in _loaded:
        if path is not None and sha is not None and file_digest(path) != sha:
            raise ValueError(f"the data file {path} on this worker differs from the driver's")
        _loaded.clear()
        _loaded[key] = load_history(path)
    return _loaded[key]


def keep_history(path: Path | None, sha: str | None, history: PriceHistory) -> None:
    """The driver's own load, for runs made in its process (no second copy)."""
    _loaded.clear()
    _loaded[(path, sha)] = history


def options_of(task: RunTask) -> tuple[BacktestOptions, dict[str, Any]]:
    """The backtest's options and its settings overrides: the driver's, then the variant's."""
    run = task.run
    chosen = {k: v for k, v in run.variant.overrides.items() if k in OPTION_KEYS}
    options = BacktestOptions.model_validate(
        {
            "data": task.data,
            "start": run.window.start.isoformat(),
            "end": run.window.end.isoformat(),
            "run_id": run.run_id,
            "cache_namespace": task.cache_namespace,
            **chosen,
        }
    )
    overrides = {**task.settings, "llm_cache": task.llm_cache}
    overrides.update({k: v for k, v in run.variant.overrides.items() if k not in OPTION_KEYS})
    return options, overrides


def run_one(task: RunTask, worker: str = "") -> RunResult:
    """Run the task's backtest into the tables and return its figures and report files."""
    t0 = time.perf_counter()
    options, overrides = options_of(task)
    history = _history(task.data, task.data_digest)
    run, broker = prepare(options, history=history, **overrides)
    with open_store(run.settings) as store:
        store.reset(run.run_id)  # a retried task starts from nothing
        run_backtest(run, broker, store)
        report = report_of(store, run, run_facts(run))
        with tempfile.TemporaryDirectory(prefix="mytrader-study-") as tmp:
            written = write_files(report, trade_rows(store, run.run_id), Path(tmp))
            files = {p.name: p.read_bytes() for p in written}
    s = run.settings
    accounts = [a for a in s.accounts if a in report.curves]
    curves = {
        name: [str(Decimal(e).quantize(Decimal("0.01"))) for e in report.curves[name]]
        for name in [*accounts, *(b for b in report.curves if b not in accounts)]
    }
    return RunResult(
        run_id=run.run_id,
        variant=task.run.variant.name,
        start=run.start,
        end=run.end,
        fingerprint=task.fingerprint,
        dates=report.dates,
        curves=curves,
        evidence=_headline_evidence(report.evidence),
        trades={a: f.trades for a, f in report.accounts.items()},
        interrupted=run.interrupted,
        files=files,
        elapsed_s=time.perf_counter() - t0,
        worker=worker,
    )


def _headline_evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    """Per account: PSR against 0 and SPY, the minimum track record, the status in words."""
    if evidence is None:
        return None
    out: dict[str, Any] = {}
    for a in evidence.accounts:
        g = a.gross
        out[a.account] = {
            "psr_vs_zero": g.psr_vs_zero,
            "psr_vs_spy": g.psr_vs_spy,
            "min_track_record_days": g.min_track_record_days,
            "sharpe_ci95": [g.ci95_low, g.ci95_high],
            "status": a.status.text,
        }
    return out
