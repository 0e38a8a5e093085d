"""``bpf_do_misc_fixups`` (fixups.c): one forward pass over the program, per instruction in
the kernel's order, keeping per subprogram the extra stack bytes it needed.

* ALU64 ops the verifier found need only 32 bits (``needs_zext``) become ALU32;
* signed division / modulo by the constant -1: ``sdiv`` becomes ``neg`` (INT_MIN stays),
  ``smod`` becomes ``w = 0``;
* division / modulo by a register get the kernel's guards, through ``BPF_REG_AX``:

  ========  ===============================  ========================  =================
  op        src == 0                         src == -1 (signed)        otherwise
  ========  ===============================  ========================  =================
  div       dst = 0                          n/a                       divide
  mod       dst kept (32-bit: zero-extended) n/a                       remainder
  sdiv      dst = 0                          dst = -dst (wraps)        divide
  smod      dst kept (32-bit: zero-extended) dst = 0                   remainder
  ========  ===============================  ========================  =================

  The signed guard computes ``AX = src + 1`` and tests ``AX > 1`` (unsigned): src is neither
  0 nor -1;
* ``may_goto +off``: the subprogram gets an 8-byte counter below its stack, at
  ``-(stack_depth + 8)``; the instruction becomes ``AX = counter; if AX == 0 goto target;
  AX -= 1; counter = AX`` (fall through while the budget lasts). After the loop, each such
  subprogram starts with ``counter = BPF_MAX_LOOPS``, and jumps to its first instruction are
  moved past that store (``adjust_jmp_off``);
* calls: see :mod:`bpfvm.fixups.passes.misc_calls`;
* at each subprogram's end its extra bytes are added to its depth; for the interpreter a
  depth above 512 fails: ``stack size %d(extra %d) is too large``.

``LD_ABS``/``LD_IND`` are left alone (bpfvm's engines execute them natively; the kernel
expands them with ``gen_ld_abs``), as are the Spectre sanitations of unprivileged pointer
arithmetic, which cannot change results.
"""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups.aux import FACT_MAP_PTR, FACT_SEEN
from bpfvm.fixups.build import (
    alu32_reg,
    alu_imm,
    ja,
    jmp_imm,
    ldx_mem,
    mov32_imm,
    mov32_reg,
    mov64_reg,
    neg,
    st_mem,
    stx_mem,
)
from bpfvm.fixups.errors import EINVAL, FixupError
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.passes.common import is_helper_call, is_kfunc_call, note
from bpfvm.fixups.passes.misc_calls import CallState, helper_call_patch, kfunc_call_patch
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import BPF_MAX_LOOPS, BPF_REG_AX, MAX_BPF_STACK, XlatedProgram
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, InsnClass, JmpOp, Source

AX, R10 = BPF_REG_AX, 10
MAY_GOTO_CODE = InsnClass.JMP | JmpOp.JCOND


def _is_divmod(insn: Insn) -> tuple[bool, bool, bool] | None:
    """(is64, isdiv, signed) for an ALU/ALU64 DIV or MOD, else None."""
    cls = insn.code & 0x07
    op = insn.code & 0xF0
    if cls not in (InsnClass.ALU, InsnClass.ALU64) or op not in (AluOp.DIV, AluOp.MOD):
        return None
    return cls == InsnClass.ALU64, op == AluOp.DIV, insn.off == 1


def div_by_minus_one(insn: Insn, is64: bool, isdiv: bool) -> list[Insn]:
    """Signed ``/ -1`` and ``% -1`` by a constant."""
    return [neg(is64, insn.dst)] if isdiv else [mov32_imm(insn.dst, 0)]


def div_guard(insn: Insn, is64: bool, isdiv: bool, signed: bool) -> list[Insn]:
    """The guarded replacement of a division or modulo by a register."""
    d, s = insn.dst, insn.src
    if signed and isdiv:
        return [
            mov64_reg(AX, s),
            alu_imm(is64, AluOp.ADD, AX, 1),
            jmp_imm(JmpOp.JGT, AX, 1, 4, is64),  # src not in {0, -1}: divide
            jmp_imm(JmpOp.JEQ, AX, 0, 1, is64),  # src == -1: negate
            alu_imm(is64, AluOp.MOV, d, 0),  # src == 0: 0 (and -0 below)
            neg(is64, d),
            ja(1),
            insn,
        ]
    if signed:
        seq = [
            mov64_reg(AX, s),
            alu_imm(is64, AluOp.ADD, AX, 1),
            jmp_imm(JmpOp.JGT, AX, 1, 3, is64),  # src not in {0, -1}: remainder
            jmp_imm(JmpOp.JEQ, AX, 1, 3 if is64 else 4, is64),  # src == 0: keep dst
            mov32_imm(d, 0),  # src == -1: 0
            ja(1),
            insn,
        ]
        return seq if is64 else [*seq, ja(1), mov32_reg(d, d)]
    if isdiv:
        return [
            jmp_imm(JmpOp.JNE, s, 0, 2, is64),
            alu32_reg(AluOp.XOR, d, d),
            ja(1),
            insn,
        ]
    seq = [jmp_imm(JmpOp.JEQ, s, 0, 1 if is64 else 2, is64), insn]
    return seq if is64 else [*seq, ja(1), mov32_reg(d, d)]


