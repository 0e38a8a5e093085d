"""Lowering eBPF programs to an ``llvmlite.ir.Module``, in pure Python (no LLVM binding).

Each BPF function (:mod:`.cfg`) becomes one LLVM function
``i64 f(ptr noalias state, i64 r1..r5, ptr in_args, i64 depth)``:

* registers r0..r11 are ``alloca``\\ s that LLVM's mem2reg/SROA turn into SSA values;
* the stack is a local 512-byte array, r10 its end; it is zeroed on entry, like the
  interpreter's fresh frames. Its address only exists in the code when the frame escapes
  (:mod:`.cfg`); then it is also registered in ``state.frames[depth]``. A fixed-up program
  may need more (may_goto counters, the inlined ``bpf_loop``'s saved registers below the
  verified depth): its frame is larger, the extra bytes below ``r10 - 512`` reached only by
  those static ``r10 + k`` accesses;
* BPF basic blocks are LLVM blocks; ``exit`` is ``ret r0``;
* a bpf-to-bpf call is an LLVM call (so r6..r9 survive it without any saving code), passing
  the caller's outgoing stack-argument area (``*(u64 *)(r11 - 8k)``) as the callee's incoming
  one (``*(u64 *)(r11 + 8k)``), SPEC.md 2.1;
* helper calls, tail calls, memory accesses, atomics and ``LD_ABS`` are in
  :mod:`.lower_calls` and :mod:`.lower_mem`; ALU and jumps in :mod:`.lower_ops`.

Faults never unwind: the fault is recorded in the run state (:mod:`.layout`) and the function
returns; every caller checks the status after a call.

Where the interpreter's single register file shows through, and only unverified programs can
tell (the verifier forbids reading these registers): after a bpf-to-bpf call r1..r5 keep the
caller's values (the interpreter leaves the callee's), a callee starts with r0 and r6..r9 at
0 (the interpreter: the caller's), and a tail-called program starts with a fresh zeroed frame,
r6..r9 at 0 and its own may_goto budget. Runs count no instructions: a runaway loop is stopped
by the loop budget (back-edges per function invocation) instead. The exact SPEC.md 6
semantics (division by zero, ``INT_MIN / -1``, masked shifts) are in the lowering itself, so
unverified programs get the interpreter's results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from llvmlite import ir

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import PseudoSrc
from bpfvm.isa.spec import OpKind, OpSpec
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.cfg import FunctionInfo, Layout, analyse_function
from bpfvm.vm.jit.runtime_ir import (
    Runtime,
    Types,
    alloca,
    frame_ptr,
    invariant,
    load_field,
    table_ptr,
)

LOWERING_VERSION = "3"
M32 = 0xFFFFFFFF
MAX_LOCAL_SITES = 64


@dataclass
class Lowered:
    """A lowered module and what the engine needs to run it."""

    module: ir.Module
    messages: list[str]
    nsites: int
    entries: list[str]  # per program: the base name of its entry points
    callbacks: dict[int, str]  # function-reference slot -> callback thunk name
    prog_functions: list[list[str]] = field(default_factory=list)  # names, per program
    tail_maps: list[int] = field(default_factory=list)  # prog_arrays to snapshot per run


class ModuleContext:
    """What the functions of one module share."""

    def __init__(
        self,
        layout: Layout,
        maps: Sequence[L.MapDesc],
        inline: frozenset[int],
        options: L.JitOptions,
        frames: Sequence[int],
    ) -> None:
        self.module = ir.Module(name="bpf")
        self.t = Types(self.module)
        self.rt = Runtime(self.module, self.t)
        self.layout = layout
        self.maps = list(maps)
        self.inline = inline
        self.options = options
        self.frames = list(frames)  # per program: the stack frame of its functions, in bytes
        self.funcs: dict[int, ir.Function] = {}
        self.infos: dict[int, FunctionInfo] = {}
        self.messages: list[str] = []
        self._message_ids: dict[str, int] = {}
        self.nsites = 0
        self.prog_table: ir.GlobalVariable | None = None

    def message(self, text: str) -> int:
        if text not in self._message_ids:
            self._message_ids[text] = len(self.messages)
            self.messages.append(text)
        return self._message_ids[text]

    def new_site(self) -> int:
        self.nsites += 1
        return self.nsites - 1

    def intrinsic(self, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
        existing = self.module.globals.get(name)
        if isinstance(existing, ir.Function):
            return existing
        return ir.Function(self.module, ir.FunctionType(ret, list(args)), name)


def _symbol(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "prog"


def lower_programs(
    programs: Sequence[Sequence[Insn]],
    names: Sequence[str],
    maps: Sequence[L.MapDesc],
    inline: frozenset[int],
    options: L.JitOptions,
    frames: Sequence[int] | None = None,
) -> Lowered:
    """Lower the programs of one object (tail calls jump between them) into one module.

    ``frames``: per program, the stack frame of its functions (default 512 bytes; fixed-up
    programs may need more, :func:`bpfvm.vm.jit.xlated.frame_size`)."""
    layout = Layout(programs)
    sizes = list(frames) if frames is not None else [L.STACK_SIZE] * len(programs)
    ctx = ModuleContext(layout, maps, inline, options, sizes)
    t = ctx.t
    symbols = [f"bpf_{_symbol(n)}_{i}" for i, n in enumerate(names)]
    prog_functions: list[list[str]] = [[] for _ in programs]
    for start in layout.function_starts():
        p = layout.prog_of[start]
        is_main = start == layout.bases[p]
        name = symbols[p] if is_main else f"{symbols[p]}__sub_{start - layout.bases[p]}"
        fn = ir.Function(ctx.module, t.bpf_fn, name)
        fn.linkage = "internal"
        fn.args[0].add_attribute("noalias")
        fn.args[0].attributes.dereferenceable = t.state_size
        ctx.funcs[start] = fn
        prog_functions[p].append(name)
    table_ty = ir.ArrayType(t.ptr, len(programs))
    ctx.prog_table = ir.GlobalVariable(ctx.module, table_ty, "bpf_programs")
    ctx.prog_table.global_constant = True
    ctx.prog_table.linkage = "internal"
    ctx.prog_table.initializer = ir.Constant(table_ty, [ctx.funcs[b] for b in layout.bases])
    for start, fn in ctx.funcs.items():
        info = analyse_function(layout, start, maps, inline, sizes[layout.prog_of[start]])
        ctx.infos[start] = info
        FunctionLowerer(ctx, info, fn).lower()
    for p, base in enumerate(layout.bases):
        ctx.rt.add_entry_points(symbols[p], ctx.funcs[base], ctx.nsites)
    callbacks = {}
    for start in layout.function_refs():
        callbacks[start] = ctx.rt.add_callback_thunk(start, ctx.funcs[start])
    tail_maps = layout.tail_call_maps(len(maps))
    return Lowered(
        ctx.module, ctx.messages, ctx.nsites, symbols, callbacks, prog_functions, tail_maps
    )


class FunctionLowerer:
    """Lowers one BPF function into its LLVM function."""

    def __init__(self, ctx: ModuleContext, info: FunctionInfo, fn: ir.Function) -> None:
        self.ctx = ctx
        self.t = ctx.t
        self.info = info
        self.fn = fn
        self.layout = ctx.layout
        self.state, *self.args, self.in_args, self.depth = fn.args
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.blocks: dict[int, ir.Block] = {}
        self.pc = info.start
        self.frame = ctx.frames[ctx.layout.prog_of[info.start]]  # bytes below r10
        self.stack_lo: ir.Value | None = None  # r10 - 512: the part pointers may reach
        self.out_args: ir.Value | None = None
        self.may_goto: ir.Value | None = None
        self.budget: ir.Value | None = None
        self._timespec: ir.Value | None = None
        self.regs: list[ir.Value] = []
        self.stack: ir.Value | None = None
        self.loop_pcs = _loop_pcs(ctx.layout, info)
        self.local_sites: list[tuple[int, int, ir.Value, ir.Value]] = []  # site, size, allocas
        self._map_values: dict[int, ir.Value] = {}
        self._resync: list[ir.Block] = []  # blocks after calls: reload the local site caches

    # -- registers -----------------------------------------------------------------------

    def get(self, reg: int) -> ir.Value:
        return self.b.load(self.regs[reg], typ=self.t.i64)

    def put(self, reg: int, value: ir.Value) -> None:
        if value.type != self.t.i64:
            value = self.b.zext(value, self.t.i64)
        self.b.store(value, self.regs[reg])

    def const(self, value: int, bits: int = 64) -> ir.Constant:
        return ir.Constant(self.t.ity(bits), value & ((1 << bits) - 1))

    # -- structure -----------------------------------------------------------------------

    def _prologue(self) -> None:
        b, t, info = self.b, self.t, self.info
        self.regs = [alloca(b, t, t.i64, f"r{i}") for i in range(12)]
        self.stack = alloca(b, t, ir.ArrayType(t.i8, self.frame), "stack", align=16)
        if self.ctx.options.zero_stack:
            memset = self.ctx.intrinsic("llvm.memset.p0.i64", t.void, [t.ptr, t.i8, t.i64, t.i1])
            b.call(memset, [self.stack, ir.Constant(t.i8, 0), t.c64(self.frame),
                            ir.Constant(t.i1, 0)])  # fmt: skip
        if info.uses_out_args or self._makes_calls():
            self.out_args = alloca(b, t, t.args7, "out_args")
            b.store(ir.Constant(t.args7, None), self.out_args)
        if info.has_may_goto:
            self.may_goto = alloca(b, t, t.i64, "may_goto")
            b.store(t.c64(L.BPF_MAX_LOOPS), self.may_goto)
        if info.has_backedge and self.ctx.options.max_loops is not None:
            self.budget = alloca(b, t, t.i64, "loop_budget")
            b.store(t.c64(self.ctx.options.max_loops), self.budget)
        r10 = t.c64(0)
        if info.escapes:  # slots below r10 - 512 (fixups' own) are only reached statically
            below = t.c64(self.frame - L.STACK_SIZE)
            self.stack_lo = b.add(b.ptrtoint(self.stack, t.i64), below)
            b.store(self.stack_lo, frame_ptr(b, t, self.state, self.depth))
            r10 = b.add(self.stack_lo, t.c64(L.STACK_SIZE))
        for i in range(12):
            value = self.args[i - 1] if 1 <= i <= 5 else t.c64(0)
            b.store(r10 if i == 10 else value, self.regs[i])

    def _makes_calls(self) -> bool:
        for pc in self.info.slots:
            insn = self.layout.insns[pc]
            if insn.spec is not None and insn.spec.kind in (OpKind.CALL, OpKind.CALLX):
                return True
        return False

    def block(self, slot: int) -> ir.Block:
        if slot not in self.blocks:
            self.blocks[slot] = self.fn.append_basic_block(f"pc{slot}")
        return self.blocks[slot]

    def open(self) -> None:
        """Make sure the builder is in an unterminated block (code after a fault)."""
        if self.b.block.is_terminated:
            self.b.position_at_end(self.fn.append_basic_block("dead"))

    def lower(self) -> None:
        from bpfvm.vm.jit.lower_ops import lower_insn

        self._prologue()
        self.b.branch(self.block(self.info.start))
        for slot in sorted(self.info.fault_slots):
            self.b.position_at_end(self.block(slot))
            self._slot_fault(slot)
        for pc in self.info.slots:
            if pc in self.info.leaders:
                if not self.b.block.is_terminated:
                    self.b.branch(self.block(pc))
                self.b.position_at_end(self.block(pc))
            self.open()
            self.pc = pc
            insn = self.layout.insns[pc]
            lower_insn(self, pc, insn)
            if not self.b.block.is_terminated and self._falls_through(insn):
                nxt = pc + insn.width
                if nxt in self.info.leaders or nxt in self.info.fault_slots:
                    self.b.branch(self.block(nxt))
        for block in self._resync:
            b = ir.IRBuilder(block)
            b.position_at_start(block)
            for site, size, lo, last in self.local_sites:
                self._load_site(b, site, size, lo, last)

    def _falls_through(self, insn: Insn) -> bool:
        spec = insn.spec
        return spec is not None and spec.kind not in (OpKind.EXIT, OpKind.JA, OpKind.GOTOL)

    def _slot_fault(self, slot: int) -> None:
        _, end = self.layout.bounds(slot)
        if slot == end:
            self.fault(slot, "fell off the end of the program")
        else:
            self.fault(slot, "jump into the middle of ldimm64 insn")

    # -- exits and faults ----------------------------------------------------------------

    def ret(self, value: ir.Value) -> None:
        if self.stack_lo is not None:
            self.b.store(self.t.c64(0), frame_ptr(self.b, self.t, self.state, self.depth))
        self.b.ret(value)

    def fault(self, pc: int, message: str, n: ir.Value | None = None) -> None:
        """Record a fault with a fixed message ("{n}" is replaced by ``n``) and return."""
        t = self.t
        msg = self.ctx.message(message)
        args = [self.state, t.c64(L.FK_MESSAGE), t.c64(pc), n or t.c64(0), t.c64(0), t.c64(msg)]
        self.b.call(self.ctx.rt.fault, args)
        self.b.ret(t.c64(0))

    def guard(self, ok: ir.Value, pc: int, message: str, n: ir.Value | None = None) -> None:
        """Continue when ``ok`` holds, else fault."""
        cont = self.fn.append_basic_block("ok")
        bad = self.fn.append_basic_block("fault")
        self.b.cbranch(ok, cont, bad)
        self.b.position_at_end(bad)
        self.fault(pc, message, n)
        self.b.position_at_end(cont)

    def bail_if_stopped(self) -> None:
        """After a call: return at once when the run faulted or ended."""
        t = self.t
        status = load_field(self.b, t, self.state, "status")
        cont = self.fn.append_basic_block("cont")
        stop = self.fn.append_basic_block("stop")
        self.b.cbranch(self.b.icmp_unsigned("!=", status, t.c64(0)), stop, cont)
        self.b.position_at_end(stop)
        self.b.ret(t.c64(0))
        self.b.position_at_end(cont)
        self._resync.append(cont)  # the call may have moved regions: reload local caches

    # -- site caches of checked accesses -------------------------------------------------

    def site_bounds(self, pc: int, site: int, size: int) -> tuple[ir.Value, ir.Value]:
        """``(start, last)`` of the region cached for ``site``: an access of ``size`` bytes at
        ``addr`` hits when ``start <= addr <= last`` (``last = end - size``).

        Sites inside a loop keep a copy of their cache entry in ``alloca`` slots, loaded at
        function entry and reloaded after a slow-path check and after every call (a Python
        helper may move regions and invalidate the caches). LLVM promotes the copies to
        registers, so a loop's checked accesses read no memory. Other sites read the run
        state's entry directly."""
        b, t = self.b, self.t
        if not self.is_local_site(pc):
            return self._site_entry(b, site, size)
        lo_slot = self.entry_alloca(t.i64, f"site{site}_lo")
        last_slot = self.entry_alloca(t.i64, f"site{site}_last")
        self.local_sites.append((site, size, lo_slot, last_slot))
        entry = self.fn.entry_basic_block
        init = ir.IRBuilder(entry)
        init.position_before(entry.terminator)
        self._load_site(init, site, size, lo_slot, last_slot)
        return b.load(lo_slot, typ=t.i64), b.load(last_slot, typ=t.i64)

    def is_local_site(self, pc: int) -> bool:
        """Whether the access at ``pc`` keeps a local copy of its site cache (inside a loop,
        up to :data:`MAX_LOCAL_SITES` per function: each is reloaded after every call)."""
        return pc in self.loop_pcs and len(self.local_sites) < MAX_LOCAL_SITES

    def _map_value(self, index: int, pc: int) -> ir.Value:
        """``map_values[index]``, loaded in the entry block for loops (it never changes)."""
        t = self.t
        if pc not in self.loop_pcs:
            b = self.b
            return invariant(b, b.load(table_ptr(b, t, self.state, "map_values", t.c64(index)),
                                       typ=t.i64))  # fmt: skip
        if index not in self._map_values:
            entry = self.fn.entry_basic_block
            b = ir.IRBuilder(entry)
            b.position_before(entry.terminator)
            ptr = table_ptr(b, t, self.state, "map_values", t.c64(index))
            self._map_values[index] = invariant(b, b.load(ptr, typ=t.i64))
        return self._map_values[index]

    def refill_site(self, site: int) -> None:
        """After the slow path filled the run state's entry: refresh the local copy."""
        for s, size, lo, last in self.local_sites:
            if s == site:
                self._load_site(self.b, s, size, lo, last)

    def _site_entry(self, b: ir.IRBuilder, site: int, size: int) -> tuple[ir.Value, ir.Value]:
        t = self.t
        lo = b.load(table_ptr(b, t, self.state, "site_cache", t.c64(2 * site)), typ=t.i64)
        hi = b.load(table_ptr(b, t, self.state, "site_cache", t.c64(2 * site + 1)), typ=t.i64)
        return lo, b.sub(hi, t.c64(size))

    def _load_site(
        self, b: ir.IRBuilder, site: int, size: int, lo: ir.Value, last: ir.Value
    ) -> None:
        start, end = self._site_entry(b, site, size)
        b.store(start, lo)
        b.store(end, last)

    def jump(self, pc: int, target: int) -> None:
        """Branch to ``target``, charging the loop budget on a back-edge."""
        if target <= pc and self.budget is not None:
            b, t = self.b, self.t
            left = b.sub(b.load(self.budget, typ=t.i64), t.c64(1))
            b.store(left, self.budget)
            limit = self.ctx.options.max_loops
            msg = f"loop budget of {limit} back-edges exceeded (program does not terminate?)"
            self.guard(b.icmp_unsigned("!=", left, t.c64(0)), pc, msg)
        self.b.branch(self.block(target))

    def edge(self, pc: int, target: int) -> ir.Block:
        """The block a conditional branch to ``target`` goes to (an edge block that charges
        the loop budget for back-edges)."""
        if target > pc or self.budget is None:
            return self.block(target)
        saved = self.b.block
        blk = self.fn.append_basic_block(f"backedge{pc}")
        self.b.position_at_end(blk)
        self.jump(pc, target)
        self.b.position_at_end(saved)
        return blk

    def entry_alloca(self, typ: ir.Type, name: str) -> ir.Value:
        """An ``alloca`` at the start of the entry block (so loops do not grow the stack)."""
        entry = self.fn.entry_basic_block
        b = ir.IRBuilder(entry)
        b.position_at_start(entry)
        return alloca(b, self.t, typ, name)

    def timespec(self) -> ir.Value:
        if self._timespec is None:
            self._timespec = self.entry_alloca(ir.ArrayType(self.t.i64, 2), "ts")
        return self._timespec

    # -- ld_imm64 --------------------------------------------------------------------------

    def ld_imm64(self, pc: int, insn: Insn) -> None:
        t, b = self.t, self.b
        if insn.src == 0:
            self.put(insn.dst, t.c64(insn.imm64))
            return
        if insn.src == PseudoSrc.FUNC:
            self.put(insn.dst, t.c64(L.CALLBACK_BASE + pc + 1 + insn.imm))
            return
        if insn.src not in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            self.fault(pc, f"unresolved pseudo ld_imm64 (src_reg {insn.src})")
            return
        if not 0 <= insn.imm < len(self.ctx.maps):
            self.fault(pc, f"fd {insn.imm} is not pointing to valid bpf_map")
            return
        index = t.c64(insn.imm)
        if insn.src == PseudoSrc.MAP_FD:
            handle = b.load(table_ptr(b, t, self.state, "maps", index), typ=t.i64)
            self.put(insn.dst, invariant(b, handle))
            return
        value = self._map_value(insn.imm, pc)
        self.guard(
            b.icmp_unsigned("!=", value, t.c64(0)),
            pc,
            "direct value access on a map without a value at key 0",
        )
        self.put(insn.dst, b.add(value, t.c64(insn.imm_hi & M32)))


def _loop_pcs(layout: Layout, info: FunctionInfo) -> frozenset[int]:
    """The slots of ``info`` between a back-edge's target and its source (the loops)."""
    opened: dict[int, int] = {}  # slot -> loops starting there minus loops ended before it
    for pc in info.slots:
        for succ in layout.successors(pc):
            if succ is not None and succ <= pc:
                opened[succ] = opened.get(succ, 0) + 1
                opened[pc + 1] = opened.get(pc + 1, 0) - 1
    inside, depth, marks = set(), 0, sorted(opened)
    k = 0
    for pc in info.slots:  # sorted
        while k < len(marks) and marks[k] <= pc:
            depth += opened[marks[k]]
            k += 1
        if depth > 0:
            inside.add(pc)
    return frozenset(inside)


def stack_arg_form(insn: Insn, spec: OpSpec) -> bool:
    return is_stack_arg_access(insn, spec)
