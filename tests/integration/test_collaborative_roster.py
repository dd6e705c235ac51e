"""The collaborative account, the roster from settings, the critique node, and usage kept
when an agent's turn fails: real graphs on real checkpointers (SQLite and Postgres)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from mytrader.adapters.llm.house import HouseModel
from mytrader.app.runner import open_arena
from mytrader.config import COLLABORATIVE
from tests.helpers import make_settings, run_cli


def collaborative_cycles(settings_kw: dict[str, Any], cycles: int) -> list[int]:
    """Cycles in which the collaborative account placed an order the broker got."""
    traded = []
    with open_arena(make_settings(**settings_kw)) as arena:
        for _ in range(cycles):
            summary = arena.run_cycle()
            if any(o.account == COLLABORATIVE and o.status != "refused" for o in summary.orders):
                traded.append(summary.cycle)
    return traded


def test_collaborative_account_trades_and_weighting_changes_what_it_trades(backend):
    """60 cycles of the sample on house models (bench/collaborative_activity.py runs 250)."""
    majority = collaborative_cycles({**backend, "arena_id": "maj"}, 60)
    weighted = collaborative_cycles({**backend, "arena_id": "wei", "vote_mode": "weighted"}, 60)
    assert len(majority) >= 6 and len(weighted) >= 6  # one cycle in ten, or more
    assert majority != weighted


def test_weighted_vote_weighs_by_the_trailing_record(backend):
    settings = make_settings(**backend, vote_mode="weighted", vote_window=5)
    with open_arena(settings) as arena:
        for _ in range(20):
            summary = arena.run_cycle()
        track = arena.values()["track"]
    assert summary.vote is not None and summary.vote.mode == "weighted"
    assert set(track) == set(settings.personas)
    assert all(len(marks) == 6 for marks in track.values())  # window + 1, no more
    # 2 ** (agents clearly beaten): powers of two, and they add up to the total
    assert {w & (w - 1) for w in summary.vote.weights.values()} == {0}
    assert summary.vote.total == sum(summary.vote.weights.values())
    assert set(summary.vote.returns) == set(settings.personas)


def test_five_personas_from_settings_alone_run_end_to_end(tmp_path: Path):
    personas = tmp_path / "personas"
    personas.mkdir()
    for name, who in (("qwen", "the quant"), ("mistral", "the macro trader")):
        (personas / f"persona_{name}.md").write_text(f"## Who you are: {name}, {who}\n")
    env = {
        "MYTRADER_HOME": str(tmp_path / "home"),
        "ROSTER": "grok,deepseek,openai,qwen,mistral",
        "PERSONAS_DIR": str(personas),
        "PERSONA_MODELS": "qwen=qwen/qwen3-235b-a22b,mistral=mistralai/mistral-medium-3",
        "CRITIQUE_INTERVAL": "1",
    }
    out = run_cli(["run", "--cycles", "4"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "qwen" in out.stdout and "mistral" in out.stdout and "cycle 4" in out.stdout
    board = run_cli(["leaderboard", "--json"], env, tmp_path)
    assert board.returncode == 0, board.stderr
    rows = {r["account"] for r in json.loads(board.stdout)}
    assert rows == {"grok", "deepseek", "openai", "qwen", "mistral", COLLABORATIVE}
    logs = run_cli(["logs", "--agent", "qwen", "--cycles", "4"], env, tmp_path)
    assert logs.returncode == 0 and "DECISION" in logs.stdout
    # a broken roster is a config error naming the setting, exit status 2
    bad = run_cli(["run"], {**env, "ROSTER": "grok,qwen,grok"}, tmp_path)
    assert bad.returncode == 2 and "ROSTER" in bad.stdout + bad.stderr
    llama = {"ROSTER": "grok,llama", "PERSONA_MODELS": "llama=meta-llama/llama-4"}
    missing = run_cli(["run"], {**env, **llama}, tmp_path)
    assert missing.returncode == 2 and "persona_llama.md" in missing.stdout + missing.stderr
    clash = run_cli(["run"], {**env, "ROSTER": "grok,collaborative"}, tmp_path)
    assert clash.returncode == 2 and "ROSTER" in clash.stdout + clash.stderr


def test_critique_is_its_own_node_before_the_decision(backend):
    settings = make_settings(**backend, critique_interval=1)
    with open_arena(settings) as arena:
        graph = arena.graph.get_graph()
        assert {"screener", "critique", "agent", "vote", "executor", "record"} <= set(graph.nodes)
        assert any(e.source == "critique" and e.target == "agent" for e in graph.edges)
        steps: list[str] = []
        for _ in range(6):
            nodes = [
                node
                for update in arena.graph.stream({}, arena.config, stream_mode="updates")
                for node in update
            ]
            steps.append(",".join(dict.fromkeys(nodes)))
            critiques = arena.services.store.agent_logs(settings.arena_id, kind="CRITIQUE")
        # cycles with a critique due pass every persona through `critique` first; the
        # vote runs once per cycle, after all the decisions
        assert "screener,critique,agent,vote,executor,record" in steps
        assert all(s.count("vote") == 1 for s in steps)
        assert critiques and all(c.content for c in critiques)
        last = arena.values()["critiques"]
        assert {c["cycle"] for c in last.values()} <= {r.cycle for r in critiques}


class BreaksAfterAnswering(HouseModel):
    """Answers (usage and all) with a message whose content breaks the turn's code."""

    def invoke(self, *args: Any, **kwargs: Any) -> AIMessage:  # type: ignore[override]
        real = super().invoke(*args, **kwargs)
        return AIMessage(
            content=[{"type": "text", "text": 5}],  # not text: reading it fails, after the call
            usage_metadata={"input_tokens": 1234, "output_tokens": 56, "total_tokens": 1290},
            response_metadata={"token_usage": {"cost": "0.0042"}},
            id=real.id,
        )


def test_usage_is_kept_when_the_turn_fails_after_the_call(backend, tmp_path):
    settings = make_settings(**backend)
    models = {p: HouseModel(persona=p) for p in settings.personas}
    models["grok"] = BreaksAfterAnswering(persona="grok")
    with open_arena(settings, models=models) as arena:
        summary = arena.run_cycle()
        usage = arena.services.store.usage(settings.arena_id)
    grok = summary.decisions["grok"]
    assert grok.decision.decision == "HOLD" and grok.error
    assert usage["grok"].calls >= 1
    assert usage["grok"].tokens_in >= 1234 and usage["grok"].tokens_out >= 56
    assert usage["grok"].cost_usd == Decimal("0.0042")
    assert summary.decisions["deepseek"].error is None  # the others traded on
