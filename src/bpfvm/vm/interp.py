"""The reference interpreter.

The program is compiled once into a table indexed by slot: each entry is a closure that
executes one instruction on the register list and returns the next pc (``EXIT`` when the
main frame returns). Closures are built per :class:`~bpfvm.isa.spec.OpKind` from the opcode
table with their operands bound, so the run loop is just ``pc = handlers[pc](regs)``.

Semantics follow the kernel's interpreter (``core.c: ___bpf_prog_run``) and SPEC.md
section 6: 64-bit wraparound, zero-extended 32-bit results, masked shift amounts, the
post-fixup division rules, a fresh 512-byte stack per frame, bpf-to-bpf calls up to 8
frames (callee-saved r6-r9 restored on return), helpers through a
:class:`~bpfvm.runtime.helpers.HelperRegistry`. Memory goes through the checked
:class:`~bpfvm.runtime.memory.AddressSpace`, so a stray access is a clean
:class:`~bpfvm.errors.VmFault`.

Several programs of one object can share one interpreter (:meth:`Interpreter.for_programs`):
their slots are laid out one after the other, each followed by a guard slot, so a tail call
is a jump to another program's first slot with the registers and frame kept, as in the
kernel's interpreter (at most 33 per run). A map-referencing ``ld_imm64`` loads the address of
the map's handle (``src=1``) or of its value plus the offset (``src=2``), and a function
reference (``src=4``) a :data:`CALLBACK_BASE`-tagged slot number that helpers taking a
callback (``bpf_loop``, ``bpf_for_each_map_elem``) hand back to :meth:`Interpreter.invoke`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bpfvm.errors import VmFault
from bpfvm.isa.insn import Insn, slot_pcs
from bpfvm.isa.opcodes import (
    MAX_BPF_REG,
    REG_FP,
    SIZE_BYTES,
    AluOp,
    AtomicOp,
    CallSrc,
    PseudoSrc,
    Size,
    Source,
)
from bpfvm.isa.spec import OpKind, OpSpec
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.runtime.helpers import HelperCall, HelperRegistry, default_registry, describe_missing
from bpfvm.runtime.memory import AddressSpace, Region
from bpfvm.vm import alu
from bpfvm.vm.alu import M32, M64
from bpfvm.vm.jumps import JMP32, JMP64

EXIT = -1
CALLBACK_RETURN = -2  # return pc of the frame a callback runs in
CALLBACK_BASE = 0xCA11_0000_0000_0000  # a non-canonical address: never a real pointer
MAX_TAIL_CALL_CNT = 33
BPF_FUNC_TAIL_CALL = 12
JMP_CALL_ARGS = 0xE5  # internal opcodes of fixed-up programs (bpf_patch_call_args)
JMP_TAIL_CALL = 0xF5
Handler = Callable[[list[int]], int]

MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8
BPF_MAX_LOOPS = 8 * 1024 * 1024  # may_goto budget per frame, as the kernel initialises it


@dataclass(frozen=True)
class InterpOptions:
    """Limits of one run."""

    max_insns: int = 100_000_000  # runaway guard: instructions executed per run
    stack_size: int = MAX_BPF_STACK
    max_call_frames: int = MAX_CALL_FRAMES


@dataclass
class RunResult:
    retval: int
    insns_executed: int


@dataclass
class _Frame:
    return_pc: int
    saved: list[int]  # r6..r10 of the caller
    stack: Region
    may_goto: int
    callee_stack: Region | None = None  # a CALL_ARGS frame's own bucket-sized stack


class Interpreter:
    """Runs one program (or the programs of one object); reusable, not re-entrant."""

    def __init__(
        self,
        insns: Sequence[Insn],
        helpers: HelperRegistry | None = None,
        options: InterpOptions | None = None,
        maps: Sequence[Any] = (),
        call_table: Sequence[int] | None = None,
    ) -> None:
        self._programs = [list(insns)]
        self._call_tables: list[Sequence[int] | None] = [call_table]
        self._init(helpers, options, maps)

    @classmethod
    def for_programs(
        cls,
        programs: Sequence[Sequence[Insn]],
        helpers: HelperRegistry | None = None,
        options: InterpOptions | None = None,
        maps: Sequence[Any] = (),
        call_tables: Sequence[Sequence[int] | None] | None = None,
    ) -> Interpreter:
        """One interpreter for several programs sharing maps; ``run(entry=i)`` runs the i-th.

        ``call_tables[i]`` not None marks program i as fixed up (xlated, ``bpfvm.fixups``):
        its helper calls index that table of helper ids, ``JMP|CALL_ARGS`` (0xe5) is a
        bpf-to-bpf call with a 32-bit offset and a stack bucket, ``JMP|TAIL_CALL`` (0xf5) the
        tail call."""
        vm = cls.__new__(cls)
        vm._programs = [list(p) for p in programs]
        vm._call_tables = list(call_tables or [None] * len(vm._programs))
        vm._init(helpers, options, maps)
        return vm

    def _init(
        self, helpers: HelperRegistry | None, options: InterpOptions | None, maps: Sequence[Any]
    ) -> None:
        self.insns = self._programs[0]
        self.maps = list(maps)
        self.helpers = helpers if helpers is not None else default_registry()
        self.options = options or InterpOptions()
        self.mem = AddressSpace()
        self.call = HelperCall(self.mem, invoke=self.invoke)
        self.call.maps = {m.handle.addr: m for m in self.maps}
        self.entries: list[int] = []
        self.tail_call_target: Callable[[int, int], int | None] | None = None
        self._tail_calls = 0
        self._stacks = [
            Region(f"stack[{i}]", self.options.stack_size)
            for i in range(self.options.max_call_frames)
        ]
        self._bucket_stacks: dict[tuple[int, int], Region] = {}
        self._call_table: Sequence[int] | None = None
        self._frames: list[_Frame] = []
        self._may_goto = BPF_MAX_LOOPS
        self.packet: Region | None = None
        self._handlers = self._compile()

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        args: Sequence[int] = (),
        regions: Sequence[Region] = (),
        packet: Region | None = None,
        entry: int = 0,
    ) -> RunResult:
        """Run program ``entry`` with r1.. = ``args`` and the given regions mapped.

        ``packet`` is the socket buffer data that the legacy ``LD_ABS``/``LD_IND`` loads read
        (from the network header on, as for a kernel socket filter). The maps' regions are
        mapped too.
        """
        self.packet = packet
        self.mem.clear()
        for m in self.maps:
            for region in m.regions():
                self.mem.map(region)
        for region in regions:
            self.mem.map(region)
        self._frames.clear()
        self._may_goto = BPF_MAX_LOOPS
        self._tail_calls = 0
        stack = self._enter_stack(0)
        regs = [0] * (MAX_BPF_REG + 2)  # r0..r11 and BPF_REG_AX (r12) of fixed-up code
        for i, value in enumerate(args[:5]):
            regs[1 + i] = value & M64
        regs[REG_FP] = stack.end
        handlers = self._handlers
        pc = self.entries[entry]
        budget = self.options.max_insns
        executed = 0
        for executed in range(1, budget + 1):
            pc = handlers[pc](regs)
            if pc < 0:
                return RunResult(regs[0], executed)
        raise VmFault(pc, f"instruction limit of {budget} exceeded (program does not terminate?)")

    def _enter_stack(self, depth: int) -> Region:
        stack = self._stacks[depth]
        ctypes.memset(stack.addr, 0, stack.size)
        self.mem.map(stack)
        return stack

    # -- compilation -------------------------------------------------------------------

    def _compile(self) -> list[Handler]:
        handlers: list[Handler] = []
        for insns, table in zip(self._programs, self._call_tables, strict=True):
            self._call_table = table
            base = len(handlers)
            self.entries.append(base)
            nslots = sum(i.width for i in insns)
            end = base + nslots
            handlers += [
                _fault_handler(pc, "jump into the middle of ldimm64 insn")
                for pc in range(base, end)
            ]
            handlers.append(_fault_handler(end, "fell off the end of the program"))
            for pc, insn in zip(slot_pcs(insns), insns, strict=True):
                spec = insn.spec
                if table is not None and insn.code in (JMP_CALL_ARGS, JMP_TAIL_CALL):
                    handlers[base + pc] = self._compile_internal(base + pc, insn, base, end)
                    continue
                if spec is None:
                    handlers[base + pc] = _fault_handler(pc, f"unknown opcode {insn.code:02x}")
                    continue
                handlers[base + pc] = self._compile_one(base + pc, insn, spec, base, end)
        return handlers

    def _compile_one(self, pc: int, insn: Insn, spec: OpSpec, base: int, end: int) -> Handler:
        kind = spec.kind
        if kind in (OpKind.JA, OpKind.GOTOL, OpKind.JCOND, OpKind.JCC):
            rel = insn.imm if kind is OpKind.GOTOL else insn.off
            target = pc + 1 + rel
            if not base <= target < end:
                return _fault_handler(
                    pc - base, f"jump out of range from insn {pc - base} to {target - base}"
                )
        if kind is OpKind.CALL and insn.src == CallSrc.PSEUDO_CALL:
            target = pc + 1 + insn.imm
            if not base <= target < end:
                return _fault_handler(pc - base, "call to invalid destination")
        if is_stack_arg_access(insn, spec):
            return _fault_handler(pc, "stack args are not supported in non-JITed programs")
        return _COMPILERS[kind](self, pc, insn, spec)

    def _compile_internal(self, pc: int, insn: Insn, base: int, end: int) -> Handler:
        """The fixup stage's own instructions (``include/linux/filter.h``)."""
        if insn.code == JMP_TAIL_CALL:
            tail_call = self._tail_call
            return lambda r: tail_call(pc, r)
        # JMP | CALL_ARGS (bpf_patch_call_args): imm is the 32-bit relative target, off the
        # interpreter variant, i.e. a frame of (off + 1) * 32 bytes of stack.
        target = pc + 1 + insn.imm
        if not base <= target < end:
            return _fault_handler(pc - base, "call to invalid destination")
        if not 0 <= insn.off < self.options.stack_size // 32:
            return _fault_handler(pc - base, f"no interpreter for stack bucket {insn.off}")
        size, call_local = (insn.off + 1) * 32, self._call_local
        return lambda r: call_local(pc, target, r, stack_size=size)

    # -- calls -------------------------------------------------------------------------

    def _call_helper(self, pc: int, helper_id: int, r: list[int]) -> None:
        fn = self.helpers.get(helper_id)
        if fn is None:
            raise VmFault(pc, describe_missing(helper_id))
        self.call.pc = pc
        r[0] = fn(self.call, r[1], r[2], r[3], r[4], r[5]) & M64

    def _call_local(
        self, pc: int, target: int, r: list[int], return_pc: int = -3, stack_size: int = 0
    ) -> int:
        depth = len(self._frames) + 1
        if depth >= self.options.max_call_frames:
            raise VmFault(pc, f"the call stack of {depth + 1} frames is too deep")
        ret = pc + 1 if return_pc == -3 else return_pc
        frame = _Frame(ret, r[6:11], self._stacks[depth - 1], self._may_goto)
        self._frames.append(frame)
        self._may_goto = BPF_MAX_LOOPS
        if stack_size and stack_size != self.options.stack_size:
            key = (depth, stack_size)
            stack = self._bucket_stacks.get(key)
            if stack is None:
                stack = self._bucket_stacks[key] = Region(f"stack[{depth}]", stack_size)
            ctypes.memset(stack.addr, 0, stack.size)
            self.mem.map(stack)
            frame.callee_stack = stack
        else:
            stack = self._enter_stack(depth)
        r[REG_FP] = stack.end
        return target

    def invoke(self, func: int, args: Sequence[int]) -> int:
        """Run the callback ``func`` (a function reference an ``ld_imm64 src=4`` loaded) in a
        new frame with r1.. = ``args``, and return its r0 (``bpf_loop`` and friends)."""
        slot = func - CALLBACK_BASE
        pc = self.call.pc
        if not 0 <= slot < len(self._handlers):
            raise VmFault(pc, f"invalid callback address {func:#x}")
        regs = [0] * (MAX_BPF_REG + 2)
        for i, value in enumerate(args[:5]):
            regs[1 + i] = value & M64
        target = self._call_local(pc, slot, regs, CALLBACK_RETURN)
        handlers = self._handlers
        for _ in range(self.options.max_insns):
            target = handlers[target](regs)
            if target == CALLBACK_RETURN:
                self.call.pc = pc
                return regs[0]
        raise VmFault(pc, "instruction limit exceeded in a callback")

    def _tail_call(self, pc: int, r: list[int]) -> int:
        """``bpf_tail_call(ctx, prog_array, index)``: jump to the program in the slot, or
        fall through when the slot is empty or the chain is too long (MAX_TAIL_CALL_CNT)."""
        resolve = self.tail_call_target
        target = None if resolve is None else resolve(r[2], r[3] & M32)
        if target is None or self._tail_calls >= MAX_TAIL_CALL_CNT:
            return pc + 1
        self._tail_calls += 1
        return self.entries[target]

    def _exit(self, r: list[int]) -> int:
        if not self._frames:
            return EXIT
        frame = self._frames.pop()
        self.mem.unmap(frame.callee_stack or self._stacks[len(self._frames) + 1])
        r[6:11] = frame.saved
        self._may_goto = frame.may_goto
        return frame.return_pc

    def _ld_packet(self, pc: int, off: int, size: int, r: list[int]) -> int:
        """LD_ABS/LD_IND: big-endian load from the packet; out of bounds ends the program
        with r0 = 0 (``core.c``: the interpreter returns 0)."""
        packet = self.packet
        if packet is None:
            raise VmFault(pc, "BPF_LD_[ABS|IND] needs a socket buffer (packet) context")
        if off < 0 or off + size > packet.size:
            r[0] = 0
            self._frames.clear()
            return EXIT
        r[0] = int.from_bytes(packet.read(off, size), "big")
        return pc + 1

    def _may_goto_taken(self) -> bool:
        if self._may_goto == 0:
            return True
        self._may_goto -= 1
        return False


