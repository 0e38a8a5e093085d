"""Per map type: which helpers accept it, and the key/value size rules (Linux 6.18).

``check_map_func_compatibility`` (kernel/bpf/verifier.c) checks both directions: a map type may
restrict the helpers it can be passed to (:attr:`MapTypeSpec.helpers`), and a helper may
restrict the map types it takes (:data:`HELPER_MAP_TYPES`). A violation is reported as
``cannot pass map_type %d into func %s#%d``. :func:`map_func_compatible` combines both, including
``may_update_sockmap`` (who may update or delete sockmap/sockhash entries with the generic map
helpers).

The size rules are each map type's ``map_alloc_check``, as data: ``key_size`` / ``value_size``
hold the exact value required (0 = must be zero), or None when any positive size is accepted
(subject to ``value_size_max``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import MapType as Mt
from bpfvm.program.uapi import ProgType as Pt


def _ids(*helpers: str) -> frozenset[int]:
    return frozenset(HELPER_IDS[f"bpf_{h}"] for h in helpers)


@dataclass(frozen=True, slots=True)
class MapTypeSpec:
    """One map type. ``helpers`` None: the map type does not restrict helpers.

    ``needs_btf``: map creation needs BTF for the key/value (local storage maps);
    ``key_size``/``value_size``: the exact size required, None when free.
    """

    map_type: Mt
    helpers: frozenset[int] | None = None
    key_size: int | None = None
    value_size: int | None = None
    needs_btf: bool = False
    needs_inner_map: bool = False
    note: str = ""


_RINGBUF_HELPERS = (
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_query",
    "ringbuf_reserve_dynptr",
    "ringbuf_submit_dynptr",
    "ringbuf_discard_dynptr",
)
_PERF_HELPERS = ("perf_event_read", "perf_event_output", "skb_output", "perf_event_read_value",
                 "xdp_output")  # fmt: skip
_QUEUE_HELPERS = ("map_peek_elem", "map_pop_elem", "map_push_elem")


def _storage(map_type: Mt, kind: str) -> MapTypeSpec:
    return MapTypeSpec(map_type, _ids(f"{kind}_storage_get", f"{kind}_storage_delete",
                                      "kptr_xchg"),
                       key_size=4, needs_btf=True, note="key is an int fd")  # fmt: skip


_SPECS: tuple[MapTypeSpec, ...] = (
    MapTypeSpec(Mt.HASH),
    MapTypeSpec(Mt.ARRAY, key_size=4),
    MapTypeSpec(Mt.PROG_ARRAY, _ids("tail_call"), key_size=4, value_size=4),
    MapTypeSpec(Mt.PERF_EVENT_ARRAY, _ids(*_PERF_HELPERS), key_size=4, value_size=4),
    MapTypeSpec(Mt.PERCPU_HASH),
    MapTypeSpec(Mt.PERCPU_ARRAY, key_size=4),
    MapTypeSpec(Mt.STACK_TRACE, _ids("get_stackid"), key_size=4,
                note="value_size: a multiple of 8 (u64 ips), or of 24 with BPF_F_STACK_BUILD_ID"),
    MapTypeSpec(Mt.CGROUP_ARRAY, _ids("skb_under_cgroup", "current_task_under_cgroup"),
                key_size=4, value_size=4),
    MapTypeSpec(Mt.LRU_HASH),
    MapTypeSpec(Mt.LRU_PERCPU_HASH),
    MapTypeSpec(Mt.LPM_TRIE, note="key: u32 prefixlen + data (5..260 bytes); BPF_F_NO_PREALLOC"),
    MapTypeSpec(Mt.ARRAY_OF_MAPS, _ids("map_lookup_elem"), key_size=4, value_size=4,
                needs_inner_map=True),
    MapTypeSpec(Mt.HASH_OF_MAPS, _ids("map_lookup_elem"), value_size=4, needs_inner_map=True),
    MapTypeSpec(Mt.DEVMAP, _ids("redirect_map", "map_lookup_elem"), key_size=4,
                note="value: ifindex (4) or struct bpf_devmap_val (8)"),
    MapTypeSpec(Mt.SOCKMAP, _ids("sk_redirect_map", "sock_map_update", "msg_redirect_map",
                                 "sk_select_reuseport", "map_lookup_elem"),
                key_size=4, note="value: socket fd (4) or fd + cookie (8)"),
    MapTypeSpec(Mt.CPUMAP, _ids("redirect_map"), key_size=4,
                note="value: qsize (4) or struct bpf_cpumap_val (8)"),
    MapTypeSpec(Mt.XSKMAP, _ids("redirect_map", "map_lookup_elem"), key_size=4, value_size=4),
    MapTypeSpec(Mt.SOCKHASH, _ids("sk_redirect_hash", "sock_hash_update", "msg_redirect_hash",
                                  "sk_select_reuseport", "map_lookup_elem"),
                note="value: socket fd (4) or fd + cookie (8)"),
    MapTypeSpec(Mt.CGROUP_STORAGE, _ids("get_local_storage"),
                note="key: u64 cgroup id or struct bpf_cgroup_storage_key (12); max_entries 0"),
    MapTypeSpec(Mt.REUSEPORT_SOCKARRAY, _ids("sk_select_reuseport"), key_size=4,
                note="value: socket fd, 4 or 8 bytes"),
    MapTypeSpec(Mt.PERCPU_CGROUP_STORAGE, _ids("get_local_storage"),
                note="key: u64 cgroup id or struct bpf_cgroup_storage_key (12); max_entries 0"),
    MapTypeSpec(Mt.QUEUE, _ids(*_QUEUE_HELPERS), key_size=0),
    MapTypeSpec(Mt.STACK, _ids(*_QUEUE_HELPERS), key_size=0),
    _storage(Mt.SK_STORAGE, "sk"),
    MapTypeSpec(Mt.DEVMAP_HASH, _ids("redirect_map", "map_lookup_elem"), key_size=4,
                note="value: ifindex (4) or struct bpf_devmap_val (8)"),
    MapTypeSpec(Mt.STRUCT_OPS, needs_btf=True, key_size=4),
    MapTypeSpec(Mt.RINGBUF, _ids(*_RINGBUF_HELPERS), key_size=0, value_size=0,
                note="max_entries: a power-of-2 multiple of the page size"),
    _storage(Mt.INODE_STORAGE, "inode"),
    _storage(Mt.TASK_STORAGE, "task"),
    MapTypeSpec(Mt.BLOOM_FILTER, _ids("map_peek_elem", "map_push_elem"), key_size=0),
    MapTypeSpec(Mt.USER_RINGBUF, _ids("user_ringbuf_drain"), key_size=0, value_size=0,
                note="max_entries: a power-of-2 multiple of the page size"),
    _storage(Mt.CGRP_STORAGE, "cgrp"),
    MapTypeSpec(Mt.ARENA, key_size=0, value_size=0, note="BPF_F_MMAPABLE; max_entries: pages"),
)  # fmt: skip

MAP_TYPES: Mapping[Mt, MapTypeSpec] = MappingProxyType({s.map_type: s for s in _SPECS})


def _helper_side() -> Mapping[int, frozenset[Mt]]:
    table: dict[str, tuple[Mt, ...]] = {
        "tail_call": (Mt.PROG_ARRAY,),
        **{h: (Mt.PERF_EVENT_ARRAY,) for h in _PERF_HELPERS},
        **{h: (Mt.RINGBUF,) for h in _RINGBUF_HELPERS},
        "user_ringbuf_drain": (Mt.USER_RINGBUF,),
        "get_stackid": (Mt.STACK_TRACE,),
        "current_task_under_cgroup": (Mt.CGROUP_ARRAY,),
        "skb_under_cgroup": (Mt.CGROUP_ARRAY,),
        "redirect_map": (Mt.DEVMAP, Mt.DEVMAP_HASH, Mt.CPUMAP, Mt.XSKMAP),
        "sk_redirect_map": (Mt.SOCKMAP,),
        "msg_redirect_map": (Mt.SOCKMAP,),
        "sock_map_update": (Mt.SOCKMAP,),
        "sk_redirect_hash": (Mt.SOCKHASH,),
        "msg_redirect_hash": (Mt.SOCKHASH,),
        "sock_hash_update": (Mt.SOCKHASH,),
        "get_local_storage": (Mt.CGROUP_STORAGE, Mt.PERCPU_CGROUP_STORAGE),
        "sk_select_reuseport": (Mt.REUSEPORT_SOCKARRAY, Mt.SOCKMAP, Mt.SOCKHASH),
        "map_pop_elem": (Mt.QUEUE, Mt.STACK),
        "map_peek_elem": (Mt.QUEUE, Mt.STACK, Mt.BLOOM_FILTER),
        "map_push_elem": (Mt.QUEUE, Mt.STACK, Mt.BLOOM_FILTER),
        "map_lookup_percpu_elem": (Mt.PERCPU_ARRAY, Mt.PERCPU_HASH, Mt.LRU_PERCPU_HASH),
        **{f"{k}_storage_{op}": (mt,)
           for k, mt in (("sk", Mt.SK_STORAGE), ("inode", Mt.INODE_STORAGE),
                         ("task", Mt.TASK_STORAGE), ("cgrp", Mt.CGRP_STORAGE))
           for op in ("get", "delete")},
    }  # fmt: skip
    return MappingProxyType({HELPER_IDS[f"bpf_{h}"]: frozenset(m) for h, m in table.items()})


HELPER_MAP_TYPES: Mapping[int, frozenset[Mt]] = _helper_side()
"""Helpers that accept only some map types (the second switch of
``check_map_func_compatibility``); helpers not listed accept any map type that allows them."""

_SOCKMAP_UPDATERS = frozenset({Pt.SOCKET_FILTER, Pt.SCHED_CLS, Pt.SCHED_ACT, Pt.XDP,
                               Pt.SK_REUSEPORT, Pt.FLOW_DISSECTOR, Pt.SK_LOOKUP})  # fmt: skip
_MAP_UPDATE = HELPER_IDS["bpf_map_update_elem"]
_MAP_DELETE = HELPER_IDS["bpf_map_delete_elem"]


def may_update_sockmap(prog_type: int, attach_type: int, func_id: int) -> bool:
    """``may_update_sockmap``: generic update/delete on a sockmap or sockhash."""
    if func_id not in (_MAP_UPDATE, _MAP_DELETE):
        return False
    if prog_type == Pt.TRACING:
        return attach_type == At.TRACE_ITER
    if prog_type == Pt.SOCK_OPS:
        return func_id == _MAP_DELETE
    return prog_type in _SOCKMAP_UPDATERS


def map_func_compatible(
    map_type: int, func_id: int, prog_type: int = Pt.SOCKET_FILTER, attach_type: int = 0
) -> bool:
    """Whether ``check_map_func_compatibility`` lets ``func_id`` take a ``map_type`` map."""
    spec = MAP_TYPES.get(Mt(map_type))
    if spec is not None and spec.helpers is not None and func_id not in spec.helpers:
        sockmaps = (Mt.SOCKMAP, Mt.SOCKHASH)
        if map_type not in sockmaps or not may_update_sockmap(prog_type, attach_type, func_id):
            return False
    allowed = HELPER_MAP_TYPES.get(func_id)
    return allowed is None or map_type in allowed
