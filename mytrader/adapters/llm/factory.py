"""Chat models per persona: OpenRouter through ChatOpenAI, or the offline house model."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from mytrader.adapters.llm.house import HouseModel
from mytrader.config import Settings

OPENROUTER_HEADERS = {
    "HTTP-Referer": "https://github.com/mytrader-arena/mytrader",
    "X-Title": "MyTrader",
}


def openrouter_model(settings: Settings, persona: str) -> BaseChatModel:
    """ChatOpenAI pointed at OpenRouter (or any OpenAI-compatible endpoint)."""
    from langchain_openai import ChatOpenAI  # imported here: offline runs never need it

    if settings.openrouter_api_key is None:
        raise ValueError(f"{persona.upper()}_LLM=openrouter needs OPENROUTER_API_KEY")
    from openai import DefaultHttpxClient

    from mytrader.adapters.llm.scrubbed_http import ScrubbedErrors

    key = settings.openrouter_api_key.get_secret_value()
    return ChatOpenAI(
        model=settings.model_for(persona),
        base_url=settings.openrouter_base_url,
        api_key=settings.openrouter_api_key,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        default_headers=OPENROUTER_HEADERS,
        http_client=DefaultHttpxClient(transport=ScrubbedErrors([key])),
        # JSON mode goes in extra_body: as `response_format` proper, langchain-openai would
        # switch to the SDK's parse() path, which refuses non-strict tools.
        extra_body=(
            {"response_format": {"type": "json_object"}} if settings.llm_json_mode else None
        ),
    )


def model_id(settings: Settings, persona: str) -> str:
    if settings.llm_kind(persona) == "house":
        return f"house/{persona}"
    return settings.model_for(persona)


def build_models(settings: Settings) -> dict[str, BaseChatModel]:
    models: dict[str, BaseChatModel] = {}
    for persona in settings.personas:
        if settings.llm_kind(persona) == "house":
            models[persona] = HouseModel(persona=persona)
        else:
            models[persona] = openrouter_model(settings, persona)
    return models
