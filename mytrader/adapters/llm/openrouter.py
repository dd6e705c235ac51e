"""OpenRouter (or any OpenAI-compatible endpoint) through ChatOpenAI, from explicit parameters.

Which persona gets which model, and with which settings, is decided above (`app/models.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

OPENROUTER_HEADERS = {
    "HTTP-Referer": "https://github.com/mytrader-arena/mytrader",
    "X-Title": "MyTrader",
}


def openrouter_model(
    *,
    model: str,
    base_url: str,
    api_key: SecretStr,
    temperature: float,
    timeout_s: float,
    max_retries: int,
    json_mode: bool,
    headers: Mapping[str, str] = OPENROUTER_HEADERS,
) -> BaseChatModel:
    """ChatOpenAI pointed at `base_url`; the key is scrubbed from transport errors.
    (The provider's quirks are handled as for any provider: `provider.ProviderChat`.)"""
    from mytrader.adapters.llm.provider import provider_model  # offline runs never need it

    return provider_model(
        provider="openrouter",
        model=model,
        base_url=base_url,
        api_key=api_key,
        temperature=temperature,
        timeout_s=timeout_s,
        max_retries=max_retries,
        json_mode=json_mode,
        headers=headers,
    )
