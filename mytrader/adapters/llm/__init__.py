"""Language models of the arena: the answer parser and the offline house models.

(The model factory — OpenRouter or house, per persona — lives beside these.)
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
