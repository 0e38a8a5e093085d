"""Differential tests: bpfvm's runtime maps against the running kernel's, through bpf().

The same operation sequences (hypothesis-generated) go to a kernel map and to a bpfvm map;
every step must give the same errno and the same result, and the final walk with
``get_next_key`` the same keys *in the same order*. Hash maps are created with
``BPF_F_ZERO_SEED`` on the kernel side, which makes the kernel's bucket order deterministic,
and bpfvm hashes with seed 0, so even hash iteration order must match. The test process is
pinned to CPU 0 so that the kernel's per-CPU LRU lists behave as bpfvm's "syscall side runs on
CPU 0" model; LRU eviction must then match exactly. Leniency: none in the comparisons; what
is not covered is program-side behaviour (a program's lookup sets an LRU ref bit; the syscall
side cannot), which the unit tests check against the algorithm instead.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.kernel import syscall as k
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BpfMap, MapError, MapSpecError, create_map

T = MapType
ZERO_SEED = 1 << 6
NO_PREALLOC = 1
NO_COMMON_LRU = 2
PERCPU = {T.PERCPU_ARRAY, T.PERCPU_HASH, T.LRU_PERCPU_HASH}
NCPUS = k.possible_cpus()

pytestmark = pytest.mark.usefixtures("kernel")
BIG = int(os.environ.get("BPFVM_MAPS_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=BIG, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module", autouse=True)
def on_cpu0() -> Iterator[None]:
    """Run on CPU 0: the kernel's LRU lists are per CPU, bpfvm's syscall side is CPU 0."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def kernel_errno(fn: Callable[..., object], *args: object) -> tuple[int, object]:
    try:
        return 0, fn(*args)
    except OSError as e:
        return e.errno or 0, None


def ours(fn: Callable[..., object], *args: object) -> tuple[int, object]:
    try:
        return 0, fn(*args)
    except MapError as e:
        return e.errno, None


class KernelMap:
    """A kernel map with bpfvm's syscall-side API (results as (errno, value))."""

    def __init__(self, spec: MapSpec, map_extra: int = 0, inner_fd: int = 0) -> None:
        self.spec = spec
        self.percpu = spec.type in PERCPU
        self.stride = (spec.value_size + 7) & ~7
        self.fd = k.map_create_attr(
            int(spec.type), spec.key_size, spec.value_size, spec.max_entries, spec.map_flags,
            map_extra=map_extra, inner_map_fd=inner_fd,
        )  # fmt: skip

    def close(self) -> None:
        os.close(self.fd)

    def _pack(self, value: bytes | list[bytes]) -> bytes:
        if isinstance(value, list):
            return b"".join(v.ljust(self.stride, b"\0") for v in value)
        return value

    def _unpack(self, raw: object) -> object:
        if raw is None or not self.percpu:
            return raw
        assert isinstance(raw, bytes)
        return [raw[i : i + self.spec.value_size] for i in range(0, len(raw), self.stride)]

    @property
    def total(self) -> int:
        return self.stride * NCPUS if self.percpu else self.spec.value_size

    def update(self, key: bytes, value: bytes | list[bytes], flags: int) -> tuple[int, object]:
        return kernel_errno(k.map_update, self.fd, key, self._pack(value), flags)

    def delete(self, key: bytes) -> tuple[int, object]:
        return kernel_errno(k.map_delete, self.fd, key)

    def lookup(self, key: bytes) -> tuple[int, object]:
        err, raw = kernel_errno(k.map_lookup, self.fd, key, self.total)
        return err, self._unpack(raw)

    def next(self, key: bytes | None) -> tuple[int, object]:
        return kernel_errno(k.map_get_next_key, self.fd, key, self.spec.key_size)

    def lookup_and_delete(self, key: bytes) -> tuple[int, object]:
        err, raw = kernel_errno(k.map_lookup_and_delete, self.fd, key, self.total)
        return err, self._unpack(raw)

    def walk(self) -> list[bytes]:
        keys: list[bytes] = []
        key = k.map_get_next_key(self.fd, None, self.spec.key_size)
        while key is not None and len(keys) <= self.spec.max_entries + 2:
            keys.append(key)
            key = k.map_get_next_key(self.fd, key, self.spec.key_size)
        return keys


def pair(spec: MapSpec) -> tuple[KernelMap, BpfMap]:
    return KernelMap(spec), create_map(spec, NCPUS)


# --- creation -------------------------------------------------------------------------------------

