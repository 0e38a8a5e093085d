"""Abstract machine state: registers, stack slots, frames and whole verifier states.

The records mirror ``include/linux/bpf_verifier.h``: :class:`RegState` is ``struct
bpf_reg_state`` (a type with flags, a fixed offset, the value tracking of
:class:`~bpfvm.verifier.scalar.Scalar` for the variable part, ids, and the per-type extras),
:class:`StackSlot` is ``struct bpf_stack_state`` (8 slot-type bytes and the spilled register),
:class:`FuncState` one call frame and :class:`VerifierState` the state of one path.

Invariants:

* records are mutable, and nothing is shared between two states: :func:`copy_state` copies every
  register and slot (``copy_verifier_state``). A :class:`Scalar` is immutable and may be shared.
* a register's ``type`` is the kernel's combined encoding, base type in the low 8 bits plus
  :class:`~bpfvm.platform.arg_types.TypeFlag` bits, so the hot path compares plain ints.
* ``stack[spi]`` holds the bytes ``fp-8*(spi+1) .. fp-8*spi-1``; ``slot_type[j]`` is the byte
  at ``fp - 8*spi - j - 1`` (index 0 is the highest address), as in the kernel.

Comparison for pruning (``regsafe`` & co.) lives in :mod:`bpfvm.verifier.prune`; it never
uses dataclass equality.
"""

from __future__ import annotations

from typing import Any

from bpfvm.platform.arg_types import RegBase, TypeFlag
from bpfvm.verifier.scalar_state import Scalar

# --- register types (``enum bpf_reg_type``), as ints -------------------------------------------
NOT_INIT = int(RegBase.NOT_INIT)
SCALAR_VALUE = int(RegBase.SCALAR_VALUE)
PTR_TO_CTX = int(RegBase.PTR_TO_CTX)
CONST_PTR_TO_MAP = int(RegBase.CONST_PTR_TO_MAP)
PTR_TO_MAP_VALUE = int(RegBase.PTR_TO_MAP_VALUE)
PTR_TO_MAP_KEY = int(RegBase.PTR_TO_MAP_KEY)
PTR_TO_STACK = int(RegBase.PTR_TO_STACK)
PTR_TO_PACKET_META = int(RegBase.PTR_TO_PACKET_META)
PTR_TO_PACKET = int(RegBase.PTR_TO_PACKET)
PTR_TO_PACKET_END = int(RegBase.PTR_TO_PACKET_END)
PTR_TO_FLOW_KEYS = int(RegBase.PTR_TO_FLOW_KEYS)
PTR_TO_SOCKET = int(RegBase.PTR_TO_SOCKET)
PTR_TO_SOCK_COMMON = int(RegBase.PTR_TO_SOCK_COMMON)
PTR_TO_TCP_SOCK = int(RegBase.PTR_TO_TCP_SOCK)
PTR_TO_TP_BUFFER = int(RegBase.PTR_TO_TP_BUFFER)
PTR_TO_XDP_SOCK = int(RegBase.PTR_TO_XDP_SOCK)
PTR_TO_BTF_ID = int(RegBase.PTR_TO_BTF_ID)
PTR_TO_MEM = int(RegBase.PTR_TO_MEM)
PTR_TO_ARENA = int(RegBase.PTR_TO_ARENA)
PTR_TO_BUF = int(RegBase.PTR_TO_BUF)
PTR_TO_FUNC = int(RegBase.PTR_TO_FUNC)
CONST_PTR_TO_DYNPTR = int(RegBase.CONST_PTR_TO_DYNPTR)

PTR_MAYBE_NULL = int(TypeFlag.PTR_MAYBE_NULL)
MEM_RDONLY = int(TypeFlag.MEM_RDONLY)
MEM_RINGBUF = int(TypeFlag.MEM_RINGBUF)
MEM_ALLOC = int(TypeFlag.MEM_ALLOC)
PTR_UNTRUSTED = int(TypeFlag.PTR_UNTRUSTED)
PTR_TRUSTED = int(TypeFlag.PTR_TRUSTED)
MEM_RCU = int(TypeFlag.MEM_RCU)
BASE_MASK = 0xFF

