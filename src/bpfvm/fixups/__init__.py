"""The fixup stage: the verified program rewritten into the "xlated" program the engines run.

:func:`fixup` runs the passes in the kernel's order (``bpf_check``, SPEC 1.1) over an
:class:`XlatedProgram` built from a :class:`~bpfvm.program.Program` and its facts
(:func:`aux_from_verifier`, or :func:`standalone_aux` when no verifier result is at hand:
then the passes that need the verifier's facts do nothing and say so in ``notes``).
:func:`link` is the late step that resolves map references once maps exist.
"""

from __future__ import annotations

from dataclasses import replace

from bpfvm.fixups.analysis import standalone_aux
from bpfvm.fixups.aux import FixupAux, InsnAux, LoopInline, SubprogAux, aux_from_verifier
from bpfvm.fixups.errors import FixupError
from bpfvm.fixups.link import MapAddress, link
from bpfvm.fixups.manager import (
    ENGINE_INTERP,
    ENGINE_JIT,
    FixupOptions,
    FixupPass,
    PassContext,
    run_passes,
)
from bpfvm.fixups.passes.bpf_loop import OptimizeBpfLoop
from bpfvm.fixups.passes.call_args import FixupCallArgs
from bpfvm.fixups.passes.ctx_access import ConvertCtxAccesses
from bpfvm.fixups.passes.dead_code import DeadCode
from bpfvm.fixups.passes.fastcall import RemoveFastcallSpillsFills
from bpfvm.fixups.passes.jit_subprogs import JitSubprogs
from bpfvm.fixups.passes.misc import DoMiscFixups
from bpfvm.fixups.passes.stack_depth import CheckMaxStackDepth
from bpfvm.fixups.passes.zext import OptSubregZext
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import RuntimeFunc, XlatedProgram
from bpfvm.isa.insn import slot_pcs
from bpfvm.program.model import Program

__all__ = [
    "ENGINE_INTERP",
    "ENGINE_JIT",
    "FixupAux",
    "FixupError",
    "FixupOptions",
    "FixupPass",
    "InsnAux",
    "LoopInline",
    "MapAddress",
    "PassContext",
    "Patcher",
    "RuntimeFunc",
    "SubprogAux",
    "XlatedProgram",
    "aux_from_verifier",
    "default_passes",
    "fixup",
    "link",
    "standalone_aux",
    "start",
]


def default_passes() -> tuple[FixupPass, ...]:
    """The passes in the kernel's order."""
    return (
        RemoveFastcallSpillsFills(),
        CheckMaxStackDepth(),
        OptimizeBpfLoop(),
        DeadCode(),
        ConvertCtxAccesses(),
        DoMiscFixups(),
        OptSubregZext(),
        FixupCallArgs(),
        JitSubprogs(),
    )


def start(program: Program, aux: FixupAux | None = None) -> XlatedProgram:
    """The program before any pass, with its facts (standalone ones when ``aux`` is None)."""
    notes: tuple[str, ...] = ()
    if aux is None:
        aux = standalone_aux(program)
        notes = ("no verifier facts: passes that need them were skipped",)
    aux = _second_halves_seen(program, aux)
    starts = tuple(sp.start for sp in aux.subprogs)
    func_info: tuple[object, ...] = ()
    if program.func_info and len(program.func_info) == len(starts):
        func_info = tuple(program.func_info)
    return XlatedProgram(
        source=program,
        insns=tuple(program.insns),
        aux=aux,
        line_info=tuple(program.line_info),
        func_info=func_info,  # type: ignore[arg-type]
        notes=notes,
    )


def _second_halves_seen(program: Program, aux: FixupAux) -> FixupAux:
    """The second slot of a ``ld_imm64`` is seen when the first is (``sanitize_mark_insn_seen``
    in ``do_check``), whatever the facts' source recorded for it."""
    insns = list(aux.insns)
    changed = False
    for pc, insn in zip(slot_pcs(list(program.insns)), program.insns, strict=True):
        if insn.width == 2 and insns[pc + 1].seen != insns[pc].seen:
            insns[pc + 1] = replace(insns[pc + 1], seen=insns[pc].seen)
            changed = True
    return replace(aux, insns=tuple(insns)) if changed else aux


def fixup(
    program: Program,
    aux: FixupAux | None = None,
    options: FixupOptions | None = None,
    ctx: PassContext | None = None,
) -> XlatedProgram:
    """Run every fixup pass over ``program``; raises :class:`FixupError` naming the pass."""
    ctx = ctx or PassContext(options or FixupOptions())
    return run_passes(start(program, aux), default_passes(), ctx)
