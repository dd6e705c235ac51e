"""Deterministic "house" models: offline stand-ins for the real LLMs, one per persona.

A house model reads the very prompt a real model gets — only the JSON facts block of the
last human message, never any other source — and answers in the same format: a decision
JSON object, or a plain-text self-critique ending in `ADJUSTMENT: <tag>`. The graph
parses its answer through the same `parse_decision` as a real model's, so the offline
arena exercises the whole path. Same prompt, same answer.

Each persona is a small rule set (entry, exit, bearish view, size); a persona of a
user's roster without rules of its own gets the generalist's. Beside its decision, a
house model states a stance on every shortlisted symbol from the same rules: SELL a
holding its exit rule fires on, BUY a name its entry rule fires on, BUY (at a lower
conviction) a name its softer bullish view likes, SELL a name its bearish rule fires on,
else HOLD. The last critique's ADJUSTMENT tag
changes the rules: `more_selective` raises the bar and halves the size,
`take_profits_sooner` lowers the take-profit thresholds, `cut_losses_sooner` sells any
position down 10% or more. Real models are asked to end their critiques with the same
line, so the tags work whoever wrote the critique.
"""

from mytrader.adapters.llm.house.critique import house_critique
from mytrader.adapters.llm.house.decide import house_decision
from mytrader.adapters.llm.house.model import HouseModel, house_answer

__all__ = ["HouseModel", "house_answer", "house_critique", "house_decision"]