# --- stack slot types (``enum bpf_stack_slot_type``) -------------------------------------------
STACK_INVALID = 0
STACK_SPILL = 1
STACK_MISC = 2
STACK_ZERO = 3
STACK_DYNPTR = 4
STACK_ITER = 5
STACK_IRQ_FLAG = 6
SLOT_TYPE_CHAR = "?rm0dif"

BPF_REG_SIZE = 8
BPF_ADD_CONST64 = 1 << 31  # id flag: this scalar is another one plus ``off`` (64-bit add)
BPF_ADD_CONST32 = 1 << 30  # the same from a 32-bit add (the link zero-extends)
BPF_ADD_CONST = BPF_ADD_CONST64 | BPF_ADD_CONST32
MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8
MAX_BPF_REG = 11
BPF_REG_FP = 10
CALLER_SAVED_REGS = 6

# reference kinds (``enum ref_state_type``)
REF_TYPE_PTR = 1
REF_TYPE_IRQ = 2
REF_TYPE_LOCK = 3


def base_type(t: int) -> int:
    return t & BASE_MASK


class RegState:
    """``struct bpf_reg_state``.

    ``s`` holds ``var_off`` and the eight bounds (for a pointer: its variable offset).
    ``map_idx`` is the map's index in :attr:`Program.maps` (CONST_PTR_TO_MAP,
    PTR_TO_MAP_VALUE/KEY); ``frameno`` is the frame a PTR_TO_STACK points into;
    ``subprogno`` the target of a PTR_TO_FUNC; ``mem_size`` the size of a PTR_TO_MEM/BUF.
    """

    __slots__ = (
        "btf_name",
        "frameno",
        "id",
        "map_idx",
        "mem_size",
        "off",
        "precise",
        "range",
        "ref_obj_id",
        "s",
        "subprogno",
        "type",
    )

    def __init__(self, type_: int = NOT_INIT, s: Scalar | None = None) -> None:
        self.type = type_
        self.off = 0
        self.s = s if s is not None else UNKNOWN
        self.id = 0
        self.ref_obj_id = 0
        self.range = 0
        self.map_idx = -1
        self.mem_size = 0
        self.subprogno = 0
        self.frameno = 0
        self.precise = False
        self.btf_name = ""

    def copy(self) -> RegState:
        r = RegState.__new__(RegState)
        r.type = self.type
        r.off = self.off
        r.s = self.s
        r.id = self.id
        r.ref_obj_id = self.ref_obj_id
        r.range = self.range
        r.map_idx = self.map_idx
        r.mem_size = self.mem_size
        r.subprogno = self.subprogno
        r.frameno = self.frameno
        r.precise = self.precise
        r.btf_name = self.btf_name
        return r

    def assign(self, other: RegState) -> None:
        """``*dst = *src``: take every field of ``other``."""
        self.type = other.type
        self.off = other.off
        self.s = other.s
        self.id = other.id
        self.ref_obj_id = other.ref_obj_id
        self.range = other.range
        self.map_idx = other.map_idx
        self.mem_size = other.mem_size
        self.subprogno = other.subprogno
        self.frameno = other.frameno
        self.precise = other.precise
        self.btf_name = other.btf_name

    # --- small predicates used everywhere -----------------------------------------------------
    @property
    def base(self) -> int:
        return self.type & BASE_MASK

    @property
    def is_scalar(self) -> bool:
        return self.type == SCALAR_VALUE

    @property
    def is_pointer(self) -> bool:
        """``__is_pointer_value``: anything but a scalar (NOT_INIT counts as a pointer)."""
        return self.type != SCALAR_VALUE

    @property
    def maybe_null(self) -> bool:
        return bool(self.type & PTR_MAYBE_NULL)

    @property
    def is_const(self) -> bool:
        return self.s.var_off.mask == 0

    @property
    def const_value(self) -> int:
        return int(self.s.var_off.value)

    def same_prefix(self, other: RegState) -> bool:
        """``memcmp(a, b, offsetof(struct bpf_reg_state, var_off)) == 0``: type, fixed offset and
        the type-specific union (range, map, mem_size, btf)."""
        return (
            self.type == other.type
            and self.off == other.off
            and self.range == other.range
            and self.map_idx == other.map_idx
            and self.mem_size == other.mem_size
            and self.btf_name == other.btf_name
            and (self.base != PTR_TO_FUNC or self.subprogno == other.subprogno)
        )

    def same_value(self, other: RegState) -> bool:
        """``memcmp(a, b, offsetof(struct bpf_reg_state, id)) == 0``."""
        return self.same_prefix(other) and self.s == other.s

    def __repr__(self) -> str:  # debugging aid only
        return f"RegState(type={self.type:#x}, off={self.off}, s={self.s!r}, id={self.id})"


