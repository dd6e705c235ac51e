"""Where a persona's prompt file is: the user's folder (PERSONAS_DIR) first, then the
packaged prompts. One rule for the settings' roster check and the prompt builder, each
passing the folders it knows."""

from __future__ import annotations

from pathlib import Path


def persona_prompt_path(
    persona: str, personas_dir: str | Path | None, packaged_dir: Path
) -> Path | None:
    filename = f"persona_{persona}.md"
    if personas_dir is not None and (Path(personas_dir) / filename).is_file():
        return Path(personas_dir) / filename
    packaged = packaged_dir / filename
    return packaged if packaged.is_file() else None
