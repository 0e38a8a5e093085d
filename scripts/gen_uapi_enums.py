#!/usr/bin/env python3
"""Generate ``src/bpfvm/program/uapi.py`` from the running kernel's BTF.

The UAPI enums a loader needs (``enum bpf_prog_type``, ``enum bpf_attach_type``,
``enum bpf_map_type``) are read from the kernel's BTF with the minimal reader of
``gen_helper_ids.py`` and written as ``IntEnum`` classes without their prefixes.

    python3 scripts/gen_uapi_enums.py            # write the module
    python3 scripts/gen_uapi_enums.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_helper_ids import DEFAULT_BTF, REPO_ROOT, Btf, detect_kernel_version

OUTPUT = REPO_ROOT / "src" / "bpfvm" / "program" / "uapi.py"
ENUMS = [  # (python class, kernel enum, enumerator prefix)
    ("ProgType", "bpf_prog_type", "BPF_PROG_TYPE_"),
    ("AttachType", "bpf_attach_type", ""),
    ("MapType", "bpf_map_type", "BPF_MAP_TYPE_"),
]
# Enumerators newer than the running kernel, from the 2026 seed (SPEC.md section 4.1).
EXTRA = {
    "AttachType": [("TRACE_FSESSION", 58), ("TRACE_FENTRY_MULTI", 59),
                   ("TRACE_FEXIT_MULTI", 60), ("TRACE_FSESSION_MULTI", 61)],
}  # fmt: skip


def render(btf: Btf, kernel_version: str) -> str:
    out = [
        f'"""UAPI enums of ``include/uapi/linux/bpf.h`` (generated from Linux {kernel_version} BTF',
        'by ``scripts/gen_uapi_enums.py``; do not edit)."""',
        "",
        "from __future__ import annotations",
        "",
        "from enum import IntEnum",
    ]
    for cls, name, prefix in ENUMS:
        out += ["", "", f"class {cls}(IntEnum):", f'    """``enum {name}``."""', ""]
        for member, value in btf.find_enum(name).values:
            if member.startswith("__"):
                continue
            short = member.removeprefix(prefix)
            if not prefix:
                short = short.removeprefix("BPF_")
            out.append(f"    {short} = {value}")
        known = {v for m, v in btf.find_enum(name).values if not m.startswith("__")}
        for short, value in EXTRA.get(cls, []):
            if value not in known:
                out.append(f"    {short} = {value}  # SPEC.md 4.1, newer than this BTF")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--btf", type=Path, default=DEFAULT_BTF)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(Btf(args.btf.read_bytes()), detect_kernel_version())
    if args.check:
        return 0 if OUTPUT.read_text() == text else 1
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
