"""Runtime maps: queue, stack, bloom filter, lpm trie, ringbuf, perf event array, fd maps."""

from __future__ import annotations

import ctypes
import errno
import struct

import pytest

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_CURRENT_CPU,
    BPF_F_NO_PREALLOC,
    BPF_NOEXIST,
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    ENOTSUPP,
    ArrayOfMapsMap,
    BloomFilterMap,
    HashOfMapsMap,
    LpmTrieMap,
    MapError,
    MapSpecError,
    PerfEventArrayMap,
    ProgArrayMap,
    QueueMap,
    RingBufMap,
    StackMap,
    create_map,
)

T = MapType


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def read(addr: int, size: int) -> bytes:
    return ctypes.string_at(addr, size)


def errno_of(fn: object, *args: object) -> int:
    with pytest.raises(MapError) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.errno


# --- queue and stack ------------------------------------------------------------------------------


def test_queue() -> None:
    q = create_map(MapSpec("q", T.QUEUE, 0, 4, 2))
    assert isinstance(q, QueueMap)
    assert q.peek() is None and q.pop() is None and len(q) == 0
    q.push(u32(1))
    q.update(None, u32(2))
    assert errno_of(q.push, u32(3)) == errno.E2BIG
    assert errno_of(q.push, u32(3), BPF_NOEXIST) == errno.EINVAL
    assert errno_of(q.push, u32(3), 4) == errno.EINVAL
    q.push(u32(3), BPF_EXIST)  # drops the oldest
    assert len(q) == 2 and q.peek() == u32(2) and q.lookup(None) == u32(2)
    assert q.lookup_and_delete() == u32(2)
    assert q.pop() == u32(3)
    assert errno_of(q.lookup_and_delete) == errno.ENOENT
    assert errno_of(q.lookup_and_delete, None, 4) == errno.EINVAL
    assert errno_of(q.delete, None) == errno.EINVAL
    assert errno_of(q.get_next_key, None) == errno.EINVAL
    assert errno_of(q.update, u32(0), u32(0)) == errno.EINVAL  # no key for a key-less map
    with pytest.raises(MapError):
        list(q.keys())
    q.freeze()
    assert errno_of(q.push, u32(1)) == errno.EPERM
    assert errno_of(q.lookup_and_delete) == errno.EPERM


def test_queue_program_side_and_live_handle() -> None:
    q = create_map(MapSpec("q", T.QUEUE, 0, 8, 3))
    assert q.prog_pop() == -errno.ENOENT and q.prog_peek() == -errno.ENOENT
    for i in range(5):
        assert q.prog_push(struct.pack("<Q", i), BPF_EXIST) == 0
    assert q.prog_push(b"\0" * 8) == -errno.E2BIG
    head, tail = struct.unpack_from("<QQ", q.handle.read(), 48)
    assert (head, tail) == (5 % 4, 2)
    assert q.prog_peek() == struct.pack("<Q", 2)
    assert [q.prog_pop() for _ in range(4)] == [struct.pack("<Q", i) for i in (2, 3, 4)] + [
        -errno.ENOENT
    ]


def test_stack() -> None:
    s = create_map(MapSpec("s", T.STACK, 0, 4, 3))
    assert isinstance(s, StackMap)
    for i in range(4):
        s.push(u32(i), BPF_EXIST)
    assert s.peek() == u32(3)
    assert [s.pop() for _ in range(4)] == [u32(3), u32(2), u32(1), None]
    assert s.prog_push(u32(7)) == 0 and s.prog_peek() == u32(7) and s.prog_pop() == u32(7)


# --- bloom filter ---------------------------------------------------------------------------------


def test_bloom_filter() -> None:
    b = create_map(MapSpec("b", T.BLOOM_FILTER, 0, 4, 100))
    assert isinstance(b, BloomFilterMap)
    assert b.nr_hash_funcs == 5 and b.bitset_mask == 1023  # 100 * 5 * 7 / 5 -> 1024 bits
    for i in range(0, 200, 2):
        b.push(u32(i))
    assert all(u32(i) in b for i in range(0, 200, 2))  # no false negatives
    assert sum(u32(i) in b for i in range(1, 2000, 2)) < 200
    assert b.lookup(u32(4)) == u32(4)
    assert b.prog_peek(0, u32(4)) == 0
    assert b.prog_push(u32(1), BPF_EXIST) == -errno.EINVAL
    assert errno_of(b.push, u32(1), BPF_NOEXIST) == errno.EINVAL
    assert errno_of(b.delete, None) == errno.EOPNOTSUPP
    assert errno_of(b.get_next_key, None) == errno.EOPNOTSUPP
    assert errno_of(b.lookup_and_delete) == ENOTSUPP
    assert errno_of(b.lookup, None) == errno.EINVAL
    assert b.prog_pop() == -errno.EOPNOTSUPP
    assert b.prog_delete(b"") == -errno.EOPNOTSUPP
    empty = create_map(MapSpec("e", T.BLOOM_FILTER, 0, 3, 1))
    assert isinstance(empty, BloomFilterMap)
    assert empty.bitset_mask == 63 and empty.lookup(b"abc") is None
    assert empty.prog_peek(0, b"abc") == -errno.ENOENT


