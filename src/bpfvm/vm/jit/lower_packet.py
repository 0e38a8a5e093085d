"""Packet helpers in native code: checksums, packet bytes and the XDP geometry helpers.

Each helper first checks, natively, that the fast path applies: the run's packet descriptor
(:mod:`.packet_desc`, right after the region table) describes a packet of the right kind, ``r1``
is its context, and every memory argument lies in one region of the run (writable when the
helper writes it) or in a live registered stack frame. Then it does what the Python helper
(:mod:`bpfvm.runtime.helpers.packet`) does, in the same order, with the same results. When
any of these checks fails nothing has been changed yet, so the call goes to the Python helper
instead, which gives the exact fault or result: unusual cases cost a round trip, never a
difference.

Helpers that move the packet (``bpf_xdp_adjust_head``/``meta``/``tail``) rewrite what the
Python ``sync()`` rewrites: the UAPI context's 32-bit pointers, the runtime context's 64-bit
ones, the window's row in the region table; they forget every site cache and mark the
descriptor dirty, so the engine publishes the new geometry to the Python packet state before
the next Python helper and after the run.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.runtime.packet import (
    ETH_HLEN,
    XDP_DATA_HARD_END,
    XDP_FRAME_SIZE,
    XDP_MD_DATA,
    XDP_MD_DATA_END,
    XDP_MD_DATA_META,
    XDP_METADATA_MAX,
)
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.packet_desc import DESC, PK_SKB, PK_XDP
from bpfvm.vm.jit.runtime_ir import Types, frame_ptr, load_field

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

M16, M32 = 0xFFFF, 0xFFFFFFFF
INT_MAX = (1 << 31) - 1
BPF_F_HDR_FIELD_MASK = 0xF
BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0, BPF_F_MARK_ENFORCE, BPF_F_IPV6 = 16, 32, 64, 128
BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH = 1, 2
CSUM_MANGLED_0 = 0xFFFF

# helper ids (include/uapi/linux/bpf.h)
SKB_STORE_BYTES, L3_CSUM_REPLACE, L4_CSUM_REPLACE, SKB_LOAD_BYTES = 9, 10, 11, 26
CSUM_DIFF, XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL = 28, 44, 54, 65
XDP_LOAD_BYTES, XDP_STORE_BYTES = 189, 190
MOVES_PACKET = frozenset([XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL])


def _neg(err: int) -> int:
    return -err & (1 << 64) - 1


class _Call:
    """One packet helper call site: the native path, the Python fallback, the join."""

    def __init__(self, fl: FunctionLowerer, fallback: Callable[[], None]) -> None:
        self.fl, self.b, self.t = fl, fl.b, fl.t
        self.fallback = fallback
        self.python = fl.fn.append_basic_block("pkt_python")
        self.done = fl.fn.append_basic_block("pkt_done")
        b, t = self.b, self.t
        tbl = b.inttoptr(load_field(b, t, fl.state, "regions"), t.ptr)
        at = b.mul(load_field(b, t, fl.state, "nregions"), t.c64(3))
        self.desc = b.gep(tbl, [at], source_etype=t.i64)

    # descriptor

    def slot(self, name: str) -> ir.Value:
        return self.b.gep(self.desc, [self.t.c64(DESC[name])], source_etype=self.t.i64)

    def word(self, name: str) -> ir.Value:
        return self.b.load(self.slot(name), typ=self.t.i64)

    def put_word(self, name: str, value: ir.Value) -> None:
        self.b.store(value, self.slot(name))

    # control flow

    def need(self, cond: ir.Value) -> None:
        """Go on natively only when ``cond`` holds; otherwise call the Python helper."""
        nxt = self.fl.fn.append_basic_block("pkt_ok")
        self.b.cbranch(cond, nxt, self.python)
        self.b.position_at_end(nxt)

    def need_packet(self, kind: int) -> None:
        b, t = self.b, self.t
        same_kind = b.icmp_unsigned("==", self.word("kind"), t.c64(kind))
        self.need(b.and_(same_kind, b.icmp_unsigned("==", self.fl.get(1), self.word("ctx"))))

    def need_memory(self, addr: ir.Value, size: ir.Value, write: bool) -> None:
        fl, t = self.fl, self.t
        probe = _probe(fl.ctx.rt.module, t)
        flag = ir.Constant(t.i1, int(write))
        self.need(self.b.call(probe, [fl.state, addr, size, flag, fl.depth]))

    def fail_if(self, cond: ir.Value, r0: int) -> None:
        """Return ``r0`` (the helper's error) when ``cond`` holds."""
        bad = self.fl.fn.append_basic_block("pkt_err")
        nxt = self.fl.fn.append_basic_block("pkt_go")
        self.b.cbranch(cond, bad, nxt)
        self.b.position_at_end(bad)
        self.fl.put(0, self.t.c64(r0))
        self.b.branch(self.done)
        self.b.position_at_end(nxt)

    def finish(self, r0: ir.Value, moved: bool = False) -> None:
        b = self.b
        self.fl.put(0, r0)
        b.branch(self.done)
        b.position_at_end(self.python)
        self.fallback()
        b.branch(self.done)
        b.position_at_end(self.done)
        if moved:  # reload the function's local copies of the site caches
            self.fl.bail_if_stopped()

    # memory

    def pointer(self, addr: ir.Value) -> ir.Value:
        return self.b.inttoptr(addr, self.t.ptr)

    def packet_addr(self, off: ir.Value) -> ir.Value:
        """The address of byte ``off`` of the packet data."""
        b = self.b
        return b.add(b.add(self.word("base"), self.word("data")), off)

    def copy(self, dst: ir.Value, src: ir.Value, size: ir.Value) -> None:
        t = self.t
        fn = self.fl.ctx.intrinsic("llvm.memmove.p0.p0.i64", t.void, [t.ptr, t.ptr, t.i64, t.i1])
        self.b.call(fn, [self.pointer(dst), self.pointer(src), size, ir.Constant(t.i1, 0)])

    def fill(self, dst: ir.Value, byte: int, size: ir.Value) -> None:
        t = self.t
        fn = self.fl.ctx.intrinsic("llvm.memset.p0.i64", t.void, [t.ptr, t.i8, t.i64, t.i1])
        b = self.b
        b.call(fn, [self.pointer(dst), ir.Constant(t.i8, byte), size, ir.Constant(t.i1, 0)])

    def zero(self, dst: ir.Value, size: ir.Value) -> None:
        self.fill(dst, 0, size)

    def load16(self, addr: ir.Value) -> ir.Value:
        return self.b.zext(self.b.load(self.pointer(addr), typ=self.t.i16, align=1), self.t.i64)

    def store16(self, addr: ir.Value, value: ir.Value) -> None:
        self.b.store(self.b.trunc(value, self.t.i16), self.pointer(addr), align=1)

    def store32(self, addr: ir.Value, value: ir.Value) -> None:
        self.b.store(self.b.trunc(value, self.t.i32), self.pointer(addr), align=1)

    def store64(self, addr: ir.Value, value: ir.Value) -> None:
        self.b.store(value, self.pointer(addr), align=1)


def lower_packet(
    fl: FunctionLowerer, pc: int, helper_id: int, fallback: Callable[[], None]
) -> None:
    """Lower the call of packet helper ``helper_id`` (``fallback`` lowers the Python call)."""
    call = _Call(fl, fallback)
    lowerers: dict[int, Callable[[_Call], ir.Value]] = {
        CSUM_DIFF: _csum_diff,
        L3_CSUM_REPLACE: _l3_csum_replace,
        L4_CSUM_REPLACE: _l4_csum_replace,
        SKB_LOAD_BYTES: _skb_load_bytes,
        SKB_STORE_BYTES: _skb_store_bytes,
        XDP_LOAD_BYTES: lambda c: _xdp_bytes(c, store=False),
        XDP_STORE_BYTES: lambda c: _xdp_bytes(c, store=True),
        XDP_ADJUST_HEAD: _xdp_adjust_head,
        XDP_ADJUST_TAIL: _xdp_adjust_tail,
        XDP_ADJUST_META: _xdp_adjust_meta,
    }
    r0 = lowerers[helper_id](call)
    call.finish(r0, helper_id in MOVES_PACKET)


# --- the memory probe --------------------------------------------------------------------------


def _probe(module: ir.Module, t: Types) -> ir.Function:
    """``i1 bpf_pkt_probe(state, addr, size, write, depth)``: the helpers' memory check
    (:meth:`~bpfvm.vm.jit.native.JitAddressSpace.find`) without a fault: a zero size always
    passes; else the last region holding ``[addr, addr + size)`` decides (writable when
    ``write``), then the live registered frames."""
    found = module.globals.get("bpf_pkt_probe")
    if isinstance(found, ir.Function):
        return found
    fnty = ir.FunctionType(t.i1, [t.ptr, t.i64, t.i64, t.i1, t.i64])
    fn = ir.Function(module, fnty, "bpf_pkt_probe")
    fn.linkage = "internal"
    st, addr, size, write, depth = fn.args
    names = ("entry", "head", "body", "hit", "frames", "fhead", "fbody", "yes", "no")
    entry, head, body, hit, frames, fhead, fbody, yes, no = map(fn.append_basic_block, names)
    b = ir.IRBuilder(entry)
    n = load_field(b, t, st, "nregions")
    tbl = b.inttoptr(load_field(b, t, st, "regions"), t.ptr)
    b.cbranch(b.icmp_unsigned("==", size, t.c64(0)), yes, head)
    b.position_at_end(head)
    i = b.phi(t.i64)
    i.add_incoming(n, entry)
    b.cbranch(b.icmp_unsigned("==", i, t.c64(0)), frames, body)
    b.position_at_end(body)
    j = b.sub(i, t.c64(1))
    i.add_incoming(j, body)
    row = b.mul(j, t.c64(3))
    lo = b.load(b.gep(tbl, [row], source_etype=t.i64), typ=t.i64)
    hi = b.load(b.gep(tbl, [b.add(row, t.c64(1))], source_etype=t.i64), typ=t.i64)
    inside = b.and_(
        b.and_(b.icmp_unsigned(">=", addr, lo), b.icmp_unsigned(">=", hi, size)),
        b.icmp_unsigned("<=", addr, b.sub(hi, size)),
    )
    b.cbranch(inside, hit, head)
    b.position_at_end(hit)
    flags = b.load(b.gep(tbl, [b.add(row, t.c64(2))], source_etype=t.i64), typ=t.i64)
    writable = b.icmp_unsigned("!=", b.and_(flags, t.c64(L.RF_WRITABLE)), t.c64(0))
    b.ret(b.or_(b.not_(write), writable))
    b.position_at_end(frames)
    b.branch(fhead)
    b.position_at_end(fhead)
    d = b.phi(t.i64)
    d.add_incoming(t.c64(0), frames)
    last = b.select(b.icmp_unsigned("<", depth, t.c64(L.MAX_CALL_FRAMES - 1)), depth,
                    t.c64(L.MAX_CALL_FRAMES - 1))  # fmt: skip
    b.cbranch(b.icmp_unsigned(">", d, last), no, fbody)
    b.position_at_end(fbody)
    flo = b.load(frame_ptr(b, t, st, d), typ=t.i64)
    fok = b.and_(
        b.and_(
            b.icmp_unsigned("!=", flo, t.c64(0)),
            b.icmp_unsigned("<=", size, t.c64(L.STACK_SIZE)),
        ),
        b.and_(
            b.icmp_unsigned(">=", addr, flo),
            b.icmp_unsigned("<=", addr, b.sub(b.add(flo, t.c64(L.STACK_SIZE)), size)),
        ),
    )
    d.add_incoming(b.add(d, t.c64(1)), fbody)
    b.cbranch(fok, yes, fhead)
    b.position_at_end(yes)
    b.ret(ir.Constant(t.i1, 1))
    b.position_at_end(no)
    b.ret(ir.Constant(t.i1, 0))
    return fn


# --- ones'-complement arithmetic ----------------------------------------------------------------


def _csum_add(b: ir.IRBuilder, t: Types, csum: ir.Value, addend: ir.Value) -> ir.Value:
    res = b.and_(b.add(csum, addend), t.c64(M32))
    return b.and_(b.add(res, b.zext(b.icmp_unsigned("<", res, addend), t.i64)), t.c64(M32))


def _not(b: ir.IRBuilder, t: Types, value: ir.Value, mask: int) -> ir.Value:
    return b.xor(b.and_(value, t.c64(mask)), t.c64(mask))


def _csum_sub(b: ir.IRBuilder, t: Types, csum: ir.Value, addend: ir.Value) -> ir.Value:
    return _csum_add(b, t, csum, _not(b, t, addend, M32))


def _csum_fold(b: ir.IRBuilder, t: Types, csum: ir.Value) -> ir.Value:
    f = b.add(b.and_(csum, t.c64(M16)), b.lshr(csum, t.c64(16)))
    f = b.add(b.and_(f, t.c64(M16)), b.lshr(f, t.c64(16)))
    return _not(b, t, f, M16)


def _csum16_add(b: ir.IRBuilder, t: Types, csum: ir.Value, addend: ir.Value) -> ir.Value:
    res = b.and_(b.add(csum, addend), t.c64(M16))
    return b.and_(b.add(res, b.zext(b.icmp_unsigned("<", res, addend), t.i64)), t.c64(M16))


def _replace(
    b: ir.IRBuilder, t: Types, check: ir.Value, frm: ir.Value, to: ir.Value, size: ir.Value
) -> tuple[ir.Value, ir.Value]:
    """(the new checksum for a field of ``size`` bytes, whether the size and ``frm`` are
    valid): size 0 means ``to`` is a diff and ``frm`` must be 0."""
    by_diff = _csum_fold(b, t, _csum_add(b, t, b.and_(to, t.c64(M32)), _not(b, t, check, M32)))
    inner = _csum16_add(b, t, _not(b, t, check, M16), _not(b, t, frm, M16))
    two = _not(b, t, _csum16_add(b, t, inner, b.and_(to, t.c64(M16))), M16)
    sub = _csum_sub(b, t, _not(b, t, check, M32), b.and_(frm, t.c64(M32)))
    four = _csum_fold(b, t, _csum_add(b, t, sub, b.and_(to, t.c64(M32))))
    is0 = b.icmp_unsigned("==", size, t.c64(0))
    is2 = b.icmp_unsigned("==", size, t.c64(2))
    is4 = b.icmp_unsigned("==", size, t.c64(4))
    new = b.select(is0, by_diff, b.select(is2, two, four))
    valid = b.or_(b.and_(is0, b.icmp_unsigned("==", frm, t.c64(0))), b.or_(is2, is4))
    return new, valid


def _csum_partial(module: ir.Module, t: Types) -> ir.Function:
    """``i64 bpf_csum_partial(ptr, size, seed)``: x86-64 ``csum_partial``, the ones'-complement
    sum of the little-endian 32-bit words of the zero-padded buffer and ``seed``, 0 only for
    a zero total, else in ``[1, 2**32 - 1]``."""
    found = module.globals.get("bpf_csum_partial")
    if isinstance(found, ir.Function):
        return found
    fn = ir.Function(module, ir.FunctionType(t.i64, [t.ptr, t.i64, t.i64]), "bpf_csum_partial")
    fn.linkage = "internal"
    p, size, seed = fn.args
    entry, head, body, tail, thead, tbody, out = map(
        fn.append_basic_block, ("entry", "head", "body", "tail", "thead", "tbody", "out")
    )
    b = ir.IRBuilder(entry)
    words = b.lshr(size, t.c64(2))
    b.branch(head)
    b.position_at_end(head)
    i, total = b.phi(t.i64), b.phi(t.i64)
    i.add_incoming(t.c64(0), entry)
    total.add_incoming(seed, entry)
    b.cbranch(b.icmp_unsigned("<", i, words), body, tail)
    b.position_at_end(body)
    at = b.gep(p, [b.mul(i, t.c64(4))], source_etype=t.i8)
    word = b.zext(b.load(at, typ=t.i32, align=1), t.i64)
    i.add_incoming(b.add(i, t.c64(1)), body)
    total.add_incoming(b.add(total, word), body)
    b.branch(head)
    b.position_at_end(tail)  # the last 1..3 bytes, zero-padded
    rest = b.sub(size, b.mul(words, t.c64(4)))
    b.branch(thead)
    b.position_at_end(thead)
    k, last = b.phi(t.i64), b.phi(t.i64)
    k.add_incoming(t.c64(0), tail)
    last.add_incoming(t.c64(0), tail)
    b.cbranch(b.icmp_unsigned("<", k, rest), tbody, out)
    b.position_at_end(tbody)
    byte_at = b.gep(p, [b.add(b.mul(words, t.c64(4)), k)], source_etype=t.i8)
    byte = b.zext(b.load(byte_at, typ=t.i8), t.i64)
    k.add_incoming(b.add(k, t.c64(1)), tbody)
    last.add_incoming(b.or_(last, b.shl(byte, b.mul(k, t.c64(8)))), tbody)
    b.branch(thead)
    b.position_at_end(out)
    full = b.add(total, last)
    folded = b.add(b.urem(b.sub(full, t.c64(1)), t.c64(M32)), t.c64(1))
    b.ret(b.select(b.icmp_unsigned("==", full, t.c64(0)), t.c64(0), folded))
    return fn


# --- checksums ---------------------------------------------------------------------------------


def _csum_diff(c: _Call) -> ir.Value:
    """``bpf_csum_diff(from, from_size, to, to_size, seed)``."""
    fl, b, t = c.fl, c.b, c.t
    frm, to = fl.get(1), fl.get(3)
    frm_size = b.and_(fl.get(2), t.c64(M32))
    to_size = b.and_(fl.get(4), t.c64(M32))
    seed = b.and_(fl.get(5), t.c64(M32))
    c.need_memory(frm, frm_size, write=False)
    c.need_memory(to, to_size, write=False)
    partial = _csum_partial(fl.ctx.rt.module, t)
    has_old = b.icmp_unsigned("!=", frm_size, t.c64(0))
    has_new = b.icmp_unsigned("!=", to_size, t.c64(0))
    # computed for every case; an empty buffer reads nothing
    new_sum = b.call(partial, [c.pointer(to), to_size, seed])
    old_sum = b.call(partial, [c.pointer(frm), frm_size, t.c64(0)])
    diff = _csum_sub(b, t, new_sum, old_sum)
    pulled = _not(b, t, b.call(partial, [c.pointer(frm), frm_size, _not(b, t, seed, M32)]), M32)
    result = b.select(has_old, b.select(has_new, diff, pulled), b.select(has_new, new_sum, seed))
    rotated = b.or_(b.lshr(result, t.c64(16)), b.and_(b.shl(result, t.c64(16)), t.c64(M32)))
    return b.lshr(b.and_(b.add(result, rotated), t.c64(M32)), t.c64(16))


def _csum_field(c: _Call) -> tuple[ir.Value, ir.Value]:
    """(offset, address) of the checksum field the l3/l4 helpers rewrite; -EFAULT unless it
    is an even offset up to 0xffff inside the packet."""
    b, t = c.b, c.t
    offset = b.and_(c.fl.get(2), t.c64(M32))
    length = b.sub(c.word("data_end"), c.word("data"))
    bad = b.or_(
        b.or_(
            b.icmp_unsigned(">", offset, t.c64(M16)),
            b.icmp_unsigned("!=", b.and_(offset, t.c64(1)), t.c64(0)),
        ),
        b.icmp_unsigned(">", b.add(offset, t.c64(2)), length),
    )
    c.fail_if(bad, _neg(errno.EFAULT))
    return offset, c.packet_addr(offset)


def _l3_csum_replace(c: _Call) -> ir.Value:
    fl, b, t = c.fl, c.b, c.t
    c.need_packet(PK_SKB)
    flags = fl.get(5)
    c.fail_if(b.icmp_unsigned("!=", b.and_(flags, t.c64(~BPF_F_HDR_FIELD_MASK)), t.c64(0)),
              _neg(errno.EINVAL))  # fmt: skip
    _, addr = _csum_field(c)
    check = c.load16(addr)
    size = b.and_(flags, t.c64(BPF_F_HDR_FIELD_MASK))
    new, valid = _replace(b, t, check, fl.get(3), fl.get(4), size)
    c.fail_if(b.not_(valid), _neg(errno.EINVAL))
    c.store16(addr, new)
    return t.c64(0)


def _l4_csum_replace(c: _Call) -> ir.Value:
    fl, b, t = c.fl, c.b, c.t
    c.need_packet(PK_SKB)
    flags = fl.get(5)
    allowed = (BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_IPV6
               | BPF_F_HDR_FIELD_MASK)  # fmt: skip
    c.fail_if(b.icmp_unsigned("!=", b.and_(flags, t.c64(~allowed)), t.c64(0)),
              _neg(errno.EINVAL))  # fmt: skip
    _, addr = _csum_field(c)
    check = c.load16(addr)
    mangled_0 = b.icmp_unsigned("!=", b.and_(flags, t.c64(BPF_F_MARK_MANGLED_0)), t.c64(0))
    enforce = b.icmp_unsigned("!=", b.and_(flags, t.c64(BPF_F_MARK_ENFORCE)), t.c64(0))
    keep_zero = b.and_(b.and_(mangled_0, b.not_(enforce)),
                       b.icmp_unsigned("==", check, t.c64(0)))  # fmt: skip
    c.fail_if(keep_zero, 0)  # a zero UDP checksum means "no checksum": leave it
    size = b.and_(flags, t.c64(BPF_F_HDR_FIELD_MASK))
    new, valid = _replace(b, t, check, fl.get(3), fl.get(4), size)
    c.fail_if(b.not_(valid), _neg(errno.EINVAL))
    is_zero = b.icmp_unsigned("==", new, t.c64(0))
    c.store16(addr, b.select(b.and_(mangled_0, is_zero), t.c64(CSUM_MANGLED_0), new))
    return t.c64(0)


# --- bytes -------------------------------------------------------------------------------------


def _skb_load_bytes(c: _Call) -> ir.Value:
    """``bpf_skb_load_bytes(skb, offset, to, len)``: a bad offset zeroes ``to``."""
    fl, b, t = c.fl, c.b, c.t
    c.need_packet(PK_SKB)
    offset, to = b.and_(fl.get(2), t.c64(M32)), fl.get(3)
    size = b.and_(fl.get(4), t.c64(M32))
    c.need_memory(to, size, write=True)
    length = b.sub(c.word("data_end"), c.word("data"))
    bad = b.or_(
        b.icmp_unsigned(">", offset, t.c64(INT_MAX)),
        b.icmp_unsigned(">", b.add(offset, size), length),
    )
    fault, good = fl.fn.append_basic_block("pkt_zero"), fl.fn.append_basic_block("pkt_copy")
    b.cbranch(bad, fault, good)
    b.position_at_end(fault)
    c.zero(to, size)
    fl.put(0, t.c64(_neg(errno.EFAULT)))
    b.branch(c.done)
    b.position_at_end(good)
    c.copy(to, c.packet_addr(offset), size)
    return t.c64(0)


def _skb_store_bytes(c: _Call) -> ir.Value:
    """``bpf_skb_store_bytes(skb, offset, from, len, flags)``; ``BPF_F_INVALIDATE_HASH``
    clears the Python-side hash state, so that flag takes the Python helper."""
    fl, b, t = c.fl, c.b, c.t
    c.need_packet(PK_SKB)
    offset, src = b.and_(fl.get(2), t.c64(M32)), fl.get(3)
    size, flags = b.and_(fl.get(4), t.c64(M32)), fl.get(5)
    c.fail_if(b.icmp_unsigned("!=", b.and_(flags, t.c64(~(BPF_F_RECOMPUTE_CSUM |
                                                         BPF_F_INVALIDATE_HASH))), t.c64(0)),
              _neg(errno.EINVAL))  # fmt: skip
    length = b.sub(c.word("data_end"), c.word("data"))
    bad = b.or_(
        b.icmp_unsigned(">", offset, t.c64(INT_MAX)),
        b.icmp_unsigned(">", b.add(offset, size), length),
    )
    c.fail_if(bad, _neg(errno.EFAULT))
    c.need(b.icmp_unsigned("==", b.and_(flags, t.c64(BPF_F_INVALIDATE_HASH)), t.c64(0)))
    c.need_memory(src, size, write=False)
    c.copy(c.packet_addr(offset), src, size)
    return t.c64(0)


def _xdp_bytes(c: _Call, store: bool) -> ir.Value:
    """``bpf_xdp_load_bytes``/``bpf_xdp_store_bytes(xdp, offset, buf, len)`` on a linear
    buffer (``bpf_xdp_pointer``'s checks)."""
    fl, b, t = c.fl, c.b, c.t
    c.need_packet(PK_XDP)
    offset, buf = b.and_(fl.get(2), t.c64(M32)), fl.get(3)
    size = b.and_(fl.get(4), t.c64(M32))
    too_big = b.or_(b.icmp_unsigned(">", offset, t.c64(M16)),
                    b.icmp_unsigned(">", size, t.c64(M16)))  # fmt: skip
    c.fail_if(too_big, _neg(errno.EFAULT))
    length = b.sub(c.word("data_end"), c.word("data"))
    c.fail_if(b.icmp_unsigned(">", b.add(offset, size), length), _neg(errno.EINVAL))
    c.need_memory(buf, size, write=not store)
    at = c.packet_addr(offset)
    if store:
        c.copy(at, buf, size)
    else:
        c.copy(buf, at, size)
    return t.c64(0)


# --- XDP geometry ------------------------------------------------------------------------------


def _sync_xdp(c: _Call, data: ir.Value, data_end: ir.Value, meta: ir.Value) -> None:
    """``XdpPacket.sync()`` natively: descriptor, context pointers, the window's row; every
    site cache forgotten; the descriptor marked dirty."""
    fl, b, t = c.fl, c.b, c.t
    for name, value in (("data", data), ("data_end", data_end), ("data_meta", meta)):
        c.put_word(name, value)
    base, ctx = c.word("base"), c.word("ctx")
    pointers = ((XDP_MD_DATA, "rt_data", data), (XDP_MD_DATA_END, "rt_data_end", data_end),
                (XDP_MD_DATA_META, "rt_data_meta", meta))  # fmt: skip
    for uapi_off, _, value in pointers:
        c.store32(b.add(ctx, t.c64(uapi_off)), b.add(base, value))
    runtime, rest = fl.fn.append_basic_block("pkt_rt"), fl.fn.append_basic_block("pkt_rows")
    b.cbranch(b.icmp_unsigned("!=", c.word("runtime"), t.c64(0)), runtime, rest)
    b.position_at_end(runtime)
    for _, rt_name, value in pointers:
        c.store64(b.add(ctx, c.word(rt_name)), b.add(base, value))
    b.branch(rest)
    b.position_at_end(rest)
    tbl = b.inttoptr(load_field(b, t, fl.state, "regions"), t.ptr)
    row = b.mul(c.word("window"), t.c64(3))
    b.store(b.add(base, meta), b.gep(tbl, [row], source_etype=t.i64))
    b.store(b.add(base, data_end), b.gep(tbl, [b.add(row, t.c64(1))], source_etype=t.i64))
    cache = load_field(b, t, fl.state, "site_cache")
    c.fill(cache, L.EMPTY_CACHE, b.mul(c.word("nsites"), t.c64(16)))
    c.put_word("dirty", t.c64(1))


def _s32(c: _Call, reg: int) -> ir.Value:
    b, t = c.b, c.t
    return b.sext(b.trunc(c.fl.get(reg), t.i32), t.i64)


def _xdp_adjust_head(c: _Call) -> ir.Value:
    b, t = c.b, c.t
    c.need_packet(PK_XDP)
    delta = _s32(c, 2)
    data, data_end, meta = c.word("data"), c.word("data_end"), c.word("data_meta")
    metalen = b.sub(data, meta)
    new = b.add(data, delta)  # signed compares: offsets are small, delta may be negative
    bad = b.or_(
        b.icmp_signed("<", new, b.add(t.c64(XDP_FRAME_SIZE), metalen)),
        b.icmp_signed(">", new, b.sub(data_end, t.c64(ETH_HLEN))),
    )
    c.fail_if(bad, _neg(errno.EINVAL))
    base = c.word("base")
    new_meta = b.add(meta, delta)
    c.copy(b.add(base, new_meta), b.add(base, meta), metalen)
    _sync_xdp(c, new, data_end, new_meta)
    return t.c64(0)


def _xdp_adjust_tail(c: _Call) -> ir.Value:
    b, t = c.b, c.t
    c.need_packet(PK_XDP)
    delta = _s32(c, 2)
    data, data_end, meta = c.word("data"), c.word("data_end"), c.word("data_meta")
    new_end = b.add(data_end, delta)
    bad = b.or_(
        b.icmp_signed(">", new_end, t.c64(XDP_DATA_HARD_END)),
        b.icmp_signed("<", new_end, b.add(data, t.c64(ETH_HLEN))),
    )
    c.fail_if(bad, _neg(errno.EINVAL))
    grow = b.icmp_signed(">", delta, t.c64(0))
    c.zero(b.add(c.word("base"), data_end), b.select(grow, delta, t.c64(0)))
    _sync_xdp(c, data, new_end, meta)
    return t.c64(0)


def _xdp_adjust_meta(c: _Call) -> ir.Value:
    b, t = c.b, c.t
    c.need_packet(PK_XDP)
    delta = _s32(c, 2)
    data, data_end, meta = c.word("data"), c.word("data_end"), c.word("data_meta")
    new_meta = b.add(meta, delta)
    bad = b.or_(
        b.icmp_signed("<", new_meta, t.c64(XDP_FRAME_SIZE)),
        b.icmp_signed(">", new_meta, data),
    )
    c.fail_if(bad, _neg(errno.EINVAL))
    metalen = b.sub(data, new_meta)
    bad_len = b.or_(
        b.icmp_unsigned("!=", b.and_(metalen, t.c64(3)), t.c64(0)),
        b.icmp_unsigned(">", metalen, t.c64(XDP_METADATA_MAX)),
    )
    c.fail_if(bad_len, _neg(errno.EACCES))
    _sync_xdp(c, data, data_end, new_meta)
    return t.c64(0)
