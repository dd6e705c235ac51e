"""Where a study's runs execute: Dask distributed.

With no address, an embedded LocalCluster of worker processes on this machine (no server to
start); given an address (--address, or Dask's own DASK_SCHEDULER_ADDRESS), the scheduler of
a cluster. Each task is one backtest. A task whose worker dies (killed, out of memory, the
machine gone) is given to another worker by the scheduler, up to Dask's
`distributed.scheduler.allowed-failures` times (3 by default); a task that raises is retried
once (a database that went away for a moment), then its error is the run's.

`workers=0` runs the same tasks one after another in this process, without the engine: the
reference a distributed study must equal, and a way to debug one run.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mytrader.study.task import RunResult, RunTask, run_one

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
TASK_RETRIES = 1


class EngineError(RuntimeError):
    """The cluster cannot be reached or started (exit 3); the message says which."""


Done = Callable[[RunTask, RunResult | BaseException], None]


def run_on_worker(task: RunTask) -> RunResult:
    """The task as a worker runs it, marked with the address of the worker that ran it."""
    from distributed import get_worker

    try:
        where = str(get_worker().address)
    except ValueError:  # not on a worker
        where = "local"
    return run_one(task, worker=where)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


@contextmanager
def dask_client(
    workers: int, address: str | None, connect_timeout_s: float = 10.0
) -> Iterator[Any]:
    """A client of the cluster at `address`, or of a LocalCluster of `workers` processes."""
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=f"{connect_timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"no Dask scheduler answers at {address} (within {connect_timeout_s:g} s): {exc}"
            ) from None
        with client:
            yield client
        return
    # Dask's own logs would speak over the progress bar; its warnings stay.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with ctrl_c_for_this_process_only():
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # a backtest is one process' work (and its GIL)
            processes=True,
            dashboard_address=None,
        )
    from mytrader.study.worker_plugin import IgnoreCtrlC

    with cluster, Client(cluster) as client:
        # A worker the nanny restarts after a death is spawned with the driver's handler,
        # not an ignored SIGINT: the plugin ignores it in every worker, present or future.
        client.register_plugin(IgnoreCtrlC(), name="mytrader-ignore-ctrl-c")
        try:
            yield client
        finally:
            quiet_workers(client)


def _silence_dask_logs() -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def quiet_workers(client: Any) -> None:
    """Our own workers say nothing more: while a cluster closes, a worker's heartbeat can
    race the scheduler's goodbye (an ERROR with a traceback), and a canceled run logs a
    CancelledError warning; neither is news to someone who pressed Ctrl-C or whose study
    ended. A run's own failure still comes back through its future."""
    try:
        client.run(_silence_dask_logs, on_error="ignore")
    except Exception:  # a worker gone already has nothing to say
        pass


@contextmanager
def ctrl_c_for_this_process_only() -> Iterator[None]:
    """Worker processes started inside ignore SIGINT (an ignored signal stays ignored
    across exec): a Ctrl-C at the terminal reaches the whole process group, and the study,
    not each worker with its traceback, decides what stops (it cancels, then closes the
    cluster)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_tasks(
    tasks: Sequence[RunTask],
    on_done: Done,
    *,
    workers: int,
    address: str | None = None,
) -> None:
    """Run every task; `on_done(task, result or error)` in this process as each one ends, in
    the order they end. KeyboardInterrupt cancels what has not finished and is re-raised."""
    if not tasks:
        return
    if workers == 0 and not address:
        for task in tasks:
            try:
                outcome: RunResult | BaseException = run_one(task, worker="in-process")
            except Exception as exc:  # the run's error, reported; the others go on
                outcome = exc
            if isinstance(outcome, RunResult) and outcome.interrupted:
                raise KeyboardInterrupt  # Ctrl-C ended the run's day: the study stops too
            on_done(task, outcome)
        return
    from distributed import as_completed

    with dask_client(workers, address) as client:
        by_key = {}
        futures = []
        for task in tasks:
            future = client.submit(
                run_on_worker,
                task,
                key=f"study-run-{task.run.run_id}",
                pure=False,
                retries=TASK_RETRIES,
            )
            by_key[future.key] = task
            futures.append(future)
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:
                    outcome = exc
                on_done(by_key[future.key], outcome)
        except KeyboardInterrupt:
            if not address:  # a cluster of one's own; someone else's keeps its logs
                quiet_workers(client)
            client.cancel(futures)
            raise
