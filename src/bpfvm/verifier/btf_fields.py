"""Special fields of map values (``btf_parse_fields`` / ``struct btf_record``): where a map
value holds a ``struct bpf_spin_lock``, ``bpf_timer``, ... as its BTF says. Only the top-level
members (and nested structs) of the value type are searched, as the kernel does for maps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfvm.verifier.env import Env

SPECIAL_STRUCTS = {
    "bpf_spin_lock": "bpf_spin_lock",
    "bpf_res_spin_lock": "bpf_res_spin_lock",
    "bpf_timer": "bpf_timer",
    "bpf_wq": "bpf_wq",
    "bpf_list_head": "bpf_list_head",
    "bpf_rb_root": "bpf_rb_root",
    "bpf_refcount": "bpf_refcount",
}


def value_fields(btf: Any, value_type_id: int) -> list[tuple[int, int, str]]:
    """(offset, size, name) of each special field in a map value of BTF type
    ``value_type_id``."""
    fields: list[tuple[int, int, str]] = []
    if btf is not None and value_type_id:
        try:
            _walk(btf, value_type_id, 0, fields, 0)
        except (KeyError, IndexError, TypeError, ValueError):
            return []
    return fields


def map_special_fields(env: Env, map_idx: int) -> list[tuple[int, int, str]]:
    """(offset, size, name) of each special field in map ``map_idx``'s value."""
    cache: dict[int, list[tuple[int, int, str]]] = env.field_cache
    if map_idx in cache:
        return cache[map_idx]
    m = env.maps[map_idx]
    btf = env.info.prog.btf
    fields: list[tuple[int, int, str]] = []
    if btf is not None and m.btf_value_type_id:
        try:
            _walk(btf, m.btf_value_type_id, 0, fields, 0)
        except (KeyError, IndexError, TypeError, ValueError):
            fields = []
    cache[map_idx] = fields
    return fields


def _walk(btf: Any, type_id: int, base: int, out: list[tuple[int, int, str]], depth: int) -> None:
    if depth > 8:
        return
    tid = btf.strip(type_id)
    t = btf[tid]
    if t.name in SPECIAL_STRUCTS and t.is_composite:
        out.append((base, t.size, SPECIAL_STRUCTS[t.name]))
        return
    if not t.is_composite:
        return
    for member in t.members:
        _walk(btf, member.type, base + member.bit_offset // 8, out, depth + 1)


def spin_lock_offset(env: Env, map_idx: int) -> int | None:
    """The offset of the value's ``struct bpf_spin_lock``, or None."""
    for off, _size, name in map_special_fields(env, map_idx):
        if name == "bpf_spin_lock":
            return off
    return None
