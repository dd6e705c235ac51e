"""`mytrader study` on a real Dask cluster of worker processes: the same bytes as the same
backtests one after another, also when a worker is killed during a task; Ctrl-C keeps the
runs done and the same command resumes; bad input is exit 2 or 3 with nothing written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from mytrader.study.command import StudyExit, study_command
from mytrader.study.spec import spec_of
from mytrader.study.summary import StudySummary, study_json
from tests.helpers import clean_env, run_cli

WINDOWS = [["2025-02-03", "2025-03-14"], ["2025-03-17", "2025-04-25"]]  # 30 days each
VARIANTS = [
    {"name": "majority", "vote_mode": "majority"},
    {"name": "weighted-fee", "vote_mode": "weighted", "fee_per_trade": 2},
]
STUDY_TOML = """
id = "{id}"
windows = {windows}
[[variants]]
name = "majority"
vote_mode = "majority"
[[variants]]
name = "weighted-fee"
vote_mode = "weighted"
fee_per_trade = 2
"""


def spec(study_id: str = "pair"):  # type: ignore[no-untyped-def]
    return spec_of({"id": study_id, "windows": WINDOWS, "variants": VARIANTS})


def quiet() -> Console:
    return Console(file=open(os.devnull, "w"), width=120)  # noqa: SIM115


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MYTRADER_HOME (SQLite tables), set in the environment the workers inherit."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYTRADER_HOME", str(tmp_path / "home"))
    return tmp_path


def report_bytes(out: Path, study_id: str = "pair") -> dict[str, bytes]:
    """study.json and every run's backtest metrics.json and trades.csv, by path."""
    folder = out / study_id
    files = {"study.json": (folder / "study.json").read_bytes()}
    for run in sorted((folder / "runs").iterdir()):
        for name in ("metrics.json", "trades.csv", "equity.csv"):
            files[f"{run.name}/{name}"] = (run / name).read_bytes()
    return files


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The four backtests one after another in this process: the reference."""
    root = tmp_path_factory.mktemp("sequential")
    mp = pytest.MonkeyPatch()
    try:
        mp.chdir(root)
        mp.setenv("MYTRADER_HOME", str(root / "home"))
        study_command(spec(), quiet(), out=root / "studies", workers=0)
    finally:
        mp.undo()
    return report_bytes(root / "studies")


def test_two_local_workers_give_the_bytes_of_one_run_after_another(
    home: Path, sequential: dict[str, bytes]
) -> None:
    summary = study_command(spec(), quiet(), out=home / "studies", workers=2)
    got = report_bytes(home / "studies")
    assert got.keys() == sequential.keys()
    assert [k for k in got if got[k] != sequential[k]] == []
    assert len(summary.runs) == 4 and {r.variant for r in summary.runs} == {
        "majority",
        "weighted-fee",
    }
    # The variants really differ (a fee of 2 and the weighted vote), so equal bytes mean
    # each worker ran its own variant, not the same one twice.
    by_variant = {r.variant: r.total_return_pct for r in summary.runs if r.start == "2025-02-03"}
    assert by_variant["majority"] != by_variant["weighted-fee"]
    # Each run can be opened like any backtest: its rows are in the tables under its id.
    from mytrader.app.storage import open_store
    from mytrader.config import load_settings

    with open_store(load_settings()) as store:
        assert set(store.arena_ids("st_")) == {r.run_id for r in summary.runs}
    listed = run_cli(["backtest", "--list"], {"MYTRADER_HOME": str(home / "home")}, home)
    assert listed.returncode == 0, listed.stderr
    assert all(r.run_id in listed.stdout for r in summary.runs), listed.stdout
    assert study_json(summary).encode() == sequential["study.json"]


@pytest.mark.postgres
def test_on_postgresql_two_workers_give_the_same_bytes(
    home: Path, sequential: dict[str, bytes], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import _empty_database

    _empty_database(postgres_url)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    study_command(spec(), quiet(), out=home / "studies", workers=2)
    got = report_bytes(home / "studies")
    assert [k for k in got if got[k] != sequential[k]] == []
    assert not (home / "home" / "arena.sqlite").exists()  # the tables were PostgreSQL's


@pytest.fixture
def cluster() -> Iterator[object]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        Client(c) as client,
    ):
        yield client


def test_a_worker_killed_during_a_task_and_the_study_completes_with_the_same_bytes(
    home: Path, sequential: dict[str, bytes], cluster: object
) -> None:
    client = cluster
    killed: dict[str, object] = {}

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = {w: keys for w, keys in client.processing().items() if keys}  # type: ignore[attr-defined]
            if busy:
                address, keys = sorted(busy.items())[0]
                pid = client.run(os.getpid, workers=[address])[address]  # type: ignore[attr-defined]
                time.sleep(0.3)  # inside the backtest, past the worker's start
                os.kill(pid, signal.SIGKILL)
                killed.update(address=address, keys=list(keys))
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    summary: StudySummary = study_command(
        spec(),
        quiet(),
        out=home / "studies",
        workers=0,
        address=client.scheduler.address,  # type: ignore[attr-defined]
    )
    killer.join(5)
    assert killed, "no task was seen running"
    runs_hit = [str(k).removeprefix("study-run-") for k in killed["keys"]]  # type: ignore[attr-defined]
    for run_id in runs_hit:
        result_file = home / "studies" / "pair" / "runs" / run_id / "result.json"
        assert killed["address"] not in result_file.read_text()  # finished by another worker
    got = report_bytes(home / "studies")
    assert [k for k in got if got[k] != sequential[k]] == []
    assert len(summary.runs) == 4


def _study_file(tmp: Path, study_id: str, windows: str) -> Path:
    path = tmp / f"{study_id}.toml"
    path.write_text(STUDY_TOML.format(id=study_id, windows=windows))
    return path


def _worker_processes(driver: int) -> dict[int, psutil.Process]:
    """The driver's Dask worker processes (spawned), by pid."""
    found = {}
    for child in psutil.Process(driver).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
    return found