SUPPORTED = [
    T.HASH, T.ARRAY, T.PROG_ARRAY, T.PERF_EVENT_ARRAY, T.PERCPU_HASH, T.PERCPU_ARRAY,
    T.LRU_HASH, T.LRU_PERCPU_HASH, T.LPM_TRIE, T.QUEUE, T.STACK, T.RINGBUF, T.BLOOM_FILTER,
]  # fmt: skip
SIZES = [
    (0, 1), (4, 0), (4, 1), (8, 3), (12, 4096), (32768, 1), (32769, 1),
    (0, 4096), (0, 12288), (0, 2048), ((1 << 22) + 1, 1),
]  # fmt: skip
FLAG_BITS = [1, 2, 4, 8, 16, 64, 128, 256, 1024, 2048, 4096, 1 << 20]


@st.composite
def specs(draw: st.DrawFn) -> tuple[MapSpec, int]:
    t = draw(st.sampled_from(SUPPORTED))
    key_size = draw(st.sampled_from([0, 4, 5, 8, 261]))
    value_size, max_entries = draw(st.sampled_from(SIZES))
    flags = 0
    for bit in draw(st.lists(st.sampled_from(FLAG_BITS), max_size=3)):
        flags |= bit
    map_extra = draw(st.sampled_from([0, 0, 0, 3, 16]))
    return MapSpec("m", t, key_size, value_size, max_entries, flags), map_extra


def with_extra(spec: MapSpec, map_extra: int) -> MapSpec:
    return replace(spec, map_extra=map_extra)


@SETTINGS
@given(specs())
def test_create_same_errno(case: tuple[MapSpec, int]) -> None:
    spec, map_extra = case
    try:
        KernelMap(spec, map_extra).close()
        want = 0
    except OSError as e:
        want = e.errno or 0
    try:
        create_map(with_extra(spec, map_extra), NCPUS)
        got = 0
    except MapSpecError as e:
        got = e.errno
    assert got == want, (spec, map_extra)


# --- keyed maps: array, percpu_array, hash, percpu_hash, lru_hash, lru_percpu_hash ----------------

KEYED = {
    "array": MapSpec("m", T.ARRAY, 4, 8, 5),
    "percpu_array": MapSpec("m", T.PERCPU_ARRAY, 4, 12, 4),
    "hash": MapSpec("m", T.HASH, 4, 8, 6, ZERO_SEED),
    "hash_no_prealloc_odd_key": MapSpec("m", T.HASH, 6, 8, 6, ZERO_SEED | NO_PREALLOC),
    "percpu_hash": MapSpec("m", T.PERCPU_HASH, 4, 12, 5, ZERO_SEED),
    "lru_hash": MapSpec("m", T.LRU_HASH, 4, 8, 6, ZERO_SEED),
    "lru_hash_percpu_lru": MapSpec("m", T.LRU_HASH, 4, 8, 7, ZERO_SEED | NO_COMMON_LRU),
    "lru_percpu_hash": MapSpec("m", T.LRU_PERCPU_HASH, 4, 12, 6, ZERO_SEED),
}

KEY = st.integers(0, 9)
UPDATE_FLAGS = [0, 0, 1, 2, 3, 4]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("update"), KEY, st.integers(0, 1 << 40), st.sampled_from(UPDATE_FLAGS)),
        st.tuples(st.just("delete"), KEY),
        st.tuples(st.just("lookup"), KEY),
        st.tuples(st.just("next"), st.one_of(st.none(), KEY)),
        st.tuples(st.just("lookup_and_delete"), KEY),
    ),
    max_size=60,
)  # fmt: skip


def make_key(spec: MapSpec, i: int) -> bytes:
    if spec.type in (T.ARRAY, T.PERCPU_ARRAY):
        return struct.pack("<I", i)
    return struct.pack("<Q", i * 0x9E3779B1 & 0xFFFFFFFF)[: spec.key_size]


def make_value(spec: MapSpec, v: int, percpu_list: bool) -> bytes | list[bytes]:
    def one(x: int) -> bytes:
        return struct.pack("<QQ", x, ~x & (1 << 64) - 1)[: spec.value_size]

    if spec.type in PERCPU and percpu_list:
        return [one(v + cpu) for cpu in range(NCPUS)]
    return one(v)


def run_keyed(spec: MapSpec, ops: list[tuple[Any, ...]]) -> None:
    km, bm = pair(spec)
    try:
        for step, (op, *args) in enumerate(ops):
            if op == "next":
                key = None if args[0] is None else make_key(spec, int(args[0]))
                assert ours(bm.get_next_key, key) == km.next(key), (step, op, args)
                continue
            key = make_key(spec, int(args[0]))
            if op == "update":
                v, flags = int(args[1]), int(args[2])
                value = make_value(spec, v, percpu_list=v % 2 == 0)
                if spec.type in PERCPU and isinstance(value, bytes):
                    want = km.update(key, [value] * NCPUS, flags)
                else:
                    want = km.update(key, value, flags)
                got = ours(bm.update, key, value, flags)
            elif op == "delete":
                want, got = km.delete(key), ours(bm.delete, key)
            elif op == "lookup":
                want, got = km.lookup(key), ours(bm.lookup, key)
            else:
                want = km.lookup_and_delete(key)
                got = ours(bm.lookup_and_delete, key)
            assert got == want, (step, op, args)
        assert list(bm.keys()) == km.walk()
    finally:
        km.close()


