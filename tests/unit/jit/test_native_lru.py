"""JIT'd ``bpf_map_lookup_elem`` on ``lru_hash`` and ``lru_percpu_hash`` maps.

The lookup runs in native code (``python_calls == 0``): it searches the map's native index as
on a plain hash map and sets the element's ref bit (``bpf_lru_node_set_ref``) in native
memory, where the Python LRU lists read it. Under random sequences of program lookups,
program and syscall-side updates (which evict) and deletes, the JIT leaves the map exactly as
the interpreter does: the same return values, elements, ``get_next_key`` order, ref bits, LRU
lists and evictions.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BpfMap, MapError, create_map
from bpfvm.runtime.maps.lru import ACTIVE, FREE, INACTIVE
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import JitEngine

from .test_native_hash_update import OP_PROG, Pair
from .test_native_maps import run_native

BPF_F_NO_COMMON_LRU = 1 << 1
LRU_TYPES = [MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]
KINDS = [(t, f) for t in LRU_TYPES for f in (0, BPF_F_NO_COMMON_LRU)]

# 4 x 16 lookups of keys 0..15; r0: the sum of the values found
LOOKUP_LOOP = """
        r6 = 0
        r7 = 0
loop:   r1 = r6
        r1 &= 15
        *(u64 *)(r10 - 8) = r1
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        if r0 == 0 goto next
        r1 = *(u64 *)(r0 + 0)
        r7 += r1
next:   r6 += 1
        if r6 < 64 goto loop
        r0 = r7
        exit
