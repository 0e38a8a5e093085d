"""Inline ``bpf_map_update_elem``/``bpf_map_delete_elem`` on ``hash`` and ``percpu_hash`` maps.

The native code does what :class:`~bpfvm.runtime.maps.hash.HashMap` does for a program, on the
same structures (:mod:`bpfvm.runtime.maps.hash_index`): the bucket heads and element links,
and the control block with the element lifetimes (fresh count, recycled ring, per-CPU spares,
per-slot generations). After a change it sets the control block's ``dirty`` word, and Python
rebuilds its caches from the index before its next operation on the map, so the interpreter,
``get_next_key`` and map dumps see exactly the elements, order and storage the Python update
would have made (``htab_map_update_elem``/``__htab_percpu_map_update_elem``/
``htab_map_delete_elem``):

* the value then the key are read (checked) first, as the helper copies them; a map
  read-only to programs answers ``-EPERM``;
* ``flags`` above ``BPF_EXIST`` (``BPF_F_LOCK`` included: bpfvm's values hold no spin lock)
  give ``-EINVAL``; ``BPF_NOEXIST`` on an existing key ``-EEXIST``, ``BPF_EXIST`` on a missing
  one ``-ENOENT``; no free element ``-E2BIG``;
* ``hash``: an update of an existing key takes this CPU's spare element, links it at the head
  of the bucket, unlinks the old one and keeps it as the spare; an insert takes a never-used
  slot, else the longest-freed one;
* ``percpu_hash``: an existing key is updated in place (this CPU's copy only); an insert
  zeroes the other CPUs' copies;
* delete unlinks the element and appends its slot to the recycled ring.

Whether the map is per-CPU is read from the handle (``percpu_stride``). A CPU number without a
copy (never in a test run) is refused with ``-EINVAL`` rather than written past, as the inline
array update does.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.runtime.maps.hash_index import (
    CTL_DIRTY,
    CTL_FRESH,
    CTL_GEN_OFF,
    CTL_REC_HEAD,
    CTL_REC_TAIL,
    CTL_RING_OFF,
    CTL_SPARES,
    OFF_CONTROL,
)
from bpfvm.vm.jit.lower_hash import (
    OFF_DATA,
    OFF_ELEM_SIZE,
    OFF_HEADS,
    OFF_LINKS,
    OFF_NBUCKETS,
    OFF_NCPUS,
    OFF_PERCPU_STRIDE,
    handle_field,
    jhash_ir,
    key_bytes,
    keys_equal,
)
from bpfvm.vm.jit.lower_mem import access
from bpfvm.vm.jit.runtime_ir import load_field

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

OFF_MAX_ENTRIES = 12
BPF_EXIST = 2
BPF_NOEXIST = 1
M32 = 0xFFFFFFFF


def _neg(err: int) -> int:
    return -err & (1 << 64) - 1


class _Table:
    """The native structures of the hash map whose handle is ``handle``, and the search of
    one key in it."""

    def __init__(self, fl: FunctionLowerer, handle: ir.Value, key: ir.Value, key_size: int):
        b, t = fl.b, fl.t
        self.fl, self.b, self.t = fl, b, t
        self.key, self.key_size = key, key_size
        self.hash = jhash_ir(b, key_bytes(b, key, key_size), key_size)
        mask = b.sub(handle_field(fl, handle, OFF_NBUCKETS, 64), t.c64(1))
        self.bucket = b.and_(b.zext(self.hash, t.i64), mask)
        self.heads = b.inttoptr(handle_field(fl, handle, OFF_HEADS, 64), t.ptr)
        self.links = b.inttoptr(handle_field(fl, handle, OFF_LINKS, 64), t.ptr)
        self.data = handle_field(fl, handle, OFF_DATA, 64)
        self.elem_size = handle_field(fl, handle, OFF_ELEM_SIZE, 32)
        self.ncpus = handle_field(fl, handle, OFF_NCPUS, 32)
        self.percpu_stride = handle_field(fl, handle, OFF_PERCPU_STRIDE, 64)
        self.max_entries = handle_field(fl, handle, OFF_MAX_ENTRIES, 32)
        self.ctl = handle_field(fl, handle, OFF_CONTROL, 64)
        ring_off = self.ctl_load(CTL_RING_OFF)
        gen_off = self.ctl_load(CTL_GEN_OFF)
        self.ring = b.inttoptr(b.add(self.ctl, ring_off), t.ptr)
        self.gen = b.inttoptr(b.add(self.ctl, gen_off), t.ptr)
        self.nslots = b.lshr(b.sub(gen_off, ring_off), t.c64(2))

    # -- words ---------------------------------------------------------------------------

    def ctl_ptr(self, index: int) -> ir.Value:
        return self.b.inttoptr(self.b.add(self.ctl, self.t.c64(8 * index)), self.t.ptr)

    def ctl_load(self, index: int) -> ir.Value:
        return self.b.load(self.ctl_ptr(index), typ=self.t.i64)

    def ctl_store(self, index: int, value: ir.Value) -> None:
        self.b.store(value, self.ctl_ptr(index))

    def u32_ptr(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.gep(base, [index], source_etype=self.t.i32)

    def link_ptr(self, slot: ir.Value) -> ir.Value:
        return self.b.gep(self.links, [slot], source_etype=self.t.i64)

    def head_ptr(self) -> ir.Value:
        return self.u32_ptr(self.heads, self.bucket)

    def spare_ptr(self, cpu: ir.Value) -> ir.Value:
        base = self.b.inttoptr(self.b.add(self.ctl, self.t.c64(CTL_SPARES)), self.t.ptr)
        return self.u32_ptr(base, cpu)

    def elem(self, slot: ir.Value) -> ir.Value:
        return self.b.add(self.data, self.b.mul(slot, self.elem_size))

    def value_addr(self, slot: ir.Value, cpu: ir.Value) -> ir.Value:
        value = self.b.add(self.elem(slot), self.t.c64((self.key_size + 7) & ~7))
        return self.b.add(value, self.b.mul(cpu, self.percpu_stride))

    # -- the search ----------------------------------------------------------------------

    def search(self) -> tuple[ir.Value, ir.Value]:
        """(element ``slot + 1`` of the key, 0 if absent; the element before it, ``+ 1``, 0
        if it heads its bucket), as ``hash_lookup`` searches."""
        b, t, fl = self.b, self.t, self.fl
        i32 = t.i32
        zero = ir.Constant(i32, 0)
        first = b.load(self.head_ptr(), typ=i32)
        entry = b.block
        head, body, compare, done = (fl.fn.append_basic_block(f"htab_upd_{n}") for n in
                                     ("head", "body", "compare", "done"))  # fmt: skip
        b.branch(head)
        b.position_at_end(head)
        at = b.phi(i32)
        prev = b.phi(i32)
        at.add_incoming(first, entry)
        prev.add_incoming(zero, entry)
        b.cbranch(b.icmp_unsigned("==", at, zero), done, body)
        b.position_at_end(body)
        slot = b.zext(b.sub(at, ir.Constant(i32, 1)), t.i64)
        link = b.load(self.link_ptr(slot), typ=t.i64)
        nxt = b.trunc(link, i32)
        at.add_incoming(nxt, body)
        prev.add_incoming(at, body)
        same_hash = b.icmp_unsigned("==", b.trunc(b.lshr(link, t.c64(32)), i32), self.hash)
        b.cbranch(same_hash, compare, head)
        b.position_at_end(compare)
        equal = keys_equal(b, b.inttoptr(self.elem(slot), t.ptr), self.key, self.key_size)
        at.add_incoming(nxt, compare)
        prev.add_incoming(at, compare)
        b.cbranch(equal, done, head)
        b.position_at_end(done)
        found = b.phi(i32)
        found.add_incoming(zero, head)
        found.add_incoming(at, compare)
        before = b.phi(i32)
        before.add_incoming(zero, head)
        before.add_incoming(prev, compare)
        return found, before

    # -- changes -------------------------------------------------------------------------

    def bump_gen(self, slot: ir.Value) -> None:
        ptr = self.u32_ptr(self.gen, slot)
        b = self.b
        b.store(b.add(b.load(ptr, typ=self.t.i32), ir.Constant(self.t.i32, 1)), ptr)

    def link(self, slot: ir.Value) -> None:
        """Fill the key of ``slot`` and put it at the head of the key's bucket."""
        b, t = self.b, self.t
        memmove = self.fl.ctx.intrinsic(
            "llvm.memmove.p0.p0.i64", t.void, [t.ptr, t.ptr, t.i64, t.i1]
        )
        dst = b.inttoptr(self.elem(slot), t.ptr)
        b.call(memmove, [dst, self.key, t.c64(self.key_size), ir.Constant(t.i1, 0)])
        head_ptr = self.head_ptr()
        old_head = b.zext(b.load(head_ptr, typ=t.i32), t.i64)
        b.store(b.or_(old_head, b.shl(b.zext(self.hash, t.i64), t.c64(32))), self.link_ptr(slot))
        b.store(b.trunc(b.add(slot, t.c64(1)), t.i32), head_ptr)
        self.bump_gen(slot)

    def unlink(self, slot: ir.Value, prev: ir.Value) -> None:
        """Take ``slot`` out of the key's bucket; ``prev`` is the element before it + 1."""
        b, t, fl = self.b, self.t, self.fl
        nxt = b.trunc(b.load(self.link_ptr(slot), typ=t.i64), t.i32)
        at_head, inside, done = (fl.fn.append_basic_block(f"htab_unlink_{n}") for n in
                                 ("head", "inside", "done"))  # fmt: skip
        b.cbranch(b.icmp_unsigned("==", prev, ir.Constant(t.i32, 0)), at_head, inside)
        b.position_at_end(at_head)
        b.store(nxt, self.head_ptr())
        b.branch(done)
        b.position_at_end(inside)
        prev_ptr = self.link_ptr(b.zext(b.sub(prev, ir.Constant(t.i32, 1)), t.i64))
        kept = b.and_(b.load(prev_ptr, typ=t.i64), t.c64(~M32))
        b.store(b.or_(kept, b.zext(nxt, t.i64)), prev_ptr)
        b.branch(done)
        b.position_at_end(done)
        b.store(t.c64(0), self.link_ptr(slot))
        self.bump_gen(slot)

    def take_free(self, got: ir.Block, none: ir.Block) -> ir.Value:
        """A free slot (never-used first, then the longest-freed), branching to ``got`` with
        it, or to ``none``."""
        b, t, fl = self.b, self.t, self.fl
        fresh = self.ctl_load(CTL_FRESH)
        use_fresh, recycled, pop = (fl.fn.append_basic_block(f"htab_free_{n}") for n in
                                    ("fresh", "recycled", "pop"))  # fmt: skip
        b.cbranch(b.icmp_unsigned("<", fresh, self.max_entries), use_fresh, recycled)
        b.position_at_end(use_fresh)
        self.ctl_store(CTL_FRESH, b.add(fresh, t.c64(1)))
        b.branch(got)
        b.position_at_end(recycled)
        head = self.ctl_load(CTL_REC_HEAD)
        b.cbranch(b.icmp_unsigned("==", head, self.ctl_load(CTL_REC_TAIL)), none, pop)
        b.position_at_end(pop)
        slot = b.zext(b.load(self.u32_ptr(self.ring, b.urem(head, self.nslots)), typ=t.i32), t.i64)
        self.ctl_store(CTL_REC_HEAD, b.add(head, t.c64(1)))
        b.branch(got)
        b.position_at_end(got)
        taken = b.phi(t.i64)
        taken.add_incoming(fresh, use_fresh)
        taken.add_incoming(slot, pop)
        return taken

    def release(self, slot: ir.Value) -> None:
        """Append ``slot`` to the recycled ring."""
        b, t = self.b, self.t
        tail = self.ctl_load(CTL_REC_TAIL)
        b.store(b.trunc(slot, t.i32), self.u32_ptr(self.ring, b.urem(tail, self.nslots)))
        self.ctl_store(CTL_REC_TAIL, b.add(tail, t.c64(1)))

    def mark_dirty(self) -> None:
        self.ctl_store(CTL_DIRTY, self.t.c64(1))


