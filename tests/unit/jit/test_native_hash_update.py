"""JIT'd ``bpf_map_update_elem``/``bpf_map_delete_elem`` on ``hash`` and ``percpu_hash`` maps.

They run in native code (no Python entered, ``python_calls == 0``) on the map's native index
and element control block, and leave the map exactly as the interpreter's Python helpers
leave it: the same return values, elements, bucket order (``get_next_key``), element slots
(value addresses), free-slot state and spares, under random sequences of program-side
updates, deletes and lookups mixed with syscall-side changes.
"""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BpfMap, MapError, create_map
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import JitEngine

from .test_native_maps import run_native

M64 = (1 << 64) - 1
BPF_F_RDONLY_PROG = 1 << 7

# ctx: u64 key, u64 value, u64 op (0 update, 1 delete, 2 lookup), u64 flags.
# r0: the helper's result; a lookup returns the value read (or M64 when absent)
OP_PROG = """
        r6 = r1
        r1 = *(u64 *)(r6 + 0)
        *(u64 *)(r10 - 8) = r1
        r1 = *(u64 *)(r6 + 8)
        *(u64 *)(r10 - 16) = r1
        r7 = *(u64 *)(r6 + 16)
        if r7 == 1 goto del
        if r7 == 2 goto look
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = *(u64 *)(r6 + 24)
        call bpf_map_update_elem
        exit
del:    ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        call bpf_map_delete_elem
        exit
look:   ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        if r0 == 0 goto none
        r0 = *(u64 *)(r0 + 0)
        exit
none:   r0 = -1
        exit
"""

# 64 updates then 64 deletes of keys i * 7919, and a count of the successes
LOOP_PROG = """
        r6 = 0
        r7 = 0
up:     r1 = r6
        r1 *= 7919
        *(u64 *)(r10 - 8) = r1
        *(u64 *)(r10 - 16) = r6
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        if r0 != 0 goto next
        r7 += 1
next:   r6 += 1
        if r6 < 64 goto up
        r6 = 0
down:   r1 = r6
        r1 *= 7919
        *(u64 *)(r10 - 8) = r1
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        call bpf_map_delete_elem
        if r0 != 0 goto dnext
        r7 += 1
dnext:  r6 += 1
        if r6 < 64 goto down
        r0 = r7
        exit
"""


class Pair:
    """The same program and the same map on the JIT and on the interpreter."""

    def __init__(self, map_type: MapType, max_entries: int = 4, ncpus: int = 2,
                 map_flags: int = 0, prog: str = OP_PROG) -> None:  # fmt: skip
        spec = MapSpec("h", map_type, 8, 8, max_entries, map_flags)
        self.jit_map, self.interp_map = create_map(spec, ncpus), create_map(spec, ncpus)
        insns = assemble(prog)
        self.jit = JitEngine(insns, maps=[self.jit_map])
        self.interp = Interpreter(insns, maps=[self.interp_map])

    def op(self, op: int, key: int, value: int = 0, flags: int = 0, cpu: int = 0) -> int:
        ctx = struct.pack("<QQQQ", key, value, op, flags & M64)
        results = []
        for engine in (self.jit, self.interp):
            engine.call.cpu = cpu
            region = Region.from_bytes("ctx", ctx)
            results.append(engine.run((region.addr,), (region,)).retval)
        assert results[0] == results[1], (op, key, flags, results)
        return results[0]

    def both(self) -> tuple[BpfMap, BpfMap]:
        return self.jit_map, self.interp_map

    def check_same(self) -> None:
        a, b = self.both()
        assert list(a.items()) == list(b.items())  # elements, in bucket order
        keys, key = [], None
        while (key := a.get_next_key(key)) is not None:
            keys.append(key)
        assert keys == list(b.keys()) and len(a) == len(b)
        for key in keys:  # storage: the slot of every element, the spares, the free slots
            assert a.prog_lookup(key) - a.slab.addr == b.prog_lookup(key) - b.slab.addr
        assert [a.native.spare(c) for c in range(a.ncpus)] == [
            b.native.spare(c) for c in range(b.ncpus)
        ]
        assert a.native.fresh == b.native.fresh
        assert _recycled(a) == _recycled(b)
        for bucket in range(a.n_buckets):
            assert a.native.chain(bucket) == b.native.chain(bucket)
        assert [a.native.gen(s) for s in range(a.native.nslots)] == [
            b.native.gen(s) for s in range(b.native.nslots)
        ]


