"""Inline ``bpf_ringbuf_reserve``, ``bpf_ringbuf_submit`` and ``bpf_ringbuf_discard``.

The native code works on a ring buffer map's own storage (:mod:`bpfvm.runtime.maps.ringbuf`):
the data area (``data_addr``, twice the ring size) and the positions in the handle (``aux0``
consumer, ``aux1`` producer, ``aux2`` pending, ``aux3`` mask, offset 80 the wakeup count), which
are the only copy, so the Python consumer reads exactly the records a Python helper would have
written (``kernel/bpf/ringbuf.c``):

* **reserve** (``__bpf_ringbuf_reserve``): flags other than 0, a sample larger than
  ``RINGBUF_MAX_RECORD_SZ`` or a record larger than the ring give NULL; the pending position
  skips the records committed since; a record that would take the producer more than
  ``size - 1`` bytes ahead of the consumer or of the oldest busy record gives NULL; else the
  header (``len | BUSY``, ``pg_off``) is written at ``producer_pos & mask`` and the producer
  advances.
* **submit/discard** (``bpf_ringbuf_commit``): the map is the ring buffer whose data holds the
  sample (searched over the run's maps); the part of a record past the end of the ring is
  copied to its start; the header's busy bit is cleared (and the discard bit set); a wakeup is
  counted for ``BPF_RB_FORCE_WAKEUP``, or when the record is the consumer's next and
  ``BPF_RB_NO_WAKEUP`` is not set.

What the native code cannot answer goes to the Python helper, which raises the same error it
always does: a reserve on a map that is no ring buffer, a commit of an address that is no
busy record of a ring buffer of the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps.base import (
    OFF_AUX0,
    OFF_AUX1,
    OFF_AUX2,
    OFF_AUX3,
    OFF_DATA_ADDR,
    OFF_RINGBUF_WAKEUPS,
    PAGE_SIZE,
)
from bpfvm.runtime.maps.ringbuf import (
    BPF_RB_FORCE_WAKEUP,
    BPF_RB_NO_WAKEUP,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    BPF_RINGBUF_HDR_SZ,
    RINGBUF_MAX_RECORD_SZ,
    RINGBUF_PGOFF,
    RINGBUF_POS_PAGES,
)
from bpfvm.vm.jit.runtime_ir import load_field, store_field, table_ptr

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

OFF_MAP_TYPE = 0
M32 = 0xFFFFFFFF


class _Ring:
    """The handle words of the ring buffer whose handle address is ``handle``."""

    def __init__(self, fl: FunctionLowerer, handle: ir.Value) -> None:
        self.fl, self.b, self.t = fl, fl.b, fl.t
        self.handle = handle
        self.data = self.load(OFF_DATA_ADDR)
        self.mask = self.load(OFF_AUX3)

    def ptr(self, off: int) -> ir.Value:
        return self.b.inttoptr(self.b.add(self.handle, self.t.c64(off)), self.t.ptr)

    def load(self, off: int) -> ir.Value:
        return self.b.load(self.ptr(off), typ=self.t.i64, align=8)

    def store(self, off: int, value: ir.Value) -> None:
        self.b.store(value, self.ptr(off), align=8)

    def hdr_ptr(self, off: ir.Value) -> ir.Value:
        """The header at byte ``off`` of the data area."""
        return self.b.inttoptr(self.b.add(self.data, off), self.t.ptr)


def _round8(b: ir.IRBuilder, t: ir.IntType, value: ir.Value) -> ir.Value:
    return b.and_(b.add(value, ir.Constant(t, 7)), ir.Constant(t, ~7 & (1 << 64) - 1))


def _python_helper(fl: FunctionLowerer, pc: int, helper_id: int) -> ir.Value:
    """The registry's helper through ``helper_cb``; its r0."""
    b, t = fl.b, fl.t
    store_field(b, t, fl.state, "depth", fl.depth)
    cb = b.inttoptr(load_field(b, t, fl.state, "helper_cb"), t.helper_cb.as_pointer())
    args = [fl.get(r) for r in range(1, 6)]
    r0 = b.call(cb, [fl.state, t.c64(helper_id), t.c64(pc), *args])
    fl.bail_if_stopped()
    return r0


