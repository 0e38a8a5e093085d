"""CO-RE access specs: parsing a relocation's access string against the local BTF, matching it
against a target candidate, and libbpf's type compatibility relations.

An access string ``"0:1:2"`` is a list of indexes (the *raw spec*): the first indexes the root
type as an array element (``&p[0]``), each next one picks a member of the current struct/union
or an element of the current array. The *high-level spec* keeps only the meaningful accessors,
named members and array indexes; anonymous members are walked through but not recorded, so a
field found inside anonymous unions of the target still matches a local field declared directly
in the struct (``bpf_core_parse_spec``). The spec's ``bit_offset`` is the sum along the way.

Matching (``bpf_core_spec_match``) replays the named accessors on a target type: each named
field is searched by name among the members of the current target composite, recursing into
anonymous members (``bpf_core_match_member``), and the two field types must be compatible
(``bpf_core_fields_are_compat``); array indexes must be in bounds unless the array is a flexible
last member. Enum-value relocations match an enumerator by essential name; type relocations
use ``bpf_core_types_are_compat`` or, for TYPE_MATCHES, the stricter ``bpf_core_types_match``.

Results follow libbpf: a matching function returns ``True``/``False`` and raises
:class:`CoreSpecError` where libbpf returns a negative error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bpfvm.btf.btf import Btf, essential_name
from bpfvm.btf.kinds import (
    ENUMVAL_RELO_KINDS,
    FIELD_RELO_KINDS,
    TYPE_RELO_KINDS,
    BtfKind,
    CoreReloKind,
    IntEncoding,
    kind_str,
)
from bpfvm.btf.types import BtfType
from bpfvm.errors import BpfvmError

BPF_CORE_SPEC_MAX_LEN = 64
MAX_TYPES_COMPAT_LEVEL = 32  # libbpf's level for types_are_compat / types_match
_ACCESS = re.compile(r"\d+(:\d+)*")


class CoreSpecError(BpfvmError):
    """libbpf would return a negative error (``-EINVAL``, ``-E2BIG``) here."""


@dataclass(slots=True)
class CoreAccessor:
    """``struct bpf_core_accessor``: a named member (``name``) or an array index."""

    type_id: int
    idx: int
    name: str | None = None


@dataclass(slots=True)
class CoreSpec:
    """``struct bpf_core_spec``: high-level accessors, raw indexes and the bit offset."""

    btf: Btf
    root_type_id: int
    kind: CoreReloKind
    spec: list[CoreAccessor] = field(default_factory=list)
    raw_spec: list[int] = field(default_factory=list)
    bit_offset: int = 0

    def format(self) -> str:
        """libbpf's ``bpf_core_format_spec``: ``[5] struct task_struct.pid (0:0 @ offset 8)``."""
        t = self.btf[self.root_type_id]
        text = f"[{self.root_type_id}] {kind_str(t.kind)} {t.name or '<anon>'}"
        if self.kind in TYPE_RELO_KINDS:
            return text
        if self.kind in ENUMVAL_RELO_KINDS:
            enum = self.btf[self.btf.strip(self.root_type_id)]
            value = enum.enum_values[self.raw_spec[0]]
            return f"{text}::{value.name} = {value.value}"
        for i, acc in enumerate(self.spec):
            if acc.name is not None:
                text += f".{acc.name}"
            elif i > 0 or acc.idx > 0:
                text += f"[{acc.idx}]"
        raw = ":".join(str(i) for i in self.raw_spec)
        off = self.bit_offset
        where = f"{off // 8}.{off % 8}" if off % 8 else f"{off // 8}"
        return f"{text} ({raw} @ offset {where})"


def _size(btf: Btf, type_id: int) -> int:
    try:
        return btf.resolve_size(type_id)
    except BpfvmError as exc:
        raise CoreSpecError(str(exc)) from None


def _is_flex_arr(btf: Btf, acc: CoreAccessor | None, nelems: int) -> bool:
    """A zero-length array that is the last member of the enclosing struct."""
    if acc is None or acc.name is None or nelems > 0:
        return False
    return acc.idx == btf[acc.type_id].vlen - 1


