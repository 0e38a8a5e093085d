"""JIT'd ``bpf_map_lookup_elem`` on array and hash maps never enters Python.

A loop of lookups over an array, a hash and a per-CPU hash map runs with a profiler counting
every Python function entered while native code runs: none are, and the engine's own count of
native-to-Python entries stays 0. The same loop on an LPM trie (kept in Python) does enter
Python, which shows the count works. Results match the interpreter's, before and after the
maps change from the syscall side and from the program side.
"""

from __future__ import annotations

import random
import struct
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from bpfvm.asm import assemble
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BpfMap, MapError, create_map
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import JitEngine

N = 1000

# r7 += value of key i % 16 in map 0 (array, u32 key), map 1 (u64 key), map 2 (6-byte key)
LOOKUPS = """
        r6 = 0
        r7 = 0
loop:   r1 = r6
        r1 &= 15
        *(u32 *)(r10 - 4) = r1
        *(u64 *)(r10 - 16) = r1
        *(u64 *)(r10 - 24) = r1
        ld_pseudo r1, 1, 0
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto h1
        r1 = *(u64 *)(r0 + 0)
        r7 += r1
h1:     ld_pseudo r1, 1, 1
        r2 = r10
        r2 += -16
        call bpf_map_lookup_elem
        if r0 == 0 goto h2
        r1 = *(u64 *)(r0 + 0)
        r7 += r1
h2:     ld_pseudo r1, 1, 2
        r2 = r10
        r2 += -24
        call bpf_map_lookup_elem
        if r0 == 0 goto next
        r1 = *(u64 *)(r0 + 0)
        r7 += r1
next:   r6 += 1
        if r6 < {n} goto loop
        r0 = r7
        exit
"""

# map 1[key 3] = 1000 from the program, then look it up (both natively)
UPDATE_THEN_LOOKUP = """
        *(u64 *)(r10 - 8) = 3
        *(u64 *)(r10 - 16) = 1000
        ld_pseudo r1, 1, 1
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        ld_pseudo r1, 1, 1
        r2 = r10
        r2 += -8
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r0 = *(u64 *)(r0 + 0)
out:    exit
"""


def make_maps(second: MapType = MapType.HASH, ncpus: int = 2) -> list[BpfMap]:
    specs = [
        MapSpec("arr", MapType.ARRAY, 4, 8, 16),
        MapSpec("h", second, 8, 8, 64),
        MapSpec("pch", MapType.PERCPU_HASH, 6, 8, 8),
    ]
    maps = [create_map(spec, ncpus) for spec in specs]
    for i in range(16):
        maps[0].update(i, struct.pack("<Q", i + 1))
        if i % 3:
            maps[1].update(i, struct.pack("<Q", 100 * i))
        if i < 8:
            maps[2].update(struct.pack("<Q", i)[:6], [struct.pack("<Q", 10_000 * (i + c))
                                                      for c in range(ncpus)])  # fmt: skip
    return maps


def copy_maps(maps: list[BpfMap]) -> list[BpfMap]:
    twins = [create_map(m.spec, m.ncpus) for m in maps]
    for m, twin in zip(maps, twins, strict=True):
        for key, value in m.items():
            twin.update(key, value)
    return twins