def test_bloom_filter_map_extra() -> None:
    b = create_map(MapSpec("b", T.BLOOM_FILTER, 0, 4, 10, map_extra=3))
    assert isinstance(b, BloomFilterMap) and b.nr_hash_funcs == 3
    with pytest.raises(MapSpecError, match="map_extra"):
        create_map(MapSpec("b", T.BLOOM_FILTER, 0, 4, 10, map_extra=16))
    with pytest.raises(MapSpecError, match="map_extra"):
        create_map(MapSpec("h", T.HASH, 4, 4, 10, map_extra=3))


# --- lpm trie -------------------------------------------------------------------------------------


def lk(prefixlen: int, *octets: int) -> bytes:
    return struct.pack("<I", prefixlen) + bytes(octets).ljust(4, b"\0")


def lpm(n: int = 16) -> LpmTrieMap:
    m = create_map(MapSpec("t", T.LPM_TRIE, 8, 4, n, BPF_F_NO_PREALLOC))
    assert isinstance(m, LpmTrieMap)
    return m


def test_lpm_longest_prefix_match() -> None:
    m = lpm()
    m.update(lk(8, 10), u32(8))
    m.update(lk(16, 10, 1), u32(16))
    m.update(lk(24, 10, 1, 1), u32(24))
    m.update(lk(32, 10, 1, 1, 7), u32(32))
    assert m.lookup(lk(32, 10, 1, 1, 7)) == u32(32)
    assert m.lookup(lk(32, 10, 1, 1, 8)) == u32(24)
    assert m.lookup(lk(32, 10, 1, 2, 8)) == u32(16)
    assert m.lookup(lk(32, 10, 2, 2, 8)) == u32(8)
    assert m.lookup(lk(32, 11, 2, 2, 8)) is None
    assert m.lookup(lk(12, 10, 1, 1, 7)) == u32(8)  # the key's own prefix length bounds it
    assert m.lookup(lk(33, 10)) is None
    addr = m.prog_lookup(lk(32, 10, 1, 9, 9))
    assert read(addr, 4) == u32(16)
    assert m.prog_lookup(lk(32, 12)) == 0
    assert len(m) == 4


def test_lpm_update_flags_and_limits() -> None:
    m = lpm(2)
    m.update(lk(8, 10), u32(1))
    assert errno_of(m.update, lk(8, 10), u32(1), BPF_NOEXIST) == errno.EEXIST
    assert errno_of(m.update, lk(16, 10), u32(1), BPF_EXIST) == errno.ENOENT
    assert errno_of(m.update, lk(8, 10), u32(1), 3) == errno.EINVAL
    assert errno_of(m.update, lk(33, 10), u32(1)) == errno.EINVAL
    m.update(lk(16, 10, 1), u32(2))
    assert errno_of(m.update, lk(24, 10, 1, 1), u32(3)) == errno.ENOSPC
    m.update(lk(16, 10, 1), u32(4))  # replacing works when full
    assert errno_of(m.update, lk(24, 10, 1, 1), u32(3), BPF_EXIST) == errno.ENOENT
    assert m.lookup(lk(32, 10, 1, 0, 0)) == u32(4)
    assert m.prog_update(lk(8, 10), u32(9), BPF_EXIST) == 0
    assert m.lookup(lk(8, 10)) == u32(9)


