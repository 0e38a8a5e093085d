"""Differential test: the XDP redirect maps and ``bpf_redirect_map`` on bpfvm vs the kernel.

Three parts, each compared without leniency:

* creation: a grid of (type, key_size, value_size, max_entries, map_flags) specs for devmap,
  devmap_hash, cpumap and xskmap; ``BPF_MAP_CREATE``'s errno (0: created) must equal bpfvm's
  ``MapSpecError.errno``. Specs whose kernel allocation would be large (bpfvm refuses them with
  ``ENOMEM`` or they need a table above 64 MiB) are not sent to the kernel.
* elements: the same update/lookup/delete sequences on a kernel map and a bpfvm map, with a
  grid of keys, values (ifindexes, CPUs, queue sizes, program and socket fds) and flags; every
  step's errno and value must agree, and so must the final ``get_next_key`` walk (order
  included: devmap_hash buckets). bpfvm's maps name the host's real ifindexes.
* programs: an XDP program calls ``bpf_redirect_map(map, key, flags)`` with key and flags read
  from the packet and stores the result in the packet; ``BPF_PROG_TEST_RUN`` and bpfvm's
  interpreter must give the same retval and ``data_out`` for present/absent/truncated keys and
  a grid of flags.

cpumap's ``max_entries`` limit is the kernel's ``NR_CPUS``, read from
``/sys/devices/system/cpu/kernel_max`` and patched into :mod:`bpfvm.runtime.maps.devmap`.
"""

from __future__ import annotations

import errno
import itertools
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bpfvm.asm import assemble
from bpfvm.hooks import build_packet_context
from bpfvm.isa import encode
from bpfvm.kernel import syscall as k
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.runtime.maps import BpfMap, MapError, MapSpecError, create_map, devmap
from bpfvm.runtime.maps.devmap import CpuMap, DevMap, DevMapHash
from bpfvm.vm.interp import Interpreter

pytestmark = pytest.mark.usefixtures("kernel")

T = MapType
NCPUS = k.possible_cpus()
NUMA, RDONLY, WRONLY, ZERO_SEED = 1 << 2, 1 << 3, 1 << 4, 1 << 6
RDONLY_PROG, WRONLY_PROG, MMAPABLE, NO_PREALLOC = 1 << 7, 1 << 8, 1 << 10, 1
BROADCAST, EXCLUDE_INGRESS = 1 << 3, 1 << 4
BIG_TABLE = 64 << 20
NO_DEV = 999_999  # an ifindex no machine has
BAD_FD = 100_000  # an fd that is not open


def kernel_nr_cpus() -> int:
    try:
        return int(Path("/sys/devices/system/cpu/kernel_max").read_text()) + 1
    except (OSError, ValueError):
        return devmap.NR_CPUS


NR_CPUS = kernel_nr_cpus()


def host_ifindexes() -> tuple[int, ...]:
    out = []
    for path in Path("/sys/class/net").iterdir():
        try:
            out.append(int((path / "ifindex").read_text()))
        except (OSError, ValueError):
            continue
    return tuple(sorted(out)) or (1,)


HOST_DEVICES = host_ifindexes()


@pytest.fixture(scope="module", autouse=True)
def kernel_nr_cpus_limit() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(devmap, "NR_CPUS", NR_CPUS)
        yield


def kernel_errno(fn: Callable[..., object], *args: object) -> tuple[int, object]:
    try:
        return 0, fn(*args)
    except OSError as e:
        return e.errno or -1, None


def ours(fn: Callable[..., object], *args: object) -> tuple[int, object]:
    try:
        return 0, fn(*args)
    except MapError as e:
        return e.errno, None


# --- creation -------------------------------------------------------------------------------


def table_bytes(spec: MapSpec) -> int:
    slots = spec.max_entries
    if spec.type == T.DEVMAP_HASH:
        slots = 1 << max(slots - 1, 0).bit_length()
    return 8 * slots


def kernel_create(spec: MapSpec) -> int:
    try:
        fd = k.map_create_attr(
            spec.type, spec.key_size, spec.value_size, spec.max_entries, spec.map_flags,
            map_extra=spec.map_extra,
        )  # fmt: skip
    except OSError as e:
        return e.errno or -1
    os.close(fd)
    return 0


def ours_create(spec: MapSpec) -> int:
    try:
        create_map(spec, NCPUS)
    except MapSpecError as e:
        return e.errno
    return 0