def _busy(process: psutil.Process, cpu_s: float = 3.0) -> bool:
    """Running a backtest: more CPU time than starting a worker takes."""
    try:
        return process.cpu_times().user > cpu_s
    except psutil.NoSuchProcess:
        return False


def test_a_worker_restarted_after_a_death_ignores_ctrl_c_too(tmp_path: Path) -> None:
    # A worker the nanny restarts is spawned after the driver restored its own SIGINT
    # handler: without the worker plugin, it meets Ctrl-C with a KeyboardInterrupt traceback.
    study = _study_file(tmp_path, "restarted", '"rolling:60"')
    env = {**clean_env(), "MYTRADER_HOME": str(tmp_path / "home"), "COLUMNS": "160"}
    args = [sys.executable, "-m", "mytrader.cli.main", "study", str(study), "--workers", "2"]
    with (tmp_path / "out").open("w+") as out, (tmp_path / "err").open("w+") as err:
        proc = subprocess.Popen(
            args, env=env, cwd=tmp_path, stdout=out, stderr=err, start_new_session=True
        )
        try:

            def wait_for(what: str, ready: Callable[[], object]) -> object:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    assert proc.poll() is None, (tmp_path / "err").read_text()
                    if found := ready():
                        return found
                    time.sleep(0.1)
                raise AssertionError(f"no {what} within 120 s")

            wait_for("busy worker", lambda: any(map(_busy, _worker_processes(proc.pid).values())))
            originals = _worker_processes(proc.pid)
            next(w for w in originals.values() if _busy(w)).kill()
            wait_for(
                "busy restarted worker",
                lambda: [
                    w
                    for pid, w in _worker_processes(proc.pid).items()
                    if pid not in originals and _busy(w)
                ],
            )
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        stderr = (tmp_path / "err").read_text()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr


def test_ctrl_c_keeps_the_runs_done_and_the_same_command_resumes(tmp_path: Path) -> None:
    # Six windows of 15 days x 2 variants: Ctrl-C after the first run is done.
    windows = (
        '["2025-01-02..2025-01-23", "2025-01-24..2025-02-13", "2025-02-14..2025-03-07", '
        '"2025-03-10..2025-03-28", "2025-03-31..2025-04-21", "2025-04-22..2025-05-12"]'
    )
    study = _study_file(tmp_path, "stopped", windows)
    env = {**clean_env(), "MYTRADER_HOME": str(tmp_path / "home"), "COLUMNS": "160"}
    runs = tmp_path / "studies" / "stopped" / "runs"
    args = [sys.executable, "-m", "mytrader.cli.main", "study", str(study), "--workers", "2"]
    # Its own process group, as a terminal's: Ctrl-C reaches the driver and its workers.
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(runs.glob("*/result.json")):
        assert proc.poll() is None, proc.stdout.read()  # type: ignore[union-attr]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err  # the workers ignore it; the study stops them
    assert "CancelledError" not in err, err  # a canceled run is no news after Ctrl-C
    assert "run the same command again to resume" in " ".join(out.split())
    kept = sorted(p.parent.name for p in runs.glob("*/result.json"))
    assert 1 <= len(kept) < 12
    assert not (tmp_path / "studies" / "stopped" / "study.json").exists()
    stamps = {k: (runs / k / "result.json").stat().st_mtime_ns for k in kept}

    again = run_cli(["study", str(study), "--workers", "1"], env, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(kept)} already done" in " ".join(again.stdout.split())
    assert {k: (runs / k / "result.json").stat().st_mtime_ns for k in kept} == stamps  # not redone
    assert len(list(runs.glob("*/result.json"))) == 12

    # The resumed study equals the same study run whole, one run after another.
    fresh = run_cli(
        ["study", str(study), "--workers", "0", "--out", str(tmp_path / "whole")], env, tmp_path
    )
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    resumed = (tmp_path / "studies" / "stopped" / "study.json").read_bytes()
    assert resumed == (tmp_path / "whole" / "stopped" / "study.json").read_bytes()


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (
            ["--windows", "2025-02-03..2025-03-14", "--variant", "a:vote_mod=weighted"],
            2,
            "variant 'a': 'vote_mod' is not a setting (did you mean 'vote_mode'?)",
        ),
        (
            ["--windows", "2025-02-03..2025-03-14", "--variant", "a:critique_interval=0"],
            2,
            "CRITIQUE_INTERVAL",
        ),
        (["--windows", "", "--variant", "a:vote_mode=weighted"], 2, "the study has no windows"),
        (
            ["--windows", "2025-02-03..2025-03-14,2025-03-10..2025-04-25", "--variant", "a"],
            2,
            "windows 2025-02-03..2025-03-14 and 2025-03-10..2025-04-25 overlap",
        ),
        (["--windows", "2031-01-02..2031-03-14", "--variant", "a"], 2, "is outside the data"),
        (["--windows", "2025-02-03..2025-03-14"], 2, "the study has no variants"),
        (["--windows", "2025-02-03..2025-03-14", "--variant", "a:models=gpt"], 2, "variant 'a'"),
        (
            [
                "--windows",
                "2025-02-03..2025-03-14",
                "--variant",
                "a",
                "--address",
                "tcp://127.0.0.1:{port}",
            ],
            3,
            "no Dask scheduler answers at tcp://127.0.0.1:",
        ),
    ],
    ids=[
        "unknown-setting",
        "bad-value",
        "empty-windows",
        "overlap",
        "outside-data",
        "no-variants",
        "bad-option",
        "no-scheduler",
    ],
)
def test_bad_input_names_the_problem_exits_2_or_3_and_writes_nothing(
    tmp_path: Path, args: list[str], status: int, said: str
) -> None:
    from tests.helpers import free_port

    args = [a.format(port=free_port()) for a in args]
    env = {"MYTRADER_HOME": str(tmp_path / "home")}
    out = run_cli(["study", "--id", "bad", *args], env, tmp_path, timeout=120)
    assert out.returncode == status, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert " ".join(said.split()) in " ".join(out.stdout.split()), out.stdout
    assert not (tmp_path / "studies").exists()