def test_lpm_delete_and_intermediate_nodes() -> None:
    m = lpm()
    m.update(lk(24, 192, 168, 0), u32(1))
    m.update(lk(24, 192, 168, 1), u32(2))  # needs an intermediate /23 node
    assert m.lookup(lk(23, 192, 168, 0)) is None
    assert errno_of(m.delete, lk(23, 192, 168, 0)) == errno.ENOENT  # intermediate
    m.update(lk(23, 192, 168, 0), u32(3))  # turns the intermediate node into a real one
    assert m.lookup(lk(32, 192, 168, 1, 9)) == u32(2)
    assert m.lookup(lk(24, 192, 168, 2)) is None
    assert m.lookup(lk(23, 192, 168, 0)) == u32(3)
    m.delete(lk(23, 192, 168, 0))  # two children: back to intermediate
    assert m.lookup(lk(32, 192, 168, 0, 1)) == u32(1)
    m.delete(lk(24, 192, 168, 0))  # the intermediate parent goes too
    assert m.lookup(lk(32, 192, 168, 1, 1)) == u32(2)
    assert list(m.keys()) == [lk(24, 192, 168, 1)]
    assert errno_of(m.delete, lk(40, 1)) == errno.EINVAL
    assert m.prog_delete(lk(24, 192, 168, 1)) == 0
    assert m.root is None and len(m) == 0
    assert m.get_next_key(None) is None


def test_lpm_get_next_key_is_post_order() -> None:
    m = lpm()
    for key in (lk(16, 192, 168), lk(24, 192, 168, 0), lk(24, 192, 168, 128), lk(24, 192, 168, 1)):
        m.update(key, u32(0))
    expected = [lk(24, 192, 168, 0), lk(24, 192, 168, 1), lk(24, 192, 168, 128), lk(16, 192, 168)]
    assert list(m.keys()) == expected
    assert m.get_next_key(lk(16, 10)) == expected[0]  # an absent key restarts
    assert m.get_next_key(lk(99, 10)) == expected[0]
    assert m.get_next_key(expected[-1]) is None


# --- ring buffer ----------------------------------------------------------------------------------


def ringbuf(size: int = 4096) -> RingBufMap:
    rb = create_map(MapSpec("rb", T.RINGBUF, 0, 0, size))
    assert isinstance(rb, RingBufMap)
    return rb


def test_ringbuf_records_and_headers() -> None:
    rb = ringbuf()
    addr = rb.reserve(5)
    assert addr == rb.data.addr + 8
    hdr_len, pg_off = struct.unpack("<II", read(addr - 8, 8))
    assert hdr_len == 5 | 1 << 31 and pg_off == 3  # busy; data starts 3 pages in
    assert rb.consume() == []  # a busy record blocks the consumer
    ctypes.memmove(addr, b"hello", 5)
    rb.submit(addr)
    assert struct.unpack("<I", read(addr - 8, 4))[0] == 5
    assert rb.query(BPF_RB_PROD_POS) == 16 and rb.query(BPF_RB_AVAIL_DATA) == 16
    d = rb.reserve(3)
    rb.discard(d)
    assert struct.unpack("<I", read(d - 8, 4))[0] == 3 | 1 << 30
    assert rb.output(b"xyz") == 0
    assert rb.consume() == [b"hello", b"xyz"]
    assert rb.query(BPF_RB_CONS_POS) == rb.query(BPF_RB_PROD_POS) == 48
    assert rb.query(BPF_RB_RING_SIZE) == 4096 and rb.query(99) == 0
    cons, prod, pend, mask = struct.unpack_from("<4Q", rb.handle.read(), 48)
    assert (cons, prod, pend, mask) == (48, 48, 32, 4095)


def test_ringbuf_full_and_errors() -> None:
    rb = ringbuf()
    assert rb.reserve(8, flags=1) == 0
    assert rb.reserve(4096) == 0  # a record must leave one byte free
    assert rb.reserve(1 << 31) == 0
    assert rb.output(b"x", 4) == -errno.EINVAL
    first = rb.reserve(4000)
    assert first and rb.reserve(100) == 0
    assert rb.output(b"y" * 100) == -errno.EAGAIN
    rb.submit(first, 1)
    assert len(rb.consume()) == 1
    assert rb.output(b"y" * 100) == 0
    with pytest.raises(MapError):
        rb.submit(first)  # not a reserved sample any more
    assert errno_of(rb.lookup, None) == ENOTSUPP
    assert errno_of(rb.update, None, b"") == ENOTSUPP
    assert errno_of(rb.delete, None) == ENOTSUPP
    assert errno_of(rb.get_next_key, None) == ENOTSUPP


def test_ringbuf_pending_record_limits_the_producer() -> None:
    rb = ringbuf()
    old = rb.reserve(2000)  # still being written
    rb.output(b"a" * 2000)
    assert rb.consume() == []  # blocked behind the busy record
    assert rb.reserve(100) == 0
    rb.submit(old)
    assert len(rb.consume()) == 2
    assert rb.output(b"b" * 100) == 0


