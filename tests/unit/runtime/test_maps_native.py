"""Hash maps keep a native copy of their table (bpfvm.runtime.maps.hash_index) in step with
the Python one through every insert, update, delete and eviction, from both sides."""

from __future__ import annotations

import contextlib
import ctypes
import random
import struct

import pytest

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import (
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    HashMap,
    MapError,
    create_map,
)
from bpfvm.runtime.maps.hash_index import OFF_HEADS, OFF_LINKS
from bpfvm.runtime.maps.jhash import map_hash

T = MapType


def check_index(m: HashMap, buckets: range | list[int] | None = None) -> None:
    """Every bucket's native chain is the Python list, each element carries its key's hash,
    and the handle publishes the arrays."""
    handle = m.handle.read()
    heads, links = (struct.unpack_from("<Q", handle, off)[0] for off in (OFF_HEADS, OFF_LINKS))
    assert heads == m.native.heads_addr and links == m.native.links_addr
    assert struct.unpack_from("<Q", handle, 48)[0] == m.n_buckets
    linked = 0
    for bucket in range(m.n_buckets) if buckets is None else buckets:
        chain = m.native.chain(bucket)
        assert chain == m._buckets.get(bucket, [])
        for slot in chain:
            key = ctypes.string_at(m.slab.addr + slot * m.elem_size, m.key_size)
            assert key == m._slot_key[slot]
            assert m.native.hash_of(slot) == map_hash(key)
        linked += len(chain)
    assert linked == len(m._index)


SPECS = [
    (T.HASH, 0),
    (T.HASH, BPF_F_NO_PREALLOC),
    (T.PERCPU_HASH, 0),
    (T.LRU_HASH, 0),
    (T.LRU_HASH, BPF_F_NO_COMMON_LRU),
    (T.LRU_PERCPU_HASH, 0),
]


@pytest.mark.parametrize(("map_type", "flags"), SPECS, ids=[f"{t.name}-{f}" for t, f in SPECS])
@pytest.mark.parametrize("key_size", [4, 6])
def test_native_index_follows_every_change(map_type: MapType, flags: int, key_size: int) -> None:
    rng = random.Random(f"{map_type}{flags}{key_size}")
    m = create_map(MapSpec("h", map_type, key_size, 8, 8, flags), 2)
    assert isinstance(m, HashMap)
    for _ in range(400):
        key = rng.randrange(12).to_bytes(key_size, "little")
        value = rng.randbytes(8)
        op = rng.randrange(6)
        cpu = rng.randrange(2)
        if op == 0:
            with contextlib.suppress(MapError):
                m.update(key, value, rng.randrange(3))
        elif op == 1:
            m.prog_update(key, value, rng.randrange(3), cpu)
        elif op == 2:
            with contextlib.suppress(MapError):
                m.delete(key)
        elif op == 3:
            m.prog_delete(key, cpu)
        elif op == 4:
            m.prog_lookup(key, cpu)  # LRU: marks the element referenced
        else:
            with contextlib.suppress(MapError):
                m.lookup_and_delete(key)
        check_index(m)


def test_large_maps_cost_nothing_until_used() -> None:
    m = create_map(MapSpec("big", T.HASH, 8, 8, 1 << 24), 1)
    assert isinstance(m, HashMap)
    m.update(7, bytes(8))
    m.update(8, bytes(8))
    m.delete(7)
    m.update(7, bytes(8))
    check_index(m, list(m._buckets))
    assert m.native.chain(map_hash((7).to_bytes(8, "little")) & (m.n_buckets - 1))
    assert m.native.heads_region.size == 4 * m.n_buckets
