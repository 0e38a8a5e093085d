"""``bpf_remove_fastcall_spills_fills`` (fixups.c).

The verifier's ``mark_fastcall_patterns`` found spill/fill pairs around calls to helpers and
kfuncs that clobber fewer registers than the ABI says, and kept the facts where the contract
held (``InsnAux.fastcall_spills`` at the call: that many spills right before it and fills right
after it). Each pair becomes ``ja 0`` (``remove_nops`` deletes them later); a subprogram where
that happened shrinks back to its depth without the fastcall area unless the verifier had to
keep it (``keep_fastcall_stack``). Without the verifier's facts the pass does nothing.
"""

from __future__ import annotations

from bpfvm.fixups.aux import FACT_FASTCALL
from bpfvm.fixups.build import NOP
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import XlatedProgram


class RemoveFastcallSpillsFills:
    name = "remove_fastcall_spills_fills"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        if not prog.aux.has(FACT_FASTCALL):
            return prog
        p = Patcher(prog)
        modified = [False] * len(p.subprogs)
        for i in p.indices():
            n = p.aux[i].fastcall_spills
            for j in range(1, n + 1):
                p.replace(i - j, NOP)
                p.replace(i + j, NOP)
            if n:
                modified[p.subprog_of(i)] = True
        for k, sp in enumerate(p.subprogs):
            if modified[k] and not sp.keep_fastcall_stack:
                p.set_subprog(k, stack_depth=-sp.fastcall_stack_off)
        return p.finish() if any(modified) else prog
