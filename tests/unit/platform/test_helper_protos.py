"""The helper prototype tables: completeness and the kernel's own sanity rules
(``check_func_proto``: ``check_raw_mode_ok``, ``check_arg_pair_ok``, ``check_btf_id_ok``...)."""

from __future__ import annotations

import pytest

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.platform import HELPER_PROTOS, PROTO_VARIANTS, variants_of
from bpfvm.platform.arg_types import (
    ARG_ANYTHING,
    ARG_CONST_MAP_PTR,
    ARG_PTR_TO_CTX,
    ARG_PTR_TO_MAP_KEY,
    ArgBase,
    RetBase,
    TypeFlag,
)
from bpfvm.platform.proto import HelperProto, proto
from bpfvm.program.uapi import MapType

ALL = tuple(PROTO_VARIANTS.values())
_MEM_BASES = (ArgBase.PTR_TO_MEM,)


def test_every_helper_id_has_a_canonical_proto() -> None:
    assert set(HELPER_PROTOS) == set(range(1, 212))
    for func_id, p in HELPER_PROTOS.items():
        assert p.func_id == func_id
        assert p is variants_of(func_id)[0]


def test_canonical_is_the_plainly_named_variant() -> None:
    assert HELPER_PROTOS[HELPER_IDS["bpf_perf_event_output"]].symbol == (
        "bpf_perf_event_output_proto"
    )
    symbols = {p.symbol for p in variants_of(HELPER_IDS["bpf_get_stack"])}
    assert {"bpf_get_stack_proto", "bpf_get_stack_proto_tp", "bpf_get_stack_proto_pe"} <= symbols


@pytest.mark.parametrize("p", ALL, ids=lambda p: p.symbol)
def test_arg_pairs(p: HelperProto) -> None:
    """A size argument follows a memory argument, and an unsized memory argument is followed
    by its size (check_arg_pair_ok); at most one ARG_PTR_TO_UNINIT_MEM (check_raw_mode_ok)."""
    args = [*p.args, ARG_ANYTHING]
    for i, a in enumerate(p.args):
        if a.is_mem_size:
            assert i > 0 and p.args[i - 1].base is ArgBase.PTR_TO_MEM, p.symbol
        if a.base in _MEM_BASES and TypeFlag.MEM_FIXED_SIZE not in a.flags:
            assert args[i + 1].is_mem_size, p.symbol
        if TypeFlag.MEM_FIXED_SIZE in a.flags:
            assert p.arg_size(i + 1), p.symbol
    uninit = [a for a in p.args if a.base is ArgBase.PTR_TO_MEM and TypeFlag.MEM_UNINIT in a.flags]
    assert len(uninit) <= 1, p.symbol


@pytest.mark.parametrize("p", ALL, ids=lambda p: p.symbol)
def test_map_args_come_after_their_map(p: HelperProto) -> None:
    bases = [a.base for a in p.args]
    for i, b in enumerate(bases):
        if b in (ArgBase.PTR_TO_MAP_KEY, ArgBase.PTR_TO_MAP_VALUE):
            assert ArgBase.CONST_MAP_PTR in bases[:i], p.symbol
    assert p.name.startswith("bpf_")


def test_spot_checks_against_the_kernel_initialisers() -> None:
    lookup = HELPER_PROTOS[HELPER_IDS["bpf_map_lookup_elem"]]
    assert lookup.args == (ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY)
    assert lookup.ret.base is RetBase.PTR_TO_MAP_VALUE and lookup.ret.may_be_null
    assert lookup.pkt_access and not lookup.gpl_only
    assert HELPER_PROTOS[HELPER_IDS["bpf_probe_read_kernel"]].gpl_only
    assert HELPER_PROTOS[HELPER_IDS["bpf_copy_from_user"]].might_sleep
    assert HELPER_PROTOS[HELPER_IDS["bpf_tail_call"]].args[0] == ARG_PTR_TO_CTX
    assert PROTO_VARIANTS["bpf_get_stackid_proto_pe"].gpl_only is False
    mtu = PROTO_VARIANTS["bpf_skb_check_mtu_proto"]
    assert mtu.arg_size(3) == 4 and TypeFlag.MEM_ALIGNED in mtu.arg(3).flags
    assert mtu.arg(5) == ARG_ANYTHING and mtu.arg_size(1) is None
    assert HELPER_PROTOS[HELPER_IDS["bpf_tail_call"]].allowed_map_types == frozenset(
        {MapType.PROG_ARRAY}
    )
    assert lookup.allowed_map_types is None


def test_builder_rejects_inconsistent_sizes() -> None:
    from bpfvm.platform.arg_types import ARG_PTR_TO_FIXED_SIZE_MEM, RET_INTEGER

    with pytest.raises(ValueError):
        proto("x_proto", "map_lookup_elem", RET_INTEGER, ARG_PTR_TO_FIXED_SIZE_MEM)
    with pytest.raises(ValueError):
        proto("x_proto", "map_lookup_elem", RET_INTEGER, *([ARG_ANYTHING] * 6))
    with pytest.raises(ValueError):
        HELPER_PROTOS[1].arg(6)
    assert HELPER_NAMES[HELPER_PROTOS[1].func_id] == HELPER_PROTOS[1].name
