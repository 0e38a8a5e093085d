"""The late link step: pseudo ``ld_imm64`` forms become addresses (``convert_pseudo_ld_imm64``).

The kernel resolves a map fd to the map's address before verification and clears ``src_reg``
after it. In bpfvm the addresses exist only once an object's maps are instantiated (a
``LoadedObject``), so this is a separate step given, per map index of the program, the address
of the map's runtime handle and of its value at key 0 (for direct value access, None when the
map has none):

* ``BPF_PSEUDO_MAP_FD`` / ``MAP_IDX``: the handle's address;
* ``BPF_PSEUDO_MAP_VALUE`` / ``MAP_IDX_VALUE``: the value's address plus the offset;
* ``src_reg`` becomes 0 on all of them; ``BPF_PSEUDO_FUNC`` keeps it (the engines resolve a
  function reference themselves), as in the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bpfvm.fixups.errors import EINVAL, FixupError
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import LD_IMM64_CODE, ld_imm64
from bpfvm.isa.opcodes import PseudoSrc

_MAP = (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX)
_VALUE = (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE)


@dataclass(frozen=True, slots=True)
class MapAddress:
    handle: int
    value: int | None = None


def link(prog: XlatedProgram, maps: Sequence[MapAddress]) -> XlatedProgram:
    """``prog`` with every map reference resolved against ``maps`` (by map index)."""
    p = Patcher(prog)
    for i in p.indices():
        insn = p.insn(i)
        if insn.code != LD_IMM64_CODE or insn.src in (PseudoSrc.IMM, PseudoSrc.FUNC):
            continue
        if insn.src not in (*_MAP, *_VALUE):
            raise FixupError(f"unresolved pseudo ld_imm64 (src_reg {insn.src}) at insn {i}")
        if not 0 <= insn.imm < len(maps):
            raise FixupError(f"fd {insn.imm} is not pointing to valid bpf_map", EINVAL)
        m = maps[insn.imm]
        if insn.src in _MAP:
            value = m.handle
        elif m.value is None:
            raise FixupError("direct value access on a map without a value at key 0", EINVAL)
        else:
            value = m.value + (insn.imm_hi & 0xFFFFFFFF)
        p.replace(i, replace(ld_imm64(insn.dst, value), dst=insn.dst))
    return p.finish(linked=True)