def parse_spec(btf: Btf, type_id: int, access: str, kind: CoreReloKind) -> CoreSpec:
    """``bpf_core_parse_spec``: the local spec of a relocation."""
    spec = CoreSpec(btf, type_id, kind)
    if kind in TYPE_RELO_KINDS:
        if access != "0":
            raise CoreSpecError(f"type-based relocation needs access string '0', got {access!r}")
        return spec
    if not _ACCESS.fullmatch(access):
        raise CoreSpecError(f"malformed access string {access!r}")
    spec.raw_spec = [int(part) for part in access.split(":")]
    if len(spec.raw_spec) > BPF_CORE_SPEC_MAX_LEN:
        raise CoreSpecError(f"access string longer than {BPF_CORE_SPEC_MAX_LEN} (-E2BIG)")
    tid = btf.strip(type_id)
    t = btf[tid]
    first = spec.raw_spec[0]
    spec.spec.append(CoreAccessor(tid, first))
    if kind in ENUMVAL_RELO_KINDS:
        if not t.is_enum or len(spec.raw_spec) > 1 or first >= t.vlen:
            raise CoreSpecError(f"enumerator {access} does not exist in {t.kind.name}")
        spec.spec[0].name = t.enum_values[first].name
        return spec
    if kind not in FIELD_RELO_KINDS:
        raise CoreSpecError(f"unknown relocation kind {int(kind)}")
    spec.bit_offset = first * _size(btf, tid) * 8
    for i, idx in enumerate(spec.raw_spec[1:], start=1):
        tid = _walk_local(btf, spec, tid, idx, access, i)
    return spec


def _walk_local(btf: Btf, spec: CoreSpec, type_id: int, idx: int, access: str, pos: int) -> int:
    """Apply one raw index of the local spec; return the type id it leads to."""
    tid = btf.strip(type_id)
    t = btf[tid]
    if t.is_composite:
        if idx >= t.vlen:
            raise CoreSpecError(f"member index {idx} beyond {t.kind.name} {t.name} ({t.vlen})")
        member = t.members[idx]
        spec.bit_offset += member.bit_offset
        if member.name:
            spec.spec.append(CoreAccessor(tid, idx, member.name))
        return member.type
    if t.kind == BtfKind.ARRAY:
        elem = btf.strip(t.array.type)
        flex = _is_flex_arr(btf, spec.spec[-1], t.array.nelems)
        if not flex and idx >= t.array.nelems:
            raise CoreSpecError(f"array index {idx} beyond {t.array.nelems} elements")
        spec.spec.append(CoreAccessor(elem, idx))
        spec.bit_offset += idx * _size(btf, elem) * 8
        return elem
    raise CoreSpecError(
        f"relo for [{spec.root_type_id}] {access} (at idx {pos}) captures type [{tid}] "
        f"of unexpected kind {t.kind.name}"
    )


# -- compatibility relations --------------------------------------------------------------


def kind_core_compat(a: BtfType, b: BtfType) -> bool:
    """Same kind, or both enums (ENUM and ENUM64 mix)."""
    return a.kind == b.kind or (a.is_enum and b.is_enum)


def _names_compat(local: BtfType, targ: BtfType) -> bool:
    lname, tname = essential_name(local.name), essential_name(targ.name)
    return not lname or not tname or lname == tname


def fields_are_compat(local: Btf, local_id: int, targ: Btf, targ_id: int) -> bool:
    """``bpf_core_fields_are_compat``: may a local field be relocated onto a target field?"""
    for _ in range(len(local) + len(targ)):  # arrays recurse; chains are loop-free
        lt, tt = local[local.strip(local_id)], targ[targ.strip(targ_id)]
        if lt.is_composite and tt.is_composite:
            return True
        if not kind_core_compat(lt, tt):
            return False
        if lt.kind in (BtfKind.PTR, BtfKind.FLOAT):
            return True
        if lt.kind in (BtfKind.FWD, BtfKind.ENUM, BtfKind.ENUM64):
            return _names_compat(lt, tt)
        if lt.kind == BtfKind.INT:
            return lt.int_info.offset == 0 and tt.int_info.offset == 0
        if lt.kind != BtfKind.ARRAY:
            return False
        local_id, targ_id = lt.array.type, tt.array.type
    raise CoreSpecError("type loop while comparing fields")


