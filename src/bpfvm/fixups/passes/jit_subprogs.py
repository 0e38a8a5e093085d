"""``bpf_jit_subprogs`` (fixups.c), the JIT's side of ``bpf_fixup_call_args``: one function
per subprogram.

Runs for the JIT engine when the program has more than one subprogram. Each function is the
slice ``[start, end)`` of the program with its stack depth. In the slices and in the program
(the form the xlated dump shows, after the kernel's final restore step), every bpf-to-bpf
call keeps ``imm`` = its 32-bit relative target and carries the callee's index in ``off``;
``ld_imm64`` of a function keeps its relative ``imm``. Keeping the 32-bit target is the s16
fix: old kernels stored the target in ``off`` and truncated calls more than 32,767 slots away.
"""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups.analysis import to_slots
from bpfvm.fixups.manager import ENGINE_JIT, PassContext
from bpfvm.fixups.passes.common import is_pseudo_call
from bpfvm.fixups.program import JitFunc, XlatedProgram
from bpfvm.isa.insn import Insn


class JitSubprogs:
    name = "jit_subprogs"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        if ctx.options.engine != ENGINE_JIT or len(prog.subprogs) < 2:
            return prog
        slots = to_slots(prog.insns)
        index = {sp.start: k for k, sp in enumerate(prog.subprogs)}
        out: list[Insn | None] = []
        for i, insn in enumerate(slots):
            if insn is not None and is_pseudo_call(insn):
                insn = replace(insn, off=index[i + 1 + insn.imm])
            out.append(insn)
        ends = [*(sp.start for sp in prog.subprogs[1:]), len(slots)]
        funcs = tuple(
            JitFunc(
                k,
                sp.start,
                ends[k],
                sp.stack_depth,
                tuple(x for x in out[sp.start : ends[k]] if x is not None),
            )
            for k, sp in enumerate(prog.subprogs)
        )
        return replace(prog, insns=tuple(x for x in out if x is not None), jit_funcs=funcs)
