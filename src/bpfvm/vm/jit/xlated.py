"""Fixed-up (xlated) programs as the lowering's input.

The fixup stage (:mod:`bpfvm.fixups`, JIT engine: ending with ``jit_subprogs``) leaves a
few forms the loaded-program lowering does not know; :func:`jit_insns` restates them in the
forms it does, one instruction for one instruction (no slot moves, so pcs, jump offsets,
function references and fault pcs are unchanged):

* a helper call's ``imm`` is an index into the program's runtime call table
  (:class:`~bpfvm.fixups.program.RuntimeFunc`); it becomes the entry's ``helper_id``, so the
  native helper plans (array/hash lookups, clocks, ``bpf_loop``...) apply as for loaded
  programs. An ``imm`` past the table's end is a call the fixups left alone (maybe dead
  code without the verifier's facts, such as libbpf's poisoned CO-RE call): it stays a call
  of that helper id, which no runtime has, and faults if it is ever reached;
* ``JMP | TAIL_CALL`` (0xf5, the kernel's internal tail-call instruction, operands in r1..r3
  as ``bpf_tail_call``'s) becomes ``call bpf_tail_call``, which the lowering runs natively
  (prog_array snapshot, ``MAX_TAIL_CALL_CNT``, fall through on an empty slot), exactly the
  interpreter's ``_tail_call``;
* ``ld_imm64`` with ``BPF_PSEUDO_MAP_IDX``/``MAP_IDX_VALUE`` is the ``MAP_FD``/``MAP_VALUE``
  form with the same map index (the programs are not linked: map addresses stay in the run
  state, so compiled code stays cacheable by content);
* ``BPF_REG_AX`` (r12, the fixups' hidden scratch register) takes the lowering's r11 slot: in
  a fixed-up program r11 only ever appears as the base of a stack-argument access (SPEC.md
  2.4), which the lowering keeps apart from its register file, as the kernel's x86 JIT gives
  AX a native register of its own. A program where the two would meet is refused.

:func:`frame_size` is the native frame a fixed-up program needs: may_goto counters and the
inlined ``bpf_loop``'s saved registers live below the verified stack depth, which may then
exceed 512 bytes (the kernel allows that extra stack when JITing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bpfvm.errors import BpfvmError
from bpfvm.fixups.program import BPF_REG_AX, TAIL_CALL_CODE
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import REG_PARAMS, CallSrc, InsnClass, JmpOp, PseudoSrc
from bpfvm.isa.spec import OpKind
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.vm.jit import layout as L

CALL_CODE = InsnClass.JMP | JmpOp.CALL
_PSEUDO_MAP = {PseudoSrc.MAP_IDX: PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX_VALUE: PseudoSrc.MAP_VALUE}
_BASE_DST = (OpKind.ST, OpKind.STX, OpKind.ATOMIC)  # kinds whose dst is a memory base
_BASE_SRC = (OpKind.LDX, OpKind.LDX_SX)  # kinds whose src is a memory base


class XlatedError(BpfvmError):
    """A fixed-up program the JIT cannot take as it stands (an inconsistent fixup result)."""


def _restate_ax(pc: int, insn: Insn) -> Insn:
    """``insn`` with BPF_REG_AX in r11's slot; refuses AX as a memory base and r11 outside a
    stack-argument access (where the two would be confused)."""
    spec = insn.spec
    if spec is None:
        return insn
    stack_arg = is_stack_arg_access(insn, spec)
    base_dst = spec.kind in _BASE_DST
    base_src = spec.kind in _BASE_SRC
    if (insn.dst == BPF_REG_AX and base_dst) or (insn.src == BPF_REG_AX and base_src):
        raise XlatedError(f"insn {pc}: BPF_REG_AX as a memory base")
    if REG_PARAMS in (insn.dst, insn.src) and not stack_arg:
        raise XlatedError(f"insn {pc}: r11 used outside a stack-argument access")
    dst = REG_PARAMS if insn.dst == BPF_REG_AX else insn.dst
    src = REG_PARAMS if insn.src == BPF_REG_AX else insn.src
    return insn if (dst, src) == (insn.dst, insn.src) else replace(insn, dst=dst, src=src)


def jit_insns(insns: Sequence[Insn], call_table: Sequence[int]) -> list[Insn]:
    """The lowering's form of a fixed-up program whose helper calls index ``call_table`` (a
    helper id per entry); raises :class:`XlatedError` where BPF_REG_AX cannot be placed."""
    out: list[Insn] = []
    pc = 0
    uses_ax = any(BPF_REG_AX in (i.dst, i.src) for i in insns if i.width == 1)
    for insn in insns:
        if insn.code == TAIL_CALL_CODE:
            insn = Insn(CALL_CODE, 0, CallSrc.HELPER, 0, L.BPF_FUNC_TAIL_CALL)
        elif insn.code == CALL_CODE and insn.src == CallSrc.HELPER:
            if 0 <= insn.imm < len(call_table):
                insn = replace(insn, imm=call_table[insn.imm])
        elif insn.width == 2 and insn.src in _PSEUDO_MAP:
            insn = replace(insn, src=_PSEUDO_MAP[PseudoSrc(insn.src)])
        elif uses_ax:
            insn = _restate_ax(pc, insn)
        out.append(insn)
        pc += insn.width
    return out


def frame_size(stack_depths: Sequence[int]) -> int:
    """The native frame for subprograms of these (fixed-up) stack depths: at least the
    512-byte frame loaded programs get, rounded up to 16 bytes."""
    deepest = max(stack_depths, default=0)
    return max(L.STACK_SIZE, -(-deepest // 16) * 16)