def creation_grid() -> Iterator[MapSpec]:
    types = (T.DEVMAP, T.DEVMAP_HASH, T.CPUMAP, T.XSKMAP)
    entries = (0, 1, 64, NR_CPUS, NR_CPUS + 1, 1 << 20, (1 << 31) + 1, (1 << 32) - 1)
    flags = (0, NUMA, RDONLY, WRONLY, RDONLY | WRONLY, RDONLY_PROG, WRONLY_PROG, NO_PREALLOC,
             ZERO_SEED, MMAPABLE, 1 << 20)  # fmt: skip
    for t, ks, vs, n, f in itertools.product(types, (0, 4, 8), (0, 4, 8, 12), entries, flags):
        yield MapSpec("m", t, ks, vs, n, f)
    for t in types:  # map_extra belongs to bloom filters and arenas
        yield MapSpec("m", t, 4, 4, 1, 0, map_extra=1)


def test_creation_errnos() -> None:
    compared = skipped = 0
    seen: dict[int, int] = {}
    for spec in creation_grid():
        mine = ours_create(spec)
        if mine == errno.ENOMEM or (mine == 0 and table_bytes(spec) > BIG_TABLE):
            skipped += 1  # a large allocation: the kernel's answer depends on the machine
            continue
        theirs = kernel_create(spec)
        assert mine == theirs, f"{spec}: bpfvm {mine}, kernel {theirs}"
        seen[mine] = seen.get(mine, 0) + 1
        compared += 1
    assert compared > 3000 and skipped < compared // 10
    assert {0, errno.EINVAL, errno.E2BIG} <= set(seen)


# --- elements -------------------------------------------------------------------------------


class KernelMap:
    """A kernel map with bpfvm's syscall-side API shape."""

    def __init__(self, spec: MapSpec) -> None:
        self.spec = spec
        self.fd = k.map_create(spec.type, spec.key_size, spec.value_size, spec.max_entries,
                               spec.map_flags)  # fmt: skip

    def update(self, key: int, value: bytes, flags: int) -> None:
        k.map_update(self.fd, struct.pack("<I", key), value, flags)

    def lookup(self, key: int) -> bytes | None:
        return k.map_lookup(self.fd, struct.pack("<I", key), self.spec.value_size)

    def delete(self, key: int) -> None:
        k.map_delete(self.fd, struct.pack("<I", key))

    def walk(self) -> list[bytes]:
        out: list[bytes] = []
        key = k.map_get_next_key(self.fd, None, 4)
        while key is not None and len(out) <= self.spec.max_entries + 1:
            out.append(key)
            key = k.map_get_next_key(self.fd, key, 4)
        return out

    def close(self) -> None:
        os.close(self.fd)


def our_walk(m: BpfMap) -> list[bytes]:
    return list(itertools.islice(m.keys(), m.max_entries + 2))


def make_ours(spec: MapSpec) -> BpfMap:
    if spec.type == T.DEVMAP:
        return DevMap(spec, NCPUS, devices=HOST_DEVICES)
    if spec.type == T.DEVMAP_HASH:
        return DevMapHash(spec, NCPUS, devices=HOST_DEVICES)
    if spec.type == T.CPUMAP:
        return CpuMap(spec, NCPUS)
    return create_map(spec, NCPUS)


def pair(a: int, b: int, size: int) -> bytes:
    return struct.pack("<Ii", a, b)[:size]


def values_for(spec: MapSpec) -> list[bytes]:
    size = spec.value_size
    if spec.type == T.XSKMAP:
        return [struct.pack("<i", fd) for fd in (-1, BAD_FD)]
    fds = (0, -1, BAD_FD) if size == 8 else (0,)
    if spec.type == T.CPUMAP:
        firsts: tuple[int, ...] = (0, 1, 16, 16384, 16385, 0xFFFFFFFF)
    else:
        firsts = (0, *HOST_DEVICES[:3], NO_DEV)
    return sorted({pair(a, b, size) for a in firsts for b in fds})


def keys_for(spec: MapSpec) -> tuple[int, ...]:
    n = spec.max_entries
    if spec.type == T.DEVMAP_HASH:
        return (0, 1, 4, 5, 8, 1000, 0xFFFFFFFF)
    return tuple(sorted({0, 1, NCPUS, n - 1, n, 0xFFFFFFFF}))


ELEMENT_SPECS = [
    MapSpec("dev8", T.DEVMAP, 4, 8, 4),
    MapSpec("dev4", T.DEVMAP, 4, 4, 3),
    MapSpec("devro", T.DEVMAP, 4, 4, 2, RDONLY),
    MapSpec("devwo", T.DEVMAP, 4, 4, 2, WRONLY),
    MapSpec("hash8", T.DEVMAP_HASH, 4, 8, 3),
    MapSpec("hash4", T.DEVMAP_HASH, 4, 4, 5),
    MapSpec("cpu8", T.CPUMAP, 4, 8, 4),
    MapSpec("cpu4", T.CPUMAP, 4, 4, 2),
    MapSpec("xsk", T.XSKMAP, 4, 4, 4),
]
UPDATE_FLAGS = (0, 1, 2, 3, 4, 8)