def _is_ringbuf(fl: FunctionLowerer, handle: ir.Value) -> ir.Value:
    b, t = fl.b, fl.t
    ptr = b.inttoptr(b.add(handle, t.c64(OFF_MAP_TYPE)), t.ptr)
    kind = b.load(ptr, typ=t.i32, align=4)
    return b.icmp_unsigned("==", kind, ir.Constant(t.i32, MapType.RINGBUF))


def ringbuf_reserve(fl: FunctionLowerer, pc: int, helper_id: int) -> None:
    """``r0 = bpf_ringbuf_reserve(r1, r2, r3)``, r1 a map known at this call."""
    b, t = fl.b, fl.t
    handle, size, flags = fl.get(1), fl.get(2), fl.get(3)
    result = fl.entry_alloca(t.i64, "rb_reserve_result")
    names = ("native", "python", "checked", "scan", "scan_body", "scan_next", "place", "put",
             "done")  # fmt: skip
    native, python, checked, scan, scan_body, scan_next, place, put, done = (
        fl.fn.append_basic_block(f"rb_reserve_{n}") for n in names
    )
    b.cbranch(_is_ringbuf(fl, handle), native, python)
    b.position_at_end(python)
    b.store(_python_helper(fl, pc, helper_id), result)
    b.branch(done)

    b.position_at_end(native)
    rb = _Ring(fl, handle)
    ring_size = b.add(rb.mask, t.c64(1))
    length = _round8(b, t.i64, b.add(size, t.c64(BPF_RINGBUF_HDR_SZ)))
    b.store(t.c64(0), result)
    bad = b.or_(
        b.icmp_unsigned("!=", flags, t.c64(0)),
        b.icmp_unsigned(">", size, t.c64(RINGBUF_MAX_RECORD_SZ)),
    )
    bad = b.or_(bad, b.icmp_unsigned(">", length, ring_size))
    b.cbranch(bad, done, checked)

    b.position_at_end(checked)
    prod = rb.load(OFF_AUX1)
    start = rb.load(OFF_AUX2)
    b.branch(scan)
    b.position_at_end(scan)  # skip the records committed since the last reserve
    pend = b.phi(t.i64)
    pend.add_incoming(start, checked)
    b.cbranch(b.icmp_unsigned("<", pend, prod), scan_body, place)
    b.position_at_end(scan_body)
    hdr_len = b.load(rb.hdr_ptr(b.and_(pend, rb.mask)), typ=t.i32, align=4)
    busy = b.icmp_unsigned("!=", b.and_(hdr_len, ir.Constant(t.i32, BPF_RINGBUF_BUSY_BIT)),
                           ir.Constant(t.i32, 0))  # fmt: skip
    b.cbranch(busy, place, scan_next)
    b.position_at_end(scan_next)
    rec = b.zext(b.and_(hdr_len, ir.Constant(t.i32, ~BPF_RINGBUF_DISCARD_BIT & M32)), t.i64)
    pend.add_incoming(
        b.add(pend, _round8(b, t.i64, b.add(rec, t.c64(BPF_RINGBUF_HDR_SZ)))), scan_next
    )
    b.branch(scan)

    b.position_at_end(place)
    pend_end = b.phi(t.i64)
    pend_end.add_incoming(pend, scan)
    pend_end.add_incoming(pend, scan_body)
    rb.store(OFF_AUX2, pend_end)
    new_prod = b.add(prod, length)
    full = b.or_(
        b.icmp_unsigned(">", b.sub(new_prod, rb.load(OFF_AUX0)), rb.mask),
        b.icmp_unsigned(">", b.sub(new_prod, pend_end), rb.mask),
    )
    b.cbranch(full, done, put)

    b.position_at_end(put)
    off = b.and_(prod, rb.mask)
    pg_off = b.add(b.udiv(off, t.c64(PAGE_SIZE)), t.c64(RINGBUF_PGOFF + RINGBUF_POS_PAGES))
    hdr = b.or_(b.and_(size, t.c64(M32)), t.c64(BPF_RINGBUF_BUSY_BIT))
    hdr = b.or_(hdr, b.shl(pg_off, t.c64(32)))
    b.store(hdr, rb.hdr_ptr(off), align=8)
    rb.store(OFF_AUX1, new_prod)
    b.store(b.add(rb.data, b.add(off, t.c64(BPF_RINGBUF_HDR_SZ))), result)
    b.branch(done)
    b.position_at_end(done)
    fl.put(0, b.load(result, typ=t.i64))


