"""`langgraph dev` serves the same graph, offline; two cycles on one thread via the SDK."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import clean_env

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture
def dev_server(tmp_path):
    port = free_port()
    env = clean_env()
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        MYTRADER_HOME=str(tmp_path / "home"),
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


@pytest.mark.slow
def test_studio_runs_two_cycles_on_one_thread(dev_server):
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=dev_server)
    thread = client.threads.create()
    first = client.runs.wait(thread["thread_id"], "mytrader", input={})
    assert first["cycle"] == 1, first
    assert set(first["decisions"]) == {"grok", "deepseek", "openai"}
    second = client.runs.wait(thread["thread_id"], "mytrader", input={})
    assert second["cycle"] == 2
    assert second["as_of"] > first["as_of"]
    assert client.threads.get_state(thread["thread_id"])["next"] == []
    graph = client.assistants.get_graph("mytrader")
    names = {n["id"] for n in graph["nodes"]}
    assert {"screener", "critique", "agent", "vote", "executor", "record"} <= names
