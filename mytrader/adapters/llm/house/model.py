"""The chat model: answers the last human message's facts block with a decision JSON or a
critique, as a LangChain `BaseChatModel` that never calls tools."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import field_validator

from mytrader.adapters.llm.house.critique import house_critique
from mytrader.adapters.llm.house.decide import decision_json, house_decision
from mytrader.domain.prompt_format import CRITIQUE_MARKER, extract_payload


def _last_human_text(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _is_critique(prompt: str) -> bool:
    # Only the prose before the facts block counts: the facts may quote an old critique.
    return CRITIQUE_MARKER in prompt.split("```json", 1)[0]


def house_answer(persona: str, prompt: str) -> str:
    """The house model's answer text to the prompt (a decision JSON or a critique)."""
    payload = extract_payload(prompt)
    if payload is None:  # a repair prompt, or no facts: the safe answer
        hold = decision_json("HOLD", None, 0, "no facts to decide on")
        return json.dumps(hold)
    if _is_critique(prompt):
        return house_critique(payload)
    return json.dumps(house_decision(persona, payload), ensure_ascii=False)


class HouseModel(BaseChatModel):
    """A persona's deterministic model: reads only the last human message's facts block."""

    persona: str

    @field_validator("persona")
    @classmethod
    def _known(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", value):
            raise ValueError(f"{value!r} is not a persona name")
        return value

    @property
    def _llm_type(self) -> str:
        return "house"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"persona": self.persona}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = house_answer(self.persona, _last_human_text(messages))
        tokens_in = sum(len(m.text) for m in messages) // 4
        tokens_out = len(text) // 4
        message = AIMessage(
            content=text,
            response_metadata={"model_name": f"house-{self.persona}"},
            usage_metadata={
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # House models decide from the prompt alone; they never call tools.
        return self
