"""BTF constants of ``include/uapi/linux/btf.h``: kinds, INT encodings, linkages, record sizes.

A ``.BTF`` blob is ``struct btf_header`` followed by a type section and a string section. Every
type is a 12-byte ``struct btf_type`` (``name_off``, ``info``, ``size``/``type``) followed by
kind-specific data: a fixed part (:data:`KIND_FIXED_SIZE`) and ``vlen`` records
(:data:`KIND_VLEN_SIZE`). ``info`` packs ``vlen`` (bits 0-15), ``kind`` (bits 24-28) and
``kind_flag`` (bit 31); the other bits must be zero (``BTF_INFO_MASK``).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_HEADER_SIZE = 24  # magic u16, version u8, flags u8, hdr_len, type_off/len, str_off/len
BTF_TYPE_SIZE = 12
BTF_INFO_MASK = 0x9F00FFFF
BTF_MAX_TYPE = 0x000FFFFF
BTF_MAX_NAME_OFFSET = 0x00FFFFFF
BTF_MAX_VLEN = 0xFFFF
BTF_INT_MASK = 0x0FFFFFFF
POINTER_SIZE = 8  # BPF and every 64-bit kernel we target


class BtfKind(IntEnum):
    """``BTF_KIND_*``: the kind of a type (bits 24-28 of ``info``)."""

    UNKN = 0  # only type id 0, "void"
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


BTF_KIND_MAX = BtfKind.ENUM64


def kind_str(kind: BtfKind) -> str:
    """libbpf's ``btf_kind_str`` (``struct``, ``func_proto``, ``void`` for id 0)."""
    return "void" if kind == BtfKind.UNKN else kind.name.lower()


class IntEncoding(IntFlag):
    """``BTF_INT_*``: the encoding bits of an INT (at most one is set)."""

    NONE = 0
    SIGNED = 1 << 0
    CHAR = 1 << 1
    BOOL = 1 << 2


class Linkage(IntEnum):
    """``BTF_FUNC_*`` / ``BTF_VAR_*`` linkage (FUNC keeps it in ``vlen``, VAR in ``btf_var``).

    For a VAR, ``GLOBAL`` is ``BTF_VAR_GLOBAL_ALLOCATED``."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


# Bytes of kind-specific data after struct btf_type: fixed part, then vlen records of a size.
KIND_FIXED_SIZE: dict[BtfKind, int] = {
    BtfKind.INT: 4,  # u32 encoding/offset/bits
    BtfKind.ARRAY: 12,  # struct btf_array
    BtfKind.VAR: 4,  # struct btf_var
    BtfKind.DECL_TAG: 4,  # struct btf_decl_tag
}
KIND_VLEN_SIZE: dict[BtfKind, int] = {
    BtfKind.STRUCT: 12,  # struct btf_member
    BtfKind.UNION: 12,
    BtfKind.ENUM: 8,  # struct btf_enum
    BtfKind.ENUM64: 12,  # struct btf_enum64
    BtfKind.FUNC_PROTO: 8,  # struct btf_param
    BtfKind.DATASEC: 12,  # struct btf_var_secinfo
}

# Kinds whose third word is ``type`` (a type id) rather than ``size``.
REF_KINDS = frozenset(
    {
        BtfKind.PTR,
        BtfKind.TYPEDEF,
        BtfKind.VOLATILE,
        BtfKind.CONST,
        BtfKind.RESTRICT,
        BtfKind.FUNC,
        BtfKind.FUNC_PROTO,
        BtfKind.VAR,
        BtfKind.DECL_TAG,
        BtfKind.TYPE_TAG,
    }
)
SIZED_KINDS = frozenset(
    {
        BtfKind.INT,
        BtfKind.STRUCT,
        BtfKind.UNION,
        BtfKind.ENUM,
        BtfKind.ENUM64,
        BtfKind.DATASEC,
        BtfKind.FLOAT,
    }
)
# What btf.strip() skips (libbpf's skip_mods_and_typedefs).
MODIFIER_KINDS = frozenset(
    {BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG}
)
COMPOSITE_KINDS = frozenset({BtfKind.STRUCT, BtfKind.UNION})
ENUM_KINDS = frozenset({BtfKind.ENUM, BtfKind.ENUM64})


class CoreReloKind(IntEnum):
    """``enum bpf_core_relo_kind`` (``include/uapi/linux/bpf.h``)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


FIELD_RELO_KINDS = frozenset(CoreReloKind(k) for k in range(0, 6))
TYPE_RELO_KINDS = frozenset(
    {
        CoreReloKind.TYPE_ID_LOCAL,
        CoreReloKind.TYPE_ID_TARGET,
        CoreReloKind.TYPE_EXISTS,
        CoreReloKind.TYPE_SIZE,
        CoreReloKind.TYPE_MATCHES,
    }
)
ENUMVAL_RELO_KINDS = frozenset({CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.ENUMVAL_VALUE})
# libbpf's core_relo_kind_str()
CORE_RELO_KIND_STR: dict[int, str] = {
    CoreReloKind.FIELD_BYTE_OFFSET: "byte_off",
    CoreReloKind.FIELD_BYTE_SIZE: "byte_sz",
    CoreReloKind.FIELD_EXISTS: "field_exists",
    CoreReloKind.FIELD_SIGNED: "signed",
    CoreReloKind.FIELD_LSHIFT_U64: "lshift_u64",
    CoreReloKind.FIELD_RSHIFT_U64: "rshift_u64",
    CoreReloKind.TYPE_ID_LOCAL: "local_type_id",
    CoreReloKind.TYPE_ID_TARGET: "target_type_id",
    CoreReloKind.TYPE_EXISTS: "type_exists",
    CoreReloKind.TYPE_MATCHES: "type_matches",
    CoreReloKind.TYPE_SIZE: "type_size",
    CoreReloKind.ENUMVAL_EXISTS: "enumval_exists",
    CoreReloKind.ENUMVAL_VALUE: "enumval_value",
}
