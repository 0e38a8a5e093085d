"""Running ``examples/cases.json`` on bpfvm, producing the ``expect`` schema the kernel pins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bpfvm.cli.test_run import apply_map_set, dump_map
from bpfvm.elf.loader import load_object
from bpfvm.hooks.context import TestRunError
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.program.uapi import MapType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PINNED_NCPUS = 2  # the machine the cases were pinned on had 2 possible CPUs


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((EXAMPLES / "cases.json").read_text())
    return cases


def case_bytes(spec: str | None) -> bytes | None:
    if spec is None:
        return None
    if spec.startswith("hex:"):
        return bytes.fromhex(spec[4:])
    return (EXAMPLES / spec).read_bytes()


def run_case(
    case: dict[str, Any], ncpus: int = PINNED_NCPUS, engine: str = "interp"
) -> dict[str, Any]:
    path = EXAMPLES / case["object"]
    loaded = LoadedObject(load_object(path.read_bytes(), str(path)), ncpus=ncpus, engine=engine)
    return run_loaded(loaded, case)


def run_loaded(loaded: LoadedObject, case: dict[str, Any]) -> dict[str, Any]:
    """Case ``case`` on an object already loaded (raw, or fixed up on either engine)."""
    for text in case["map_set"]:
        apply_map_set(loaded, text)
    data = case_bytes(case["data"])
    ctx = case_bytes(case["ctx"])
    try:
        res = loaded.test_run(case["program"], data or b"", ctx, repeat=case["repeat"])
    except TestRunError as exc:
        return {"errno": exc.errno}
    return {
        "retval": res.retval,
        "data_out": res.data_out.hex() if data is not None else None,
        "ctx_out": res.ctx_out.hex() if ctx is not None and res.ctx_out else None,
        "maps": {name: dump_map(loaded.map(name)) for name in case["map_dump"]},
        "ringbuf": {
            m.spec.name: dump_map(m) for m in loaded.map_list if m.spec.type == MapType.RINGBUF
        },
    }