UNKNOWN = Scalar.unknown()


class StackSlot:
    """``struct bpf_stack_state``: the spilled register and the type of each of the 8 bytes."""

    __slots__ = ("slot_type", "spilled")

    def __init__(self) -> None:
        self.spilled = RegState()
        self.slot_type = [STACK_INVALID] * BPF_REG_SIZE

    def copy(self) -> StackSlot:
        s = StackSlot.__new__(StackSlot)
        s.spilled = self.spilled.copy()
        s.slot_type = self.slot_type[:]
        return s

    @property
    def is_spilled_reg(self) -> bool:
        """``is_spilled_reg``: the top byte holds a spill."""
        return self.slot_type[BPF_REG_SIZE - 1] == STACK_SPILL

    @property
    def is_spilled_scalar_reg64(self) -> bool:
        return self.slot_type[0] == STACK_SPILL and self.spilled.type == SCALAR_VALUE

    @property
    def is_spilled_scalar_reg(self) -> bool:
        return self.is_spilled_reg and self.spilled.type == SCALAR_VALUE


class FuncState:
    """``struct bpf_func_state``: registers and stack of one call frame."""

    __slots__ = (
        "async_entry_cnt",
        "callback_depth",
        "callback_ret_range",
        "callsite",
        "frameno",
        "in_async_callback_fn",
        "in_callback_fn",
        "in_exception_callback_fn",
        "no_stack_arg_load",
        "regs",
        "stack",
        "stack_args",
        "subprogno",
    )

    def __init__(self, frameno: int = 0, subprogno: int = 0, callsite: int = -1) -> None:
        self.regs = [RegState() for _ in range(MAX_BPF_REG)]
        self.stack: list[StackSlot] = []
        self.callsite = callsite
        self.frameno = frameno
        self.subprogno = subprogno
        self.callback_ret_range = (0, 0)
        self.in_callback_fn = False
        self.in_async_callback_fn = False
        self.in_exception_callback_fn = False
        self.callback_depth = 0
        self.async_entry_cnt = 0
        self.stack_args: list[RegState | None] = []  # outgoing stack-argument slots (r11 - 8k)
        self.no_stack_arg_load = False  # an r11 store or a call happened: no incoming reads

    @property
    def allocated_stack(self) -> int:
        return len(self.stack) * BPF_REG_SIZE

    def grow_stack(self, size: int) -> None:
        """``grow_stack_state``: make at least ``size`` bytes (rounded to 8) addressable."""
        n = (size + BPF_REG_SIZE - 1) // BPF_REG_SIZE
        while len(self.stack) < n:
            self.stack.append(StackSlot())

    def copy(self) -> FuncState:
        f = FuncState.__new__(FuncState)
        f.regs = [r.copy() for r in self.regs]
        f.stack = [s.copy() for s in self.stack]
        f.callsite = self.callsite
        f.frameno = self.frameno
        f.subprogno = self.subprogno
        f.callback_ret_range = self.callback_ret_range
        f.in_callback_fn = self.in_callback_fn
        f.in_async_callback_fn = self.in_async_callback_fn
        f.in_exception_callback_fn = self.in_exception_callback_fn
        f.callback_depth = self.callback_depth
        f.async_entry_cnt = self.async_entry_cnt
        f.stack_args = [r.copy() if r is not None else None for r in self.stack_args]
        f.no_stack_arg_load = self.no_stack_arg_load
        return f


