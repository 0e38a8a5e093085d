"""The program as the fixup stage sees it: instructions plus side tables, frozen between passes.

An :class:`XlatedProgram` is what one pass hands the next (``run(prog, ctx) -> prog``): the
instructions (one :class:`~bpfvm.isa.insn.Insn` per instruction, a ``ld_imm64`` occupying two
slots as everywhere in bpfvm), the per-slot and per-subprogram facts (:class:`FixupAux`), the
line info and one func_info per subprogram. Every change goes through a
:class:`~bpfvm.fixups.patcher.Patcher`, which keeps these consistent.

Internal opcodes the kernel uses after its fixups and bpfvm copies (``include/linux/filter.h``):

* ``JMP | CALL_ARGS`` (0xe5): a bpf-to-bpf call patched for the interpreter; ``imm`` is the
  32-bit relative target, ``off`` the interpreter stack bucket (``bpf_patch_call_args``). The
  byte is the same as ``may_goto``'s; the two never coexist, as may_goto is rewritten first.
* ``JMP | TAIL_CALL`` (0xf5): ``bpf_tail_call`` as the interpreter's own instruction.
* ``BPF_REG_AX`` (r12): the hidden scratch register of the kernel's rewrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bpfvm.fixups.aux import FixupAux, SubprogAux
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import InsnClass
from bpfvm.program.model import FuncInfo, LineInfo, Program

BPF_CALL_ARGS = 0xE0
BPF_TAIL_CALL = 0xF0
CALL_ARGS_CODE = InsnClass.JMP | BPF_CALL_ARGS  # 0xe5
TAIL_CALL_CODE = InsnClass.JMP | BPF_TAIL_CALL  # 0xf5
BPF_REG_AX = 12
MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8
MAX_TAIL_CALL_CNT = 33
BPF_MAX_LOOPS = 8 * 1024 * 1024
INTERP_STACK_BUCKET = 32  # core.c: one interpreter variant per 32 bytes of stack


@dataclass(frozen=True, slots=True)
class RuntimeFunc:
    """One entry of a fixed program's call table: what ``call imm`` (helper form) runs.

    The kernel makes ``imm`` the helper's address relative to ``__bpf_call_base``; bpfvm makes
    it an index into :attr:`XlatedProgram.call_table`. ``helper_id`` is the helper whose
    semantics the engine provides; ``name`` the runtime function (``array_map_lookup_elem``
    for a map operation called directly, as the kernel's ``map->ops`` calls are).
    """

    name: str
    helper_id: int


@dataclass(frozen=True, slots=True)
class JitFunc:
    """One function of the JIT split (``bpf_jit_subprogs``): a slice of the program."""

    index: int
    start: int  # first slot in the whole program
    end: int  # one past the last slot
    stack_depth: int
    insns: tuple[Insn, ...]  # calls: imm = original relative target, off = callee index


@dataclass(frozen=True)
class XlatedProgram:
    """A program between (or after) fixup passes."""

    source: Program
    insns: tuple[Insn, ...]
    aux: FixupAux
    line_info: tuple[LineInfo, ...] = ()
    func_info: tuple[FuncInfo | None, ...] = ()  # parallel to aux.subprogs
    call_table: tuple[RuntimeFunc, ...] = ()
    jit_required: str = ""  # why the program needs the JIT ("" = it does not)
    call_args_patched: bool = False  # CALL_ARGS / TAIL_CALL opcodes present: final form
    linked: bool = False  # pseudo ld_imm64 resolved to addresses
    passes: tuple[str, ...] = ()  # passes that ran, in order
    notes: tuple[str, ...] = ()  # what was skipped and why
    jit_funcs: tuple[JitFunc, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def subprogs(self) -> tuple[SubprogAux, ...]:
        return self.aux.subprogs

    @property
    def func_starts(self) -> tuple[int, ...]:
        return tuple(s.start for s in self.aux.subprogs)

    @property
    def stack_depths(self) -> tuple[int, ...]:
        return tuple(s.stack_depth for s in self.aux.subprogs)

    @property
    def nslots(self) -> int:
        return sum(i.width for i in self.insns)

    def final_func_info(self) -> tuple[FuncInfo, ...]:
        """``adjust_btf_func``: each record's insn_off is its subprogram's final start."""
        out = []
        for sp, fi in zip(self.aux.subprogs, self.func_info, strict=True):
            if fi is not None:
                out.append(FuncInfo(sp.start, fi.type_id))
        return tuple(out)


def interp_stack_bucket(depth: int) -> int:
    """The interpreter variant for a frame of ``depth`` bytes: ``roundup(max(d,1),32)/32-1``."""
    depth = max(depth, 1)
    return -(-depth // INTERP_STACK_BUCKET) - 1


def round_up_stack_depth(depth: int, jit: bool) -> int:
    """``round_up_stack_depth``: 16 for the JIT, the interpreter's 32-byte buckets otherwise."""
    if jit:
        return -(-depth // 16) * 16
    return -(-max(depth, 1) // INTERP_STACK_BUCKET) * INTERP_STACK_BUCKET