@pytest.mark.parametrize("name", list(KEYED))
def test_keyed_maps_same_results(name: str) -> None:
    @SETTINGS
    @given(OPS)
    def check(ops: list[tuple[Any, ...]]) -> None:
        run_keyed(KEYED[name], ops)

    check()


def test_lru_eviction_order_on_long_runs() -> None:
    """Longer insert-heavy runs than hypothesis makes, for the LRU list rotations."""
    import random

    for seed in range(12):
        rng = random.Random(seed)
        flags = ZERO_SEED | rng.choice([0, NO_COMMON_LRU])
        spec = MapSpec("m", rng.choice([T.LRU_HASH, T.LRU_PERCPU_HASH]), 4, 8,
                       rng.choice([1, 2, 5, 16, 33]), flags)  # fmt: skip
        ops: list[tuple[Any, ...]] = []
        for _ in range(150):
            r = rng.random()
            key = rng.randrange(3 * spec.max_entries + 2)
            if r < 0.75:
                ops.append(("update", key, rng.randrange(1 << 30), rng.choice([0, 0, 0, 1, 2])))
            else:
                ops.append(("delete", key))
        run_keyed(spec, ops)


# --- queue, stack, bloom filter -------------------------------------------------------------------


@pytest.mark.parametrize("t", [T.QUEUE, T.STACK])
def test_queue_stack_same_results(t: MapType) -> None:
    ops = st.lists(
        st.one_of(
            st.tuples(st.just("push"), st.integers(0, 1 << 32), st.sampled_from([0, 0, 1, 2, 4])),
            st.tuples(st.just("pop")),
            st.tuples(st.just("peek")),
        ),
        max_size=40,
    )

    @SETTINGS
    @given(ops)
    def check(seq: list[tuple[Any, ...]]) -> None:
        spec = MapSpec("q", t, 0, 6, 4)
        fd = k.map_create(int(t), 0, 6, 4)
        bm = create_map(spec, NCPUS)
        try:
            for op, *args in seq:
                if op == "push":
                    value = struct.pack("<Q", int(args[0]))[:6]
                    want = kernel_errno(k.map_push, fd, value, args[1])
                    got = ours(bm.update, None, value, args[1])
                elif op == "pop":
                    want = kernel_errno(k.map_lookup_and_delete, fd, None, 6)
                    got = ours(bm.lookup_and_delete, None)
                else:
                    want = kernel_errno(k.map_peek, fd, 6)
                    if want == (0, None):
                        want = (errno.ENOENT, None)
                    got = ours(bm.lookup, None)
                    if got == (0, None):
                        got = (errno.ENOENT, None)
                assert got == want, (op, args)
        finally:
            os.close(fd)

    check()


@SETTINGS
@given(
    st.lists(st.binary(min_size=3, max_size=3), max_size=30),
    st.sampled_from([0, 1, 3]),
    st.sampled_from([1, 10, 50]),
)
def test_bloom_filter_same_bits(values: list[bytes], nr_hash: int, n: int) -> None:
    bm = create_map(with_extra(MapSpec("b", T.BLOOM_FILTER, 0, 3, n, ZERO_SEED), nr_hash), NCPUS)
    fd = k.map_create_attr(int(T.BLOOM_FILTER), 0, 3, n, ZERO_SEED, map_extra=nr_hash)
    try:
        for value in values:
            k.map_push(fd, value)
            bm.update(None, value)
        for i in range(0, 1 << 16, 97):
            probe = struct.pack("<I", i)[:3]
            assert (bm.lookup(probe) is None) == (k.map_peek(fd, 3, probe) is None), probe
    finally:
        os.close(fd)


# --- lpm trie -------------------------------------------------------------------------------------

PREFIX = st.integers(0, 17)  # 17 is beyond the 16 bits of data
DATA = st.integers(0, 0xFFFF)
LPM_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("update"), PREFIX, DATA, st.sampled_from([0, 0, 1, 2, 3])),
        st.tuples(st.just("delete"), PREFIX, DATA),
        st.tuples(st.just("lookup"), PREFIX, DATA),
        st.tuples(st.just("next"), PREFIX, DATA),
    ),
    max_size=40,
)