def test_a_study_file_in_yaml_runs_like_toml(home: Path) -> None:
    path = home / "y.yaml"
    path.write_text(
        "id: yml\nwindows: [2025-02-03..2025-02-21]\n"
        "variants:\n  - name: base\n  - name: blind\n    blind: true\n"
    )
    from mytrader.study.spec import load_study_file

    summary = study_command(load_study_file(path), quiet(), out=home / "studies", workers=0)
    assert [r.variant for r in summary.runs] == ["base", "blind"]
    facts = [
        (home / "studies" / "yml" / "runs" / r.run_id / "metrics.json").read_text()
        for r in summary.runs
    ]
    assert '"blind": false' in facts[0] and '"blind": true' in facts[1]


def real_models_study(study_id: str):  # type: ignore[no-untyped-def]
    """One window, two variants on real models that differ only in the vote: their
    personas send the same requests."""
    return spec_of(
        {
            "id": study_id,
            "windows": [["2025-02-03", "2025-02-14"]],
            "variants": [
                {"name": "majority", "models": "openrouter"},
                {"name": "weighted", "models": "openrouter", "vote_mode": "weighted"},
            ],
        }
    )


def to_model_server(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    """Real models at the local OpenAI server; set before a cluster starts, as its worker
    processes inherit the environment."""
    from tests.integration.test_openrouter_agents import API_KEY

    monkeypatch.setenv("OPENROUTER_API_KEY", API_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
    monkeypatch.setenv("LLM_MAX_RETRIES", "0")


def test_real_models_on_two_workers_share_one_llm_cache(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ChatOpenAI against the local OpenAI server from two worker processes: every answer
    lands in the one SQLite cache, and the same study run again asks the server nothing.
    The two variants differ only in the vote, so their personas send the same requests:
    each run still asks for its own answers, on two workers as one after another (the
    answers a run sees do not depend on which runs happened to finish before it)."""
    from tests.integration.test_openrouter_agents import API_KEY, trader
    from tests.servers import ChatServer

    real = real_models_study("real")
    with ChatServer(default=trader()) as srv:
        to_model_server(monkeypatch, srv.base_url)
        first = study_command(real, quiet(), out=home / "first", workers=2)
        asked = len(srv.chat_requests)
        again = study_command(real, quiet(), out=home / "again", workers=2)
        assert len(srv.chat_requests) == asked > 0  # the rerun: every answer from the cache
        monkeypatch.setenv("MYTRADER_HOME", str(home / "fresh"))  # an empty cache
        alone = study_command(real, quiet(), out=home / "alone", workers=0)
        assert len(srv.chat_requests) == 2 * asked  # one after another: the same requests
        assert srv.errors == []
    assert study_json(alone) == study_json(first)
    assert study_json(again) == study_json(first)
    assert sum(r.trades for r in first.runs) > 0  # the scripted model trades
    cached = (home / "home" / "llm_cache.sqlite").stat().st_size
    assert cached > 0
    assert API_KEY not in (home / "first" / "real" / "study.json").read_text()


def test_with_llm_cache_database_a_cluster_shares_answers_through_postgresql(
    home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LLM_CACHE=database where the study starts: the answers go to PostgreSQL, so workers
    with another MYTRADER_HOME (another machine) ask the models nothing for the same study,
    and no machine keeps a cache file."""
    from tests.conftest import _empty_database
    from tests.integration.test_openrouter_agents import API_KEY, trader
    from tests.servers import ChatServer

    _empty_database(postgres_url)
    real = real_models_study("shared")
    with ChatServer(default=trader()) as srv:
        to_model_server(monkeypatch, srv.base_url)
        monkeypatch.setenv("DATABASE_URL", postgres_url)
        monkeypatch.setenv("LLM_CACHE", "database")
        first = study_command(real, quiet(), out=home / "first", workers=2)
        asked = len(srv.chat_requests)
        monkeypatch.setenv("MYTRADER_HOME", str(home / "machine-b"))  # no file of its own
        again = study_command(real, quiet(), out=home / "again", workers=2)
        assert len(srv.chat_requests) == asked > 0  # every answer from PostgreSQL
        assert srv.errors == []
    assert study_json(again) == study_json(first)
    assert not list(home.rglob("llm_cache.sqlite"))
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT count(*), max(value) FROM llm_cache").fetchone()
    assert row is not None and row[0] == asked  # one row per answer: each run its own
    assert API_KEY not in str(row[1])


def test_the_cluster_recipe_scheduler_and_workers_started_by_hand(
    tmp_path: Path, sequential: dict[str, bytes]
) -> None:
    """The README's two-machine recipe on one machine: `dask scheduler`, `dask worker`
    processes given its address, and `mytrader study` pointed at it by
    DASK_SCHEDULER_ADDRESS: the bytes of the runs one after another."""
    from tests.helpers import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**clean_env(), "MYTRADER_HOME": str(tmp_path / "home")}
    dask = str(Path(sys.executable).with_name("dask"))
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        time.sleep(2)
        procs.append(
            subprocess.Popen(
                [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        study = _study_file(tmp_path, "pair", str(WINDOWS).replace("'", '"'))
        out = run_cli(["study", str(study)], {**env, "DASK_SCHEDULER_ADDRESS": address}, tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"cluster {address}" in " ".join(out.stdout.split())
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(30)
    got = report_bytes(tmp_path / "studies")
    assert [k for k in got if got[k] != sequential[k]] == []


def test_a_resume_redoes_the_runs_whose_settings_changed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = spec_of(
        {"id": "one", "windows": [["2025-02-03", "2025-02-14"]], "variants": [{"name": "a"}]}
    )
    out = home / "studies"
    first = study_command(one, quiet(), out=out, workers=0)
    result = next((out / "one" / "runs").glob("*/result.json"))
    stamp = result.stat().st_mtime_ns
    same = study_command(one, quiet(), out=out, workers=0)  # nothing changed: nothing redone
    assert result.stat().st_mtime_ns == stamp and study_json(same) == study_json(first)
    monkeypatch.setenv("STARTING_CASH", "50000")  # the driver's settings changed
    changed = study_command(one, quiet(), out=out, workers=0)
    assert result.stat().st_mtime_ns != stamp
    assert study_json(changed) != study_json(first)
    facts = (out / "one" / "runs" / first.runs[0].run_id / "metrics.json").read_text()
    assert '"starting_cash": "50000' in facts  # the worker ran with the driver's new settings


def test_a_worker_whose_data_file_differs_refuses_and_the_study_exits_1(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's digest of the data file does not match the worker's file: the worker
    refuses the run, the study names it, exits 1 and writes no report."""
    import io
    import shutil

    import mytrader

    data = home / "bars.csv.gz"
    shutil.copy(Path(mytrader.__file__).parent / "data" / "sample_daily.csv.gz", data)
    monkeypatch.setattr("mytrader.study.command.file_digest", lambda path: "0" * 64)
    other = spec_of(
        {
            "id": "other",
            "data": str(data),
            "windows": [["2025-02-03", "2025-02-07"]],
            "variants": [{"name": "a"}],
        }
    )
    console = Console(file=io.StringIO(), width=300)
    with pytest.raises(StudyExit) as stop:
        study_command(other, console, out=home / "studies", workers=1)
    assert stop.value.status == 1
    said = console.file.getvalue()  # type: ignore[attr-defined]
    assert "differs from the driver's" in said and "run st_" in said, said
    assert "1 run(s) failed" in said
    assert not (home / "studies" / "other" / "study.json").exists()