def test_ringbuf_wraps_around() -> None:
    rb = ringbuf()
    for i in range(30):
        payload = bytes([i]) * (300 + i)
        assert rb.output(payload) == 0, i
        assert rb.consume() == [payload]
    assert rb.query(BPF_RB_PROD_POS) > 4096
    # a reserved record that wraps is contiguous for the producer
    while (rb.query(BPF_RB_PROD_POS) & 4095) < 4096 - 200:
        rb.output(b"p" * 8)
    rb.consume()
    addr = rb.reserve(400)
    ctypes.memmove(addr, bytes(range(256)) + bytes(144), 400)
    rb.submit(addr)
    assert rb.consume() == [bytes(range(256)) + bytes(144)]


# --- perf event array -----------------------------------------------------------------------------


def test_perf_event_array() -> None:
    p = create_map(MapSpec("events", T.PERF_EVENT_ARRAY, 4, 4, 4), ncpus=2)
    assert isinstance(p, PerfEventArrayMap)
    assert p.output(BPF_F_CURRENT_CPU, b"a", cpu=1) == 0
    assert p.output(0, b"b", cpu=0) == 0
    assert p.output(0, b"c", cpu=1) == -errno.EOPNOTSUPP  # slot 0's reader is on CPU 0
    assert p.output(3, b"d", cpu=1) == 0  # slots past the CPUs accept any CPU
    assert p.output(4, b"e", cpu=0) == -errno.E2BIG
    assert p.output(1 << 40, b"f", cpu=0) == -errno.EINVAL
    assert p.output(1 << 40, b"f", cpu=0, ctxlen_ok=True) == 0
    assert p.read() == [(1, b"a"), (0, b"b"), (3, b"d"), (0, b"f")]
    assert p.read() == []
    p.close(1)
    assert not p.is_open(1)
    assert p.output(1, b"g", cpu=1) == -errno.ENOENT
    assert errno_of(p.delete, u32(1)) == errno.ENOENT
    assert errno_of(p.delete, u32(4)) == errno.E2BIG
    p.open(1)
    assert p.output(1, b"h", cpu=0) == 0
    p.update(u32(2), u32(0))
    assert p.output(2, b"i", cpu=1) == -errno.EOPNOTSUPP
    assert errno_of(p.update, u32(2), u32(0), BPF_EXIST) == errno.EINVAL
    assert errno_of(p.update, u32(9), u32(0)) == errno.E2BIG
    assert errno_of(p.open, 9) == errno.E2BIG
    assert errno_of(p.lookup, u32(0)) == ENOTSUPP
    assert list(p.keys()) == [u32(i) for i in range(4)] and len(p) == 4
    assert p.get_next_key(u32(3)) is None


# --- prog_array and maps of maps ------------------------------------------------------------------


class Prog:
    def __init__(self, id: int) -> None:
        self.id = id


def test_prog_array() -> None:
    pa = create_map(MapSpec("jmp", T.PROG_ARRAY, 4, 4, 3))
    assert isinstance(pa, ProgArrayMap)
    prog = Prog(42)
    pa.set_prog(1, prog)
    assert pa.get_prog(1) is prog and pa.get_prog(0) is None and pa.get_prog(7) is None
    assert pa.lookup(u32(1)) == u32(42) and pa.lookup(u32(0)) is None
    assert pa.prog_lookup(u32(1)) == 0  # programs cannot look it up
    assert pa.prog_update(u32(1), u32(0)) == -errno.EINVAL
    assert errno_of(pa.update, u32(0), prog, BPF_NOEXIST) == errno.EINVAL
    assert errno_of(pa.update, u32(3), prog) == errno.E2BIG
    assert errno_of(pa.update, u32(0), u32(5)) == errno.EBADF
    assert errno_of(pa.delete, u32(0)) == errno.ENOENT
    assert errno_of(pa.delete, u32(3)) == errno.E2BIG
    pa.delete(u32(1))
    assert pa.get_prog(1) is None
    pa.set_prog(2, prog)
    pa.set_prog(2, None)
    assert pa.get_prog(2) is None
    assert list(pa.keys()) == [u32(0), u32(1), u32(2)]


