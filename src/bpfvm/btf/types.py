"""Typed records of one BTF type and its kind-specific data.

:class:`BtfType` is one frozen record for every kind: the common ``struct btf_type`` fields
(``id``, ``kind``, ``name``, ``kind_flag``, ``vlen``; ``size`` for sized kinds and ``ref`` for
kinds whose third word is a type id) plus the kind-specific tuple that applies (``members``,
``enum_values``, ``params``, ``vars``) or the single record (``int_info``, ``array``) read through
a property that refuses other kinds. Member offsets are already decoded from ``kind_flag``:
with the flag set, the raw ``offset`` word is ``bitfield_size << 24 | bit_offset``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.btf.kinds import BtfKind, IntEncoding, Linkage


@dataclass(frozen=True, slots=True)
class BtfInt:
    """The u32 after an INT: encoding (bits 24-27), bit offset (16-23), bit count (0-7)."""

    encoding: IntEncoding
    offset: int
    bits: int

    @property
    def signed(self) -> bool:
        return bool(self.encoding & IntEncoding.SIGNED)

    @property
    def char(self) -> bool:
        return bool(self.encoding & IntEncoding.CHAR)

    @property
    def bool(self) -> bool:
        return bool(self.encoding & IntEncoding.BOOL)


@dataclass(frozen=True, slots=True)
class BtfArray:
    """``struct btf_array``."""

    type: int
    index_type: int
    nelems: int


@dataclass(frozen=True, slots=True)
class BtfMember:
    """``struct btf_member`` of a STRUCT/UNION; ``bitfield_size`` is 0 for a plain member."""

    name: str
    type: int
    bit_offset: int
    bitfield_size: int = 0


@dataclass(frozen=True, slots=True)
class BtfEnumValue:
    """``struct btf_enum`` / ``struct btf_enum64``; ``value`` is already sign-interpreted."""

    name: str
    value: int
    signed: bool


@dataclass(frozen=True, slots=True)
class BtfParam:
    """``struct btf_param`` of a FUNC_PROTO; ``type == 0`` and no name marks ``...``."""

    name: str
    type: int


@dataclass(frozen=True, slots=True)
class BtfVarSecinfo:
    """``struct btf_var_secinfo`` of a DATASEC."""

    type: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BtfType:
    """One BTF type. ``id`` 0 is ``void`` (kind UNKN).

    ``ref`` is the third word for PTR, TYPEDEF, the modifiers, TYPE_TAG, FUNC (its FUNC_PROTO),
    VAR, DECL_TAG and FUNC_PROTO (the return type, also ``ret``); ``size`` is that word for INT,
    STRUCT, UNION, ENUM, ENUM64, DATASEC and FLOAT. ``linkage`` is set for FUNC and VAR and
    ``component_idx`` for DECL_TAG (-1: the tag applies to the type itself).
    """

    id: int
    kind: BtfKind
    name: str = ""
    size: int = 0
    ref: int = 0
    kind_flag: bool = False
    vlen: int = 0
    members: tuple[BtfMember, ...] = ()
    enum_values: tuple[BtfEnumValue, ...] = ()
    params: tuple[BtfParam, ...] = ()
    vars: tuple[BtfVarSecinfo, ...] = ()
    linkage: Linkage = Linkage.STATIC
    component_idx: int = -1
    int_data: BtfInt | None = None
    array_data: BtfArray | None = None

    @property
    def int_info(self) -> BtfInt:
        if self.int_data is None:
            raise TypeError(f"BTF type [{self.id}] is {self.kind.name}, not INT")
        return self.int_data

    @property
    def array(self) -> BtfArray:
        if self.array_data is None:
            raise TypeError(f"BTF type [{self.id}] is {self.kind.name}, not ARRAY")
        return self.array_data

    @property
    def ret(self) -> int:
        """Return type of a FUNC_PROTO."""
        if self.kind != BtfKind.FUNC_PROTO:
            raise TypeError(f"BTF type [{self.id}] is {self.kind.name}, not FUNC_PROTO")
        return self.ref

    @property
    def is_composite(self) -> bool:
        return self.kind in (BtfKind.STRUCT, BtfKind.UNION)

    @property
    def is_enum(self) -> bool:
        return self.kind in (BtfKind.ENUM, BtfKind.ENUM64)

    @property
    def is_union_fwd(self) -> bool:
        """A FWD declares a union when ``kind_flag`` is set, a struct otherwise."""
        return self.kind == BtfKind.FWD and self.kind_flag


VOID = BtfType(0, BtfKind.UNKN)
