"""The JIT runs fixed-up programs (the JIT engine's fixups, before ``link``).

What the fixup stage emits for the JIT and the loaded-program lowering never saw: call-table
helper calls, ``JMP|TAIL_CALL``, ``BPF_REG_AX`` in the division guards and may_goto counters,
stack below the verified depth (may_goto counters, the inlined ``bpf_loop``), stack
arguments (r11, refused for the interpreter), bpf-to-bpf calls beyond an s16 offset.
Results are compared with the interpreter running the interpreter's fixups, or with the
value the program computes where the interpreter must refuse it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest

from bpfvm.fixups import FixupAux, FixupError, FixupOptions, LoopInline, XlatedProgram
from bpfvm.fixups.build import mov64_imm, st_mem
from bpfvm.fixups.program import BPF_MAX_LOOPS, BPF_REG_AX, TAIL_CALL_CODE
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, InsnClass
from bpfvm.program.model import Program
from bpfvm.vm.jit.engine import JitCache, JitEngine
from bpfvm.vm.jit.xlated import XlatedError, frame_size, jit_insns
from tests.unit.fixups.facts import aux_with
from tests.unit.fixups.helpers import EXIT, prog, run_fixed, run_raw, xlate
from tests.unit.fixups.test_passes import _loop_program
from tests.unit.fixups.test_seed_fixes import (
    FAR,
    _deep_callee_with_bpf_loop,
    _far_call_program,
    _stack_arg_program,
)

JIT = FixupOptions(engine="jit", debug=True)


def jit_xlate(p: Program, aux: FixupAux | None = None) -> XlatedProgram:
    return xlate(p, aux, JIT)


def run_jit(x: XlatedProgram, args: Sequence[int] = (), cache: JitCache | None = None) -> int:
    engine = JitEngine.for_programs(
        [x.insns],
        call_tables=[[f.helper_id for f in x.call_table]],
        stack_depths=[max(x.stack_depths, default=0)],
        cache=cache,
    )
    return engine.run(args).retval


def test_stack_arguments_are_refused_for_the_interpreter_and_run_on_the_jit() -> None:
    insns, starts = _stack_arg_program()
    p = prog(insns, starts)
    with pytest.raises(FixupError, match="stack args are not supported in non-JITed programs"):
        xlate(p)
    x = jit_xlate(p)
    assert x.jit_funcs and x.subprogs[1].in_stack_args == 1
    assert run_jit(x) == 1 + 2 + 3 + 4 + 5 + 6


def test_far_bpf_to_bpf_call_runs_on_the_jit() -> None:
    insns, starts = _far_call_program()
    x = jit_xlate(prog(insns, starts))
    far = x.insns[3]
    assert far.imm == starts[2] - 4 > 32_767 and far.off == 2  # target kept, callee index
    assert run_jit(x) == (FAR - 1) + 42


def _may_goto_program(depth: int) -> list[Insn]:
    return [
        st_mem(8, 10, -depth, 0),
        mov64_imm(0, 0),
        Insn(0xE5, 0, 0, 2),  # may_goto +2
        Insn(InsnClass.ALU64 | AluOp.ADD, 0, 0, 0, 1),  # r0 += 1
        Insn(0x05, 0, 0, -3),  # ja -3
        EXIT,
    ]


def test_may_goto_counter_runs_on_the_jit_as_on_the_interpreter() -> None:
    p = prog(_may_goto_program(8))
    x_interp, x_jit = xlate(p), jit_xlate(p)
    assert any(i.dst == BPF_REG_AX for i in x_jit.insns)
    assert run_jit(x_jit) == BPF_MAX_LOOPS  # the whole budget, natively
    small = st_mem(8, 10, -16, 3)
    assert run_fixed(replace(x_interp, insns=(small, *x_interp.insns[1:]))) == 3
    assert run_jit(replace(x_jit, insns=(small, *x_jit.insns[1:]))) == 3


def test_may_goto_counter_below_a_512_byte_frame_runs_on_the_jit() -> None:
    """The counter at r10-520: refused for the interpreter, a 528-byte frame on the JIT."""
    p = prog(_may_goto_program(512))
    with pytest.raises(FixupError, match=r"stack size 520\(extra 8\) is too large"):
        xlate(p)
    x = jit_xlate(p)
    assert x.stack_depths == (520,) and frame_size(x.stack_depths) == 528
    assert run_jit(replace(x, insns=(st_mem(8, 10, -520, 5), *x.insns[1:]))) == 5


@pytest.mark.parametrize(("nr", "stop"), [(5, 99), (5, 2), (0, 0), (BPF_MAX_LOOPS + 1, 0)])
def test_inlined_bpf_loop_runs_on_the_jit_as_on_the_interpreter(nr: int, stop: int) -> None:
    insns, starts = _loop_program(stop)
    p = prog(insns, starts)
    aux = aux_with(p, insns={6: {"loop_inline": LoopInline(True, 1)}})
    x_interp, x_jit = xlate(p, aux), jit_xlate(p, aux)
    assert not any(i.code == 0x85 and i.src == 0 and i.imm == 181 for i in x_jit.insns)
    assert x_jit.stack_depths[0] == 24
    assert run_jit(x_jit, (nr,)) == run_fixed(x_interp, (nr,))


def test_inlined_bpf_loop_past_512_bytes_runs_on_the_jit() -> None:
    """The seed-fix program the interpreter refuses (536-byte callee) runs on the JIT."""
    insns, starts = _deep_callee_with_bpf_loop()
    p = prog(insns, starts)
    aux = aux_with(p, insns={starts[1] + 6: {"loop_inline": LoopInline(True, 2)}})
    x = jit_xlate(p, aux)
    assert x.stack_depths[1] == 536
    assert run_jit(x) == run_raw(p) == 1  # one iteration: the callback returned 1


VALUES = [0, 1, -1, 7, -7, 3, 1 << 63, (1 << 31), 0xFFFFFFFF, 0x80000000]


@pytest.mark.parametrize("cls", [InsnClass.ALU64, InsnClass.ALU])
@pytest.mark.parametrize("op", [AluOp.DIV, AluOp.MOD])
@pytest.mark.parametrize("signed", [0, 1])
def test_division_guards_through_ax_run_on_the_jit(cls: int, op: int, signed: int) -> None:
    """The guards use BPF_REG_AX; results equal the interpreter's on the fixed program."""
    insns = [
        Insn(0xBF, 0, 1),  # r0 = r1
        Insn(cls | op | 0x08, 0, 2, signed, 0),  # r0 op= r2 (BPF_X)
        EXIT,
    ]
    p = prog(insns)
    x_jit, x_interp = jit_xlate(p), xlate(p)
    assert any(BPF_REG_AX in (i.dst, i.src) for i in x_jit.insns) == bool(signed)
    engine = JitEngine.for_programs(
        [x_jit.insns], call_tables=[[]], stack_depths=[max(x_jit.stack_depths)]
    )
    for a, b in itertools.product(VALUES, VALUES):
        args = (a & (1 << 64) - 1, b & (1 << 64) - 1)
        assert engine.run(args).retval == run_fixed(x_interp, args), (a, b)


