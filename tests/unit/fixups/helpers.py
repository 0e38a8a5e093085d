"""Building and running small programs for the fixup tests."""

from __future__ import annotations

from collections.abc import Sequence

from bpfvm.fixups import FixupAux, FixupOptions, XlatedProgram, fixup
from bpfvm.isa.insn import Insn
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter

EXIT = Insn(0x95)


def prog(
    insns: Sequence[Insn],
    starts: tuple[int, ...] = (0,),
    prog_type: ProgType = ProgType.SOCKET_FILTER,
) -> Program:
    return Program("t", tuple(insns), prog_type=prog_type, func_starts=starts)


def xlate(
    p: Program, aux: FixupAux | None = None, options: FixupOptions | None = None
) -> XlatedProgram:
    return fixup(p, aux, options or FixupOptions(debug=True))


def run_raw(p: Program, args: Sequence[int] = (), regions: Sequence[Region] = ()) -> int:
    return Interpreter(p.insns).run(args, regions).retval


def run_fixed(x: XlatedProgram, args: Sequence[int] = (), regions: Sequence[Region] = ()) -> int:
    table = [f.helper_id for f in x.call_table]
    return Interpreter(x.insns, call_table=table).run(args, regions).retval
