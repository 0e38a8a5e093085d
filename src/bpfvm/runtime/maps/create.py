"""``create_map``: check a :class:`MapSpec` as ``BPF_MAP_CREATE`` would, then build the map.

The checks are the kernel's ``map_create`` and each type's ``map_alloc_check``/``map_alloc``,
in their order, so the first complaint is the kernel's first complaint, with its errno (the
differential tests compare them with Linux 6.18). Limits are those of x86-64 with 4 KiB pages:
``KMALLOC_MAX_SIZE`` 4 MiB, per-CPU values at most 32 KiB. On top of the kernel's, bpfvm
refuses (``ENOMEM``) a map whose native storage would exceed
:data:`~bpfvm.runtime.maps.base.MAX_STORAGE`.
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Callable

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps.array import ArrayMap, PercpuArrayMap
from bpfvm.runtime.maps.base import (
    BPF_F_ACCESS_MASK,
    BPF_F_INNER_MAP,
    BPF_F_MMAPABLE,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE,
    BPF_F_PRESERVE_ELEMS,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY_PROG,
    BPF_F_ZERO_SEED,
    ENOTSUPP,
    KMALLOC_MAX_SIZE,
    PAGE_SIZE,
    PCPU_MIN_UNIT_SIZE,
    BpfMap,
    MapSpecError,
    check_common,
    check_flags,
    reject,
    round8,
    type_name,
)
from bpfvm.runtime.maps.devmap import CpuMap, DevMap, DevMapHash, XskMap
from bpfvm.runtime.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from bpfvm.runtime.maps.hash import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from bpfvm.runtime.maps.lpm import LPM_DATA_SIZE_MAX, LPM_DATA_SIZE_MIN, LpmTrieMap
from bpfvm.runtime.maps.perf import PerfEventArrayMap
from bpfvm.runtime.maps.queue import BloomFilterMap, QueueMap, StackMap
from bpfvm.runtime.maps.ringbuf import RingBufMap

MAP_CLASSES: dict[MapType, Callable[[MapSpec, int], BpfMap]] = {
    MapType.HASH: HashMap,
    MapType.ARRAY: ArrayMap,
    MapType.PROG_ARRAY: ProgArrayMap,
    MapType.PERF_EVENT_ARRAY: PerfEventArrayMap,
    MapType.PERCPU_HASH: PercpuHashMap,
    MapType.PERCPU_ARRAY: PercpuArrayMap,
    MapType.LRU_HASH: LruHashMap,
    MapType.LRU_PERCPU_HASH: LruPercpuHashMap,
    MapType.LPM_TRIE: LpmTrieMap,
    MapType.ARRAY_OF_MAPS: ArrayOfMapsMap,
    MapType.HASH_OF_MAPS: HashOfMapsMap,
    MapType.QUEUE: QueueMap,
    MapType.STACK: StackMap,
    MapType.RINGBUF: RingBufMap,
    MapType.BLOOM_FILTER: BloomFilterMap,
    MapType.DEVMAP: DevMap,
    MapType.DEVMAP_HASH: DevMapHash,
    MapType.CPUMAP: CpuMap,
    MapType.XSKMAP: XskMap,
}

ARRAY_CREATE_FLAG_MASK = (
    BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP
)
HTAB_CREATE_FLAG_MASK = (
    BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED
)
QUEUE_STACK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK
BLOOM_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK
LPM_CREATE_FLAG_MASK = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK
RINGBUF_CREATE_FLAG_MASK = BPF_F_NUMA_NODE
HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem)
LPM_NODE_SIZE = 24  # sizeof(struct lpm_trie_node)
INT_MAX = (1 << 31) - 1

_PERCPU = (MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
_FD_ARRAYS = (MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS)


def _zero_size(spec: MapSpec, what: str) -> None:
    reject(spec, _errno.EINVAL, f"invalid {what} 0 for a {type_name(spec.type)} map")


def _check_array(spec: MapSpec) -> None:
    """``array_map_alloc_check`` (and ``fd_array_map_alloc_check`` before it)."""
    kind = type_name(spec.type)
    percpu = spec.type == MapType.PERCPU_ARRAY
    if spec.type in _FD_ARRAYS:
        if spec.value_size != 4:
            reject(spec, _errno.EINVAL, f"invalid value_size {spec.value_size} for a {kind} "
                                        "map (a file descriptor, 4)")  # fmt: skip
        if spec.map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG):
            reject(spec, _errno.EINVAL, f"program access flags on a {kind} map")
    if spec.max_entries == 0:
        _zero_size(spec, "max_entries")
    if spec.key_size != 4:
        reject(spec, _errno.EINVAL, f"invalid key_size {spec.key_size} for a {kind} map (4)")
    if spec.value_size == 0:
        _zero_size(spec, "value_size")
    check_flags(spec, ARRAY_CREATE_FLAG_MASK)
    if percpu and spec.map_flags & BPF_F_NUMA_NODE:
        reject(spec, _errno.EINVAL, "BPF_F_NUMA_NODE on a per-CPU map")
    if spec.type != MapType.ARRAY and spec.map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP):
        reject(spec, _errno.EINVAL, f"BPF_F_MMAPABLE/BPF_F_INNER_MAP on a {kind} map")
    if spec.type != MapType.PERF_EVENT_ARRAY and spec.map_flags & BPF_F_PRESERVE_ELEMS:
        reject(spec, _errno.EINVAL, f"BPF_F_PRESERVE_ELEMS on a {kind} map")
    if spec.value_size > INT_MAX:
        reject(spec, _errno.E2BIG, f"value_size {spec.value_size} too large")
    if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
        reject(spec, _errno.E2BIG, f"per-CPU value_size {spec.value_size} above "
                                   f"{PCPU_MIN_UNIT_SIZE}")  # fmt: skip


def _check_hash(spec: MapSpec) -> None:
    """``htab_map_alloc_check`` (and ``fd_htab_map_alloc_check``), then ``htab_map_alloc``."""
    kind = type_name(spec.type)
    percpu = spec.type in _PERCPU
    lru = spec.type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
    if spec.type == MapType.HASH_OF_MAPS and spec.value_size != 4:
        reject(spec, _errno.EINVAL, f"invalid value_size {spec.value_size} for a {kind} map "
                                    "(a file descriptor, 4)")  # fmt: skip
    check_flags(spec, HTAB_CREATE_FLAG_MASK)
    if not lru and spec.map_flags & BPF_F_NO_COMMON_LRU:
        reject(spec, _errno.EINVAL, f"BPF_F_NO_COMMON_LRU on a {kind} map")
    if lru and spec.map_flags & BPF_F_NO_PREALLOC:
        reject(spec, ENOTSUPP, f"BPF_F_NO_PREALLOC on a {kind} map")
    if spec.map_flags & BPF_F_NUMA_NODE and (percpu or spec.map_flags & BPF_F_NO_COMMON_LRU):
        reject(spec, _errno.EINVAL, "BPF_F_NUMA_NODE on a per-CPU map")
    for what in ("max_entries", "key_size", "value_size"):
        if getattr(spec, what) == 0:
            _zero_size(spec, what)
    if spec.key_size + spec.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE:
        reject(spec, _errno.E2BIG, f"key_size + value_size {spec.key_size + spec.value_size} "
                                   "too large")  # fmt: skip
    if percpu and round8(spec.value_size) > PCPU_MIN_UNIT_SIZE:
        reject(spec, _errno.E2BIG, f"per-CPU value_size {spec.value_size} above "
                                   f"{PCPU_MIN_UNIT_SIZE}")  # fmt: skip
    if spec.max_entries > 1 << 31:
        reject(spec, _errno.E2BIG, f"max_entries {spec.max_entries} above 2^31")


def _check_keyless(spec: MapSpec) -> None:
    """``queue_stack_map_alloc_check``; ``bloom_map_alloc_check`` + ``bloom_map_alloc``."""
    kind = type_name(spec.type)
    if spec.type == MapType.BLOOM_FILTER:
        if spec.value_size > KMALLOC_MAX_SIZE:
            reject(spec, _errno.E2BIG, f"value_size {spec.value_size} too large")
        if spec.key_size != 0:
            reject(spec, _errno.EINVAL, f"invalid key_size {spec.key_size} for a {kind} (0)")
        if spec.value_size == 0:
            _zero_size(spec, "value_size")
        if spec.max_entries == 0:
            _zero_size(spec, "max_entries")
        check_flags(spec, BLOOM_CREATE_FLAG_MASK)
        extra = spec.map_extra
        if extra & ~0xF:
            reject(spec, _errno.EINVAL, f"map_extra {extra:#x}: at most 15 hash functions")
        return
    if spec.max_entries == 0:
        _zero_size(spec, "max_entries")
    if spec.key_size != 0:
        reject(spec, _errno.EINVAL, f"invalid key_size {spec.key_size} for a {kind} map (0)")
    if spec.value_size == 0:
        _zero_size(spec, "value_size")
    check_flags(spec, QUEUE_STACK_CREATE_FLAG_MASK)
    if spec.value_size > KMALLOC_MAX_SIZE:
        reject(spec, _errno.E2BIG, f"value_size {spec.value_size} too large")


def _check_lpm(spec: MapSpec) -> None:
    """``trie_alloc``."""
    if spec.max_entries == 0:
        _zero_size(spec, "max_entries")
    if not spec.map_flags & BPF_F_NO_PREALLOC:
        reject(spec, _errno.EINVAL, "an lpm_trie map needs BPF_F_NO_PREALLOC")
    check_flags(spec, LPM_CREATE_FLAG_MASK)
    if not 4 + LPM_DATA_SIZE_MIN <= spec.key_size <= 4 + LPM_DATA_SIZE_MAX:
        reject(spec, _errno.EINVAL, f"invalid key_size {spec.key_size} for an lpm_trie map "
                                    f"(4 + 1..{LPM_DATA_SIZE_MAX})")  # fmt: skip
    vmax = KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - LPM_NODE_SIZE
    if not 1 <= spec.value_size <= vmax:
        reject(spec, _errno.EINVAL, f"invalid value_size {spec.value_size} for an lpm_trie "
                                    f"map (1..{vmax})")  # fmt: skip


def _check_ringbuf(spec: MapSpec) -> None:
    """``ringbuf_map_alloc``."""
    check_flags(spec, RINGBUF_CREATE_FLAG_MASK)
    if spec.key_size or spec.value_size:
        reject(spec, _errno.EINVAL, "a ringbuf map has key_size and value_size 0")
    size = spec.max_entries
    if size == 0 or size & (size - 1) or size % PAGE_SIZE:
        reject(spec, _errno.EINVAL, f"ringbuf size {size} is not a power-of-2 multiple of "
                                    f"the page size {PAGE_SIZE}")  # fmt: skip


def _check_inner(spec: MapSpec, ncpus: int) -> None:
    """``bpf_map_meta_alloc``: the template of a map of maps."""
    inner = spec.inner
    if inner is None:
        reject(spec, _errno.EINVAL, f"a {type_name(spec.type)} map needs an inner map template")
    if inner.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        reject(spec, _errno.EINVAL, "maps of maps nest one level only")
    if inner.type == MapType.PROG_ARRAY:
        reject(spec, ENOTSUPP, "a prog_array cannot be an inner map")
    check_spec(inner, ncpus)


def check_spec(spec: MapSpec, ncpus: int = 1) -> None:
    """Raise :class:`~bpfvm.runtime.maps.base.MapSpecError` where ``BPF_MAP_CREATE`` fails."""
    check_common(spec)
    if spec.type not in MAP_CLASSES:
        reject(spec, _errno.EINVAL, f"map type {type_name(spec.type)} is not supported")
    if spec.type in (MapType.ARRAY, MapType.PERCPU_ARRAY, *_FD_ARRAYS):
        _check_array(spec)
    elif spec.type in (MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH,
                       MapType.LRU_PERCPU_HASH, MapType.HASH_OF_MAPS):  # fmt: skip
        _check_hash(spec)
    elif spec.type in (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER):
        _check_keyless(spec)
    elif spec.type == MapType.LPM_TRIE:
        _check_lpm(spec)
    elif spec.type == MapType.RINGBUF:
        _check_ringbuf(spec)
    if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        _check_inner(spec, ncpus)


def create_map(
    spec: MapSpec,
    ncpus: int = 1,
    *,
    resolve_inner: Callable[[str], BpfMap] | None = None,
) -> BpfMap:
    """Check ``spec`` as the kernel does and build the runtime map (``ncpus`` possible CPUs).

    ``resolve_inner`` names the maps that a map of maps' ``init_slots`` put in its slots
    (without it those slots stay empty). A prog_array's ``init_slots`` name programs: the
    loader fills them with :meth:`~bpfvm.runtime.maps.fdmaps.ProgArrayMap.set_prog`.
    """
    if ncpus < 1:
        raise ValueError(f"ncpus must be at least 1, not {ncpus}")
    try:
        map_type = MapType(spec.type)
    except ValueError:
        map_type = None
    if map_type is None or map_type not in MAP_CLASSES:
        what = type_name(spec.type)
        raise MapSpecError(spec, _errno.EINVAL, f"map type {what} is not supported", False)
    check_spec(spec, ncpus)
    bpf_map = MAP_CLASSES[map_type](spec, ncpus)
    if resolve_inner is not None and map_type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        for slot, name in spec.init_slots:
            bpf_map.update(slot, resolve_inner(name))
    return bpf_map
