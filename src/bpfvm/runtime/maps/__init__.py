"""The kernel's map types with the kernel's semantics, storage in native memory.

:func:`create_map` checks a :class:`~bpfvm.program.model.MapSpec` as ``BPF_MAP_CREATE`` does
and returns a :class:`BpfMap`; :mod:`.base` documents the two faces of a map (program side,
syscall side) and the native handle a program's map pointer addresses. Per type:
:mod:`.array`, :mod:`.hash` (with :mod:`.lru` and :mod:`.jhash`), :mod:`.queue` (queue, stack,
bloom filter), :mod:`.lpm`, :mod:`.ringbuf`, :mod:`.perf`, :mod:`.fdmaps` (prog_array, maps of
maps), :mod:`.devmap` (devmap, devmap_hash, cpumap, xskmap: the XDP redirect maps).
"""

from bpfvm.runtime.maps.array import ArrayMap, PercpuArrayMap
from bpfvm.runtime.maps.base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_F_ZERO_SEED,
    BPF_NOEXIST,
    ENOTSUPP,
    HANDLE_SIZE,
    BpfMap,
    MapError,
    MapSpecError,
)
from bpfvm.runtime.maps.create import MAP_CLASSES, check_spec, create_map
from bpfvm.runtime.maps.devmap import CpuMap, DevMap, DevMapHash, XskMap
from bpfvm.runtime.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from bpfvm.runtime.maps.hash import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from bpfvm.runtime.maps.lpm import LpmTrieMap
from bpfvm.runtime.maps.perf import BPF_F_CURRENT_CPU, PerfEventArrayMap
from bpfvm.runtime.maps.queue import BloomFilterMap, QueueMap, StackMap
from bpfvm.runtime.maps.ringbuf import (
    BPF_RB_AVAIL_DATA,
    BPF_RB_CONS_POS,
    BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
    RingBufMap,
)

__all__ = [
    "BPF_ANY",
    "BPF_EXIST",
    "BPF_F_CURRENT_CPU",
    "BPF_F_LOCK",
    "BPF_F_NO_COMMON_LRU",
    "BPF_F_NO_PREALLOC",
    "BPF_F_RDONLY",
    "BPF_F_RDONLY_PROG",
    "BPF_F_WRONLY",
    "BPF_F_ZERO_SEED",
    "BPF_NOEXIST",
    "BPF_RB_AVAIL_DATA",
    "BPF_RB_CONS_POS",
    "BPF_RB_PROD_POS",
    "BPF_RB_RING_SIZE",
    "ENOTSUPP",
    "HANDLE_SIZE",
    "MAP_CLASSES",
    "ArrayMap",
    "ArrayOfMapsMap",
    "BloomFilterMap",
    "BpfMap",
    "CpuMap",
    "DevMap",
    "DevMapHash",
    "HashMap",
    "HashOfMapsMap",
    "LpmTrieMap",
    "LruHashMap",
    "LruPercpuHashMap",
    "MapError",
    "MapSpecError",
    "PercpuArrayMap",
    "PercpuHashMap",
    "PerfEventArrayMap",
    "ProgArrayMap",
    "QueueMap",
    "RingBufMap",
    "StackMap",
    "XskMap",
    "check_spec",
    "create_map",
]
