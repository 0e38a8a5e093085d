"""The pass protocol, the options of a fixup run, and the pass manager.

A pass is a value with a ``name`` and ``run(prog, ctx) -> prog`` (DESIGN principle 8). The
manager runs a list of passes in order; an error escaping a pass is a
:class:`~bpfvm.fixups.errors.FixupError` naming it. In debug mode (``FixupOptions.debug``) it
re-validates the program after every pass (every branch lands on an instruction of its own
subprogram, every side table has the right length) and keeps a before/after dump per pass in
``PassContext.dumps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from bpfvm.asm.disasm import format_insn
from bpfvm.fixups.errors import EFAULT, FixupError
from bpfvm.fixups.patcher import branch_field
from bpfvm.fixups.program import MAX_BPF_STACK, XlatedProgram
from bpfvm.isa.insn import LD_IMM64_CODE, slot_pcs
from bpfvm.isa.opcodes import InsnClass, JmpOp

ENGINE_INTERP = "interp"
ENGINE_JIT = "jit"


@dataclass(frozen=True)
class FixupOptions:
    """What the fixups are for.

    ``engine``: the interpreter's fixups end with ``bpf_patch_call_args`` (CALL_ARGS); the
    JIT's with the subprogram split. ``interp_stack_size``: the per-frame stack the
    interpreter provides (a deeper frame is refused, never read out of bounds).
    ``jit_requested`` with the interpreter engine is the kernel's fallback: the checks ran as
    for the JIT (16-byte stack rounding, no 512-byte limit on the fixups' extra slots), then
    the JIT failed and the interpreter must take the program or refuse it.
    ``kernel_interp_limits``: also refuse what the kernel's interpreter cannot run but
    bpfvm's can (callbacks; tail calls mixed with bpf-to-bpf calls). ``helper_ids``: the
    helpers the runtime implements (None: do not check). ``kfunc_name``: resolves a kfunc
    call's BTF id to its name (only named kfuncs can be inlined).
    """

    engine: str = ENGINE_INTERP
    jit_requested: bool = False
    jit_needs_zext: bool = False
    interp_stack_size: int = MAX_BPF_STACK
    kernel_interp_limits: bool = False
    inline_map_lookups: bool = True
    helper_ids: frozenset[int] | None = None
    kfunc_name: Callable[[int], str | None] | None = None  # BTF id -> kfunc name
    debug: bool = False

    @property
    def jit(self) -> bool:
        """The JIT was requested (what the checks before ``fixup_call_args`` go by)."""
        return self.engine == ENGINE_JIT or self.jit_requested


@dataclass
class PassContext:
    options: FixupOptions = field(default_factory=FixupOptions)
    dumps: list[tuple[str, str, str]] = field(default_factory=list)  # (pass, before, after)


class FixupPass(Protocol):
    @property
    def name(self) -> str: ...

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram: ...


def dump_text(prog: XlatedProgram) -> str:
    pcs = slot_pcs(list(prog.insns))
    return "\n".join(f"{pc:5}: {format_insn(i)}" for pc, i in zip(pcs, prog.insns, strict=True))


def validate(prog: XlatedProgram) -> None:
    """The structural invariants every pass must keep; raises FixupError (EFAULT)."""
    nslots = prog.nslots
    if len(prog.aux.insns) != nslots:
        raise FixupError(f"aux has {len(prog.aux.insns)} entries for {nslots} slots", EFAULT)
    starts = set(slot_pcs(list(prog.insns)))
    sp_starts = [s.start for s in prog.subprogs]
    if sp_starts != sorted(sp_starts) or not set(sp_starts) <= starts | {nslots}:
        raise FixupError(f"subprogram starts {sp_starts} are not instruction starts", EFAULT)
    if prog.func_info and len(prog.func_info) != len(prog.subprogs):
        raise FixupError("func_info is not one per subprogram", EFAULT)
    bounds = [*sp_starts, nslots]
    for pc, insn in zip(slot_pcs(list(prog.insns)), prog.insns, strict=True):
        fld = branch_field(insn)
        if fld is None or (prog.call_args_patched and insn.code == InsnClass.JMP | 0xE0):
            continue
        target = pc + 1 + (insn.imm if fld == "imm" else insn.off)
        if target not in starts:
            raise FixupError(f"insn {pc} jumps to {target}, not an instruction", EFAULT)
        is_call = insn.code in (LD_IMM64_CODE, InsnClass.JMP | JmpOp.CALL)
        if not is_call:
            k = max(i for i, s in enumerate(bounds[:-1]) if s <= pc)
            if not bounds[k] <= target < bounds[k + 1]:
                raise FixupError(f"insn {pc} jumps out of its subprogram to {target}", EFAULT)
        elif target not in sp_starts:
            raise FixupError(f"insn {pc} calls {target}, not a subprogram start", EFAULT)


def run_passes(prog: XlatedProgram, passes: Sequence[FixupPass], ctx: PassContext) -> XlatedProgram:
    for p in passes:
        before = dump_text(prog) if ctx.options.debug else ""
        try:
            prog = p.run(prog, ctx)
            if ctx.options.debug:
                validate(prog)
        except FixupError as exc:
            raise exc.in_pass(p.name) from None
        prog = replace(prog, passes=(*prog.passes, p.name))
        if ctx.options.debug:
            ctx.dumps.append((p.name, before, dump_text(prog)))
    return prog
