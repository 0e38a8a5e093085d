"""BTF: the BPF Type Format (``.BTF``, ``.BTF.ext``) and CO-RE relocations.

:class:`Btf` parses and checks a raw ``.BTF`` blob (an object's section or
``/sys/kernel/btf/vmlinux``), :class:`BtfExt` the ``.BTF.ext`` records of an object,
:mod:`bpfvm.btf.core` computes and applies CO-RE relocations, :func:`encode_btf` writes BTF
back, :func:`load_target_btf` finds the BTF to relocate against, and :mod:`bpfvm.btf.values`
decodes and encodes the values BTF types describe.
"""

from bpfvm.btf.btf import Btf, TypeTable, essential_name
from bpfvm.btf.core import (
    POISON_HELPER_ID,
    POISON_INSN,
    CandidateCache,
    CoreReloResult,
    apply_core_relo,
    apply_core_relo_slots,
    calc_core_relo,
    patch_core_insn,
)
from bpfvm.btf.encode import encode_btf
from bpfvm.btf.ext import BtfExt, CoreRelo, FuncInfo, LineInfo
from bpfvm.btf.kinds import BtfKind, CoreReloKind, IntEncoding, Linkage
from bpfvm.btf.target import bundled_btf, load_target_btf
from bpfvm.btf.types import (
    BtfArray,
    BtfEnumValue,
    BtfInt,
    BtfMember,
    BtfParam,
    BtfType,
    BtfVarSecinfo,
)
from bpfvm.btf.values import BtfValueError, ValueCodec, enum_name
from bpfvm.btf.values import decode as decode_value
from bpfvm.btf.values import encode as encode_value

__all__ = [
    "POISON_HELPER_ID",
    "POISON_INSN",
    "Btf",
    "BtfArray",
    "BtfEnumValue",
    "BtfExt",
    "BtfInt",
    "BtfKind",
    "BtfMember",
    "BtfParam",
    "BtfType",
    "BtfValueError",
    "BtfVarSecinfo",
    "CandidateCache",
    "CoreRelo",
    "CoreReloKind",
    "CoreReloResult",
    "FuncInfo",
    "IntEncoding",
    "LineInfo",
    "Linkage",
    "TypeTable",
    "ValueCodec",
    "apply_core_relo",
    "apply_core_relo_slots",
    "bundled_btf",
    "calc_core_relo",
    "decode_value",
    "encode_btf",
    "encode_value",
    "enum_name",
    "essential_name",
    "load_target_btf",
    "patch_core_insn",
]
