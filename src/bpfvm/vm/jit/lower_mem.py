"""Lowering of memory accesses: loads, stores, atomics, ``LD_ABS``/``LD_IND``, r11 arguments.

**Where an access may go.** An access through a register the dataflow (:mod:`.cfg`) knows to
hold ``r10 + k`` with the whole access inside the frame is a direct access to the frame's
local array: no check, and LLVM may promote the slot to a register. Every other access, in
checked mode, tests the address range in three steps, cheapest first:

1. the current frame (only when its address escaped): ``addr - lo <= 512 - size``;
2. the site's cache entry ``(start, end)``: the region this instruction hit last. Inside a
   loop the function keeps a copy of the entry (as ``start`` and ``end - size``) in locals
   that LLVM holds in registers: loaded on entry, reloaded after the slow path and after
   every call (a Python helper may move the packet and invalidate the caches), so a loop's
   check is two register compares (:meth:`.lower.FunctionLowerer.site_bounds`);
3. ``bpf_check`` (:mod:`.runtime_ir`): the region table, then the registered frames of the
   live call chain. A miss records the interpreter's fault and the function returns.

Unchecked mode (verified programs) uses the address as is.

**Atomics** are LLVM atomics (``atomicrmw``/``cmpxchg`` seq_cst, ``load atomic acquire``,
``store atomic release``) when the address is naturally aligned; the interpreter accepts
unaligned atomics, so an unaligned address takes a plain load/modify/store instead (one
thread runs a program, so the result is the same, and no split-lock bus fault can happen).
A ``cmpxchg`` on read-only memory faults only when the comparison succeeds, as in the
interpreter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir
from llvmlite.ir import instructions

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import SIZE_BYTES, AtomicOp, Size
from bpfvm.isa.spec import OpKind, OpSpec
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.cfg import STACK, static_stack
from bpfvm.vm.jit.runtime_ir import load_field, store_field

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer


@dataclass
class Access:
    """Where an access goes: the pointer, its known alignment, its address as an integer
    (None for frame accesses) and, for ``cmpxchg``, whether the memory is read-only."""

    ptr: ir.Value
    align: int
    addr: ir.Value | None = None
    readonly: ir.Value | None = None


def _align_of(offset: int) -> int:
    align = 16
    while align > 1 and offset % align:
        align //= 2
    return align


def access(
    fl: FunctionLowerer, pc: int, reg: int, off: int, size: int, mode: int = L.MODE_READ
) -> Access:
    """The checked address ``reg + off`` for an access of ``size`` bytes."""
    b, t = fl.b, fl.t
    known = fl.info.pre[pc][reg]
    if known is not None and known[0] == STACK and static_stack(known[1] + off, size, fl.frame):
        at = fl.frame + known[1] + off
        ptr = b.gep(fl.stack, [t.c64(at)], inbounds=True, source_etype=t.i8)
        return Access(ptr, _align_of(at))
    addr = b.add(fl.get(reg), t.c64(off))
    if not fl.ctx.options.checked:
        return Access(b.inttoptr(addr, t.ptr), 1, addr)
    return _checked(fl, pc, addr, size, mode)


def _checked(fl: FunctionLowerer, pc: int, addr: ir.Value, size: int, mode: int) -> Access:
    b, t = fl.b, fl.t
    site = fl.ctx.new_site()
    done = fl.fn.append_basic_block("access_ok")
    slow = fl.fn.append_basic_block("access_slow")
    entry = b.block
    if fl.stack_lo is not None and size <= L.STACK_SIZE:
        in_frame = b.icmp_unsigned("<=", b.sub(addr, fl.stack_lo), t.c64(L.STACK_SIZE - size))
        cached = fl.fn.append_basic_block("access_cache")
        b.cbranch(in_frame, done, cached)
        b.position_at_end(cached)
    local = fl.is_local_site(pc)
    lo, last = fl.site_bounds(pc, site, size)
    hit = b.and_(b.icmp_unsigned(">=", addr, lo), b.icmp_unsigned("<=", addr, last))
    cache_block = b.block
    b.cbranch(hit, done, slow)
    b.position_at_end(slow)
    args = [fl.state, addr, t.c64(size), t.c64(mode), t.c64(pc), t.c64(site), fl.depth]
    verdict = b.call(fl.ctx.rt.check, args)
    is_readonly = b.icmp_unsigned("==", verdict, ir.Constant(t.i32, 2))
    bad = fl.fn.append_basic_block("access_fault")
    passed = fl.fn.append_basic_block("access_checked") if local else done
    b.cbranch(b.icmp_unsigned("==", verdict, ir.Constant(t.i32, 0)), bad, passed)
    b.position_at_end(bad)
    b.ret(t.c64(0))
    if local:
        b.position_at_end(passed)
        fl.refill_site(site)
        b.branch(done)
    b.position_at_end(done)
    readonly = None
    if mode == L.MODE_CMPXCHG:
        readonly = b.phi(t.i1)
        no = ir.Constant(t.i1, 0)
        if entry is not cache_block:
            readonly.add_incoming(no, entry)
        readonly.add_incoming(no, cache_block)
        readonly.add_incoming(is_readonly, passed if local else slow)
    return Access(b.inttoptr(addr, t.ptr), 1, addr, readonly)


def _size(spec: OpSpec) -> int:
    assert spec.size is not None
    return SIZE_BYTES[spec.size]


# -- r11: stack arguments ----------------------------------------------------------------------


def _stack_arg(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    """``r11 + 8k`` reads incoming argument 5+k; ``r11 - 8k`` writes outgoing one (SPEC 2.1)."""
    b, t = fl.b, fl.t
    incoming = spec.kind is OpKind.LDX
    off = insn.off if incoming else -insn.off
    slot = off // 8 - 1
    if off % 8 or not 0 <= slot < L.MAX_STACK_ARGS:
        fl.fault(pc, f"invalid stack argument access at r11{insn.off:+d}")
        return
    area = fl.in_args if incoming else fl.out_args
    ptr = b.gep(area, [t.c64(slot)], inbounds=True, source_etype=t.i64)
    if incoming:
        fl.put(insn.dst, b.load(ptr, typ=t.i64))
    else:
        value = fl.get(insn.src) if spec.kind is OpKind.STX else t.c64(insn.imm)
        b.store(value, ptr)


# -- loads and stores ---------------------------------------------------------------------------


def lower_load(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    if is_stack_arg_access(insn, spec):
        _stack_arg(fl, pc, insn, spec)
        return
    size = _size(spec)
    where = access(fl, pc, insn.src, insn.off, size)
    value = fl.b.load(where.ptr, typ=fl.t.ity(8 * size), align=where.align)
    if spec.kind is OpKind.LDX_SX and size < 8:
        value = fl.b.sext(value, fl.t.i64)
    fl.put(insn.dst, value)


def lower_store(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    if is_stack_arg_access(insn, spec):
        _stack_arg(fl, pc, insn, spec)
        return
    size = _size(spec)
    value = fl.get(insn.src) if spec.kind is OpKind.STX else fl.const(insn.imm, 64)
    where = access(fl, pc, insn.dst, insn.off, size, L.MODE_WRITE)
    if size < 8:
        value = fl.b.trunc(value, fl.t.ity(8 * size))
    fl.b.store(value, where.ptr, align=where.align)


# -- atomics --------------------------------------------------------------------------------------

_RMW = {AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor"}
_PLAIN: dict[str, str] = {"add": "add", "or": "or_", "and": "and_", "xor": "xor"}


def _aligned_or_plain(
    fl: FunctionLowerer,
    where: Access,
    size: int,
    atomic: Callable[[], ir.Value | None],
    plain: Callable[[], ir.Value | None],
) -> ir.Value | None:
    """``atomic()`` on a naturally aligned address, else ``plain()``; their common result."""
    b, t = fl.b, fl.t
    if where.addr is None:  # a frame slot: alignment known statically
        return atomic() if where.align >= size else plain()
    aligned = b.icmp_unsigned("==", b.and_(where.addr, t.c64(size - 1)), t.c64(0))
    yes, no, join = (fl.fn.append_basic_block(n) for n in ("aligned", "unaligned", "atomic_done"))
    b.cbranch(aligned, yes, no)
    b.position_at_end(yes)
    got_yes = atomic()
    end_yes = b.block
    b.branch(join)
    b.position_at_end(no)
    got_no = plain()
    end_no = b.block
    b.branch(join)
    b.position_at_end(join)
    if got_yes is None or got_no is None:
        return None
    phi = b.phi(got_yes.type)
    phi.add_incoming(got_yes, end_yes)
    phi.add_incoming(got_no, end_no)
    return phi


def lower_atomic(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    op, size = insn.imm, _size(spec)
    if op == AtomicOp.LOAD_ACQ:
        _load_acquire(fl, pc, insn, size)
    elif op == AtomicOp.STORE_REL:
        _store_release(fl, pc, insn, size)
    elif op == AtomicOp.CMPXCHG:
        _cmpxchg(fl, pc, insn, size)
    else:
        base = op if op == AtomicOp.XCHG else op & ~1
        if (base != AtomicOp.XCHG and base not in _RMW) or spec.size not in (Size.W, Size.DW):
            fl.fault(pc, f"BPF_ATOMIC uses invalid atomic opcode {op & 0xFFFFFFFF:02x}")
            return
        _rmw(fl, pc, insn, size, base)


def _load_acquire(fl: FunctionLowerer, pc: int, insn: Insn, size: int) -> None:
    b, ty = fl.b, fl.t.ity(8 * size)
    where = access(fl, pc, insn.src, insn.off, size)
    value = _aligned_or_plain(
        fl, where, size,
        lambda: b.load_atomic(where.ptr, "acquire", size, typ=ty),
        lambda: b.load(where.ptr, typ=ty, align=1),
    )  # fmt: skip
    fl.put(insn.dst, value)


def _store_release(fl: FunctionLowerer, pc: int, insn: Insn, size: int) -> None:
    b, ty = fl.b, fl.t.ity(8 * size)
    value = fl.get(insn.src)
    where = access(fl, pc, insn.dst, insn.off, size, L.MODE_WRITE)
    narrow = value if size == 8 else b.trunc(value, ty)

    def atomic() -> None:  # built directly: llvmlite's store_atomic wants a typed pointer
        store = instructions.StoreAtomicInstr(b.block, narrow, where.ptr, "release", size)
        b._insert(store)

    def plain() -> None:
        b.store(narrow, where.ptr, align=1)

    _aligned_or_plain(fl, where, size, atomic, plain)


def _rmw(fl: FunctionLowerer, pc: int, insn: Insn, size: int, base: int) -> None:
    b, ty = fl.b, fl.t.ity(8 * size)
    value = fl.get(insn.src)
    where = access(fl, pc, insn.dst, insn.off, size, L.MODE_RMW)
    narrow = value if size == 8 else b.trunc(value, ty)
    name = "xchg" if base == AtomicOp.XCHG else _RMW[AtomicOp(base)]

    def plain() -> ir.Value:
        old = b.load(where.ptr, typ=ty, align=1)
        new = narrow if name == "xchg" else getattr(b, _PLAIN[name])(old, narrow)
        b.store(new, where.ptr, align=1)
        return old

    old = _aligned_or_plain(
        fl, where, size, lambda: b.atomic_rmw(name, where.ptr, narrow, "seq_cst"), plain
    )
    if insn.imm & 1:  # FETCH forms and XCHG: src = old value (zero-extended)
        fl.put(insn.src, old)


def _cmpxchg(fl: FunctionLowerer, pc: int, insn: Insn, size: int) -> None:
    b, t, ty = fl.b, fl.t, fl.t.ity(8 * size)
    new, expected = fl.get(insn.src), fl.get(0)
    where = access(fl, pc, insn.dst, insn.off, size, L.MODE_CMPXCHG)
    if size < 8:
        new, expected = b.trunc(new, ty), b.trunc(expected, ty)

    def plain() -> ir.Value:
        old = b.load(where.ptr, typ=ty, align=1)
        b.store(b.select(b.icmp_unsigned("==", old, expected), new, old), where.ptr, align=1)
        return old

    def atomic() -> ir.Value:
        pair = b.cmpxchg(where.ptr, expected, new, "seq_cst", "seq_cst")
        return b.extract_value(pair, 0)

    if where.readonly is not None:  # read-only memory: fault only if the store would happen
        ro, rw, join = (
            fl.fn.append_basic_block(n) for n in ("cmpxchg_ro", "cmpxchg_rw", "cmpxchg_done")
        )
        b.cbranch(where.readonly, ro, rw)
        b.position_at_end(ro)
        old_ro = b.load(where.ptr, typ=ty, align=1)
        stores = b.icmp_unsigned("==", old_ro, expected)
        fault, keep = (
            fl.fn.append_basic_block("cmpxchg_fault"),
            fl.fn.append_basic_block("cmpxchg_keep"),
        )
        b.cbranch(stores, fault, keep)
        b.position_at_end(fault)
        args = [fl.state, t.c64(L.FK_READONLY), t.c64(pc), where.addr, t.c64(size), t.c64(0)]
        b.call(fl.ctx.rt.fault, args)
        b.ret(t.c64(0))
        b.position_at_end(keep)
        b.branch(join)
        b.position_at_end(rw)
        old_rw = _aligned_or_plain(fl, where, size, atomic, plain)
        end_rw = b.block
        b.branch(join)
        b.position_at_end(join)
        old = b.phi(ty)
        old.add_incoming(old_ro, keep)
        old.add_incoming(old_rw, end_rw)
    else:
        old = _aligned_or_plain(fl, where, size, atomic, plain)
    fl.put(0, old)


# -- legacy packet loads -------------------------------------------------------------------------


def lower_ld_packet(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    """``LD_ABS``/``LD_IND``: a big-endian load from the socket buffer into r0; out of bounds
    ends the whole program with r0 = 0 (the kernel interpreter's behaviour)."""
    b, t, size = fl.b, fl.t, _size(spec)
    has = load_field(b, t, fl.state, "has_pkt")
    fl.guard(
        b.icmp_unsigned("!=", has, t.c64(0)),
        pc,
        "BPF_LD_[ABS|IND] needs a socket buffer (packet) context",
    )
    if spec.kind is OpKind.LD_ABS:
        off: ir.Value = t.c64(insn.imm)
    else:  # the offset is computed in 32 bits, then taken as signed
        low = b.trunc(b.add(fl.get(insn.src), t.c64(insn.imm)), t.i32)
        off = b.sext(low, t.i64)
    length = load_field(b, t, fl.state, "pkt_len")
    inside = b.and_(
        b.icmp_signed(">=", off, t.c64(0)),
        b.icmp_signed("<=", b.add(off, t.c64(size)), length),
    )
    good, out = fl.fn.append_basic_block("ld_ok"), fl.fn.append_basic_block("ld_out")
    b.cbranch(inside, good, out)
    b.position_at_end(out)
    store_field(b, t, fl.state, "retval", t.c64(0))
    store_field(b, t, fl.state, "status", t.c64(L.ST_EXITED))
    b.ret(t.c64(0))
    b.position_at_end(good)
    ptr = b.inttoptr(b.add(load_field(b, t, fl.state, "pkt_addr"), off), t.ptr)
    ty = t.ity(8 * size)
    value = b.load(ptr, typ=ty, align=1)
    if size > 1:
        value = b.call(fl.ctx.intrinsic(f"llvm.bswap.i{8 * size}", ty, [ty]), [value])
    fl.put(0, value)