def may_goto_patch(insn: Insn, stack_off: int) -> list[Insn]:
    """``may_goto +off`` over the counter at ``r10 + stack_off``."""
    # The jump to the original target, from the second instruction of the 4-slot patch.
    rel = insn.off + 2 if insn.off >= 0 else insn.off - 1
    return [
        ldx_mem(8, AX, R10, stack_off),
        jmp_imm(JmpOp.JEQ, AX, 0, rel),
        alu_imm(True, AluOp.SUB, AX, 1),
        stx_mem(8, R10, AX, stack_off),
    ]


class DoMiscFixups:
    name = "do_misc_fixups"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        opts = ctx.options
        p = Patcher(prog)
        state = CallState(list(prog.call_table), prog.jit_required)
        map_facts = prog.aux.has(FACT_MAP_PTR)
        privileged = prog.aux.privileged
        extra = [0] * len(p.subprogs)
        cur = 0
        i = 0
        while i < len(p):
            while cur + 1 < len(p.subprogs) and p.subprogs[cur + 1].start <= i:
                self._end_subprog(p, cur, extra[cur], opts.jit)
                cur += 1
            insn = p.slots[i]
            if insn is None:
                i += 1
                continue
            new = self._rewrite(p, i, insn, cur, extra, state, map_facts, privileged, ctx)
            if new is None:
                i += insn.width
                continue
            p.patch(i, new)
            i += sum(n.width for n in new)
        self._end_subprog(p, cur, extra[cur], opts.jit)
        self._init_may_goto(p, extra)
        out = p.finish(call_table=tuple(state.table), jit_required=state.jit_required)
        if not map_facts:
            out = note(out, "map helpers: no map facts without the verifier (no inlining)")
        return out

    def _rewrite(
        self,
        p: Patcher,
        i: int,
        insn: Insn,
        cur: int,
        extra: list[int],
        state: CallState,
        map_facts: bool,
        privileged: bool,
        ctx: PassContext,
    ) -> list[Insn] | None:
        aux = p.aux[i]
        cls = insn.code & 0x07
        if cls == InsnClass.ALU64 and aux.needs_zext:
            insn = replace(insn, code=InsnClass.ALU | (insn.code & 0xF8))
            p.replace(i, insn)
        divmod_ = _is_divmod(insn)
        if divmod_ is not None:
            is64, isdiv, signed = divmod_
            if (insn.code & 0x08) == Source.K:
                if signed and insn.imm == -1:
                    return div_by_minus_one(insn, is64, isdiv)
                return None
            return div_guard(insn, is64, isdiv, signed)
        if insn.code == MAY_GOTO_CODE and insn.src == 0:
            extra[cur] = 8
            return may_goto_patch(insn, -(p.subprogs[cur].stack_depth + 8))
        if is_kfunc_call(insn):
            resolve = ctx.options.kfunc_name
            return kfunc_call_patch(insn, resolve(insn.imm) if resolve else None, state)
        if is_helper_call(insn):
            return helper_call_patch(
                insn,
                aux if map_facts else replace(aux, map_idx=-1),
                p.prog.source.maps,
                state,
                ctx.options.helper_ids,
                privileged,
                ctx.options.inline_map_lookups,
                p.prog.aux.has(FACT_SEEN),
            )
        return None

    @staticmethod
    def _end_subprog(p: Patcher, k: int, extra: int, jit: bool) -> None:
        if not extra:
            return
        depth = p.subprogs[k].stack_depth + extra
        p.set_subprog(k, stack_depth=depth)
        if depth > MAX_BPF_STACK and not jit:
            raise FixupError(f"stack size {depth}(extra {extra}) is too large", EINVAL)

    @staticmethod
    def _init_may_goto(p: Patcher, extra: list[int]) -> None:
        for k in range(len(p.subprogs)):
            if not extra[k]:
                continue
            start = p.subprogs[k].start
            depth = p.subprogs[k].stack_depth
            first = p.insn(start)
            p.patch(start, [st_mem(8, R10, -depth, BPF_MAX_LOOPS), first])
            p.adjust_jmp_off(start, 1)