def types_are_compat(
    local: Btf, local_id: int, targ: Btf, targ_id: int, level: int = MAX_TYPES_COMPAT_LEVEL
) -> bool:
    """``__bpf_core_types_are_compat``: the relation TYPE_EXISTS/TYPE_SIZE/TYPE_ID use."""
    if not kind_core_compat(local[local_id], targ[targ_id]):
        return False
    for _ in range(32):  # libbpf's recursion depth
        lt, tt = local[local.strip(local_id)], targ[targ.strip(targ_id)]
        if not kind_core_compat(lt, tt):
            return False
        kind = lt.kind
        if kind in (BtfKind.UNKN, BtfKind.STRUCT, BtfKind.UNION, BtfKind.FWD) or lt.is_enum:
            return True
        if kind == BtfKind.INT:
            return lt.int_info.offset == 0 and tt.int_info.offset == 0
        if kind == BtfKind.PTR:
            local_id, targ_id = lt.ref, tt.ref
        elif kind == BtfKind.ARRAY:
            local_id, targ_id = lt.array.type, tt.array.type
        elif kind == BtfKind.FUNC_PROTO:
            if lt.vlen != tt.vlen:
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if level <= 0:
                    raise CoreSpecError("type nesting too deep (-EINVAL)")
                if not types_are_compat(
                    local, local.strip(lp.type), targ, targ.strip(tp.type), level - 1
                ):
                    return False
            local_id, targ_id = local.strip(lt.ref), targ.strip(tt.ref)
        else:
            return False
    raise CoreSpecError("type nesting too deep (-EINVAL)")


def _names_match(local_name: str, targ_name: str) -> bool:
    """``bpf_core_names_match``: both anonymous, or equal essential names."""
    if not targ_name:
        return not local_name
    return essential_name(local_name) == essential_name(targ_name)


def types_match(
    local: Btf,
    local_id: int,
    targ: Btf,
    targ_id: int,
    behind_ptr: bool = False,
    level: int = MAX_TYPES_COMPAT_LEVEL,
) -> bool:
    """``__bpf_core_types_match``: the relation of TYPE_MATCHES (root names already match)."""
    if level <= 0:
        raise CoreSpecError("type nesting too deep (-EINVAL)")
    for _ in range(32):
        lt, tt = local[local.strip(local_id)], targ[targ.strip(targ_id)]
        if not _names_match(lt.name, tt.name):
            return False
        kind = lt.kind
        if kind == BtfKind.PTR and tt.kind == BtfKind.PTR:
            behind_ptr, local_id, targ_id = True, lt.ref, tt.ref
        elif kind == BtfKind.ARRAY and tt.kind == BtfKind.ARRAY:
            if lt.array.nelems != tt.array.nelems:
                return False
            local_id, targ_id = lt.array.type, tt.array.type
        elif kind == BtfKind.FUNC_PROTO and tt.kind == BtfKind.FUNC_PROTO:
            if lt.vlen != tt.vlen:
                return False
            for lp, tp in zip(lt.params, tt.params, strict=True):
                if not types_match(local, lp.type, targ, tp.type, behind_ptr, level - 1):
                    return False
            local_id, targ_id = lt.ref, tt.ref
        else:
            return _match_leaf(local, lt, targ, tt, behind_ptr, level)
    raise CoreSpecError("type nesting too deep (-EINVAL)")


def _match_leaf(
    local: Btf, lt: BtfType, targ: Btf, tt: BtfType, behind_ptr: bool, level: int
) -> bool:
    kind = lt.kind
    if kind == BtfKind.UNKN:
        return tt.kind == BtfKind.UNKN
    if kind == BtfKind.FWD:
        if tt.kind == BtfKind.FWD:
            return lt.kind_flag == tt.kind_flag
        if not behind_ptr:
            return False
        return tt.kind == (BtfKind.UNION if lt.kind_flag else BtfKind.STRUCT)
    if lt.is_enum:
        return tt.is_enum and _enums_match(lt, tt)
    if lt.is_composite:
        if behind_ptr:
            if kind == tt.kind:
                return True
            return tt.kind == BtfKind.FWD and (kind == BtfKind.UNION) == tt.kind_flag
        return kind == tt.kind and _composites_match(local, lt, targ, tt, behind_ptr, level)
    if kind == BtfKind.INT:
        if tt.kind != BtfKind.INT:
            return False
        lsign = lt.int_info.encoding & IntEncoding.SIGNED
        return lt.size == tt.size and lsign == tt.int_info.encoding & IntEncoding.SIGNED
    return False  # PTR/ARRAY/FUNC_PROTO against another kind, or an unexpected kind