def _recycled(m: BpfMap) -> list[int]:
    """The recycled ring's slots, oldest first (drained from and restored to a twin)."""
    from bpfvm.runtime.maps.hash_index import CTL_REC_HEAD, CTL_REC_TAIL

    ctl = m.native._ctl
    head, tail = int(ctl[CTL_REC_HEAD]), int(ctl[CTL_REC_TAIL])
    return [int(m.native._ring[i % m.native.nslots]) for i in range(head, tail)]


FLAGS = st.sampled_from([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 1 << 32])
STEP = st.tuples(
    st.sampled_from(["update", "update", "delete", "lookup", "sys_update", "sys_delete"]),
    st.integers(0, 9),  # key
    st.integers(0, 1 << 40),  # value
    FLAGS,
    st.integers(0, 1),  # cpu
)


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=40))
def test_update_delete_match_the_interpreter(
    map_type: MapType, steps: list[tuple[str, int, int, int, int]]
) -> None:
    pair = _pairs[map_type]
    for a in pair.both():  # a fresh start each example, through the syscall side
        for key in list(a.keys()):
            a.delete(key)
    for op, key, value, flags, cpu in steps:
        if op in ("update", "delete", "lookup"):
            pair.op(["update", "delete", "lookup"].index(op), key, value, flags, cpu)
        else:
            outcomes = []
            for m in pair.both():
                try:
                    if op == "sys_update":
                        m.update(key, struct.pack("<Q", value), flags & 3)
                    else:
                        m.delete(key)
                    outcomes.append(0)
                except MapError as exc:
                    outcomes.append(exc.errno)
            assert outcomes[0] == outcomes[1]
        pair.check_same()
    assert pair.jit.python_calls == 0


_pairs = {t: Pair(t) for t in (MapType.HASH, MapType.PERCPU_HASH)}


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH])
def test_update_and_delete_stay_native(map_type: MapType) -> None:
    pair = Pair(map_type, max_entries=48, prog=LOOP_PROG)
    r0, entered = run_native(pair.jit)
    assert entered == [] and pair.jit.python_calls == 0
    assert r0 == 48 + 48 == pair.interp.run().retval  # 48 inserts fit, then 48 deletes
    pair.check_same()
    r0, entered = run_native(pair.jit, repeat=100)
    assert entered == [] and r0 == 96


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH])
def test_errnos(map_type: MapType) -> None:
    pair = Pair(map_type, max_entries=2)
    neg = [-e & M64 for e in (errno.EINVAL, errno.EEXIST, errno.ENOENT, errno.E2BIG)]
    einval, eexist, enoent, e2big = neg
    for flags in (3, 4, 5, 1 << 32, M64):  # above BPF_EXIST, BPF_F_LOCK (no spin lock)
        assert pair.op(0, 1, 5, flags) == einval
    assert pair.op(0, 1, 5, 2) == enoent  # BPF_EXIST, absent
    assert pair.op(0, 1, 5, 1) == 0  # BPF_NOEXIST, absent
    assert pair.op(0, 1, 6, 1) == eexist
    assert pair.op(0, 1, 7, 2) == 0 and pair.op(2, 1) == 7
    assert pair.op(0, 2, 8, 0) == 0
    assert pair.op(0, 3, 9, 0) == e2big  # full
    assert pair.op(0, 2, 10, 0) == 0  # replacing works in a full map
    assert pair.op(1, 3) == enoent and pair.op(1, 2) == 0 and pair.op(1, 2) == enoent
    assert pair.op(0, 3, 9, 0) == 0  # the freed slot is reused
    pair.check_same()
    assert pair.jit.python_calls == 0