def test_array_of_maps() -> None:
    inner = MapSpec("inner", T.ARRAY, 4, 8, 4)
    outer = create_map(MapSpec("outer", T.ARRAY_OF_MAPS, 4, 4, 2, inner=inner))
    assert isinstance(outer, ArrayOfMapsMap)
    a = create_map(inner)
    a.map_id = 7
    outer.update(u32(0), a)
    assert outer.lookup(u32(0)) == u32(7) and outer.lookup(u32(1)) is None
    assert outer.get_inner(0) is a and outer.get_inner(1) is None
    assert outer.prog_lookup(u32(0)) == a.handle.addr and outer.prog_lookup(u32(1)) == 0
    assert outer.prog_lookup(u32(5)) == 0
    assert outer.inner_by_handle(a.handle.addr) is a
    assert a.handle in outer.regions()
    assert struct.unpack_from("<Q", outer.slots.read(), 0)[0] == a.handle.addr
    assert errno_of(outer.update, u32(0), a, BPF_NOEXIST) == errno.EINVAL
    assert errno_of(outer.update, u32(2), a) == errno.E2BIG
    assert errno_of(outer.update, u32(1), b"abcd") == errno.EBADF
    other = create_map(MapSpec("x", T.ARRAY, 4, 8, 5))
    assert errno_of(outer.update, u32(1), other) == errno.EINVAL  # max_entries differs
    other = create_map(MapSpec("x", T.HASH, 4, 8, 4))
    assert errno_of(outer.update, u32(1), other) == errno.EINVAL
    assert outer.prog_update(u32(0), u32(0)) == -errno.EINVAL
    assert outer.prog_delete(u32(0)) == -errno.EINVAL
    assert errno_of(outer.delete, u32(1)) == errno.ENOENT
    assert errno_of(outer.delete, u32(2)) == errno.E2BIG
    outer.delete(u32(0))
    assert outer.get_inner(0) is None and outer.inner_by_handle(a.handle.addr) is None


def test_inner_map_flag_allows_other_sizes() -> None:
    inner = MapSpec("inner", T.ARRAY, 4, 8, 4, 1 << 12)
    outer = create_map(MapSpec("outer", T.ARRAY_OF_MAPS, 4, 4, 2, inner=inner))
    outer.update(u32(1), create_map(MapSpec("big", T.ARRAY, 4, 8, 100, 1 << 12)))
    assert errno_of(outer.update, u32(0), create_map(MapSpec("x", T.ARRAY, 4, 8, 4))) == (
        errno.EINVAL
    )


def test_hash_of_maps_and_init_slots() -> None:
    inner = MapSpec("inner", T.HASH, 4, 4, 8)
    maps = {name: create_map(MapSpec(name, T.HASH, 4, 4, 8)) for name in ("a", "b")}
    outer = create_map(
        MapSpec("outer", T.HASH_OF_MAPS, 4, 4, 2, inner=inner, init_slots=((5, "a"),)),
        resolve_inner=maps.__getitem__,
    )
    assert isinstance(outer, HashOfMapsMap)
    a, b = maps["a"], maps["b"]
    assert outer.get_inner(5) is a and outer.prog_lookup(u32(5)) == a.handle.addr
    outer.update(u32(6), b, BPF_NOEXIST)
    assert errno_of(outer.update, u32(7), b) == errno.E2BIG
    assert errno_of(outer.update, u32(6), a, BPF_NOEXIST) == errno.EEXIST
    outer.update(u32(6), a)
    assert outer.inner_by_handle(b.handle.addr) is None
    assert sorted(outer.keys()) == [u32(5), u32(6)]
    assert outer.lookup(u32(6)) == u32(0)
    assert outer.slab not in outer.regions() and a.handle in outer.regions()
    assert errno_of(outer.lookup_and_delete, u32(5)) == ENOTSUPP
    with pytest.raises(MapError):
        outer.for_each()
    outer.delete(u32(5))
    assert outer.inner_by_handle(a.handle.addr) is a  # still in slot 6
    outer.delete(u32(6))
    assert outer.inner_by_handle(a.handle.addr) is None and outer.prog_lookup(u32(6)) == 0
    assert errno_of(outer.delete, u32(6)) == errno.ENOENT
    without = create_map(
        MapSpec("o2", T.HASH_OF_MAPS, 4, 4, 2, inner=inner, init_slots=((5, "a"),))
    )
    assert len(without) == 0


def test_syscall_value_type_errors() -> None:
    m = create_map(MapSpec("h", T.HASH, 4, 4, 2))
    assert errno_of(m.update, u32(1), 5) == errno.EINVAL
    pc = create_map(MapSpec("p", T.PERCPU_HASH, 4, 4, 2), ncpus=2)
    assert errno_of(pc.update, u32(1), [u32(1)]) == errno.EINVAL
    assert errno_of(pc.update, u32(1), 5) == errno.EINVAL
    lp = create_map(MapSpec("l", T.LPM_TRIE, 8, 4, 2, BPF_F_NO_PREALLOC))
    assert errno_of(lp.update, lk(8, 1), 5) == errno.EINVAL
    q = create_map(MapSpec("q", T.QUEUE, 0, 4, 2))
    assert errno_of(q.update, None, 5) == errno.EINVAL
    assert q.prog_push(u32(1), BPF_ANY) == 0