def _enums_match(lt: BtfType, tt: BtfType) -> bool:
    if lt.size != tt.size or lt.vlen > tt.vlen:
        return False
    names = [v.name for v in tt.enum_values]
    return all(any(_names_match(v.name, n) for n in names) for v in lt.enum_values)


def _composites_match(
    local: Btf, lt: BtfType, targ: Btf, tt: BtfType, behind_ptr: bool, level: int
) -> bool:
    if lt.vlen > tt.vlen:
        return False
    for lm in lt.members:
        if not any(
            _names_match(lm.name, tm.name)
            and types_match(local, lm.type, targ, tm.type, behind_ptr, level - 1)
            for tm in tt.members
        ):
            return False
    return True


# -- matching a local spec against one candidate -------------------------------------------


def match_spec(local: CoreSpec, targ: Btf, targ_id: int) -> tuple[bool, CoreSpec]:
    """``bpf_core_spec_match``: whether ``targ_id`` matches, and the target spec."""
    spec = CoreSpec(targ, targ_id, local.kind)
    if local.kind in TYPE_RELO_KINDS:
        if local.kind == CoreReloKind.TYPE_MATCHES:
            return types_match(local.btf, local.root_type_id, targ, targ_id), spec
        return types_are_compat(local.btf, local.root_type_id, targ, targ_id), spec
    if local.kind in ENUMVAL_RELO_KINDS:
        return _match_enumval(local, spec), spec
    tid = targ_id
    for i, acc in enumerate(local.spec):
        tid = targ.strip(tid)
        if acc.name is not None:
            found, tid = _match_member(local.btf, acc, targ, tid, spec)
            if not found:
                return False, spec
            continue
        if i > 0:
            t = targ[tid]
            if t.kind != BtfKind.ARRAY:
                return False, spec
            flex = _is_flex_arr(targ, spec.spec[-1] if spec.spec else None, t.array.nelems)
            if not flex and acc.idx >= t.array.nelems:
                return False, spec
            tid = targ.strip(t.array.type)
        if len(spec.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
            raise CoreSpecError("struct/union/array nesting too deep (-E2BIG)")
        spec.spec.append(CoreAccessor(tid, acc.idx))
        spec.raw_spec.append(acc.idx)
        spec.bit_offset += acc.idx * _size(targ, tid) * 8
    return True, spec


def _match_enumval(local: CoreSpec, spec: CoreSpec) -> bool:
    targ = spec.btf
    tid = targ.strip(spec.root_type_id)
    t = targ[tid]
    if not t.is_enum:
        return False
    want = essential_name(local.spec[0].name or "")
    for i, value in enumerate(t.enum_values):
        if essential_name(value.name) == want:
            spec.spec.append(CoreAccessor(tid, i, value.name))
            spec.raw_spec.append(i)
            return True
    return False


def _match_member(
    local: Btf, acc: CoreAccessor, targ: Btf, targ_id: int, spec: CoreSpec
) -> tuple[bool, int]:
    """``bpf_core_match_member``: find ``acc``'s field in ``targ_id``, recursing into anonymous
    members; on success the target spec has grown and the field's type id is returned."""
    tid = targ.strip(targ_id)
    t = targ[tid]
    if not t.is_composite:
        return False, 0
    lmember = local[acc.type_id].members[acc.idx]
    for i, member in enumerate(t.members):
        if len(spec.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
            raise CoreSpecError("struct/union/array nesting too deep (-E2BIG)")
        spec.bit_offset += member.bit_offset
        spec.raw_spec.append(i)
        if not member.name:
            found, next_id = _match_member(local, acc, targ, member.type, spec)
            if found:
                return True, next_id
        elif member.name == lmember.name:
            if fields_are_compat(local, lmember.type, targ, member.type):
                spec.spec.append(CoreAccessor(tid, i, member.name))
                return True, member.type
            return False, 0
        spec.bit_offset -= member.bit_offset
        spec.raw_spec.pop()
    return False, 0