def test_call_table_and_tail_call_forms_are_restated() -> None:
    call = Insn(0x85, 0, 0, 0, 1)  # call table entry 1
    out = jit_insns([call, Insn(TAIL_CALL_CODE), Insn(0x85, 0, 0, 0, 9), EXIT], [5, 7])
    assert out[0].imm == 7  # the helper id
    assert (out[1].code, out[1].imm) == (0x85, 12)  # bpf_tail_call
    assert out[2].imm == 9  # past the table: left alone (faults if reached)
    ax = jit_insns([Insn(0xBF, BPF_REG_AX, 1), EXIT], [])
    assert (ax[0].dst, ax[0].src) == (11, 1)
    with pytest.raises(XlatedError, match="BPF_REG_AX as a memory base"):
        jit_insns([Insn(0x79, 0, BPF_REG_AX, 0), Insn(0xBF, BPF_REG_AX, 1), EXIT], [])


def test_call_tables_are_part_of_the_cache_key() -> None:
    """Helper 7 (prandom) and 8 (smp id, 0 on CPU 0) at the same call-table index."""
    cache = JitCache()
    insns = [Insn(0x85, 0, 0, 0, 0), EXIT]
    cpu0 = JitEngine.for_programs([insns], call_tables=[[8]], cache=cache)
    rnd = JitEngine.for_programs([insns], call_tables=[[7]], cache=cache)
    assert cache.compiles == 2
    assert cpu0.run().retval == 0
    assert {rnd.run().retval for _ in range(4)} != {0}
