"""``check_ptr_to_map_access``: a load through a ``CONST_PTR_TO_MAP``.

``r1 = map`` then ``r0 = *(u64 *)(r1 + 0)`` reads the kernel's container struct of the map type
(``struct bpf_htab``, ``struct bpf_array``, ...), walked in the running kernel's BTF: a scalar
member gives a scalar, a whole pointer to a struct gives ``PTR_TO_BTF_ID``; a write, a negative
offset, or a walk off the struct is rejected in the kernel's words.
"""

from __future__ import annotations

from bpfvm.btf import BtfKind
from bpfvm.program.uapi import MapType
from bpfvm.verifier.btf_vmlinux import btf_struct_walk, vmlinux_btf
from bpfvm.verifier.env import Env, mark_reg_known, mark_reg_unknown
from bpfvm.verifier.errors import EACCES, ENOTSUPP, reject
from bpfvm.verifier.state import PTR_TO_BTF_ID, RegState

# The struct each map type's ops name as ``map_btf_id`` (``BTF_ID_LIST_SINGLE`` in the map's
# source file).
MAP_BTF_STRUCT: dict[MapType, str] = {
    MapType.ARRAY: "bpf_array",
    MapType.PERCPU_ARRAY: "bpf_array",
    MapType.PROG_ARRAY: "bpf_array",
    MapType.PERF_EVENT_ARRAY: "bpf_array",
    MapType.CGROUP_ARRAY: "bpf_array",
    MapType.ARRAY_OF_MAPS: "bpf_array",
    MapType.HASH: "bpf_htab",
    MapType.PERCPU_HASH: "bpf_htab",
    MapType.LRU_HASH: "bpf_htab",
    MapType.LRU_PERCPU_HASH: "bpf_htab",
    MapType.HASH_OF_MAPS: "bpf_htab",
    MapType.STACK_TRACE: "bpf_stack_map",
    MapType.LPM_TRIE: "lpm_trie",
    MapType.DEVMAP: "bpf_dtab",
    MapType.DEVMAP_HASH: "bpf_dtab",
    MapType.SOCKMAP: "bpf_stab",
    MapType.SOCKHASH: "bpf_shtab",
    MapType.CPUMAP: "bpf_cpu_map",
    MapType.XSKMAP: "xsk_map",
    MapType.REUSEPORT_SOCKARRAY: "reuseport_array",
    MapType.QUEUE: "bpf_queue_stack",
    MapType.STACK: "bpf_queue_stack",
    MapType.SK_STORAGE: "bpf_local_storage_map",
    MapType.INODE_STORAGE: "bpf_local_storage_map",
    MapType.TASK_STORAGE: "bpf_local_storage_map",
    MapType.CGRP_STORAGE: "bpf_local_storage_map",
    MapType.CGROUP_STORAGE_DEPRECATED: "bpf_cgroup_storage_map",
    MapType.PERCPU_CGROUP_STORAGE_DEPRECATED: "bpf_cgroup_storage_map",
    MapType.STRUCT_OPS: "bpf_struct_ops_map",
    MapType.RINGBUF: "bpf_ringbuf_map",
    MapType.USER_RINGBUF: "bpf_ringbuf_map",
    MapType.BLOOM_FILTER: "bpf_bloom_filter",
    MapType.ARENA: "bpf_arena",
}


def check_ptr_to_map_access(
    env: Env, regs: list[RegState], regno: int, off: int, size: int, write: bool, value_regno: int
) -> None:
    """``check_ptr_to_map_access`` (privileged: ``allow_ptr_leaks``)."""
    btf = vmlinux_btf()
    if btf is None:
        raise reject("map_ptr access not supported without CONFIG_DEBUG_INFO_BTF", ENOTSUPP)
    m = env.maps[regs[regno].map_idx]
    mtype = getattr(m, "type", MapType.UNSPEC)
    tname = MAP_BTF_STRUCT.get(mtype, "")
    tid = btf.find(tname, BtfKind.STRUCT) if tname else None
    if tid is None:
        raise reject(f"map_ptr access not supported for map type {int(mtype)}", ENOTSUPP)
    if off < 0:
        raise reject(f"R{regno} is {tname} invalid negative access: off={off}", EACCES)
    if write:
        raise reject(f"only read from {tname} is supported", EACCES)
    pointee = btf_struct_walk(btf, tid, off, size)
    if value_regno < 0:
        return
    dst = regs[value_regno]
    mark_reg_unknown(dst)
    if pointee is not None:  # mark_btf_ld_reg: a pointer to a kernel struct, offset 0
        mark_reg_known(dst, 0)
        dst.type = PTR_TO_BTF_ID
        dst.btf_name = btf.name(pointee)
