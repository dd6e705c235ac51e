"""The chat model of each persona, picked from the settings: the house model, or a real
model on the persona's provider (OpenRouter by default; PROVIDERS and PERSONA_PROVIDERS)."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from mytrader.adapters.llm.house import HouseModel
from mytrader.adapters.llm.openrouter import OPENROUTER_HEADERS
from mytrader.config import DEFAULT_PROVIDER, Settings

HOUSE = "house"


def model_id(settings: Settings, persona: str) -> str:
    """The id a persona's model shows in logs: `house/<persona>` or the provider's model id."""
    if settings.llm_kind(persona) == "house":
        return f"house/{persona}"
    return settings.model_for(persona)


def provider_name(settings: Settings, persona: str) -> str:
    """Where a persona's model runs: `house`, `openrouter` or a provider of PROVIDERS."""
    return HOUSE if settings.llm_kind(persona) == "house" else settings.provider_for(persona)


def chat_model(settings: Settings, persona: str) -> BaseChatModel:
    if settings.llm_kind(persona) == "house":
        return HouseModel(persona=persona)
    name = settings.provider_for(persona)
    provider = settings.provider(name)
    if name == DEFAULT_PROVIDER and settings.openrouter_api_key is None:
        raise ValueError(f"{persona.upper()}_LLM=openrouter needs OPENROUTER_API_KEY")
    from mytrader.adapters.llm.provider import provider_model  # offline runs never need it

    return provider_model(
        provider=name,
        model=settings.model_for(persona),
        base_url=provider.base_url,
        api_key=provider.api_key,
        temperature=settings.llm_temperature,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        json_mode=settings.llm_json_mode,
        headers=OPENROUTER_HEADERS if name == DEFAULT_PROVIDER else dict(provider.headers),
        reports_cost=provider.reports_cost,
        prices=provider.prices,
        secrets=provider.secrets,
    )


def build_models(settings: Settings) -> dict[str, BaseChatModel]:
    """Every persona of the roster, in the roster's order."""
    return {persona: chat_model(settings, persona) for persona in settings.personas}
