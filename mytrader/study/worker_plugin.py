"""What our own Dask workers do when they start (imported by the engine, with Dask)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from distributed import WorkerPlugin


class IgnoreCtrlC(WorkerPlugin):
    """The worker process ignores SIGINT, so a Ctrl-C at the terminal stops the study through
    its driver alone. Set in the process' main thread, where the worker's event loop runs
    and a signal handler can be set."""

    def setup(self, worker: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
