"""Prompt texts (markdown files beside this module) and the facts that fill them.

Arithmetic stays out of the LLM: every number a prompt shows — book figures, profit and
loss, the largest affordable quantity, sell signals — is computed in code, in Decimal, and
handed over as a fenced JSON block. House models read that same block back with
`extract_payload`, so offline and real models see exactly the same prompt.

- `text`: loading and filling the .md texts, the system prompt of a persona, the JSON
  layout of the facts block (`dump_json`);
- `facts`: the numbers a prompt shows (book, positions, sell signals, herd, market);
- `builders`: the decision and critique payloads and messages, the repair message.

This module only re-exports them.
"""

from mytrader.domain.prompt_format import CRITIQUE_MARKER, extract_payload
from mytrader.prompts.builders import (
    critique_messages,
    critique_payload,
    decision_messages,
    decision_payload,
    repair_message,
)
from mytrader.prompts.text import (
    dump_json,
    load_prompt,
    persona_prompt_path,
    render,
    system_prompt,
)

__all__ = [
    "CRITIQUE_MARKER",
    "critique_messages",
    "critique_payload",
    "decision_messages",
    "decision_payload",
    "dump_json",
    "extract_payload",
    "load_prompt",
    "persona_prompt_path",
    "render",
    "repair_message",
    "system_prompt",
]