class RefState:
    """``struct bpf_reference_state``."""

    __slots__ = ("id", "insn_idx", "ptr", "type")

    def __init__(self, type_: int, id_: int, insn_idx: int, ptr: Any = None) -> None:
        self.type = type_
        self.id = id_
        self.insn_idx = insn_idx
        self.ptr = ptr


class JmpHistoryEntry:
    """``struct bpf_jmp_history_entry``: one instruction of interest on the current path.

    ``flags`` holds ``INSN_F_STACK_ACCESS`` with the frame number and stack slot of a spill or
    fill, as in the kernel; ``linked_regs`` the registers tied to a conditional jump's operand.
    """

    __slots__ = ("flags", "idx", "linked_regs", "prev_idx")

    def __init__(
        self, idx: int, prev_idx: int, flags: int, linked_regs: tuple[tuple[int, int, bool], ...]
    ) -> None:
        self.idx = idx
        self.prev_idx = prev_idx
        self.flags = flags
        self.linked_regs = linked_regs


class VerifierState:
    """``struct bpf_verifier_state``: the frames of one path plus path-wide facts."""

    __slots__ = (
        "active_lock_id",
        "active_lock_ptr",
        "active_locks",
        "active_preempt_locks",
        "active_rcu_lock",
        "branches",
        "callback_unroll_depth",
        "cleaned",
        "curframe",
        "dfs_depth",
        "equal_state",
        "first_insn_idx",
        "frame",
        "in_sleepable",
        "insn_idx",
        "jmp_history",
        "last_insn_idx",
        "may_goto_depth",
        "parent",
        "refs",
        "speculative",
    )

    def __init__(self) -> None:
        self.frame: list[FuncState] = []
        self.curframe = 0
        self.parent: VerifierState | None = None
        self.branches = 1
        self.insn_idx = 0
        self.first_insn_idx = 0
        self.last_insn_idx = -1
        self.refs: list[RefState] = []
        self.active_locks = 0
        self.active_lock_id = 0
        self.active_lock_ptr: Any = None
        self.active_rcu_lock = False
        self.active_preempt_locks = 0
        self.speculative = False
        self.in_sleepable = False
        self.cleaned = False
        self.jmp_history: list[JmpHistoryEntry] = []
        self.dfs_depth = 0
        self.callback_unroll_depth = 0
        self.may_goto_depth = 0
        self.equal_state: VerifierState | None = None

    @property
    def cur(self) -> FuncState:
        return self.frame[self.curframe]

    @property
    def regs(self) -> list[RegState]:
        return self.frame[self.curframe].regs


def copy_state(src: VerifierState) -> VerifierState:
    """``copy_verifier_state``: a deep copy of every frame; parentage and history kept."""
    dst = VerifierState.__new__(VerifierState)
    dst.frame = [f.copy() for f in src.frame]
    dst.curframe = src.curframe
    dst.parent = src.parent
    dst.branches = src.branches
    dst.insn_idx = src.insn_idx
    dst.first_insn_idx = src.first_insn_idx
    dst.last_insn_idx = src.last_insn_idx
    dst.refs = [RefState(r.type, r.id, r.insn_idx, r.ptr) for r in src.refs]
    dst.active_locks = src.active_locks
    dst.active_lock_id = src.active_lock_id
    dst.active_lock_ptr = src.active_lock_ptr
    dst.active_rcu_lock = src.active_rcu_lock
    dst.active_preempt_locks = src.active_preempt_locks
    dst.speculative = src.speculative
    dst.in_sleepable = src.in_sleepable
    dst.cleaned = src.cleaned
    dst.jmp_history = [
        JmpHistoryEntry(h.idx, h.prev_idx, h.flags, h.linked_regs) for h in src.jmp_history
    ]
    dst.dfs_depth = src.dfs_depth
    dst.callback_unroll_depth = src.callback_unroll_depth
    dst.may_goto_depth = src.may_goto_depth
    dst.equal_state = src.equal_state
    return dst


def frame_insn_idx(st: VerifierState, frame: int) -> int:
    """``frame_insn_idx``: where frame ``frame`` of ``st`` is (its callee's callsite)."""
    return st.insn_idx if frame == st.curframe else st.frame[frame + 1].callsite