def test_percpu_update_writes_only_this_cpu() -> None:
    pair = Pair(MapType.PERCPU_HASH, ncpus=3)
    assert pair.op(0, 4, 11, cpu=1) == 0
    assert pair.op(0, 4, 22, cpu=2) == 0
    for m in pair.both():
        assert m.lookup(4) == [bytes(8), struct.pack("<Q", 11), struct.pack("<Q", 22)]
    assert pair.op(2, 4, cpu=0) == 0 and pair.op(2, 4, cpu=2) == 22
    assert pair.jit.python_calls == 0


def test_read_only_map_gives_eperm() -> None:
    pair = Pair(MapType.HASH, map_flags=BPF_F_RDONLY_PROG)
    pair.jit_map.update(1, struct.pack("<Q", 1))
    pair.interp_map.update(1, struct.pack("<Q", 1))
    assert pair.op(0, 1, 2) == -errno.EPERM & M64
    assert pair.op(1, 1) == -errno.EPERM & M64
    assert pair.jit.python_calls == 0


def test_hash_update_keeps_the_old_value_in_the_spare() -> None:
    """A plain hash update moves the element to this CPU's spare slot: a pointer from an
    earlier lookup still reads the old value, on both engines."""
    pair = Pair(MapType.HASH, max_entries=4)
    pair.op(0, 5, 100)
    before = pair.jit_map.prog_lookup(struct.pack("<Q", 5))
    pair.op(0, 5, 200)
    after = pair.jit_map.prog_lookup(struct.pack("<Q", 5))
    assert before != after
    assert pair.jit_map.slab.read(before - pair.jit_map.slab.addr, 8) == struct.pack("<Q", 100)
    pair.check_same()


def test_for_each_after_native_changes() -> None:
    """The Python side (``for_each``, used by ``bpf_for_each_map_elem``) rebuilds its tables
    from the native index: it walks the elements a native update left, in order."""
    pair = Pair(MapType.HASH, max_entries=16)
    for key in (3, 1, 4, 1, 5, 9, 2, 6):
        pair.op(0, key, key * 10)
    pair.op(1, 4)
    for a in pair.both():
        assert len(a) == 6
    walked = [[m.slab.read(k - m.slab.addr, 8) for k, _ in m.for_each()] for m in pair.both()]
    assert walked[0] == walked[1] and len(walked[0]) == 6


# bpf_for_each_map_elem over map 0 whose callback (native code) deletes the elements with an
# odd value and bumps the others through an update (BPF_EXIST); r0: elements visited * 1000
FOR_EACH_PROG = """
        ld_pseudo r1, 1, 0
        ld_pseudo r2, 4, 7          # the callback at slot 10
        r3 = 0
        r4 = 0
        call bpf_for_each_map_elem
        r0 *= 1000
        exit
        r0 = 0                      # slot 9: never reached
callback:
        r6 = r2                     # slot 10: (map, key, value, ctx)
        r7 = *(u64 *)(r3 + 0)
        r8 = r7
        r8 &= 1
        if r8 == 0 goto bump
        ld_pseudo r1, 1, 0
        r2 = r6
        call bpf_map_delete_elem
        r0 = 0
        exit
bump:   r7 += 2
        *(u64 *)(r10 - 8) = r7
        ld_pseudo r1, 1, 0
        r2 = r6
        r3 = r10
        r3 += -8
        r4 = 2
        call bpf_map_update_elem
        r0 = 0
        exit
"""


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.PERCPU_HASH])
def test_for_each_callback_changes_natively(map_type: MapType) -> None:
    """``bpf_for_each_map_elem`` (Python) walks the table while its callback (native code)
    deletes and replaces elements: the walk and the map end as on the interpreter."""
    pair = Pair(map_type, max_entries=32, prog=FOR_EACH_PROG)
    for m in pair.both():
        for key in range(20):
            m.update(key * 37, struct.pack("<Q", key), 0)
    results = [pair.jit.run().retval, pair.interp.run().retval]
    assert results[0] == results[1] and results[0] > 0
    pair.check_same()
    assert len(pair.jit_map) == 10
