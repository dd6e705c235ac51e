"""The prompt texts: the markdown files beside this module, loaded and filled, and the
JSON layout of the facts block they carry (`dump_json`)."""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mytrader.domain.personas import persona_prompt_path as persona_file

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_TEXTS = Path(__file__).parent  # the packaged .md files


@cache
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.md` (the .md suffix is optional)."""
    filename = name if name.endswith(".md") else f"{name}.md"
    return resources.files("mytrader.prompts").joinpath(filename).read_text(encoding="utf-8")


def render(name: str, **values: object) -> str:
    """Fill `{name}` placeholders in one pass.

    Only lower-case identifiers in braces are placeholders, so the JSON examples in the
    texts (`{"decision": ...}`) stay as they are, and inserted values (JSON payloads,
    error messages) are never re-scanned. A placeholder without a value is a bug: KeyError.
    """
    text = load_prompt(name)

    def fill(match: re.Match[str]) -> str:
        return str(values[match[1]])

    return _PLACEHOLDER.sub(fill, text)


def persona_prompt_path(persona: str, personas_dir: str | Path | None) -> Path | None:
    """The persona's prompt file: PERSONAS_DIR first, then the texts beside this module."""
    return persona_file(persona, personas_dir, _TEXTS)


def system_prompt(persona: str, personas_dir: str | Path | None = None) -> str:
    """The shared system text and the persona's own (PERSONAS_DIR first, then packaged)."""
    path = persona_prompt_path(persona, personas_dir)
    if path is None:
        raise ValueError(f"no prompt file persona_{persona}.md (ROSTER, PERSONAS_DIR)")
    st = path.stat()
    return _system_text(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _system_text(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed on the file's stamp: every turn asks, an edited persona file is read again,
    # and an unchanged one is not read three times a cycle.
    return load_prompt("system").rstrip() + "\n\n" + path.read_text(encoding="utf-8")


# --- the facts block as JSON -------------------------------------------------------------


def dump_json(payload: dict[str, Any]) -> str:
    """JSON with one line per flat object (a symbol, a trade): compact, still readable."""
    return _dump(payload, 0)


class Rendered(dict[str, Any]):
    """A payload section with its JSON text made once, at the level `dump_json` puts it:
    the personas of a cycle see the same market, so it is rendered once. Read-only."""

    def __init__(self, value: dict[str, Any], level: int) -> None:
        super().__init__(value)
        self.level = level
        self.text = _dump(value, level)


_CONTAINERS = (dict, list)
# One encoder: json.dumps builds a new one at every call that passes an option.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _dump(value: Any, level: int) -> str:
    if isinstance(value, Rendered) and value.level == level:
        return value.text
    if not isinstance(value, _CONTAINERS):
        return _encode(value)
    children = value.values() if isinstance(value, dict) else value
    if not value or not any(isinstance(v, _CONTAINERS) for v in children):
        return _encode(value)  # flat: one line
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, list):
        items = [inner + _dump(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    rows = [f"{inner}{json.dumps(k)}: {_dump(v, level + 1)}" for k, v in value.items()]
    return "{\n" + ",\n".join(rows) + "\n" + pad + "}"
