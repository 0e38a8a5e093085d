"""``bpf_fixup_call_args`` (fixups.c) and, for the interpreter, ``bpf_patch_call_args``
(core.c) with the 2026 fixes.

1. Stack-argument slot audit, for every engine: a subprogram may write no more outgoing slots
   than its callees read (``func#%d writes %u stack arg slots, but calls only require %u``).
2. The JIT: see :mod:`bpfvm.fixups.passes.jit_subprogs` (runs instead of step 3).
3. The interpreter refuses, in the kernel's words, what it cannot run:

   * a program that needs the JIT (kfunc calls): ``program requires BPF JIT compiler but it
     is not available``;
   * stack arguments (r11): ``stack args are not supported in non-JITed programs`` (the
     interpreter has no r11);
   * with ``kernel_interp_limits``: tail calls mixed with bpf-to-bpf calls, and callbacks
     (bpfvm's interpreter runs both; the kernel's does not);
   * a frame deeper than the interpreter's stack: ``stack depth %d exceeds interpreter stack
     depth limit`` (the out-of-bounds fix: a depth the misc fixups grew past 512 is refused,
     never used to index past the interpreter's table);

   and each bpf-to-bpf call becomes ``JMP | CALL_ARGS`` with ``off`` = the callee's stack
   bucket (``roundup(max(depth, 1), 32) / 32 - 1``) and ``imm`` **kept** as the 32-bit
   relative target (the s16 fix: a callee more than 32,767 slots away is still reached).
"""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups.analysis import callees, to_slots
from bpfvm.fixups.errors import EINVAL, ENOTSUPP, FixupError
from bpfvm.fixups.manager import ENGINE_JIT, PassContext
from bpfvm.fixups.passes.common import is_pseudo_call, is_pseudo_func
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import (
    CALL_ARGS_CODE,
    TAIL_CALL_CODE,
    XlatedProgram,
    interp_stack_bucket,
)
from bpfvm.isa.opcodes import REG_PARAMS, InsnClass


def audit_stack_args(prog: XlatedProgram) -> None:
    slots = to_slots(prog.insns)
    subs = prog.subprogs
    index = {sp.start: k for k, sp in enumerate(subs)}
    ends = [*(sp.start for sp in subs[1:]), len(slots)]
    for k, sp in enumerate(subs):
        callee_in = [
            subs[index[c]].in_stack_args for c in callees(slots, sp.start, ends[k]) if c in index
        ]
        outgoing = max(callee_in, default=0)
        if sp.out_stack_args > outgoing:
            raise FixupError(
                f"func#{k} writes {sp.out_stack_args} stack arg slots, but calls only require "
                f"{outgoing}",
                EINVAL,
            )


def uses_stack_args(prog: XlatedProgram) -> bool:
    if any(sp.in_stack_args or sp.out_stack_args for sp in prog.subprogs):
        return True
    for insn in prog.insns:
        cls = insn.code & 0x07
        if cls == InsnClass.LDX and insn.src == REG_PARAMS:
            return True
        if cls in (InsnClass.ST, InsnClass.STX) and insn.dst == REG_PARAMS:
            return True
    return False


def patch_call_args(depth: int, limit: int) -> int:
    """``bpf_patch_call_args``: the interpreter bucket of a callee, or the refusal."""
    depth = max(depth, 1)
    if depth > limit:
        raise FixupError(f"stack depth {depth} exceeds interpreter stack depth limit", EINVAL)
    return interp_stack_bucket(depth)


class FixupCallArgs:
    name = "fixup_call_args"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        audit_stack_args(prog)
        opts = ctx.options
        if opts.engine == ENGINE_JIT:
            return prog  # the JIT split pass follows
        if prog.jit_required:
            raise FixupError("program requires BPF JIT compiler but it is not available", EINVAL)
        if uses_stack_args(prog):
            raise FixupError("stack args are not supported in non-JITed programs", EINVAL)
        has_calls = any(is_pseudo_call(i) for i in prog.insns)
        if opts.kernel_interp_limits:
            if has_calls and any(i.code == TAIL_CALL_CODE for i in prog.insns):
                raise FixupError(
                    "tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls",
                    EINVAL,
                )
            if any(is_pseudo_func(i) for i in prog.insns):
                raise FixupError("callbacks are not allowed in non-JITed programs", EINVAL)
        limit = opts.interp_stack_size
        main = max(prog.subprogs[0].stack_depth, 1) if prog.subprogs else 1
        if main > limit:
            raise FixupError(f"stack depth {main} exceeds interpreter stack depth limit", ENOTSUPP)
        p = Patcher(prog)
        starts = {sp.start: k for k, sp in enumerate(p.subprogs)}
        for i in p.indices():
            insn = p.insn(i)
            if not is_pseudo_call(insn):
                continue
            callee = starts[i + 1 + insn.imm]
            bucket = patch_call_args(p.subprogs[callee].stack_depth, limit)
            p.replace(i, replace(insn, code=CALL_ARGS_CODE, off=bucket))
        return p.finish(call_args_patched=True)