def ringbuf_commit(fl: FunctionLowerer, pc: int, helper_id: int, discard: bool) -> None:
    """``bpf_ringbuf_submit(r1, r2)`` / ``bpf_ringbuf_discard(r1, r2)``: r0 = 0."""
    b, t = fl.b, fl.t
    sample, flags = fl.get(1), fl.get(2)
    nmaps = len(fl.ctx.maps)
    names = ("head", "body", "kind", "range", "record", "busy", "fold", "commit", "wake",
             "python", "done")  # fmt: skip
    head, body, kind, in_range, record, busy, fold, commit, wake, python, done = (
        fl.fn.append_basic_block(f"rb_commit_{n}") for n in names
    )
    entry = b.block
    b.branch(head)
    b.position_at_end(head)  # the ring buffer among the run's maps whose data holds it
    i = b.phi(t.i64)
    i.add_incoming(t.c64(0), entry)
    b.cbranch(b.icmp_unsigned("<", i, t.c64(nmaps)), body, python)
    b.position_at_end(body)
    handle = b.load(table_ptr(b, t, fl.state, "maps", i), typ=t.i64)
    nxt = b.add(i, t.c64(1))
    i.add_incoming(nxt, body)
    b.cbranch(_is_ringbuf(fl, handle), kind, head)
    b.position_at_end(kind)
    rb = _Ring(fl, handle)
    ring_size = b.add(rb.mask, t.c64(1))
    rel = b.sub(sample, rb.data)
    i.add_incoming(nxt, kind)
    b.cbranch(b.icmp_unsigned("<", rel, b.add(ring_size, ring_size)), in_range, head)

    b.position_at_end(in_range)  # _record_at: a busy header at an 8-aligned offset
    off = b.sub(rel, t.c64(BPF_RINGBUF_HDR_SZ))
    aligned = b.icmp_unsigned("==", b.and_(off, t.c64(7)), t.c64(0))
    b.cbranch(b.and_(b.icmp_unsigned("<", off, ring_size), aligned), record, python)
    b.position_at_end(record)
    hdr_len = b.load(rb.hdr_ptr(off), typ=t.i32, align=4)
    busy_bit = ir.Constant(t.i32, BPF_RINGBUF_BUSY_BIT)
    is_busy = b.icmp_unsigned("!=", b.and_(hdr_len, busy_bit), ir.Constant(t.i32, 0))
    b.cbranch(is_busy, busy, python)

    b.position_at_end(busy)
    length = b.and_(hdr_len, ir.Constant(t.i32, ~BPF_RINGBUF_BUSY_BIT & M32))
    end = b.add(rel, b.zext(length, t.i64))
    b.cbranch(b.icmp_unsigned(">", end, ring_size), fold, commit)
    b.position_at_end(fold)  # the part past the end belongs at the start of the ring
    memmove = fl.ctx.intrinsic("llvm.memmove.p0.p0.i64", t.void, [t.ptr, t.ptr, t.i64, t.i1])
    src = rb.hdr_ptr(ring_size)
    b.call(memmove, [rb.hdr_ptr(t.c64(0)), src, b.sub(end, ring_size), ir.Constant(t.i1, 0)])
    b.branch(commit)

    b.position_at_end(commit)
    new_len = b.or_(length, ir.Constant(t.i32, BPF_RINGBUF_DISCARD_BIT)) if discard else length
    b.store(new_len, rb.hdr_ptr(off), align=4)
    at_consumer = b.icmp_unsigned("==", b.and_(rb.load(OFF_AUX0), rb.mask), off)
    quiet = b.icmp_unsigned("!=", b.and_(flags, t.c64(BPF_RB_NO_WAKEUP)), t.c64(0))
    forced = b.icmp_unsigned("!=", b.and_(flags, t.c64(BPF_RB_FORCE_WAKEUP)), t.c64(0))
    b.cbranch(b.or_(forced, b.and_(at_consumer, b.not_(quiet))), wake, done)
    b.position_at_end(wake)
    rb.store(OFF_RINGBUF_WAKEUPS, b.add(rb.load(OFF_RINGBUF_WAKEUPS), t.c64(1)))
    b.branch(done)

    b.position_at_end(python)
    _python_helper(fl, pc, helper_id)
    b.branch(done)
    b.position_at_end(done)
    fl.put(0, t.c64(0))
