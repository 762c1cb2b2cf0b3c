"""The project's Markdown (README.md and docs/) and the code blocks in it, for the tests that
keep the documentation honest: its Python runs, its TOML loads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documentation() -> list[Path]:
    """README.md and every page under docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def block_containing(language: str, marker: str) -> str:
    """The one ``language`` block in the documentation that contains ``marker``."""
    found = [b for path in documentation() for b in blocks(path, language) if marker in b]
    assert len(found) == 1, f"{len(found)} {language} blocks contain {marker!r}"
    return found[0]