"""


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _keys(m: BpfMap) -> list[int]:
    """The keys in ``get_next_key`` order."""
    keys, key = [], None
    while (key := m.get_next_key(key)) is not None:
        keys.append(struct.unpack("<Q", key)[0])
    return keys


def _lru_state(m: BpfMap) -> tuple[object, ...]:
    """Everything the LRU decides with: ref bits, element lists, counts, the free lists."""
    lru = m._lru
    assert lru is not None
    lists = [lru.percpu_lists[c] for c in range(lru.ncpus)] if lru.percpu else [lru.common]
    heads = [lst.heads[i] for lst in lists for i in (ACTIVE, INACTIVE, FREE)]
    if not lru.percpu:
        heads += [h for loc in lru.local for h in (loc.free, loc.pending)]
    return (
        bytes(lru.ref[: lru.nr_elems]),
        [lru.entries(h) for h in heads],
        [list(lst.counts) for lst in lists],
        [lst.next_inactive_rotation for lst in lists],
    )


def check_same(pair: Pair) -> None:
    a, b = pair.both()
    assert list(a.items()) == list(b.items())
    assert _keys(a) == _keys(b) == [struct.unpack("<Q", k)[0] for k in list(b.keys())]
    for key in list(a.keys()):  # the slot of every element
        assert a._index[key] == b._index[key]
    assert _lru_state(a) == _lru_state(b)


STEP = st.tuples(
    st.sampled_from(["lookup"] * 3 + ["update", "delete"] + ["sys_update"] * 2 + ["sys_delete"]),
    st.integers(0, 8),  # key (more than max_entries: inserts evict)
    st.integers(0, 1 << 40),  # value
    st.sampled_from([0, 0, 0, 1, 2, 4]),  # flags
    st.integers(0, 1),  # cpu
)
_pairs = {kind: Pair(kind[0], max_entries=6, map_flags=kind[1]) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k[0].name}-{k[1]}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=50))
def test_lru_lookups_match_the_interpreter(
    kind: tuple[MapType, int], steps: list[tuple[str, int, int, int, int]]
) -> None:
    pair = _pairs[kind]
    for m in pair.both():  # a fresh start each example, through the syscall side
        for key in list(m.keys()):
            m.delete(key)
    for op, key, value, flags, cpu in steps:
        if op in ("update", "delete", "lookup"):  # updates/deletes: Python helpers on both
            pair.op(["update", "delete", "lookup"].index(op), key, value, flags, cpu)
        else:
            outcomes = []
            for m in pair.both():
                try:
                    if op == "sys_update":
                        m.update(key, _u64(value), flags & 3)
                    else:
                        m.delete(key)
                    outcomes.append(0)
                except MapError as exc:
                    outcomes.append(exc.errno)
            assert outcomes[0] == outcomes[1]
        check_same(pair)


@pytest.mark.parametrize("map_type", LRU_TYPES)
@pytest.mark.parametrize("cpu", [0, 1])
def test_lru_lookups_stay_native(map_type: MapType, cpu: int) -> None:
    spec = MapSpec("h", map_type, 8, 8, 16, 0)
    jit_map, interp_map = create_map(spec, 2), create_map(spec, 2)
    for m in (jit_map, interp_map):
        for key in range(0, 16, 2):  # half of the keys are there
            m.update(key, _u64(1000 + key))
    insns = assemble(LOOKUP_LOOP)
    engine = JitEngine(insns, maps=[jit_map])
    engine.native.state.cpu = cpu
    r0, entered = run_native(engine)
    assert entered == [] and engine.python_calls == 0
    interp = Interpreter(insns, maps=[interp_map])
    interp.call.cpu = cpu
    # (a per-CPU map: the syscall side wrote the value of every CPU)
    assert r0 == interp.run().retval == 4 * sum(1000 + k for k in range(0, 16, 2))
    # exactly the elements found are referenced, on both engines
    for m in (jit_map, interp_map):
        lru = m._lru
        assert lru is not None
        refs = {struct.unpack("<Q", k)[0] for k in list(m.keys()) if lru.ref[m._index[k]]}
        assert refs == set(range(0, 16, 2))
    assert _lru_state(jit_map) == _lru_state(interp_map)
    engine.call.cpu = cpu
    assert engine.run().retval == r0 and engine.python_calls == 0
    _, entered = run_native(engine, repeat=200)
    assert entered == [] and engine.python_calls == 0


@pytest.mark.parametrize("map_type", LRU_TYPES)
def test_ref_bits_set_by_the_jit_decide_evictions(map_type: MapType) -> None:
    """Keys 0..7 fill the map; the JIT looks up 0..3; four inserts then evict 4..7, not 0..3
    (the kernel's choice: the referenced elements get another round on the active list)."""
    look = """
        r6 = 0
loop:   *(u64 *)(r10 - 8) = r6
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        r6 += 1
        if r6 < 4 goto loop
        r0 = 0
        exit
"""
    survivors = []
    for run_lookups in (False, True):
        m = create_map(MapSpec("h", map_type, 8, 8, 8, 0), 2)
        for key in range(8):
            m.update(key, _u64(key))
        engine = JitEngine(assemble(look), maps=[m])
        if run_lookups:
            assert engine.run().retval == 0 and engine.python_calls == 0
        for key in range(100, 104):
            m.update(key, _u64(key))
        survivors.append(sorted(_keys(m)))
    assert survivors[0] == [4, 5, 6, 7, 100, 101, 102, 103]
    assert survivors[1] == [0, 1, 2, 3, 100, 101, 102, 103]


def test_syscall_lookup_sets_no_ref_bit() -> None:
    pair = Pair(MapType.LRU_HASH, max_entries=4, prog=OP_PROG)
    for m in pair.both():
        m.update(1, _u64(5))
        assert m.lookup(1) == _u64(5)
        assert m._lru is not None and not any(m._lru.ref)
    assert pair.op(2, 1) == 5  # a program's lookup does
    for m in pair.both():
        assert m._lru is not None and m._lru.ref[m._index[_u64(1)]] == 1
    assert pair.jit.python_calls == 0


def test_lookup_on_a_cpu_without_a_copy() -> None:
    """A CPU past the map's copies finds nothing and references nothing (as prog_lookup)."""
    pair = Pair(MapType.LRU_PERCPU_HASH, max_entries=4, ncpus=2, prog=OP_PROG)
    for m in pair.both():
        m.update(1, _u64(5))
    assert pair.op(2, 1, cpu=3) == (1 << 64) - 1
    for m in pair.both():
        assert m._lru is not None and not any(m._lru.ref)
    assert pair.op(2, 1, cpu=1) == 5
    check_same(pair)
    assert pair.jit.python_calls == 0
