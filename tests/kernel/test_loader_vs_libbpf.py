"""bpfvm's ELF loader links every example program exactly as libbpf does.

libbpf opens and loads the object (relocations, subprogram appending, CO-RE, global data);
its final instructions must equal bpfvm's, once libbpf's map fds are replaced by the names
of the maps they refer to (bpfvm refers to maps by their index in the object).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from bpfvm.elf.loader import load_object
from bpfvm.isa.codec import encode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "c"
sys.path.insert(0, str(Path(__file__).resolve().parent))
libbpf_oracle = pytest.importorskip("libbpf_oracle")

OBJECTS = sorted(EXAMPLES.glob("*.bpf.o"))


def _normalise(code: bytes, map_name: dict[int, str]) -> list[tuple[int, int, int, object]]:
    out: list[tuple[int, int, int, object]] = []
    slots = [struct.unpack_from("<BBhi", code, i) for i in range(0, len(code), 8)]
    for i, (op, regs, off, imm) in enumerate(slots):
        ref: object = imm
        if op == 0x18 and (regs >> 4) in (1, 2):  # map fd / map value: name the map
            ref = map_name[imm]
        elif i and slots[i - 1][0] == 0x18 and op == 0 and (slots[i - 1][1] >> 4) == 1:
            ref = imm  # second slot of a map-fd load: no payload
        out.append((op, regs, off, ref))
    return out


@pytest.mark.parametrize("path", OBJECTS, ids=[p.name for p in OBJECTS])
def test_linked_programs_equal_libbpf(path: Path) -> None:
    if not libbpf_oracle.oracle_available():
        pytest.skip("libbpf or bpf() unavailable")
    ours = load_object(path.read_bytes(), str(path))
    by_index = {i: m.name for i, m in enumerate(ours.maps)}
    with libbpf_oracle.BpfObject(path) as kernel:
        by_fd = {kernel.map(m.name).fd: m.name for m in ours.maps}
        assert sorted(kernel.program_names()) == sorted(p.name for p in ours.programs)
        for prog in ours.programs:
            theirs = _normalise(kernel.program_insns(prog.name), by_fd)
            assert _normalise(encode(list(prog.insns)), by_index) == theirs, prog.name


def test_kconfig_values_equal_libbpf() -> None:
    if not libbpf_oracle.oracle_available():
        pytest.skip("libbpf or bpf() unavailable")
    from bpfvm.hooks.test_run import load

    path = Path(__file__).resolve().parents[1] / "unit" / "elf" / "data" / "kconfig.bpf.o"
    with libbpf_oracle.BpfObject(path) as kernel:
        want = kernel.test_run("kconfig_facts", ctx=bytes(40), repeat=0).ctx_out
    assert load(str(path)).test_run("kconfig_facts", ctx=bytes(40)).ctx_out == want
