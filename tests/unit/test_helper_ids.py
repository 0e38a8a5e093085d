"""The eBPF helper id table generated from the kernel's ``enum bpf_func_id``."""

from __future__ import annotations

import pytest

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES, MAX_HELPER_ID

WELL_KNOWN = [
    (0, "bpf_unspec"),
    (1, "bpf_map_lookup_elem"),
    (2, "bpf_map_update_elem"),
    (3, "bpf_map_delete_elem"),
    (5, "bpf_ktime_get_ns"),
    (6, "bpf_trace_printk"),
    (12, "bpf_tail_call"),
    (14, "bpf_get_current_pid_tgid"),
    (130, "bpf_ringbuf_output"),
    (131, "bpf_ringbuf_reserve"),
    (181, "bpf_loop"),
]


@pytest.mark.parametrize(("helper_id", "name"), WELL_KNOWN)
def test_well_known_ids(helper_id: int, name: str) -> None:
    assert HELPER_NAMES[helper_id] == name
    assert HELPER_IDS[name] == helper_id


def test_ids_contiguous_up_to_max() -> None:
    assert list(HELPER_NAMES) == list(range(MAX_HELPER_ID))


def test_table_sorted_by_id() -> None:
    assert list(HELPER_NAMES) == sorted(HELPER_NAMES)


def test_names_are_unique_and_prefixed() -> None:
    assert len(set(HELPER_NAMES.values())) == len(HELPER_NAMES)
    assert all(name.startswith("bpf_") for name in HELPER_NAMES.values())


def test_helper_ids_inverts_helper_names() -> None:
    assert len(HELPER_IDS) == len(HELPER_NAMES)
    assert {helper_id: name for name, helper_id in HELPER_IDS.items()} == HELPER_NAMES
    for helper_id, name in HELPER_NAMES.items():
        assert HELPER_IDS[name] == helper_id
