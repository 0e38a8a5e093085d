"""The package layering of DESIGN.md: a module imports only from layers below its own."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "bpfvm"

# Bottom to top. Packages on one layer may not import each other.
LAYERS: list[set[str]] = [
    {"errors"},
    {"isa"},
    {"btf"},
    {"program"},
    {"asm", "elf", "kernel"},
    {"platform"},
    {"verifier"},
    {"fixups"},
    {"runtime"},
    {"vm"},
    {"hooks"},
    {"cli", "conformance"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _unit(module: Path) -> str:
    rel = module.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in SRC.rglob("*.py") if m.name != "__init__.py" or m.parent != SRC}
    assert units <= set(RANK), units - set(RANK)


def test_imports_only_go_down() -> None:
    violations = []
    for module in SRC.rglob("*.py"):
        if module.parent == SRC and module.name == "__init__.py":
            continue
        unit = _unit(module)
        for name in _imports(module):
            parts = name.split(".")
            if parts[0] == "elftools" and unit != "elf":
                violations.append(f"{module}: pyelftools outside elf/")
            if parts[0] != "bpfvm" or len(parts) < 2:
                continue
            target = parts[1]
            if target != unit and RANK[target] >= RANK[unit]:
                violations.append(f"{module.relative_to(SRC)} imports {name}")
    assert not violations, "\n".join(violations)
