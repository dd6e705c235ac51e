"""Nothing a decision sees comes from after its simulated now.

The arena runs twice on the same history, except that in the second every bar after day t
is rewritten. Every prompt of every cycle up to t must be identical; later ones differ.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import Field

from mytrader.adapters.llm.house import HouseModel
from mytrader.app.runner import open_arena
from mytrader.config import PERSONAS
from tests.helpers import make_settings, rewrite_after


class RecordingHouse(HouseModel):
    seen: list[str] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append("\n".join(str(m.content) for m in messages))
        return super()._generate(messages, *args, **kwargs)


def run_prompts(
    tmp: Path, data: Path | None, cycles: int
) -> tuple[dict[str, list[str]], list[str]]:
    settings = make_settings(mytrader_home=tmp, market_data_path=data, critique_interval=2)
    models = {p: RecordingHouse(persona=p) for p in PERSONAS}
    with open_arena(settings, models=models) as arena:
        dates = [arena.run_cycle().as_of or "" for _ in range(cycles)]
    return {p: m.seen for p, m in models.items()}, dates


def test_rewriting_the_future_changes_nothing_seen_before(tmp_path):
    sample = Path(str(resources.files("mytrader") / "data" / "sample_daily.csv.gz"))
    base, dates = run_prompts(tmp_path / "a", None, 14)
    cutoff = dates[9]  # the 10th cycle's now
    altered_data = tmp_path / "altered.csv"
    rewrite_after(sample, altered_data, cutoff, 3.7, (13, 7))
    altered, dates2 = run_prompts(tmp_path / "b", altered_data, 14)
    assert dates2 == dates
    for persona in PERSONAS:
        # Prompts of cycles 1..10 (critiques included) are the same, word for word.
        upto = [p for p in base[persona] if _as_of(p) <= cutoff]
        upto2 = [p for p in altered[persona] if _as_of(p) <= cutoff]
        assert upto and upto == upto2, persona
    # ...and the rewrite is visible afterwards, so the comparison above can fail.
    assert any(base[p] != altered[p] for p in PERSONAS)


def _as_of(prompt: str) -> str:
    marker = '"as_of": "'
    start = prompt.index(marker) + len(marker)
    return prompt[start : start + 10]
