"""``bpf_optimize_bpf_loop`` (fixups.c): inline ``bpf_loop`` where the verifier allows it.

At each ``call bpf_loop`` whose ``InsnAux.loop_inline`` says ``fit_for_inline`` (``flags`` is
the constant 0 and ``r2`` is the same callback on every path), the call becomes a loop that
behaves exactly like the helper (kernel/bpf/bpf_iter.c ``bpf_loop``):

* ``nr_loops`` above ``BPF_MAX_LOOPS``: ``w0 = -E2BIG``, the callback never runs;
* otherwise ``i = 0, 1, ...``: ``r0 = callback(i, ctx)``; ``i += 1``; stop unless ``r0 == 0``;
* ``r0`` = iterations run (one that returned 1 counts); r1..r5 are clobbered as by a call.

The instructions are the kernel's (``inline_bpf_loop``, checked against the xlated program
Linux 6.18 reports), including two differences from the helper, which takes ``nr_loops`` as a
u32 and returns a 64-bit ``-E2BIG``: the inlined bound check compares all 64 bits of r1, and
the error is written with a 32-bit move (r0 = 0xfffffff9).

The loop keeps ``nr_loops``, ``i`` and ``ctx`` in r6..r8, saved in three 8-byte slots below the
subprogram's (8-aligned) stack, which grows by those 24 bytes plus the alignment.
"""

from __future__ import annotations

from bpfvm.fixups.aux import FACT_LOOP_INLINE
from bpfvm.fixups.build import (
    alu64_imm,
    call_rel,
    ja,
    jmp_imm,
    jmp_reg,
    ldx_mem,
    mov32_imm,
    mov64_reg,
    stx_mem,
)
from bpfvm.fixups.errors import E2BIG
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.passes.common import is_helper_call
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import BPF_MAX_LOOPS, XlatedProgram
from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, JmpOp

FUNC_LOOP = HELPER_IDS["bpf_loop"]
R0, R1, R2, R3, R6, R7, R8, R10 = 0, 1, 2, 3, 6, 7, 8, 10
SAVED = 3 * 8  # r6, r7, r8


def inline_loop_body(stack_base: int, call_imm: int) -> list[Insn]:
    """The replacement of ``call bpf_loop``; ``call_imm`` is the callback call's offset."""
    body = [
        jmp_imm(JmpOp.JLE, R1, BPF_MAX_LOOPS, 2),  # 0: nr_loops <= MAX (64-bit): go on
        mov32_imm(R0, -E2BIG),  # 1
        ja(16),  # 2: to the end
        stx_mem(8, R10, R6, stack_base),  # 3
        stx_mem(8, R10, R7, stack_base + 8),  # 4
        stx_mem(8, R10, R8, stack_base + 16),  # 5
        mov64_reg(R6, R1),  # 6: loop bound
        mov32_imm(R7, 0),  # 7: i
        mov64_reg(R8, R3),  # 8: ctx
        jmp_reg(JmpOp.JGE, R7, R6, 5),  # 9: i >= nr_loops: done
        mov64_reg(R1, R7),  # 10
        mov64_reg(R2, R8),  # 11
        call_rel(call_imm),  # 12
        alu64_imm(AluOp.ADD, R7, 1),  # 13
        jmp_imm(JmpOp.JEQ, R0, 0, -6),  # 14: callback returned 0: next iteration
        mov64_reg(R0, R7),  # 15
        ldx_mem(8, R6, R10, stack_base),  # 16
        ldx_mem(8, R7, R10, stack_base + 8),  # 17
        ldx_mem(8, R8, R10, stack_base + 16),  # 18
    ]
    return body


CALL_AT = 12  # index of the callback call in the body


class OptimizeBpfLoop:
    name = "optimize_bpf_loop"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        if not prog.aux.has(FACT_LOOP_INLINE):
            return prog
        p = Patcher(prog)
        extra = [0] * len(p.subprogs)
        changed = False
        i = 0
        while i < len(p):
            insn = p.slots[i]
            state = p.aux[i].loop_inline
            if insn is None or state is None or not state.fit_for_inline:
                i += 1
                continue
            if not is_helper_call(insn, FUNC_LOOP):
                i += 1
                continue
            k = p.subprog_of(i)
            depth = p.subprogs[k].stack_depth
            align = -depth % 8
            extra[k] = SAVED + align
            base = -(depth + align + SAVED)
            n = len(inline_loop_body(base, 0))
            cb_start = p.subprogs[state.callback_subprog].start
            cb_new = cb_start + (n - 1) if cb_start > i else cb_start
            body = inline_loop_body(base, cb_new - (i + CALL_AT) - 1)
            p.patch(i, body)
            changed = True
            i += n
        for k, e in enumerate(extra):
            if e:
                p.set_subprog(k, stack_depth=p.subprogs[k].stack_depth + e)
        return p.finish() if changed else prog
