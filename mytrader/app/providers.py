"""Before the first cycle: every provider a persona uses answers (exit 3 when one does not),
and takes its key (exit 2 when it refuses it), each message naming the setting to fix.

The probe is a GET of `{base_url}/models` (OpenAI's list of models, which OpenRouter,
Ollama's /v1, vLLM, LM Studio and the vendors' APIs all serve) with a short timeout; any
answer but a refused key counts as reachable (a server without the route answers 404).
OpenRouter, the default provider, is not probed: its behaviour is today's.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from mytrader.config import ConfigError, ProviderSettings, Settings


class ProviderUnreachable(RuntimeError):
    """A provider did not answer; the message names its PROVIDER_<NAME>_BASE_URL."""


def used_providers(settings: Settings) -> list[str]:
    """The providers of PROVIDERS some persona of the roster runs on, in PROVIDERS order."""
    used = {settings.provider_for(p) for p in settings.personas if settings.llm_kind(p) != "house"}
    return [n for n in settings.provider_names if n in used]


def check_providers(settings: Settings) -> None:
    """Probe every provider in use; raise ProviderUnreachable or ConfigError."""
    for name in used_providers(settings):
        probe(settings.provider(name), settings.provider_probe_timeout_s)


def probe(provider: ProviderSettings, timeout_s: float) -> None:
    setting = f"PROVIDER_{provider.name.upper()}"
    url = f"{provider.base_url}/models"
    headers = dict(provider.headers)
    if provider.api_key is not None:
        headers["Authorization"] = f"Bearer {provider.api_key.get_secret_value()}"
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            response.read(0)
        return
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (urllib.error.URLError, OSError) as exc:  # refused, unknown host, timed out
        reason = getattr(exc, "reason", exc)
        raise ProviderUnreachable(
            f"provider {provider.name} is unreachable at {provider.base_url} "
            f"({setting}_BASE_URL): {reason}; is the server running?"
        ) from None
    if status in (401, 403):
        raise ConfigError(
            f"{setting}_API_KEY: provider {provider.name} refused the key "
            f"(HTTP {status} from {url})"
        )
    if status >= 500:
        raise ProviderUnreachable(
            f"provider {provider.name} at {provider.base_url} ({setting}_BASE_URL) answers "
            f"HTTP {status}; try again later"
        )
    # any other answer (a 404 from a server without the route): it is there
