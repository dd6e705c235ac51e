"""The chat model of each persona, picked from the settings: OpenRouter or the house model."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from mytrader.adapters.llm.house import HouseModel
from mytrader.adapters.llm.openrouter import OPENROUTER_HEADERS, openrouter_model
from mytrader.config import Settings


def model_id(settings: Settings, persona: str) -> str:
    """The id a persona's model shows in logs: `house/<persona>` or the OpenRouter model."""
    if settings.llm_kind(persona) == "house":
        return f"house/{persona}"
    return settings.model_for(persona)


def chat_model(settings: Settings, persona: str) -> BaseChatModel:
    if settings.llm_kind(persona) == "house":
        return HouseModel(persona=persona)
    if settings.openrouter_api_key is None:
        raise ValueError(f"{persona.upper()}_LLM=openrouter needs OPENROUTER_API_KEY")
    return openrouter_model(
        model=settings.model_for(persona),
        base_url=settings.openrouter_base_url,
        api_key=settings.openrouter_api_key,
        temperature=settings.llm_temperature,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        json_mode=settings.llm_json_mode,
        headers=OPENROUTER_HEADERS,
    )


def build_models(settings: Settings) -> dict[str, BaseChatModel]:
    """Every persona of the roster, in the roster's order."""
    return {persona: chat_model(settings, persona) for persona in settings.personas}
