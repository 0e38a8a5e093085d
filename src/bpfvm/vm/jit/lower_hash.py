"""Inline ``bpf_map_lookup_elem`` on hash maps: the kernel's search, in native code.

A ``hash`` or ``percpu_hash`` map (:mod:`bpfvm.runtime.maps.hash`) keeps a native copy of its
table (:mod:`bpfvm.runtime.maps.hash_index`) that the Python side updates on every insert and
delete, so a lookup needs no Python: the key (``key_size`` bytes, known when lowering) is
hashed with ``htab_map_hash`` (``jhash2`` for whole words, else ``jhash``, seed 0), fully
unrolled; the bucket ``hash & (n_buckets - 1)`` gives the first element (``heads``); each
element's stored hash is compared before its key (``links``), and the key comparison is
unrolled into 8/4/2/1-byte loads. The result is the value's address (this CPU's copy for a
per-CPU map), 0 when absent or when the CPU has no copy, as ``prog_lookup`` returns.

``lru_hash`` and ``lru_percpu_hash`` maps keep the same index; a hit there also does what
``bpf_lru_node_set_ref`` does: it stores 1 in the element's ref bit, a byte per slot in the
index's control block (handle ``aux3``, at the offset its ``CTL_REF_OFF`` word gives), which
the Python LRU lists (:class:`bpfvm.runtime.maps.lru.BpfLru`) read when they next rotate or
shrink. As in ``prog_lookup``, a CPU without a copy gets 0 and sets nothing.

Handle fields (:mod:`bpfvm.runtime.maps.base`) are read with ``!invariant.load``: a hash map's
layout never changes. The table itself is read with plain loads: a Python helper called by
the same run, or the inline update and delete (:mod:`.lower_hash_update`), may change it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.runtime.maps.hash_index import CTL_REF_OFF, OFF_CONTROL
from bpfvm.runtime.maps.jhash import JHASH_INITVAL
from bpfvm.vm.jit.layout import MK_LRU_HASH
from bpfvm.vm.jit.lower_mem import access
from bpfvm.vm.jit.runtime_ir import invariant, load_field

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

OFF_NCPUS = 20
OFF_ELEM_SIZE = 24
OFF_DATA = 32
OFF_PERCPU_STRIDE = 40
OFF_NBUCKETS = 48
OFF_HEADS = 56
OFF_LINKS = 64


def hash_lookup(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    """``r0 = bpf_map_lookup_elem(r1, r2)`` on hash map ``map_index`` (known at this call)."""
    b, t = fl.b, fl.t
    key_size = fl.ctx.maps[map_index].key_size
    lru = fl.ctx.maps[map_index].kind == MK_LRU_HASH
    key = access(fl, pc, 2, 0, key_size)
    handle = fl.get(1)
    h = jhash_ir(b, key_bytes(b, key.ptr, key_size), key_size)
    h64 = b.zext(h, t.i64)
    mask = b.sub(handle_field(fl, handle, OFF_NBUCKETS, 64), t.c64(1))
    heads = b.inttoptr(handle_field(fl, handle, OFF_HEADS, 64), t.ptr)
    links = b.inttoptr(handle_field(fl, handle, OFF_LINKS, 64), t.ptr)
    data = handle_field(fl, handle, OFF_DATA, 64)
    elem_size = handle_field(fl, handle, OFF_ELEM_SIZE, 32)
    first = b.load(b.gep(heads, [b.and_(h64, mask)], source_etype=t.i32), typ=t.i32)
    entry = b.block
    head, body, compare, found, done = (fl.fn.append_basic_block(f"htab_{n}") for n in
                                        ("head", "body", "compare", "found", "done"))  # fmt: skip
    b.branch(head)
    b.position_at_end(head)
    at = b.phi(t.i32)
    at.add_incoming(first, entry)
    b.cbranch(b.icmp_unsigned("==", at, ir.Constant(t.i32, 0)), done, body)
    b.position_at_end(body)
    slot = b.zext(b.sub(at, ir.Constant(t.i32, 1)), t.i64)
    link = b.load(b.gep(links, [slot], source_etype=t.i64), typ=t.i64)
    nxt = b.trunc(link, t.i32)
    at.add_incoming(nxt, b.block)
    same_hash = b.icmp_unsigned("==", b.trunc(b.lshr(link, t.c64(32)), t.i32), h)
    b.cbranch(same_hash, compare, head)
    b.position_at_end(compare)
    elem = b.add(data, b.mul(slot, elem_size))
    equal = keys_equal(b, b.inttoptr(elem, t.ptr), key.ptr, key_size)
    at.add_incoming(nxt, b.block)
    b.cbranch(equal, found, head)
    b.position_at_end(found)
    cpu = load_field(b, t, fl.state, "cpu")
    cpu_ok = b.icmp_unsigned("<", cpu, handle_field(fl, handle, OFF_NCPUS, 32))
    value = b.add(elem, t.c64((key_size + 7) & ~7))
    value = b.add(value, b.mul(cpu, handle_field(fl, handle, OFF_PERCPU_STRIDE, 64)))
    hit = b.select(cpu_ok, value, t.c64(0))
    if lru:
        _set_ref(fl, handle, slot, cpu_ok)
    b.branch(done)
    b.position_at_end(done)
    r0 = b.phi(t.i64)
    r0.add_incoming(t.c64(0), head)
    r0.add_incoming(hit, found)
    fl.put(0, r0)


def _set_ref(fl: FunctionLowerer, handle: ir.Value, slot: ir.Value, cpu_ok: ir.Value) -> None:
    """``bpf_lru_node_set_ref`` on element ``slot``, if this CPU got a value (``cpu_ok``)."""
    b, t = fl.b, fl.t
    i8 = ir.IntType(8)
    ctl = handle_field(fl, handle, OFF_CONTROL, 64)
    ref_off_ptr = b.inttoptr(b.add(ctl, t.c64(8 * CTL_REF_OFF)), t.ptr)
    ref_off = invariant(b, b.load(ref_off_ptr, typ=t.i64, align=8))  # fixed at creation
    ref = b.inttoptr(b.add(b.add(ctl, ref_off), slot), t.ptr)
    old = b.load(ref, typ=i8, align=1)
    b.store(b.or_(old, b.zext(cpu_ok, i8)), ref, align=1)


def handle_field(fl: FunctionLowerer, handle: ir.Value, off: int, bits: int) -> ir.Value:
    b, t = fl.b, fl.t
    ptr = b.inttoptr(b.add(handle, t.c64(off)), t.ptr)
    value = invariant(b, b.load(ptr, typ=t.ity(bits), align=bits // 8))
    return value if bits == 64 else b.zext(value, t.i64)


# -- the key -------------------------------------------------------------------------------------


def _load(b: ir.IRBuilder, base: ir.Value, off: int, width: int) -> ir.Value:
    ty = ir.IntType(8 * width)
    ptr = b.gep(base, [ir.Constant(ir.IntType(64), off)], source_etype=ir.IntType(8))
    return b.load(ptr, typ=ty, align=1)


def key_bytes(b: ir.IRBuilder, ptr: ir.Value, size: int) -> list[ir.Value]:
    """The key as little-endian i32 words, the last one zero-padded (never reading past it)."""
    i32 = ir.IntType(32)
    words = []
    for off in range(0, size, 4):
        if off + 4 <= size:
            words.append(_load(b, ptr, off, 4))
            continue
        word: ir.Value = ir.Constant(i32, 0)
        for k in range(size - off):
            byte = b.zext(_load(b, ptr, off + k, 1), i32)
            word = b.or_(word, b.shl(byte, ir.Constant(i32, 8 * k)) if k else byte)
        words.append(word)
    return words


def keys_equal(b: ir.IRBuilder, stored: ir.Value, key: ir.Value, size: int) -> ir.Value:
    """Whether ``size`` bytes at ``stored`` and ``key`` are equal (unrolled, no branches)."""
    diff: ir.Value | None = None
    off = 0
    i64 = ir.IntType(64)
    while off < size:
        width = next(w for w in (8, 4, 2, 1) if off + w <= size)
        x = b.xor(_load(b, stored, off, width), _load(b, key, off, width))
        x = b.zext(x, i64) if width < 8 else x
        diff = x if diff is None else b.or_(diff, x)
        off += width
    assert diff is not None
    return b.icmp_unsigned("==", diff, ir.Constant(i64, 0))


# -- jhash (lookup3), as bpfvm.runtime.maps.jhash computes it ------------------------------------


def _rol(b: ir.IRBuilder, x: ir.Value, k: int) -> ir.Value:
    i32 = ir.IntType(32)
    return b.or_(b.shl(x, ir.Constant(i32, k)), b.lshr(x, ir.Constant(i32, 32 - k)))


def _mix(b: ir.IRBuilder, a: ir.Value, bb: ir.Value, c: ir.Value) -> tuple[ir.Value, ...]:
    for x, y, z, k in ((0, 2, 1, 4), (1, 0, 2, 6), (2, 1, 0, 8), (0, 2, 1, 16), (1, 0, 2, 19),
                       (2, 1, 0, 4)):  # fmt: skip
        v = [a, bb, c]
        v[x] = b.sub(v[x], v[y])
        v[x] = b.xor(v[x], _rol(b, v[y], k))
        v[y] = b.add(v[y], v[z])
        a, bb, c = v
    return a, bb, c


def _final(b: ir.IRBuilder, a: ir.Value, bb: ir.Value, c: ir.Value) -> ir.Value:
    v = [a, bb, c]
    for x, y, k in ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14),
                    (2, 1, 24)):  # fmt: skip
        v[x] = b.xor(v[x], v[y])
        v[x] = b.sub(v[x], _rol(b, v[y], k))
    return v[2]


def jhash_ir(b: ir.IRBuilder, words: list[ir.Value], size: int) -> ir.Value:
    """``htab_map_hash`` of a ``size``-byte key given as words (:func:`key_bytes`)."""
    i32 = ir.IntType(32)
    init = (JHASH_INITVAL + size) & 0xFFFFFFFF  # jhash2: length in words << 2 == size
    a = bb = c = ir.Constant(i32, init)
    rest = list(words)
    # jhash mixes while more than 12 bytes remain; jhash2 while more than 3 words: the same
    while len(rest) > 3:
        a, bb, c = b.add(a, rest[0]), b.add(bb, rest[1]), b.add(c, rest[2])
        a, bb, c = _mix(b, a, bb, c)
        rest = rest[3:]
    if not rest:
        return c
    zero = ir.Constant(i32, 0)
    rest += [zero] * (3 - len(rest))
    return _final(b, b.add(a, rest[0]), b.add(bb, rest[1]), b.add(c, rest[2]))
