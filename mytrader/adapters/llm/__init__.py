"""Language models of the arena: the answer parser and the offline house models.

(The OpenRouter client lives beside these, in `openrouter`; which persona gets which
model is decided in `mytrader.app.models`.)
"""

from mytrader.adapters.llm.house import HouseModel, house_answer, house_critique, house_decision
from mytrader.domain.parsing import DecisionParseError, parse_decision

__all__ = [
    "DecisionParseError",
    "HouseModel",
    "house_answer",
    "house_critique",
    "house_decision",
    "parse_decision",
]