class PythonCalls:
    """Counts the Python functions entered while active (sys.setprofile)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            self.names.append(frame.f_code.co_name)

    def during(self, fn: Callable[..., Any], *args: int) -> Any:
        """``fn(*args)`` (a ctypes function: calling it enters no Python function)."""
        sys.setprofile(self)
        try:
            return fn(*args)
        finally:
            sys.setprofile(None)


def run_native(engine: JitEngine, repeat: int = 1) -> tuple[int, list[str]]:
    """Run ``engine`` with the profiler on around the native call only."""
    from bpfvm.vm.jit import native as N

    engine.native.activate(N.RegionTable(engine._fixed_regions(), (), None))
    run = engine._repeat[0] if repeat > 1 else engine._run[0]
    args = (engine.native.addr, 0, 0, 0, 0, 0) + ((repeat,) if repeat > 1 else ())
    calls = PythonCalls()
    r0 = calls.during(run, *args)
    engine._check()
    return r0, calls.names


@pytest.mark.parametrize("cpu", [0, 1, 2])
def test_lookups_on_array_and_hash_maps_stay_native(cpu: int) -> None:
    maps = make_maps()
    insns = assemble(LOOKUPS.format(n=N))
    engine = JitEngine(insns, maps=maps)
    engine.native.state.cpu = cpu
    r0, entered = run_native(engine)
    assert entered == [] and engine.python_calls == 0
    interp = Interpreter(insns, maps=copy_maps(maps))
    interp.call.cpu = cpu
    assert r0 == interp.run().retval
    # the repeat loop, too: 1000 runs of 3000 lookups, no Python
    _, entered = run_native(engine, repeat=1000)
    assert entered == [] and engine.python_calls == 0
    # through the engine's own run(): the same
    engine.call.cpu = cpu
    assert engine.run().retval == r0 and engine.python_calls == 0


def test_lpm_trie_lookups_enter_python() -> None:
    """The negative control: an LPM trie is searched in Python, and both counters see it.
    (LRU hash lookups are native too: tests/unit/jit/test_native_lru.py.)"""
    maps = make_maps()
    maps[1] = create_map(MapSpec("lpm", MapType.LPM_TRIE, 8, 8, 64, 1), 2)  # BPF_F_NO_PREALLOC
    for prefixlen in (0, 3, 9):  # keys: u32 prefixlen (the loop's i), then 4 zero bytes
        maps[1].update(struct.pack("<II", prefixlen, 0), struct.pack("<Q", 100 + prefixlen))
    engine = JitEngine(assemble(LOOKUPS.format(n=10)), maps=maps)
    r0, entered = run_native(engine)
    assert engine.python_calls == 10 and entered.count("_on_lookup") == 10
    assert r0 == Interpreter(assemble(LOOKUPS.format(n=10)), maps=copy_maps(maps)).run().retval


def test_native_lookups_follow_syscall_side_changes() -> None:
    """Updates (a hash update moves the element to a spare slot), deletes and re-inserts from
    the syscall side between runs: the native index follows every one."""
    rng = random.Random(5)
    maps = make_maps()
    twins = copy_maps(maps)
    insns = assemble(LOOKUPS.format(n=64))
    engine, interp = JitEngine(insns, maps=maps), Interpreter(insns, maps=twins)
    for _ in range(200):
        key = rng.randrange(20)
        op = rng.choice(["update", "delete", "pc_update", "pc_delete"])
        value = struct.pack("<Q", rng.randrange(1 << 40))
        for m in (maps, twins):
            try:
                if op == "update":
                    m[1].update(key, value)
                elif op == "delete":
                    m[1].delete(key)
                elif op == "pc_update":
                    m[2].update(struct.pack("<Q", key)[:6], value)
                else:
                    m[2].delete(struct.pack("<Q", key)[:6])
            except MapError:  # deleting an absent key
                pass
        assert engine.run().retval == interp.run().retval
    assert engine.python_calls == 0


def test_program_side_update_then_native_lookup() -> None:
    maps = make_maps()
    insns = assemble(UPDATE_THEN_LOOKUP)
    engine = JitEngine(insns, maps=maps)
    assert engine.run().retval == 1000
    assert engine.python_calls == 0  # the update (lower_hash_update) and the lookup are native
    assert maps[1][3] == struct.pack("<Q", 1000)


@pytest.mark.parametrize("key_size", [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 24, 25, 40, 64, 100])
def test_native_search_finds_every_key_size(key_size: int) -> None:
    """jhash (odd sizes) and jhash2 (whole words), unrolled in IR, pick the buckets the
    Python side linked the keys into, in a full 4-bucket map and a 64-bucket one."""
    from bpfvm.runtime.memory import Region

    rng = random.Random(key_size)
    m = create_map(MapSpec("h", MapType.HASH, key_size, 8, 4), 1)
    big = create_map(MapSpec("big", MapType.HASH, key_size, 8, 40), 1)
    keys = {rng.randbytes(key_size) for _ in range(40)}
    for i, key in enumerate(sorted(keys)):
        big.update(key, struct.pack("<Q", i + 1))
        if i < 4:
            m.update(key, struct.pack("<Q", i + 1))
    prog = assemble("ld_pseudo r6, 1, 0\nr2 = r1\nr1 = r6\ncall bpf_map_lookup_elem\n"
                    "if r0 == 0 goto out\nr0 = *(u64 *)(r0 + 0)\nout: exit")  # fmt: skip
    for target in (m, big):
        engine = JitEngine(prog, maps=[target])
        for key in [*sorted(keys), rng.randbytes(key_size)]:
            region = Region.from_bytes("key", key)
            got = engine.run((region.addr,), (region,)).retval
            value = target.lookup(key)
            assert got == (0 if not isinstance(value, bytes) else struct.unpack("<Q", value)[0])
        assert engine.python_calls == 0
