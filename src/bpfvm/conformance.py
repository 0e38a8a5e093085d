"""Parser for bpf_conformance ``.data`` test files (format: shared/conformance/README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SECTION = re.compile(r"^-- (.+?)\s*$", re.M)


@dataclass(frozen=True)
class ConformanceCase:
    name: str
    asm: str
    mem: bytes
    result: int | None
    raw: list[int] | None


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def parse_data_file(path: Path) -> ConformanceCase:
    text = path.read_text()
    sections: dict[str, str] = {}
    marks = list(_SECTION.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections[m[1]] = text[m.end() : end]
    mem = bytes.fromhex("".join(_strip_comments(sections.get("mem", "")).split()))
    result = sections.get("result")
    raw = sections.get("raw")
    return ConformanceCase(
        name=path.stem,
        asm=sections["asm"],
        mem=mem,
        result=int(_strip_comments(result).strip(), 0) if result is not None else None,
        raw=[int(w, 0) for w in _strip_comments(raw).split()] if raw is not None else None,
    )