@SETTINGS
@given(LPM_OPS)
def test_lpm_trie_same_results(ops: list[tuple[Any, ...]]) -> None:
    spec = MapSpec("t", T.LPM_TRIE, 6, 4, 6, NO_PREALLOC)
    km, bm = pair(spec)
    try:
        for step, (op, prefixlen, data, *rest) in enumerate(ops):
            # restrict prefixes to a few bits so that keys share prefixes often
            bits = int(data) & 0xF00F
            key = struct.pack("<I", prefixlen) + bits.to_bytes(2, "big")
            if op == "update":
                value = struct.pack("<I", step)
                want, got = km.update(key, value, rest[0]), ours(bm.update, key, value, rest[0])
            elif op == "delete":
                want, got = km.delete(key), ours(bm.delete, key)
            elif op == "lookup":
                want, got = km.lookup(key), ours(bm.lookup, key)
            else:
                want, got = km.next(key), ours(bm.get_next_key, key)
            assert got == want, (step, op, prefixlen, hex(bits))
        assert list(bm.keys()) == km.walk()
    finally:
        km.close()


# --- maps of maps, freeze, permissions ------------------------------------------------------------


INNER_CASES = [
    (MapSpec("i", T.ARRAY, 4, 4, 4), MapSpec("j", T.ARRAY, 4, 4, 4)),
    (MapSpec("i", T.ARRAY, 4, 4, 4), MapSpec("j", T.ARRAY, 4, 4, 5)),
    (MapSpec("i", T.ARRAY, 4, 4, 4, 4096), MapSpec("j", T.ARRAY, 4, 4, 50, 4096)),
    (MapSpec("i", T.ARRAY, 4, 4, 4, 4096), MapSpec("j", T.ARRAY, 4, 4, 4)),
    (MapSpec("i", T.HASH, 4, 4, 4), MapSpec("j", T.HASH, 4, 4, 40)),
    (MapSpec("i", T.HASH, 4, 4, 4), MapSpec("j", T.HASH, 4, 8, 4)),
    (MapSpec("i", T.HASH, 4, 4, 4), MapSpec("j", T.HASH, 4, 4, 4, 1)),
    (MapSpec("i", T.HASH, 4, 4, 4), MapSpec("j", T.LRU_HASH, 4, 4, 4)),
    (MapSpec("i", T.QUEUE, 0, 4, 4), MapSpec("j", T.QUEUE, 0, 4, 9)),
]


@pytest.mark.parametrize("outer_type", [T.ARRAY_OF_MAPS, T.HASH_OF_MAPS])
@pytest.mark.parametrize(("template", "candidate"), INNER_CASES)
def test_inner_map_compatibility(
    outer_type: MapType, template: MapSpec, candidate: MapSpec
) -> None:
    tk, ck = KernelMap(template), KernelMap(candidate)
    outer_spec = MapSpec("o", outer_type, 4, 4, 2, inner=template)
    outer_k = KernelMap(outer_spec, inner_fd=tk.fd)
    outer_b = create_map(outer_spec, NCPUS)
    inner_b = create_map(candidate, NCPUS)
    try:
        for key, flags in ((0, 0), (1, 1), (1, 2), (2, 0)):
            kkey = struct.pack("<I", key)
            want = kernel_errno(k.map_update, outer_k.fd, kkey, struct.pack("<I", ck.fd), flags)
            got = ours(outer_b.update, kkey, inner_b, flags)
            assert got[0] == want[0], (key, flags)
            want_del = kernel_errno(k.map_delete, outer_k.fd, struct.pack("<I", 3))
            assert ours(outer_b.delete, struct.pack("<I", 3))[0] == want_del[0]
    finally:
        for m in (outer_k, tk, ck):
            m.close()


@pytest.mark.parametrize("flags", [0, 8, 16])
def test_freeze_and_fd_permissions(flags: int) -> None:
    spec = MapSpec("m", T.HASH, 4, 4, 4, flags)
    km, bm = pair(spec)
    key, value = struct.pack("<I", 1), struct.pack("<I", 2)
    try:
        for _ in range(2):
            assert ours(bm.update, key, value, 0)[0] == km.update(key, value, 0)[0]
            assert ours(bm.lookup, key)[0] == km.lookup(key)[0]
            assert ours(bm.get_next_key, None)[0] == km.next(None)[0]
            assert ours(bm.lookup_and_delete, key)[0] == km.lookup_and_delete(key)[0]
            assert ours(bm.delete, key)[0] == km.delete(key)[0]
            assert ours(bm.freeze)[0] == kernel_errno(k.map_freeze, km.fd)[0]
    finally:
        km.close()