@pytest.mark.parametrize("spec", ELEMENT_SPECS, ids=lambda s: s.name)
def test_element_errnos(spec: MapSpec) -> None:
    theirs, mine = KernelMap(spec), make_ours(spec)
    keys = keys_for(spec)
    steps = 0
    try:
        grid = itertools.product(values_for(spec), UPDATE_FLAGS, keys)
        for i, (value, flags, key) in enumerate(grid):
            got = ours(mine.update, key, value, flags)
            want = kernel_errno(theirs.update, key, value, flags)
            assert got == want, f"update {key} {value.hex()} flags {flags}"
            if i % 5 == 0:
                assert ours(mine.lookup, key) == kernel_errno(theirs.lookup, key), key
            if i % 11 == 0:
                victim = keys[i % len(keys)]
                assert ours(mine.delete, victim) == kernel_errno(theirs.delete, victim)
            steps += 1
        for key in keys:
            assert ours(mine.lookup, key) == kernel_errno(theirs.lookup, key), key
        assert ours(our_walk, mine) == kernel_errno(theirs.walk)
        for key in keys:
            assert ours(mine.delete, key) == kernel_errno(theirs.delete, key), key
        assert ours(our_walk, mine) == kernel_errno(theirs.walk)
    finally:
        theirs.close()
    assert steps >= 36


# --- programs -------------------------------------------------------------------------------

PROGRAM = """r6 = r1
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 24
r0 = 99
if r4 > r3 goto out
r7 = *(u64 *)(r2 + 0)
r8 = *(u64 *)(r2 + 8)
ld_pseudo r1, 1, {fd}
r2 = r7
r3 = r8
call bpf_redirect_map
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 24
if r4 > r3 goto out
*(u32 *)(r2 + 16) = r0
out:
exit"""

REDIRECT_FLAGS = (0, 1, 2, 3, 4, 1 << 5, 1 << 63, BROADCAST, BROADCAST | 1, EXCLUDE_INGRESS,
                  EXCLUDE_INGRESS | 2, BROADCAST | EXCLUDE_INGRESS,
                  BROADCAST | EXCLUDE_INGRESS | 3)  # fmt: skip

# (spec, entries (key, value) put on both sides, the present key)
PROGRAM_MAPS = [
    (MapSpec("dev", T.DEVMAP, 4, 8, 8), [(2, pair(1, 0, 8))], 2),
    (MapSpec("devh", T.DEVMAP_HASH, 4, 4, 4), [(77, pair(1, 0, 4))], 77),
    (MapSpec("cpu", T.CPUMAP, 4, 8, 2), [(0, pair(64, 0, 8))], 0),
    (MapSpec("xsk", T.XSKMAP, 4, 4, 4), [], 1),
]


@pytest.mark.parametrize("case", PROGRAM_MAPS, ids=lambda c: c[0].name)
def test_redirect_map_programs(case: tuple[MapSpec, list[tuple[int, bytes]], int]) -> None:
    spec, entries, present = case
    kmap, mine = KernelMap(spec), make_ours(spec)
    try:
        for key, value in entries:
            kmap.update(key, value, 0)
            mine.update(key, value)
        prog, result = k.prog_load(encode(assemble(PROGRAM.format(fd=kmap.fd))), ProgType.XDP)
        assert prog is not None, result.log[-2000:]
        vm = Interpreter(assemble(PROGRAM.format(fd=0)), maps=[mine])
        runs = 0
        with prog:
            keys = (present, present + 1, present | 1 << 32, 0xFFFFFFFF, (1 << 64) - 1)
            for key, flags in itertools.product(keys, REDIRECT_FLAGS):
                data = struct.pack("<QQ", key, flags) + bytes(range(24))
                want = k.prog_test_run(prog.fd, data)
                with build_packet_context(ProgType.XDP, data) as pc:
                    vm.call.packet = pc.packet_state
                    got = vm.run(pc.args, pc.regions, packet=pc.packet)
                    assert (got.retval & 0xFFFFFFFF, pc.data_out()) == (
                        want.retval,
                        want.data_out,
                    ), f"key {key:#x} flags {flags:#x}"
                runs += 1
        assert runs == len(keys) * len(REDIRECT_FLAGS)
    finally:
        kmap.close()
