"""Regression tests for the 2026 fixes of the kernel's fixup stage (shared/seeds), which bpfvm
has from day one. Each fails on the unfixed behaviour."""

from __future__ import annotations

import pytest

from bpfvm.errors import VmFault
from bpfvm.fixups import FixupError, FixupOptions, LoopInline
from bpfvm.fixups.build import (
    alu64_imm,
    call_helper,
    call_rel,
    mov64_imm,
    mov64_reg,
    st_mem,
    stx_mem,
)
from bpfvm.fixups.program import CALL_ARGS_CODE
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp
from tests.unit.fixups.facts import aux_with
from tests.unit.fixups.helpers import EXIT, prog, run_fixed, run_raw, xlate

FAR = 40_000  # slots between a call and its callee: more than an s16 offset holds


def _far_call_program() -> tuple[list[Insn], tuple[int, int, int]]:
    """main calls a 40,000-insn subprogram, then one behind it (> 32,767 slots away)."""
    sub1 = [mov64_imm(0, 0)] + [alu64_imm(AluOp.ADD, 0, 1)] * (FAR - 1) + [EXIT]
    sub2 = [mov64_reg(0, 1), alu64_imm(AluOp.MUL, 0, 2), EXIT]
    sub1_at = 6
    sub2_at = sub1_at + len(sub1)
    main = [
        call_rel(sub1_at - 1),  # r0 = sub1() = FAR - 1
        mov64_reg(6, 0),
        mov64_imm(1, 21),
        call_rel(sub2_at - 4),  # r0 = sub2(21) = 42
        Insn(0x0F, 0, 6),  # r0 += r6
        EXIT,
    ]
    return main + sub1 + sub2, (0, sub1_at, sub2_at)


def test_far_bpf_to_bpf_call_runs_on_the_interpreter() -> None:
    """bpf: Fix s16 truncation for large bpf-to-bpf call offsets."""
    insns, starts = _far_call_program()
    p = prog(insns, starts)
    x = xlate(p, options=FixupOptions())
    far = x.insns[3]
    assert far.code == CALL_ARGS_CODE
    assert far.imm == starts[2] - 4 > 32_767  # the 32-bit target is kept, not (s16) cut
    assert far.off == 0  # the interpreter bucket of a 0-byte frame
    assert run_fixed(x) == (FAR - 1) + 42
    assert run_raw(p) == (FAR - 1) + 42


def _deep_callee_with_bpf_loop() -> tuple[list[Insn], tuple[int, ...]]:
    main = [call_rel(1), EXIT]
    sub = [
        st_mem(8, 10, -512, 0),  # a 512-byte frame
        mov64_imm(1, 1),
        Insn(0x18, 2, 4, 0, 0),  # r2 = &callback (ld_imm64 src=4); imm fixed below
        mov64_imm(3, 0),
        mov64_imm(4, 0),
        call_helper(181),  # bpf_loop
        EXIT,
    ]
    cb = [mov64_imm(0, 1), EXIT]
    sub_start = len(main)
    cb_start = sub_start + sum(i.width for i in sub)
    ld_at = sub_start + 2
    sub[2] = Insn(0x18, 2, 4, 0, cb_start - ld_at - 1)
    return main + sub + cb, (0, sub_start, cb_start)


def test_callee_deeper_than_interpreter_stack_is_refused() -> None:
    """bpf: Fix out-of-bounds read in bpf_patch_call_args(): with the JIT requested, inlining
    bpf_loop grows a 512-byte frame past 512; when the JIT then fails, the interpreter must
    refuse it instead of indexing past its table of stack sizes."""
    insns, starts = _deep_callee_with_bpf_loop()
    p = prog(insns, starts)
    call_at = starts[1] + 6  # slot of `call bpf_loop` (the ld_imm64 takes two)
    aux = aux_with(p, insns={call_at: {"loop_inline": LoopInline(True, 2)}})
    with pytest.raises(FixupError) as exc:
        xlate(p, aux)  # without the JIT, the 512-byte callee under main is already too deep
    assert exc.value.message == "combined stack size of 2 calls is 544. Too large"
    # the kernel's fallback: checked as for the JIT, then the JIT failed
    with pytest.raises(FixupError) as exc:
        xlate(p, aux, FixupOptions(jit_requested=True))
    assert exc.value.message == "stack depth 536 exceeds interpreter stack depth limit"
    assert exc.value.pass_name == "fixup_call_args"
    # the JIT has no such limit: the same program is fixed up for it
    jit = xlate(p, aux, FixupOptions(engine="jit"))
    assert jit.stack_depths[1] == 536 and len(jit.jit_funcs) == 3


def test_may_goto_extra_past_512_is_refused_for_the_interpreter() -> None:
    insns = [st_mem(8, 10, -512, 0), Insn(0xE5, 0, 0, 1, 0), mov64_imm(0, 0), EXIT]
    with pytest.raises(FixupError, match=r"^fixup pass do_misc_fixups: stack size 520\(extra 8\)"):
        xlate(prog(insns))


def test_interpreter_refuses_a_bucket_it_does_not_have() -> None:
    """Defence in depth: a CALL_ARGS bucket past 512 bytes faults, never reads past a table."""
    from bpfvm.vm.interp import Interpreter

    insns = [Insn(CALL_ARGS_CODE, 0, 1, 16, 1), EXIT, mov64_imm(0, 0), EXIT]
    vm = Interpreter(insns, call_table=[])
    with pytest.raises(VmFault, match="no interpreter for stack bucket 16"):
        vm.run()


def _stack_arg_program() -> tuple[list[Insn], tuple[int, int]]:
    main = [
        *(mov64_imm(r, r) for r in range(1, 6)),
        st_mem(8, 11, -8, 6),  # *(u64 *)(r11 - 8) = 6: argument 6
        call_rel(1),
        EXIT,
    ]
    sum6 = [
        Insn(0x79, 0, 11, 8),  # r0 = *(u64 *)(r11 + 8)
        *(Insn(0x0F, 0, r) for r in range(1, 6)),
        EXIT,
    ]
    main[6] = call_rel(len(main) - 7)
    return main + sum6, (0, len(main))


def test_stack_arguments_are_refused_by_the_interpreter() -> None:
    """bpf: Reject stack arguments in non-JITed programs."""
    insns, starts = _stack_arg_program()
    p = prog(insns, starts)
    with pytest.raises(FixupError) as exc:
        xlate(p)
    assert exc.value.message == "stack args are not supported in non-JITed programs"
    with pytest.raises(VmFault, match="stack args are not supported in non-JITed programs"):
        run_raw(p)
    jit = xlate(p, options=FixupOptions(engine="jit"))
    assert jit.subprogs[1].in_stack_args == 1 and jit.subprogs[0].out_stack_args == 1


def test_unused_outgoing_stack_arg_slots_are_refused() -> None:
    insns, _starts = _stack_arg_program()
    insns.insert(5, stx_mem(8, 11, 1, -16))  # a second outgoing slot sum6 does not read
    insns[7] = call_rel(1)  # main is now 9 insns: sum6 starts at 9
    p = prog(insns, (0, 9))
    with pytest.raises(
        FixupError, match=r"func#0 writes 2 stack arg slots, but calls only require 1"
    ):
        xlate(p, options=FixupOptions(engine="jit"))
