"""C text of BTF types: type names (``int *``, ``unsigned int[4]``, ``int (*)(void *)``) and
one-level definitions (a struct body, an enum, a typedef, a function declaration).

A C declarator is built inside out: each type wraps the declarator text it is given (``*`` for a
pointer, ``[n]`` for an array, ``(params)`` for a function) and hands it to the type it refers
to, which finally puts its own name in front. A pointer declarator is parenthesised before an
array or function suffix is appended, and a qualifier on a pointer goes after its ``*``, so
``const char *const p[2]`` comes out as C writes it. Type tags print as bpftool does,
``__attribute__((btf_type_tag("user")))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfvm.btf.kinds import BtfKind, Linkage
from bpfvm.btf.parse import btf_error
from bpfvm.btf.types import BtfType

if TYPE_CHECKING:
    from bpfvm.btf.btf import Btf

MAX_DEPTH = 64
_QUALIFIERS = {BtfKind.CONST: "const", BtfKind.VOLATILE: "volatile", BtfKind.RESTRICT: "restrict"}
_TAGGED = {BtfKind.STRUCT: "struct", BtfKind.UNION: "union", BtfKind.ENUM: "enum"}


def c_type(btf: Btf, type_id: int) -> str:
    """The C type name of ``type_id``."""
    return _decl(btf, type_id, "", 0)


def c_decl(btf: Btf, type_id: int, name: str) -> str:
    """A C declaration of ``name`` with type ``type_id`` (``unsigned int x[4]``)."""
    return _decl(btf, type_id, name, 0)


def _join(base: str, inner: str) -> str:
    if not inner:
        return base
    return base + inner if inner[0] == "[" else f"{base} {inner}"


def _wrap(inner: str) -> str:
    return f"({inner})" if inner.startswith("*") else inner


def _tag_name(t: BtfType) -> str:
    if t.kind == BtfKind.FWD:
        keyword = "union" if t.kind_flag else "struct"
    else:
        keyword = _TAGGED.get(t.kind, "enum")
    return f"{keyword} {t.name}" if t.name else f"{keyword} {{...}}"


def _decl(btf: Btf, type_id: int, inner: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise btf_error(f"[{type_id}] type nesting too deep to print")
    t = btf[type_id]
    kind = t.kind
    if kind == BtfKind.UNKN:
        return _join("void", inner)
    if kind in (BtfKind.INT, BtfKind.FLOAT, BtfKind.TYPEDEF):
        return _join(t.name, inner)
    if kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.FWD):
        return _join(_tag_name(t), inner)
    if kind == BtfKind.PTR:
        return _decl(btf, t.ref, "*" + inner, depth + 1)
    if kind in _QUALIFIERS:
        if btf.kind(t.ref) == BtfKind.PTR:
            return _decl(btf, t.ref, _join(_QUALIFIERS[kind], inner), depth + 1)
        return f"{_QUALIFIERS[kind]} {_decl(btf, t.ref, inner, depth + 1)}"
    if kind == BtfKind.ARRAY:
        return _decl(btf, t.array.type, f"{_wrap(inner)}[{t.array.nelems}]", depth + 1)
    if kind == BtfKind.FUNC_PROTO:
        return _decl(btf, t.ref, f"{_wrap(inner)}({_params(btf, t, depth)})", depth + 1)
    if kind in (BtfKind.FUNC, BtfKind.VAR):
        return _decl(btf, t.ref, _join(t.name, inner) if inner else t.name, depth + 1)
    if kind == BtfKind.TYPE_TAG:
        attr = f'__attribute__((btf_type_tag("{t.name}")))'
        return _decl(btf, t.ref, _join(attr, inner), depth + 1)
    if kind == BtfKind.DECL_TAG:
        attr = f'__attribute__((btf_decl_tag("{t.name}")))'
        return f"{_decl(btf, t.ref, inner, depth + 1)} {attr}"
    return _join(f'SEC("{t.name}")', inner)  # DATASEC


def _params(btf: Btf, proto: BtfType, depth: int) -> str:
    if not proto.params:
        return "void"
    parts = []
    for param in proto.params:
        if param.type == 0 and not param.name:
            parts.append("...")
        else:
            parts.append(_decl(btf, param.type, param.name, depth + 1))
    return ", ".join(parts)


def c_definition(btf: Btf, type_id: int) -> str:
    """A C definition of ``type_id``; anonymous struct/union members are expanded inline."""
    t = btf[type_id]
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        return "\n".join(_body(btf, t, 0)) + ";"
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        lines = [f"{_tag_name(t)} {{"]
        lines += [f"\t{v.name} = {v.value}," for v in t.enum_values]
        return "\n".join([*lines, "};"])
    if t.kind == BtfKind.FWD:
        return f"{_tag_name(t)};"
    if t.kind == BtfKind.TYPEDEF:
        return f"typedef {c_decl(btf, t.ref, t.name)};"
    if t.kind in (BtfKind.FUNC, BtfKind.VAR):
        prefix = {Linkage.STATIC: "static ", Linkage.EXTERN: "extern "}.get(t.linkage, "")
        return f"{prefix}{c_decl(btf, t.ref, t.name)};"
    return c_type(btf, type_id)


def _body(btf: Btf, t: BtfType, depth: int) -> list[str]:
    """Lines of a struct/union body (the closing brace without its ``;``)."""
    if depth > MAX_DEPTH:
        raise btf_error(f"[{t.id}] type nesting too deep to print")
    keyword = "union" if t.kind == BtfKind.UNION else "struct"
    lines = [f"{keyword} {t.name} {{" if t.name else f"{keyword} {{"]
    for m in t.members:
        bits = f": {m.bitfield_size}" if m.bitfield_size else ""
        inner = btf[m.type]
        if inner.is_composite and not inner.name:
            nested = _body(btf, inner, depth + 1)
            lines += ["\t" + line for line in nested[:-1]]
            lines.append(f"\t{nested[-1]} {m.name}{bits};" if m.name else f"\t{nested[-1]};")
        else:
            lines.append(f"\t{c_decl(btf, m.type, m.name)}{bits};")
    return [*lines, "}"]