def _copy(fl: FunctionLowerer, dst: ir.Value, src: ir.Value, size: int) -> None:
    b, t = fl.b, fl.t
    memmove = fl.ctx.intrinsic("llvm.memmove.p0.p0.i64", t.void, [t.ptr, t.ptr, t.i64, t.i1])
    b.call(memmove, [b.inttoptr(dst, t.ptr), src, t.c64(size), ir.Constant(t.i1, 0)])


def hash_update(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    """``r0 = bpf_map_update_elem(r1, r2, r3, r4)`` on hash map ``map_index``."""
    b, t = fl.b, fl.t
    desc = fl.ctx.maps[map_index]
    value = access(fl, pc, 3, 0, max(desc.value_size, 1))
    key = access(fl, pc, 2, 0, desc.key_size)
    if desc.rdonly_prog:
        fl.put(0, t.c64(_neg(errno.EPERM)))
        return
    result = fl.entry_alloca(t.i64, "htab_update_result")
    flags = fl.get(4)
    handle = fl.get(1)
    done = fl.fn.append_basic_block("htab_update_done")
    valid = fl.fn.append_basic_block("htab_update_valid")
    cpu = load_field(b, t, fl.state, "cpu")
    cpu_bad = b.icmp_unsigned(">=", cpu, handle_field(fl, handle, OFF_NCPUS, 32))
    b.store(t.c64(_neg(errno.EINVAL)), result)
    bad = b.or_(cpu_bad, b.icmp_unsigned(">", flags, t.c64(BPF_EXIST)))
    b.cbranch(bad, done, valid)
    b.position_at_end(valid)
    tbl = _Table(fl, handle, key.ptr, desc.key_size)
    found, prev = tbl.search()
    exists = b.icmp_unsigned("!=", found, ir.Constant(t.i32, 0))
    eexist = b.and_(exists, b.icmp_unsigned("==", flags, t.c64(BPF_NOEXIST)))
    enoent = b.and_(b.not_(exists), b.icmp_unsigned("==", flags, t.c64(BPF_EXIST)))
    err = b.select(eexist, t.c64(_neg(errno.EEXIST)), t.c64(0))
    err = b.select(enoent, t.c64(_neg(errno.ENOENT)), err)
    b.store(err, result)
    go = fl.fn.append_basic_block("htab_update_go")
    b.cbranch(b.icmp_unsigned("!=", err, t.c64(0)), done, go)
    b.position_at_end(go)
    old = b.zext(b.sub(found, ir.Constant(t.i32, 1)), t.i64)
    is_percpu = b.icmp_unsigned("!=", tbl.percpu_stride, t.c64(0))
    blocks = [fl.fn.append_basic_block(f"htab_update_{n}") for n in
              ("replace", "insert", "inplace", "taken", "full", "ok")]  # fmt: skip
    replace, insert, inplace, taken, full, ok = blocks
    # an existing key: in place (per-CPU) or through the spare (plain); else an insert
    existing = fl.fn.append_basic_block("htab_update_existing")
    b.cbranch(exists, existing, insert)
    b.position_at_end(existing)
    b.cbranch(is_percpu, inplace, replace)

    b.position_at_end(inplace)
    _copy(fl, tbl.value_addr(old, cpu), value.ptr, desc.value_size)
    b.branch(ok)

    b.position_at_end(replace)
    spare_ptr = tbl.spare_ptr(cpu)
    new = b.zext(b.load(spare_ptr, typ=t.i32), t.i64)
    b.store(b.trunc(old, t.i32), spare_ptr)
    _copy(fl, tbl.value_addr(new, t.c64(0)), value.ptr, desc.value_size)
    tbl.unlink(old, prev)
    tbl.link(new)
    b.branch(ok)

    b.position_at_end(insert)
    slot = tbl.take_free(taken, full)  # leaves the builder in ``taken``
    _copy(fl, tbl.value_addr(slot, cpu), value.ptr, desc.value_size)
    _zero_other_cpus(fl, tbl, slot, cpu, is_percpu, desc.value_size)
    tbl.link(slot)
    b.branch(ok)

    b.position_at_end(full)
    b.store(t.c64(_neg(errno.E2BIG)), result)
    b.branch(done)

    b.position_at_end(ok)
    tbl.mark_dirty()
    b.store(t.c64(0), result)
    b.branch(done)
    b.position_at_end(done)
    fl.put(0, b.load(result, typ=t.i64))


def _zero_other_cpus(
    fl: FunctionLowerer,
    tbl: _Table,
    slot: ir.Value,
    cpu: ir.Value,
    is_percpu: ir.Value,
    value_size: int,
) -> None:
    """``pcpu_init_value``: a per-CPU insert zeroes the other CPUs' copies."""
    b, t = fl.b, fl.t
    entry = b.block
    head, body, zero, done = (fl.fn.append_basic_block(f"htab_zero_{n}") for n in
                              ("head", "body", "zero", "done"))  # fmt: skip
    b.cbranch(is_percpu, head, done)
    b.position_at_end(head)
    c = b.phi(t.i64)
    c.add_incoming(t.c64(0), entry)
    b.cbranch(b.icmp_unsigned("<", c, tbl.ncpus), body, done)
    b.position_at_end(body)
    nxt = b.add(c, t.c64(1))
    skip = b.icmp_unsigned("==", c, cpu)
    c.add_incoming(nxt, body)
    c.add_incoming(nxt, zero)
    b.cbranch(skip, head, zero)
    b.position_at_end(zero)
    memset = fl.ctx.intrinsic("llvm.memset.p0.i64", t.void, [t.ptr, t.i8, t.i64, t.i1])
    dst = b.inttoptr(tbl.value_addr(slot, c), t.ptr)
    b.call(memset, [dst, ir.Constant(t.i8, 0), t.c64(value_size), ir.Constant(t.i1, 0)])
    b.branch(head)
    b.position_at_end(done)


def hash_delete(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    """``r0 = bpf_map_delete_elem(r1, r2)`` on hash map ``map_index``."""
    b, t = fl.b, fl.t
    desc = fl.ctx.maps[map_index]
    key = access(fl, pc, 2, 0, desc.key_size)
    if desc.rdonly_prog:
        fl.put(0, t.c64(_neg(errno.EPERM)))
        return
    tbl = _Table(fl, fl.get(1), key.ptr, desc.key_size)
    found, prev = tbl.search()
    result = fl.entry_alloca(t.i64, "htab_delete_result")
    b.store(t.c64(_neg(errno.ENOENT)), result)
    unlink = fl.fn.append_basic_block("htab_delete_unlink")
    done = fl.fn.append_basic_block("htab_delete_done")
    b.cbranch(b.icmp_unsigned("!=", found, ir.Constant(t.i32, 0)), unlink, done)
    b.position_at_end(unlink)
    slot = b.zext(b.sub(found, ir.Constant(t.i32, 1)), t.i64)
    tbl.unlink(slot, prev)
    tbl.release(slot)
    tbl.mark_dirty()
    b.store(t.c64(0), result)
    b.branch(done)
    b.position_at_end(done)
    fl.put(0, b.load(result, typ=t.i64))
