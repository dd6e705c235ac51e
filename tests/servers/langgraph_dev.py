"""`langgraph dev` in its own process: the LangGraph server the Studio and cron tests talk to."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import clean_env, free_port

REPO = Path(__file__).resolve().parents[2]


def wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langgraph dev exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("langgraph dev did not answer /ok in time")


@contextmanager
def langgraph_dev(tmp_path: Path, **extra_env: str) -> Iterator[str]:
    """`langgraph dev` (in-memory runtime, offline, no reload) on a free port, with
    MYTRADER_HOME at `tmp_path / "home"` and `extra_env` on top: its URL once /ok answers.
    Its output goes to `tmp_path / "dev.log"`, whose tail is the error if it never answers."""
    port = free_port()
    env = clean_env()
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        MYTRADER_HOME=str(tmp_path / "home"),
        **extra_env,
    )
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen(
        ["langgraph", "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        try:
            wait_ok(f"http://127.0.0.1:{port}/ok", proc)
        except AssertionError:
            log.flush()
            raise AssertionError((tmp_path / "dev.log").read_text()[-4000:]) from None
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
