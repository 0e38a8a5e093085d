"""Facts the verifier records only for the fixup passes (verifier.c, Linux 6.18).

* **bpf_loop inlining** (``update_loop_inline_state``, from ``check_helper_call``): at each
  ``call bpf_loop`` the first visit records whether ``flags`` (r4) is the known constant 0 and
  which subprogram is the callback; every later visit keeps ``fit_for_inline`` only while the
  flags are still a known 0 and the callback is the same. A known-zero r4 is marked precise
  (the verifier relies on its value), which shows in the level-2 log.
* **fastcall** (``mark_fastcall_patterns`` / ``mark_fastcall_pattern_for_call``, before the
  main pass): around a helper call, pairs ``*(u64 *)(r10 + off) = rX`` before and
  ``rX = *(u64 *)(r10 + off)`` after, nested outwards from the call, using the subprogram's
  lowest 8-byte spill offset upwards, of registers the call would not clobber if it kept the
  fastcall contract (r0 unless void, r1..rN for N arguments). For a call the kernel inlines
  (``bpf_get_smp_processor_id`` on x86-64 with the JIT, when the program type's prototype is
  the fastcall one) the number of pairs is recorded; for any other call with such a pattern
  the subprogram must keep its stack (``keep_fastcall_stack``). During the main pass,
  ``check_fastcall_stack_contract`` drops every pattern of a subprogram whose spill area is
  accessed by an instruction that is not part of a pattern (including helpers writing to the
  stack and callees through a pointer).

Neither changes a verdict or the level-1 log. The subprogram's stack depth as the fixups
leave it (fastcall area removed) is what ``check_max_stack_depth`` adds up, as in the kernel,
where it runs after ``remove_fastcall_spills_fills``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import InsnClass, Mode, Size
from bpfvm.platform.arg_types import RetBase
from bpfvm.platform.prog_types import func_proto
from bpfvm.program.uapi import ProgType
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.state import SCALAR_VALUE, FuncState

if TYPE_CHECKING:
    from bpfvm.verifier.env import Env

BPF_REG_FP = 10
CALLER_SAVED_REGS = 6  # r0..r5
ALL_CALLER_SAVED_REGS = (1 << CALLER_SAVED_REGS) - 1
BPF_REG_SIZE = 8
S16_MIN = -(1 << 15)
STX_DW = InsnClass.STX | Mode.MEM | Size.DW
LDX_DW = InsnClass.LDX | Mode.MEM | Size.DW
CALL = InsnClass.JMP | 0x80
FUNC_GET_SMP_PROCESSOR_ID = HELPER_IDS["bpf_get_smp_processor_id"]

# Program types whose get_func_proto gives bpf_get_smp_processor_id_proto (allow_fastcall) for
# bpf_get_smp_processor_id; the others fall through to bpf_base_func_proto, which gives
# bpf_get_raw_smp_processor_id_proto (no fastcall). Measured on Linux 6.18: tc, xdp, lwt and
# the tracing family remove the spills, socket/cgroup/sk_* programs keep them.
FASTCALL_SMP_PROCESSOR_ID_TYPES = frozenset({
    ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT, ProgType.RAW_TRACEPOINT,
    ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING, ProgType.LSM,
    ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.XDP,
    ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL,
})  # fmt: skip

# verifier_inlines_helper_call on x86-64 with the JIT requested (bpf_jit_supports_percpu_insn).
VERIFIER_INLINED_HELPERS = frozenset({FUNC_GET_SMP_PROCESSOR_ID})


@dataclass
class LoopInlineState:
    """``struct bpf_loop_inline_state``."""

    initialized: bool = False
    fit_for_inline: bool = False
    callback_subprogno: int = -1


# --- bpf_loop --------------------------------------------------------------------------------


def _loop_flag_is_zero(env: Env) -> bool:
    r4 = env.regs[4]
    is_null = r4.type == SCALAR_VALUE and r4.is_const and r4.const_value == 0
    if is_null:
        mark_chain_precision(env, 4)
    return is_null


def update_loop_inline_state(env: Env, subprogno: int) -> None:
    """``update_loop_inline_state`` for the ``call bpf_loop`` at ``env.insn_idx``."""
    aux = env.aux[env.insn_idx]
    state = aux.loop_inline
    if state is None:
        aux.loop_inline = LoopInlineState(True, _loop_flag_is_zero(env), subprogno)
        return
    if not state.fit_for_inline:
        return
    state.fit_for_inline = _loop_flag_is_zero(env) and state.callback_subprogno == subprogno


# --- fastcall --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSummary:
    """``struct call_summary``."""

    num_params: int
    is_void: bool
    fastcall: bool


def get_call_summary(env: Env, call: Insn) -> CallSummary | None:
    """``get_call_summary`` for a helper call (None for anything else: bpf-to-bpf calls, and
    kfuncs, which bpfvm does not model)."""
    if call.src != 0:
        return None
    try:
        proto = func_proto(env.prog_type, call.imm, env.penv)
    except KeyError:
        return None
    if proto is None:  # the error is reported by the main pass
        return None
    fastcall = (
        proto.allow_fastcall
        and call.imm in VERIFIER_INLINED_HELPERS
        and (
            call.imm != FUNC_GET_SMP_PROCESSOR_ID
            or env.prog_type in FASTCALL_SMP_PROCESSOR_ID_TYPES
        )
    )
    return CallSummary(len(proto.args), proto.ret.base == RetBase.VOID, fastcall)


def _genmask(high: int, low: int) -> int:
    """``GENMASK(high, low)``: bits low..high (none when high < low)."""
    return sum(1 << b for b in range(low, high + 1))


def mark_fastcall_pattern_for_call(
    env: Env, subprogno: int, insn_idx: int, lowest_off: int
) -> None:
    """``mark_fastcall_pattern_for_call``."""
    slots = env.info.slots
    call = slots[insn_idx]
    assert call is not None
    cs = get_call_summary(env, call)
    if cs is None:
        return
    clobbered = _genmask(cs.num_params, 1 if cs.is_void else 0)
    expected = ~clobbered & ALL_CALLER_SAVED_REGS
    aux = env.aux
    i, off = 1, lowest_off
    while i <= CALLER_SAVED_REGS:
        if insn_idx - i < 0 or insn_idx + i >= len(slots):
            break
        stx, ldx = slots[insn_idx - i], slots[insn_idx + i]
        if stx is None or ldx is None:
            break
        if stx.code != STX_DW or ldx.code != LDX_DW or stx.dst != BPF_REG_FP:
            break
        if ldx.src != BPF_REG_FP or stx.src != ldx.dst or not (1 << stx.src) & expected:
            break
        if stx.off != off or ldx.off != off:
            break
        expected &= ~(1 << stx.src)
        aux[insn_idx - i].fastcall_pattern = True
        aux[insn_idx + i].fastcall_pattern = True
        i += 1
        off += BPF_REG_SIZE
    if i == 1:
        return
    sub = env.info.subprogs[subprogno]
    if cs.fastcall:
        aux[insn_idx].fastcall_spills_num = i - 1
    else:
        sub.keep_fastcall_stack = True
    sub.fastcall_stack_off = min(sub.fastcall_stack_off, off)


def mark_fastcall_patterns(env: Env) -> None:
    """``mark_fastcall_patterns``: every call of every subprogram, before the main pass."""
    slots = env.info.slots
    for s, sub in enumerate(env.info.subprogs):
        lowest_off = 0
        for i in range(sub.start, sub.end):
            insn = slots[i]
            if insn is not None and insn.code == STX_DW and insn.dst == BPF_REG_FP:
                lowest_off = min(lowest_off, insn.off)
        for i in range(sub.start, sub.end):
            insn = slots[i]
            if insn is not None and insn.code == CALL:
                mark_fastcall_pattern_for_call(env, s, i, lowest_off)


def check_fastcall_stack_contract(env: Env, state: FuncState, insn_idx: int, off: int) -> None:
    """``check_fastcall_stack_contract``: an access at ``off`` (its lowest byte) of the stack of
    ``state`` by the instruction at ``insn_idx``."""
    sub = env.info.subprogs[state.subprogno]
    aux = env.aux
    if sub.fastcall_stack_off <= off or aux[insn_idx].fastcall_pattern:
        return
    sub.fastcall_stack_off = S16_MIN
    for i in range(sub.start, sub.end):
        aux[i].fastcall_spills_num = 0
        aux[i].fastcall_pattern = False


def fastcall_stack_depth(env: Env, subprogno: int) -> int:
    """The subprogram's stack depth once ``remove_fastcall_spills_fills`` has run."""
    sub = env.info.subprogs[subprogno]
    if sub.keep_fastcall_stack:
        return sub.stack_depth
    aux = env.aux
    if any(aux[i].fastcall_spills_num for i in range(sub.start, sub.end)):
        return -sub.fastcall_stack_off
    return sub.stack_depth
