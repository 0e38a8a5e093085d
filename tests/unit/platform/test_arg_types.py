"""The (base, flags) encoding of the kernel's argument, return and register types."""

from __future__ import annotations

from bpfvm.platform.arg_types import (
    ARG_PTR_TO_FIXED_SIZE_MEM,
    ARG_PTR_TO_MEM,
    ARG_PTR_TO_MEM_OR_NULL,
    ARG_PTR_TO_UNINIT_MEM,
    BPF_BASE_TYPE_BITS,
    MEM_RDONLY,
    PTR_MAYBE_NULL,
    PTR_TO_SOCK_COMMON_OR_NULL,
    RET_PTR_TO_MAP_VALUE_OR_NULL,
    RET_PTR_TO_RINGBUF_MEM_OR_NULL,
    ArgBase,
    RegBase,
    RetBase,
    TypeFlag,
)


def test_flags_sit_above_the_base_bits() -> None:
    assert int(TypeFlag.PTR_MAYBE_NULL) == 1 << BPF_BASE_TYPE_BITS
    assert int(TypeFlag.MEM_WRITE) == 1 << (18 + BPF_BASE_TYPE_BITS)
    assert max(ArgBase) < 1 << BPF_BASE_TYPE_BITS
    assert max(RetBase) < 1 << BPF_BASE_TYPE_BITS
    assert max(RegBase) < 1 << BPF_BASE_TYPE_BITS
    bits = [int(f).bit_length() - 1 for f in TypeFlag]
    assert bits == list(range(BPF_BASE_TYPE_BITS, BPF_BASE_TYPE_BITS + len(bits)))


def test_named_extended_types() -> None:
    assert ARG_PTR_TO_UNINIT_MEM.base is ArgBase.PTR_TO_MEM
    assert ARG_PTR_TO_UNINIT_MEM.flags == TypeFlag.MEM_UNINIT | TypeFlag.MEM_WRITE
    assert ARG_PTR_TO_FIXED_SIZE_MEM.flags == TypeFlag.MEM_FIXED_SIZE
    assert ARG_PTR_TO_MEM_OR_NULL.may_be_null
    assert RET_PTR_TO_MAP_VALUE_OR_NULL.may_be_null
    assert TypeFlag.MEM_RINGBUF in RET_PTR_TO_RINGBUF_MEM_OR_NULL.flags
    assert PTR_TO_SOCK_COMMON_OR_NULL.base is RegBase.PTR_TO_SOCK_COMMON


def test_or_adds_flags_and_value_is_the_kernel_encoding() -> None:
    arg = ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY
    assert arg.value == int(ArgBase.PTR_TO_MEM) | int(PTR_MAYBE_NULL) | int(MEM_RDONLY)
    assert str(arg) == "ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY"
    assert str(RET_PTR_TO_MAP_VALUE_OR_NULL) == "RET_PTR_TO_MAP_VALUE|PTR_MAYBE_NULL"
    assert ARG_PTR_TO_MEM.value == int(ArgBase.PTR_TO_MEM) == 4
