"""Map type / helper compatibility (check_map_func_compatibility)."""

from __future__ import annotations

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.platform import MAP_TYPES, map_func_compatible
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import MapType as Mt
from bpfvm.program.uapi import ProgType as Pt


def _id(name: str) -> int:
    return HELPER_IDS[f"bpf_{name}"]


def test_both_directions() -> None:
    assert map_func_compatible(Mt.HASH, _id("map_lookup_elem"))
    assert not map_func_compatible(Mt.HASH, _id("tail_call"))  # helper side
    assert not map_func_compatible(Mt.PROG_ARRAY, _id("map_lookup_elem"))  # map side
    assert map_func_compatible(Mt.PROG_ARRAY, _id("tail_call"))
    assert map_func_compatible(Mt.BLOOM_FILTER, _id("map_peek_elem"))
    assert not map_func_compatible(Mt.BLOOM_FILTER, _id("map_pop_elem"))
    assert map_func_compatible(Mt.PERCPU_ARRAY, _id("map_lookup_percpu_elem"))
    assert not map_func_compatible(Mt.ARRAY, _id("map_lookup_percpu_elem"))


def test_sockmap_updates_depend_on_program_type() -> None:
    update = _id("map_update_elem")
    assert map_func_compatible(Mt.SOCKMAP, update, Pt.SCHED_CLS)
    assert not map_func_compatible(Mt.SOCKMAP, update, Pt.KPROBE)
    assert map_func_compatible(Mt.SOCKHASH, _id("map_delete_elem"), Pt.SOCK_OPS)
    assert not map_func_compatible(Mt.SOCKHASH, update, Pt.SOCK_OPS)
    assert map_func_compatible(Mt.SOCKMAP, update, Pt.TRACING, At.TRACE_ITER)
    assert map_func_compatible(Mt.SOCKMAP, _id("map_lookup_elem"), Pt.KPROBE)


def test_size_rules_as_data() -> None:
    assert MAP_TYPES[Mt.ARRAY].key_size == 4
    assert MAP_TYPES[Mt.QUEUE].key_size == 0
    assert MAP_TYPES[Mt.RINGBUF].value_size == 0
    assert MAP_TYPES[Mt.HASH].key_size is None
    assert MAP_TYPES[Mt.TASK_STORAGE].needs_btf