def _fault_handler(pc: int, message: str) -> Handler:
    def fault(r: list[int]) -> int:
        raise VmFault(pc, message)

    return fault


# -- per-kind compilers ----------------------------------------------------------------------
# Each returns a closure with everything it needs bound as defaults or cells.

Compiler = Callable[[Interpreter, int, Insn, OpSpec], Handler]


def _c_alu(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.alu_op is not None
    wide = spec.is64
    signed = insn.off == 1 and spec.alu_op in (AluOp.DIV, AluOp.MOD)
    op = (alu.ALU64 if wide else alu.ALU32)[(spec.alu_op, signed)]
    d, s, nxt = insn.dst, insn.src, pc + 1
    if spec.source is Source.X:

        def alu_x(r: list[int]) -> int:
            r[d] = op(r[d], r[s])
            return nxt

        return alu_x
    k = insn.imm & (M64 if wide else M32)

    def alu_k(r: list[int]) -> int:
        r[d] = op(r[d], k)
        return nxt

    return alu_k


def _c_mov(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    wide = spec.is64
    d, s, nxt = insn.dst, insn.src, pc + 1
    if spec.source is Source.K:
        k = insn.imm & (M64 if wide else M32)

        def mov_k(r: list[int]) -> int:
            r[d] = k
            return nxt

        return mov_k
    if insn.off in (8, 16, 32):
        bits = insn.off

        def movsx(r: list[int]) -> int:
            r[d] = alu.movsx(r[s], bits, wide)
            return nxt

        return movsx
    if wide and insn.off == 1:
        # addr_space_cast: arena pointers are plain addresses in bpfvm, the cast is a move.
        def cast(r: list[int]) -> int:
            r[d] = r[s]
            return nxt

        return cast
    mask = M64 if wide else M32

    def mov_x(r: list[int]) -> int:
        r[d] = r[s] & mask
        return nxt

    return mov_x


def _c_neg(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    d, nxt, mask = insn.dst, pc + 1, M64 if spec.is64 else M32

    def neg(r: list[int]) -> int:
        r[d] = -r[d] & mask
        return nxt

    return neg


def _c_end(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    d, nxt, bits = insn.dst, pc + 1, insn.imm
    swap = spec.kind is OpKind.BSWAP or spec.source is Source.X

    def end(r: list[int]) -> int:
        r[d] = alu.end(r[d], bits, swap)
        return nxt

    return end


def _c_ja(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    target = pc + 1 + (insn.imm if spec.kind is OpKind.GOTOL else insn.off)
    return lambda r: target


def _c_jcond(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    target, nxt = pc + 1 + insn.off, pc + 1
    taken = vm._may_goto_taken

    def may_goto(r: list[int]) -> int:
        return target if taken() else nxt

    return may_goto


def _c_jcc(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.jmp_op is not None
    cmp = (JMP64 if spec.is64 else JMP32)[spec.jmp_op]
    d, s, target, nxt = insn.dst, insn.src, pc + 1 + insn.off, pc + 1
    if spec.source is Source.X:

        def jcc_x(r: list[int]) -> int:
            return target if cmp(r[d], r[s]) else nxt

        return jcc_x
    k = insn.imm & M64

    def jcc_k(r: list[int]) -> int:
        return target if cmp(r[d], k) else nxt

    return jcc_k


def _c_call(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    nxt = pc + 1
    if insn.src == CallSrc.PSEUDO_CALL:
        target = pc + 1 + insn.imm
        call_local = vm._call_local
        return lambda r: call_local(pc, target, r)
    if insn.src == CallSrc.KFUNC_CALL:
        return _fault_handler(pc, "kernel function calls (kfuncs) need the JIT")
    helper_id, call_helper = insn.imm, vm._call_helper
    table = vm._call_table
    if table is not None:  # fixed up: imm indexes the program's runtime call table
        if not 0 <= helper_id < len(table):
            return _fault_handler(pc, f"call to runtime function #{helper_id} of {len(table)}")
        helper_id = table[helper_id]
    elif helper_id == BPF_FUNC_TAIL_CALL:  # the interpreter's own job, as BPF_TAIL_CALL is
        tail_call = vm._tail_call
        return lambda r: tail_call(pc, r)

    def call(r: list[int]) -> int:
        call_helper(pc, helper_id, r)
        return nxt

    return call


def _c_callx(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    # uBPF semantics: the register holds a helper id.
    d, nxt, call_helper = insn.dst, pc + 1, vm._call_helper

    def callx(r: list[int]) -> int:
        call_helper(pc, r[d], r)
        return nxt

    return callx


def _c_exit(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    return vm._exit


def _pseudo_value(vm: Interpreter, pc: int, insn: Insn) -> int | str:
    """The 64-bit value of a pseudo ``ld_imm64``, or why it has none."""
    if insn.src == PseudoSrc.FUNC:
        return CALLBACK_BASE + pc + 1 + insn.imm
    if insn.src not in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
        return f"unresolved pseudo ld_imm64 (src_reg {insn.src})"
    if not 0 <= insn.imm < len(vm.maps):
        return f"fd {insn.imm} is not pointing to valid bpf_map"
    m = vm.maps[insn.imm]
    if insn.src == PseudoSrc.MAP_FD:
        return int(m.handle.addr)
    value = m.prog_lookup(bytes(4), 0)
    if not value:
        return "direct value access on a map without a value at key 0"
    return int(value) + (insn.imm_hi & M32)


def _c_ld_imm64(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    value = insn.imm64
    if insn.src != 0:
        resolved = _pseudo_value(vm, pc, insn)
        if isinstance(resolved, str):
            return _fault_handler(pc, resolved)
        value = resolved
    d, nxt = insn.dst, pc + 2

    def lddw(r: list[int]) -> int:
        r[d] = value
        return nxt

    return lddw


def _c_ld_legacy(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.size is not None
    size, imm, s, ld_packet = SIZE_BYTES[spec.size], insn.imm, insn.src, vm._ld_packet
    if spec.kind is OpKind.LD_ABS:
        return lambda r: ld_packet(pc, imm, size, r)
    # LD_IND: the offset is computed in 32 bits (src + imm), then taken as signed.
    return lambda r: ld_packet(pc, alu.s32(r[s] + imm), size, r)


def _c_ldx(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.size is not None
    d, s, off, nxt, size = insn.dst, insn.src, insn.off, pc + 1, SIZE_BYTES[spec.size]
    load = vm.mem.load
    if spec.kind is OpKind.LDX_SX:
        bits = size * 8

        def ldxsx(r: list[int]) -> int:
            r[d] = alu.sext(load((r[s] + off) & M64, size, pc), bits) & M64
            return nxt

        return ldxsx

    def ldx(r: list[int]) -> int:
        r[d] = load((r[s] + off) & M64, size, pc)
        return nxt

    return ldx


def _c_st(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.size is not None
    d, off, nxt, size, k = insn.dst, insn.off, pc + 1, SIZE_BYTES[spec.size], insn.imm
    store = vm.mem.store

    def st(r: list[int]) -> int:
        store((r[d] + off) & M64, size, k, pc)
        return nxt

    return st


def _c_stx(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.size is not None
    d, s, off, nxt, size = insn.dst, insn.src, insn.off, pc + 1, SIZE_BYTES[spec.size]
    store = vm.mem.store

    def stx(r: list[int]) -> int:
        store((r[d] + off) & M64, size, r[s], pc)
        return nxt

    return stx


_ATOMIC_RMW: dict[int, Callable[[int, int], int]] = {
    AtomicOp.ADD: lambda m, v: m + v,
    AtomicOp.OR: lambda m, v: m | v,
    AtomicOp.AND: lambda m, v: m & v,
    AtomicOp.XOR: lambda m, v: m ^ v,
    AtomicOp.XCHG: lambda m, v: v,
}


def _c_atomic(vm: Interpreter, pc: int, insn: Insn, spec: OpSpec) -> Handler:
    assert spec.size is not None
    d, s, off, nxt = insn.dst, insn.src, insn.off, pc + 1
    size = SIZE_BYTES[spec.size]
    mask = (1 << (8 * size)) - 1
    load, store = vm.mem.load, vm.mem.store
    op = insn.imm
    if op == AtomicOp.LOAD_ACQ:

        def load_acquire(r: list[int]) -> int:
            r[d] = load((r[s] + off) & M64, size, pc)
            return nxt

        return load_acquire
    if op == AtomicOp.STORE_REL:

        def store_release(r: list[int]) -> int:
            store((r[d] + off) & M64, size, r[s], pc)
            return nxt

        return store_release
    if op == AtomicOp.CMPXCHG:

        def cmpxchg(r: list[int]) -> int:
            addr = (r[d] + off) & M64
            old = load(addr, size, pc)
            if old == r[0] & mask:
                store(addr, size, r[s], pc)
            r[0] = old
            return nxt

        return cmpxchg
    fetch = bool(op & 0x01)
    rmw = _ATOMIC_RMW.get(op if op == AtomicOp.XCHG else op & ~0x01)
    if rmw is None or spec.size not in (Size.W, Size.DW):
        return _fault_handler(pc, f"BPF_ATOMIC uses invalid atomic opcode {op & 0xFFFFFFFF:02x}")

    def atomic(r: list[int]) -> int:
        addr = (r[d] + off) & M64
        old = load(addr, size, pc)
        store(addr, size, rmw(old, r[s]), pc)
        if fetch:
            r[s] = old
        return nxt

    return atomic


_COMPILERS: dict[OpKind, Compiler] = {
    OpKind.ALU: _c_alu,
    OpKind.NEG: _c_neg,
    OpKind.MOV: _c_mov,
    OpKind.END: _c_end,
    OpKind.BSWAP: _c_end,
    OpKind.JA: _c_ja,
    OpKind.GOTOL: _c_ja,
    OpKind.JCOND: _c_jcond,
    OpKind.JCC: _c_jcc,
    OpKind.CALL: _c_call,
    OpKind.CALLX: _c_callx,
    OpKind.EXIT: _c_exit,
    OpKind.LD_IMM64: _c_ld_imm64,
    OpKind.LD_ABS: _c_ld_legacy,
    OpKind.LD_IND: _c_ld_legacy,
    OpKind.LDX: _c_ldx,
    OpKind.LDX_SX: _c_ldx,
    OpKind.ST: _c_st,
    OpKind.STX: _c_stx,
    OpKind.ATOMIC: _c_atomic,
}
assert set(_COMPILERS) == set(OpKind)


def run_program(
    insns: Sequence[Insn],
    mem: bytes = b"",
    helpers: HelperRegistry | None = None,
    options: InterpOptions | None = None,
) -> RunResult:
    """Run a program the way bpf_conformance does: r1 = the memory buffer, r2 = its length."""
    vm = Interpreter(insns, helpers, options)
    region = Region.from_bytes("mem", mem)
    return vm.run((region.addr, len(mem)), (region,))
