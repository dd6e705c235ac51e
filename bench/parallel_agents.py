"""Are the agents' model calls parallel? One arena cycle with the three personas on a local
OpenAI-compatible server whose every answer takes `--delay` seconds (1 s by default),
against the very same cycle run sequentially (LangGraph's max_concurrency=1), measured in
the same run; and the number of LLM calls per cycle, counted at the server, against the
expected: the agents plus the critiques that are due.

    python bench/parallel_agents.py [--delay 1.0] [--repeats 3] [--no-critique-cycle]

Goal: a parallel cycle under 1.15 s for 1 s answers (the sequential baseline is >= 3 s);
with critiques due, under 1.15 x (one critique + one decision) = 2.3 s (sequential >= 6 s).
Every measurement uses fresh arenas (SQLite in a temporary folder) on the same trading day,
after a warm-up cycle, so imports and data loading are not timed. With the critique cycle
(default), a second cycle runs with CRITIQUE_INTERVAL=1: every agent traded in cycle 1, so
each critiques itself first in the `critique` node, then decides in `agent` (two answers
in a row per agent, the agents in parallel). Exit status 1 when a call count is not the
expected one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.servers

from mytrader.app.runner import Arena, open_arena  # noqa: E402
from mytrader.config import PERSONAS, Settings  # noqa: E402
from mytrader.prompts import CRITIQUE_MARKER, extract_payload  # noqa: E402
from tests.servers import ChatServer, Reply  # noqa: E402

GOAL_S = 1.15


def responder(delay: float) -> Callable[[dict[str, Any]], Reply]:
    """Critiques in plain text; otherwise BUYs one share of the first symbol shown."""

    def answer(request: dict[str, Any]) -> Reply:
        prompt = "\n".join(
            m["content"] for m in request["messages"] if isinstance(m.get("content"), str)
        )
        if CRITIQUE_MARKER in prompt:
            return Reply.text("Too much herd.\nADJUSTMENT: more_selective", delay=delay)
        payload = extract_payload(prompt) or {}
        symbol = next(iter(payload["market"]["symbols"]))
        order = {"decision": "BUY", "symbol": symbol, "quantity": 1, "confidence": 60}
        return Reply.json(order, delay=delay)

    return answer


def settings_for(home: Path, srv: ChatServer, **overrides: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        mytrader_home=home,
        database_url=None,
        openrouter_api_key=SecretStr("sk-or-bench"),
        openrouter_base_url=srv.base_url,
        grok_llm="openrouter",
        deepseek_llm="openrouter",
        openai_llm="openrouter",
        llm_max_retries=0,
        llm_timeout_s=30.0,
        **overrides,
    )


def critiques_done(arena: Arena, cycle: int) -> int:
    """Critiques written in `cycle`, from the checkpointed critique notes. (Due-ness is
    only known inside the cycle: the fills that raise the trade counts are booked at its
    start, in the screener.)"""
    notes = arena.values().get("critiques") or {}
    return sum(1 for p in PERSONAS if (notes.get(p) or {}).get("cycle") == cycle)


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time of the cycle
    calls: int  # chat requests the server got during it
    expected: int  # agents + critiques due
    overlapped: bool  # the agents' first requests were all in flight at once


def timed_cycle(arena: Arena, srv: ChatServer, sequential: bool) -> Measured:
    before = len(srv.chat_requests)
    overrides = {"max_concurrency": 1} if sequential else None
    t0 = time.perf_counter()
    summary = arena.run_cycle(config_overrides=overrides)
    seconds = time.perf_counter() - t0
    requests = srv.chat_requests[before:]
    expected = len(PERSONAS) + critiques_done(arena, summary.cycle)
    errors = [d.error for d in summary.decisions.values() if d.error]
    if errors:
        raise SystemExit(f"an agent failed: {errors}")
    # all the agents' first requests in flight at once?
    firsts = [next(r for r in requests if r.model == m) for m in {r.model for r in requests}]
    overlapped = max(r.received_monotonic for r in firsts) < min(
        r.responded_monotonic or 0.0 for r in firsts
    )
    return Measured(seconds, len(requests), expected, overlapped)


def run_pair(
    srv: ChatServer, root: Path, tag: str, cycles: int, **overrides: Any
) -> dict[str, list[Measured]]:
    """`cycles` cycles in a fresh arena per mode; every cycle of each mode measured."""
    out: dict[str, list[Measured]] = {}
    for mode in ("parallel", "sequential"):
        settings = settings_for(root / f"{tag}-{mode}", srv, **overrides)
        with open_arena(settings) as arena:
            out[mode] = [timed_cycle(arena, srv, mode == "sequential") for _ in range(cycles)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model answer")
    parser.add_argument("--repeats", type=int, default=3, help="measured pairs of cycle 1")
    parser.add_argument("--no-critique-cycle", action="store_true")
    args = parser.parse_args()
    delay = args.delay
    ok = True

    with ChatServer() as srv, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        srv.set_default(responder(0.0))
        run_pair(srv, root, "warmup", 1)  # imports, bars, clients: not timed below
        srv.set_default(responder(delay))

        print(
            f"parallel_agents: {len(PERSONAS)} agents on a local OpenAI-compatible server, "
            f"each answer delayed {delay:.2f} s"
        )
        print(f"{'cycle 1 (no critique due)':<28}{'parallel':>10}{'sequential':>12}{'ratio':>8}")
        pairs = [run_pair(srv, root, f"r{i}", 1) for i in range(args.repeats)]
        for i, pair in enumerate(pairs, 1):
            par, seq = pair["parallel"][0], pair["sequential"][0]
            print(
                f"  run {i:<24}{par.seconds:>9.3f}s{seq.seconds:>11.3f}s"
                f"{seq.seconds / par.seconds:>7.2f}x"
            )
        par_s = statistics.median(p["parallel"][0].seconds for p in pairs)
        seq_s = statistics.median(p["sequential"][0].seconds for p in pairs)
        verdict = "met" if par_s < GOAL_S * delay else "MISSED"
        print(
            f"  median: parallel {par_s:.3f} s, sequential {seq_s:.3f} s "
            f"({len(PERSONAS)} x {delay:.2f} s = {len(PERSONAS) * delay:.2f} s), "
            f"speed-up {seq_s / par_s:.2f}x"
        )
        print(f"  goal: parallel < {GOAL_S * delay:.2f} s -> {verdict}")
        overlapped = all(p["parallel"][0].overlapped for p in pairs)
        print(f"  parallel runs had all agents' requests in flight at once: {overlapped}")

        measured = [m for p in pairs for ms in p.values() for m in ms]
        if not args.no_critique_cycle:
            crit_pairs = [
                run_pair(srv, root, f"critique{i}", 2, critique_interval=1)
                for i in range(args.repeats)
            ]
            print(f"{'cycle 2 (critiques due)':<28}{'parallel':>10}{'sequential':>12}{'ratio':>8}")
            for i, pair in enumerate(crit_pairs, 1):
                par, seq = pair["parallel"][1], pair["sequential"][1]
                print(
                    f"  run {i:<24}{par.seconds:>9.3f}s{seq.seconds:>11.3f}s"
                    f"{seq.seconds / par.seconds:>7.2f}x"
                )
                measured += [m for ms in pair.values() for m in ms]
            par_c = statistics.median(p["parallel"][1].seconds for p in crit_pairs)
            seq_c = statistics.median(p["sequential"][1].seconds for p in crit_pairs)
            expect = 2 * delay  # one critique call, then one decision call, per agent
            verdict = "met" if par_c < GOAL_S * expect else "MISSED"
            print(
                f"  median: parallel {par_c:.3f} s vs expected one critique + one decision "
                f"= {expect:.2f} s; sequential {seq_c:.3f} s "
                f"({len(PERSONAS)} x 2 x {delay:.2f} s = {len(PERSONAS) * expect:.2f} s)"
            )
            print(f"  goal: parallel < {GOAL_S * expect:.2f} s -> {verdict}")

        print("LLM calls per cycle (counted at the server) vs expected (agents + due critiques):")
        seen = sorted({(m.calls, m.expected) for m in measured})
        for calls, expected in seen:
            n = sum(1 for m in measured if (m.calls, m.expected) == (calls, expected))
            mark = "ok" if calls == expected else "WRONG"
            crit = expected - len(PERSONAS)
            print(
                f"  {calls} calls, expected {expected} = {len(PERSONAS)} agents + {crit} "
                f"critiques  ({n} cycles) {mark}"
            )
            ok = ok and calls == expected
        if srv.errors:
            print(f"server errors: {srv.errors}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
