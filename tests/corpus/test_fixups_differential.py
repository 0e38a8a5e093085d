"""Every example gives the same results before and after the fixup stage, on the interpreter.

The pinned kernel results (``examples/cases.json``) are the reference: the programs as loaded
(``LoadedObject``, UAPI contexts) already match them (``test_examples.py``); here the same cases
run as fixed-up programs (``FixedObject``: xlated, linked, runtime context structures) with
the facts from three sources: none (stand-alone), hand-built (ctx conversion and map facts,
:mod:`tests.unit.fixups.facts`), and an unprivileged loader's (dead-code sanitising, Spectre
masks on tail calls and inlined lookups).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.cli.test_run import apply_map_set, dump_map
from bpfvm.conformance import parse_data_file
from bpfvm.elf.loader import load_object
from bpfvm.fixups import FixupAux, FixupError, FixupOptions, aux_from_verifier, fixup
from bpfvm.fixups.analysis import subprog_starts
from bpfvm.hooks.context import TestRunError
from bpfvm.hooks.fixed import FixedObject
from bpfvm.program.model import Program
from bpfvm.program.uapi import MapType
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from tests.conftest import SHARED
from tests.corpus.example_cases import EXAMPLES, PINNED_NCPUS, case_bytes, load_cases
from tests.unit.fixups.facts import hand_facts

CASES = load_cases()
AuxSource = Callable[[Program], FixupAux | None] | None


def run_fixed_case(case: dict[str, Any], aux: AuxSource) -> dict[str, Any]:
    path = EXAMPLES / case["object"]
    obj = load_object(path.read_bytes(), str(path))
    loaded = FixedObject(obj, ncpus=PINNED_NCPUS, aux=aux)
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


class VerifierUnusable(Exception):
    pass


def verifier_facts(prog: Program, privileged: bool = True) -> FixupAux:
    """The real verifier's facts (the lead wires these in; skipped while it cannot check)."""
    try:
        from bpfvm.verifier import verify  # type: ignore[attr-defined]
    except ImportError as exc:
        raise VerifierUnusable(str(exc)) from None
    try:
        result = verify(prog)
    except NotImplementedError as exc:
        raise VerifierUnusable(str(exc)) from None
    if not result.accepted:
        raise VerifierUnusable(f"rejected: {result.error}")
    nslots = sum(i.width for i in prog.insns)
    return aux_from_verifier(result, prog.func_starts, nslots, privileged)


SOURCES: dict[str, AuxSource] = {
    "standalone": None,
    "hand": hand_facts,
    "unprivileged": lambda p: hand_facts(p, privileged=False),
    "verifier": verifier_facts,
    "verifier_unprivileged": lambda p: verifier_facts(p, privileged=False),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixed_up_example_matches_the_kernel(case: dict[str, Any], source: str) -> None:
    try:
        got = run_fixed_case(case, SOURCES[source])
    except VerifierUnusable as exc:
        pytest.skip(f"verifier: {exc}")
    assert got == case["expect"], case["description"]


def test_hand_facts_convert_ctx_accesses_in_the_corpus() -> None:
    """The hand-built facts really exercise the ctx conversion and the inlined lookups."""
    converted = inlined = 0
    for path in sorted((EXAMPLES / "c").glob("*.bpf.o")):
        loaded = FixedObject(load_object(path.read_bytes(), str(path)), aux=hand_facts)
        for x in loaded.xlated.values():
            converted += sum(1 for i in x.insns if i.code == 0x79 and i.off in (24, 32, 192, 200))
            inlined += sum(1 for i in x.insns if i.code == 0x79 and i.off == 32 and i.dst == 1)
    assert converted > 10
    assert inlined > 0


DATA_FILES = sorted((SHARED / "conformance" / "tests").glob("*.data"))


@pytest.mark.parametrize("path", DATA_FILES, ids=[p.stem for p in DATA_FILES])
def test_conformance_through_the_fixups(path: Path) -> None:
    """The 313 conformance programs give the same result fixed up (stand-alone facts)."""
    case = parse_data_file(path)
    insns = assemble_ubpf(case.asm, str(path))
    prog = Program(path.stem, tuple(insns), func_starts=subprog_starts(insns))
    try:
        xp = fixup(prog, options=FixupOptions(debug=True))
    except FixupError as exc:  # what the kernel would refuse is not a result
        pytest.skip(str(exc))
    region = Region.from_bytes("mem", case.mem)
    vm = Interpreter(xp.insns, call_table=[f.helper_id for f in xp.call_table])
    assert vm.run((region.addr, len(case.mem)), (region,)).retval == case.result
