"""Program structure for the lowering: slots, functions, control flow and stack facts.

The programs of one object are laid out one after the other exactly as the interpreter lays
them out (each followed by a guard slot), so slot numbers, fault pcs and function references
(``CALLBACK_BASE + slot``) mean the same on both engines.

**Functions.** Every program entry, every valid ``call pc+imm`` target and every function
reference (``ld_imm64 src=4``) starts a function. A function's body is whatever is reachable
from its start without following calls, so code two functions share is simply lowered twice;
a jump into another subprogram (which the interpreter allows) stays correct.

**Stack facts.** A forward dataflow over each function tracks, per register, whether it holds
``r10 + k`` for a known ``k`` (:data:`STACK`), a map pointer from ``ld_imm64 src=1`` (:data:`MAP`)
or a function reference (:data:`FUNC`). Accesses through a known stack pointer that stay
inside the 512-byte frame become plain accesses to the frame's local array with no runtime
check. If a stack pointer is used any other way (passed to a call, stored, compared, merged
with another value, or out of bounds) the frame *escapes*: its address is materialised and
registered in the run state so that checked accesses, callees and Python helpers can reach
it. A frame that does not escape is invisible to everything but its own static accesses, so
LLVM may keep it in registers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, auto

from bpfvm.isa.insn import Insn, slot_pcs
from bpfvm.isa.opcodes import AluOp, AtomicOp, CallSrc, PseudoSrc, Source
from bpfvm.isa.spec import OpKind
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.vm.jit import layout as L

Value = tuple[str, int] | None  # (STACK, offset) | (MAP, index) | (FUNC, slot) | unknown
STACK, MAP, FUNC = "stack", "map", "func"
NREGS = 16  # the 4-bit register fields; r11..r15 are never valid value registers
State = tuple[Value, ...]


class Plan(Enum):
    """How a helper call is lowered."""

    GENERIC = auto()  # through the Python registry
    LOOKUP_ARRAY = auto()
    LOOKUP_HASH = auto()  # hash/percpu_hash/lru_*: the map's native index, searched inline
    LOOKUP_PY = auto()  # other maps: key checked natively, a lean callback to prog_lookup
    UPDATE_ARRAY = auto()
    DELETE_ARRAY = auto()
    UPDATE_HASH = auto()  # hash/percpu_hash: the native index changed inline
    DELETE_HASH = auto()
    RINGBUF_RESERVE = auto()  # lower_ringbuf: on the ring's own storage, Python for odd cases
    RINGBUF_SUBMIT = auto()
    RINGBUF_DISCARD = auto()
    CLOCK = auto()
    PRANDOM = auto()
    SMP_ID = auto()
    NUMA_ID = auto()
    TAIL_CALL = auto()
    LOOP = auto()
    PACKET = auto()  # packet helpers (lower_packet): native, Python only for odd cases


SIMPLE_PLANS = {
    L.BPF_FUNC_KTIME_GET_NS: Plan.CLOCK,
    L.BPF_FUNC_KTIME_GET_BOOT_NS: Plan.CLOCK,
    L.BPF_FUNC_KTIME_GET_COARSE_NS: Plan.CLOCK,
    L.BPF_FUNC_GET_PRANDOM_U32: Plan.PRANDOM,
    L.BPF_FUNC_GET_SMP_PROCESSOR_ID: Plan.SMP_ID,
    L.BPF_FUNC_GET_NUMA_NODE_ID: Plan.NUMA_ID,
}
MAP_PLANS = {
    L.BPF_FUNC_MAP_LOOKUP_ELEM: Plan.LOOKUP_ARRAY,
    L.BPF_FUNC_MAP_UPDATE_ELEM: Plan.UPDATE_ARRAY,
    L.BPF_FUNC_MAP_DELETE_ELEM: Plan.DELETE_ARRAY,
}
PACKET_HELPERS = frozenset([9, 10, 11, 26, 28, 44, 54, 65, 189, 190])
"""bpf_skb_store_bytes, bpf_l3/l4_csum_replace, bpf_skb_load_bytes, bpf_csum_diff,
bpf_xdp_adjust_head/meta/tail, bpf_xdp_load/store_bytes: :mod:`.lower_packet`."""
HASH_PLANS = {
    L.BPF_FUNC_MAP_UPDATE_ELEM: Plan.UPDATE_HASH,
    L.BPF_FUNC_MAP_DELETE_ELEM: Plan.DELETE_HASH,
}
BPF_FUNC_RINGBUF_RESERVE = 131
RINGBUF_PLANS = {
    BPF_FUNC_RINGBUF_RESERVE: Plan.RINGBUF_RESERVE,
    132: Plan.RINGBUF_SUBMIT,  # bpf_ringbuf_submit
    133: Plan.RINGBUF_DISCARD,  # bpf_ringbuf_discard
}
INLINABLE = frozenset([*SIMPLE_PLANS, *MAP_PLANS, L.BPF_FUNC_LOOP, *PACKET_HELPERS, *RINGBUF_PLANS])


class Layout:
    """The slots of several programs laid out as the interpreter lays them out."""

    def __init__(self, programs: Sequence[Sequence[Insn]]) -> None:
        self.insns: dict[int, Insn] = {}
        self.mid: set[int] = set()  # second slots of ld_imm64
        self.bases: list[int] = []
        self.ends: list[int] = []
        self.prog_of: dict[int, int] = {}  # every slot incl. mid and guard -> program
        base = 0
        for p, insns in enumerate(programs):
            seq = list(insns)
            self.bases.append(base)
            for pc, insn in zip(slot_pcs(seq), seq, strict=True):
                self.insns[base + pc] = insn
                if insn.width == 2:
                    self.mid.add(base + pc + 1)
            end = base + sum(i.width for i in seq)
            self.ends.append(end)
            for s in range(base, end + 1):
                self.prog_of[s] = p
            base = end + 1
        self.total = base

    def bounds(self, slot: int) -> tuple[int, int]:
        p = self.prog_of[slot]
        return self.bases[p], self.ends[p]

    def call_target(self, pc: int, insn: Insn) -> int | None:
        """The slot a ``call pc+imm`` enters, None when outside its program."""
        base, end = self.bounds(pc)
        target = pc + 1 + insn.imm
        return target if base <= target < end else None

    def func_ref(self, pc: int, insn: Insn) -> int | None:
        """The slot an ``ld_imm64 src=4`` refers to, None when it is no slot at all."""
        target = pc + 1 + insn.imm
        return target if 0 <= target < self.total else None

    def static_fault(self, pc: int, insn: Insn) -> tuple[int, str] | None:
        """Faults the interpreter builds into the handler of ``pc`` (pc, message)."""
        spec = insn.spec
        base, end = self.bounds(pc)
        if spec is None:
            return pc - base, f"unknown opcode {insn.code:02x}"
        if spec.kind in (OpKind.JA, OpKind.GOTOL, OpKind.JCOND, OpKind.JCC):
            rel = insn.imm if spec.kind is OpKind.GOTOL else insn.off
            if not base <= pc + 1 + rel < end:
                return (
                    pc - base,
                    f"jump out of range from insn {pc - base} to {pc + 1 + rel - base}",
                )
        is_call = spec.kind is OpKind.CALL and insn.src == CallSrc.PSEUDO_CALL
        if is_call and self.call_target(pc, insn) is None:
            return pc - base, "call to invalid destination"
        return None

    def successors(self, pc: int) -> tuple[int | None, int | None]:
        """(fall-through slot, jump target slot) of the instruction at ``pc``."""
        insn = self.insns[pc]
        spec = insn.spec
        if spec is None or self.static_fault(pc, insn) is not None:
            return None, None
        kind = spec.kind
        if kind is OpKind.EXIT:
            return None, None
        if kind in (OpKind.JA, OpKind.GOTOL):
            return None, pc + 1 + (insn.imm if kind is OpKind.GOTOL else insn.off)
        if kind in (OpKind.JCC, OpKind.JCOND):
            return pc + 1, pc + 1 + insn.off
        return pc + insn.width, None

    def function_refs(self) -> list[int]:
        """Slots a function reference (``ld_imm64 src=4``) names: the callbacks."""
        refs = set()
        for pc, insn in self.insns.items():
            if insn.width == 2 and insn.src == PseudoSrc.FUNC:
                ref = self.func_ref(pc, insn)
                if ref is not None:
                    refs.add(ref)
        return sorted(refs)

    def tail_call_maps(self, maps: int) -> list[int]:
        """Map indexes loaded by some ``ld_imm64 src=1`` in a program that tail-calls (the
        prog_arrays the engine snapshots; a superset is harmless)."""
        found: set[int] = set()
        for p in range(len(self.bases)):
            slots = [s for s in self.insns if self.prog_of[s] == p]
            insns = [self.insns[s] for s in slots]
            if not any(i.code == 0x85 and i.src == 0 and i.imm == L.BPF_FUNC_TAIL_CALL
                       for i in insns):  # fmt: skip
                continue
            found |= {i.imm for i in insns if i.width == 2 and i.src == PseudoSrc.MAP_FD}
        return sorted(m for m in found if 0 <= m < maps)

    def function_starts(self) -> list[int]:
        starts = set(self.bases)
        for pc, insn in self.insns.items():
            kind = insn.spec.kind if insn.spec is not None else None
            if kind is OpKind.CALL and insn.src == CallSrc.PSEUDO_CALL:
                target = self.call_target(pc, insn)
                if target is not None:
                    starts.add(target)
            elif kind is OpKind.LD_IMM64 and insn.src == PseudoSrc.FUNC:
                ref = self.func_ref(pc, insn)
                if ref is not None:
                    starts.add(ref)
        return sorted(starts)


@dataclass
class FunctionInfo:
    """One function: its reachable instructions, block leaders and per-instruction facts."""

    start: int
    slots: list[int] = field(default_factory=list)  # reachable instruction slots, in order
    leaders: set[int] = field(default_factory=set)
    fault_slots: set[int] = field(default_factory=set)  # reachable mid-ld_imm64 / guard slots
    pre: dict[int, State] = field(default_factory=dict)
    escapes: bool = False
    has_may_goto: bool = False
    has_backedge: bool = False
    uses_out_args: bool = False


def plan_call(
    insn: Insn, state: State, maps: Sequence[L.MapDesc], inline: frozenset[int]
) -> tuple[Plan, int]:
    """How the helper call ``insn`` is lowered, and the map index or callback slot it uses."""
    hid = insn.imm
    if hid == L.BPF_FUNC_TAIL_CALL:
        m = state[2]
        return Plan.TAIL_CALL, m[1] if m is not None and m[0] == MAP else -1
    if hid not in inline:
        return Plan.GENERIC, 0
    if hid in SIMPLE_PLANS:
        return SIMPLE_PLANS[hid], 0
    if hid in PACKET_HELPERS:
        return Plan.PACKET, hid
    if hid in RINGBUF_PLANS:  # reserve: a map known here (its type is checked natively)
        m = state[1]
        if hid == BPF_FUNC_RINGBUF_RESERVE and (m is None or m[0] != MAP):
            return Plan.GENERIC, 0
        return RINGBUF_PLANS[hid], hid
    if hid == L.BPF_FUNC_LOOP:
        fn = state[2]
        return (Plan.LOOP, fn[1]) if fn is not None and fn[0] == FUNC else (Plan.GENERIC, 0)
    m = state[1]
    if m is None or m[0] != MAP:
        return Plan.GENERIC, 0
    desc = maps[m[1]]
    if desc.kind == L.MK_ARRAY and desc.key_size == 4:
        return MAP_PLANS[hid], m[1]
    hashed = desc.kind in (L.MK_HASH, L.MK_LRU_HASH)
    if hid == L.BPF_FUNC_MAP_LOOKUP_ELEM and hashed and desc.key_size > 0:
        return Plan.LOOKUP_HASH, m[1]
    if hid in HASH_PLANS and desc.kind == L.MK_HASH and desc.key_size > 0:
        return HASH_PLANS[hid], m[1]
    if hid == L.BPF_FUNC_MAP_LOOKUP_ELEM and desc.key_size > 0:
        return Plan.LOOKUP_PY, m[1]
    return Plan.GENERIC, 0


class _Flow:
    """The transfer function of the stack/map/function-reference dataflow."""

    def __init__(
        self,
        layout: Layout,
        maps: Sequence[L.MapDesc],
        inline: frozenset[int],
        frame: int = L.STACK_SIZE,
    ):
        self.layout = layout
        self.maps = maps
        self.inline = inline
        self.frame = frame
        self.escapes = False

    def value(self, state: State, reg: int) -> None:
        v = state[reg]
        if v is not None and v[0] == STACK:
            self.escapes = True

    def address(self, state: State, reg: int, off: int, size: int) -> None:
        v = state[reg]
        if v is not None and v[0] == STACK and not static_stack(v[1] + off, size, self.frame):
            self.escapes = True

    def step(self, pc: int, insn: Insn, s: State) -> State:
        spec = insn.spec
        assert spec is not None
        kind, regs = spec.kind, list(s)
        d, src = insn.dst, insn.src
        if kind is OpKind.MOV:
            if spec.source is Source.X:
                if spec.is64 and insn.off in (0, 1):
                    regs[d] = s[src]
                    return tuple(regs)
                self.value(s, src)
            regs[d] = None
        elif kind is OpKind.ALU:
            dv = s[d]
            stack_k = (
                spec.is64 and spec.source is Source.K and spec.alu_op in (AluOp.ADD, AluOp.SUB)
            )
            if stack_k and dv is not None and dv[0] == STACK:
                delta = insn.imm if spec.alu_op is AluOp.ADD else -insn.imm
                regs[d] = (STACK, dv[1] + delta)
                return tuple(regs)
            self.value(s, d)
            if spec.source is Source.X:
                self.value(s, src)
            regs[d] = None
        elif kind in (OpKind.NEG, OpKind.END, OpKind.BSWAP):
            self.value(s, d)
            regs[d] = None
        elif kind is OpKind.JCC:
            self.value(s, d)
            if spec.source is Source.X:
                self.value(s, src)
        elif kind is OpKind.LD_IMM64:
            regs[d] = self._imm64(pc, insn)
        elif kind in (OpKind.LDX, OpKind.LDX_SX, OpKind.ST, OpKind.STX, OpKind.ATOMIC):
            self._memory(insn, s, regs)
        elif kind in (OpKind.LD_ABS, OpKind.LD_IND):
            if kind is OpKind.LD_IND:
                self.value(s, src)
            regs[0] = None
        elif kind in (OpKind.CALL, OpKind.CALLX):
            self._call(insn, s)
            regs[0] = None
        elif kind is OpKind.EXIT:
            self.value(s, 0)
        return tuple(regs)

    def _imm64(self, pc: int, insn: Insn) -> Value:
        if insn.src == PseudoSrc.MAP_FD and 0 <= insn.imm < len(self.maps):
            return (MAP, insn.imm)
        if insn.src == PseudoSrc.FUNC:
            ref = self.layout.func_ref(pc, insn)
            return (FUNC, ref) if ref is not None else None
        return None

    def _memory(self, insn: Insn, s: State, regs: list[Value]) -> None:
        spec = insn.spec
        assert spec is not None and spec.size is not None
        size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[spec.size]
        kind, d, src = spec.kind, insn.dst, insn.src
        if is_stack_arg_access(insn, spec):
            if kind is OpKind.STX:
                self.value(s, src)
            elif kind is OpKind.LDX:
                regs[d] = None
            return
        if kind in (OpKind.LDX, OpKind.LDX_SX):
            self.address(s, src, insn.off, size)
            regs[d] = None
        elif kind is OpKind.ST:
            self.address(s, d, insn.off, size)
        elif kind is OpKind.STX:
            self.address(s, d, insn.off, size)
            self.value(s, src)
        elif insn.imm == AtomicOp.LOAD_ACQ:
            self.address(s, src, insn.off, size)
            regs[d] = None
        else:
            self.address(s, d, insn.off, size)
            self.value(s, src)
            if insn.imm == AtomicOp.CMPXCHG:
                self.value(s, 0)
                regs[0] = None
            elif insn.imm & 1:
                regs[src] = None

    def _call(self, insn: Insn, s: State) -> None:
        spec = insn.spec
        assert spec is not None
        if spec.kind is OpKind.CALLX:
            self.value(s, insn.dst)
        if spec.kind is OpKind.CALL and insn.src == CallSrc.HELPER:
            plan, index = plan_call(insn, s, self.maps, self.inline)
            if plan in (Plan.LOOKUP_ARRAY, Plan.DELETE_ARRAY):
                self.address(s, 2, 0, 4)
                return
            if plan in (Plan.LOOKUP_PY, Plan.LOOKUP_HASH, Plan.DELETE_HASH):
                self.address(s, 2, 0, self.maps[index].key_size)
                return
            if plan is Plan.UPDATE_HASH:
                self.address(s, 2, 0, self.maps[index].key_size)
                self.address(s, 3, 0, max(self.maps[index].value_size, 1))
                self.value(s, 4)
                return
            if plan is Plan.UPDATE_ARRAY:
                self.address(s, 2, 0, 4)
                self.address(s, 3, 0, max(self.maps[index].value_size, 1))
                self.value(s, 4)
                return
            if plan is Plan.LOOP:
                for reg in (1, 3, 4):
                    self.value(s, reg)
                return
            if plan in SIMPLE_PLANS.values():
                return
        for reg in range(1, 6):
            self.value(s, reg)


def static_stack(off: int, size: int, frame: int = L.STACK_SIZE) -> bool:
    """An access of ``size`` bytes at ``r10 + off`` lies inside a frame of ``frame`` bytes."""
    return off >= -frame and off + size <= 0


def analyse_function(
    layout: Layout,
    start: int,
    maps: Sequence[L.MapDesc],
    inline: frozenset[int],
    frame: int = L.STACK_SIZE,
) -> FunctionInfo:
    """``frame``: the function's stack frame in bytes (larger than 512 only for fixed-up
    programs, whose may_goto counters and inlined loops use slots below the verified depth)."""
    info = FunctionInfo(start)
    info.leaders.add(start)
    flow = _Flow(layout, maps, inline, frame)
    entry: list[Value] = [None] * NREGS
    entry[10] = (STACK, 0)
    pre: dict[int, State] = {}
    work = [start]
    pending: dict[int, State] = {start: tuple(entry)}
    while work:
        pc = work.pop()
        state = pending.pop(pc, None)
        if state is None:
            continue
        if pc in layout.mid or pc not in layout.insns:
            info.fault_slots.add(pc)
            continue
        old = pre.get(pc)
        new = state if old is None else _join(old, state, flow)
        if new == old:
            continue
        pre[pc] = new
        insn = layout.insns[pc]
        out = new if insn.spec is None else flow.step(pc, insn, new)
        fall, target = layout.successors(pc)
        for succ in (fall, target):
            if succ is None:
                continue
            if succ in pending:
                pending[succ] = _join(pending[succ], out, flow)
            else:
                pending[succ] = out
            work.append(succ)
        _note_structure(info, layout, pc, insn, fall, target)
    info.slots = sorted(pre)
    info.pre = pre
    info.escapes = flow.escapes
    return info


def _note_structure(
    info: FunctionInfo, layout: Layout, pc: int, insn: Insn, fall: int | None, target: int | None
) -> None:
    spec = insn.spec
    if target is not None:
        info.leaders.add(target)
        if fall is not None:
            info.leaders.add(fall)
        if target <= pc:
            info.has_backedge = True
    if spec is not None and spec.kind is OpKind.JCOND:
        info.has_may_goto = True
    if spec is not None and is_stack_arg_access(insn, spec) and spec.kind is not OpKind.LDX:
        info.uses_out_args = True


def _join(a: State, b: State, flow: _Flow) -> State:
    if a == b:
        return a
    out: list[Value] = []
    for x, y in zip(a, b, strict=True):
        if x == y:
            out.append(x)
            continue
        if (x is not None and x[0] == STACK) or (y is not None and y[0] == STACK):
            flow.escapes = True
        out.append(None)
    return tuple(out)
