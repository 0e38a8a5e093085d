"""The runtime function names of map helpers on a known map, as the kernel's ``map->ops``
(what ``bpftool prog dump xlated`` prints), and the per-CPU move in the xlated dump."""

from __future__ import annotations

import pytest

from bpfvm.fixups import start
from bpfvm.fixups.dump import format_xlated_insn
from bpfvm.fixups.passes.misc_calls import map_ops_name
from bpfvm.isa.insn import Insn
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType


def _map(t: MapType) -> MapSpec:
    return MapSpec("m", t, 4, 8, 4)


@pytest.mark.parametrize(
    ("map_type", "helper", "name"),
    [
        (MapType.HASH, "bpf_map_lookup_elem", "htab_map_lookup_elem"),
        (MapType.LPM_TRIE, "bpf_map_lookup_elem", "trie_lookup_elem"),
        (MapType.QUEUE, "bpf_map_push_elem", "queue_stack_map_push_elem"),
        (MapType.STACK, "bpf_map_push_elem", "queue_stack_map_push_elem"),
        (MapType.QUEUE, "bpf_map_pop_elem", "queue_map_pop_elem"),
        (MapType.STACK, "bpf_map_peek_elem", "stack_map_peek_elem"),
        (MapType.ARRAY_OF_MAPS, "bpf_map_lookup_elem", "array_of_map_lookup_elem"),
        (MapType.HASH_OF_MAPS, "bpf_map_lookup_elem", "htab_of_map_lookup_elem"),
        (MapType.HASH, "bpf_for_each_map_elem", "bpf_for_each_hash_elem"),
        (MapType.LRU_PERCPU_HASH, "bpf_for_each_map_elem", "bpf_for_each_hash_elem"),
        (MapType.ARRAY, "bpf_for_each_map_elem", "bpf_for_each_array_elem"),
        (MapType.PERCPU_ARRAY, "bpf_for_each_map_elem", "bpf_for_each_array_elem"),
        (MapType.RINGBUF, "bpf_for_each_map_elem", "bpf_for_each_map_elem"),
    ],
)
def test_map_ops_name(map_type: MapType, helper: str, name: str) -> None:
    assert map_ops_name(_map(map_type), helper) == name


def test_percpu_move_prints_as_the_kernel_does() -> None:
    prog = start(Program("p", (Insn(0xB7, 0, 0, 0, 0), Insn(0x95, 0, 0, 0, 0))))
    insn = Insn(0xBF, 0, 0, -1, 0)
    assert format_xlated_insn(insn, 0, prog) == "(bf) r0 = &(void __percpu *)(r0)"
    assert format_xlated_insn(Insn(0xBF, 1, 2, 8, 0), 0, prog) == "(bf) r1 = (s8)r2"
