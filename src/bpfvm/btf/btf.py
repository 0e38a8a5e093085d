"""The :class:`Btf` object: a parsed ``.BTF`` blob with lookups by id and by name.

Type ids index ``btf.types`` directly (id 0 is ``void``); a split BTF (a kernel module's) holds a
base and continues its ids and string offsets, and every lookup falls back to the base. Types are
decoded on first access and cached (see :mod:`bpfvm.btf.parse`); the by-name index is built on
the first :meth:`Btf.find` from the raw name offsets, without decoding any type.

The helpers follow libbpf's definitions: :meth:`Btf.strip` is ``skip_mods_and_typedefs``
(typedef, const, volatile, restrict, type_tag), :meth:`Btf.resolve_size` is
``btf__resolve_size`` (pointers are 8 bytes, arrays multiply, at most 32 hops), and
:meth:`Btf.find` returns the lowest matching id as ``btf__find_by_name_kind`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import overload

from bpfvm.btf.kinds import (
    MODIFIER_KINDS,
    POINTER_SIZE,
    SIZED_KINDS,
    BtfKind,
)
from bpfvm.btf.parse import (
    BtfHeader,
    StringTable,
    btf_error,
    check_chains,
    decode_type,
    load_words,
    parse_header,
    scan_types,
)
from bpfvm.btf.types import VOID, BtfMember, BtfType

MAX_RESOLVE_DEPTH = 32  # libbpf's limit on typedef/modifier/array hops
_PATH_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_SKIP = frozenset(int(k) for k in MODIFIER_KINDS)


class Btf:
    """A parsed ``.BTF`` blob. Build it with :meth:`parse`."""

    def __init__(
        self,
        data: bytes,
        header: BtfHeader,
        strings: StringTable,
        base: Btf | None,
    ) -> None:
        self.data = data
        self.header = header
        self.strings = strings
        self.base = base
        self.start_id = len(base) if base is not None else 1
        start = header.hdr_len + header.type_off
        if header.type_len % 4:
            raise btf_error(f"type section length {header.type_len} is not a multiple of 4")
        self._words = load_words(data[start : start + header.type_len])
        self._offsets, self._kinds = scan_types(self._words, strings, self.start_id)
        check_chains(self._words, self._offsets, self._kinds, self.start_id)
        self._cache: list[BtfType | None] = [None] * len(self._kinds)
        self._by_name: dict[str, list[int]] | None = None
        self._by_essential: dict[str, list[int]] | None = None

    @classmethod
    def parse(cls, data: bytes, base: Btf | None = None) -> Btf:
        """Parse and check a raw ``.BTF`` blob (``base`` for split BTF)."""
        data = bytes(data)
        header = parse_header(data)
        str_start = header.hdr_len + header.str_off
        raw_strings = data[str_start : str_start + header.str_len]
        strings = StringTable(raw_strings, base.strings if base is not None else None)
        return cls(data, header, strings, base)

    # -- ids and records -------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of type ids, ``void`` and the base's included (libbpf's ``btf__type_cnt``)."""
        return self.start_id + len(self._kinds)

    def __getitem__(self, type_id: int) -> BtfType:
        idx = type_id - self.start_id
        if idx < 0:
            if type_id == 0:
                return VOID
            if self.base is not None and type_id > 0:
                return self.base[type_id]
            raise IndexError(f"BTF type id {type_id} out of range")
        if idx >= len(self._kinds):
            raise IndexError(f"BTF type id {type_id} out of range (max {len(self) - 1})")
        cached = self._cache[idx]
        if cached is None:
            pos = self._offsets[idx]
            cached = self._cache[idx] = decode_type(self._words, pos, type_id, self.strings)
        return cached

    def has(self, type_id: int) -> bool:
        return 0 <= type_id < len(self)

    @property
    def types(self) -> TypeTable:
        """All types, indexed by id (``types[0]`` is ``void``)."""
        return TypeTable(self)

    def kind(self, type_id: int) -> BtfKind:
        """The kind of ``type_id`` without decoding it."""
        idx = type_id - self.start_id
        if idx >= 0:
            return BtfKind(self._kinds[idx])
        return self[type_id].kind

    def name(self, type_id: int) -> str:
        """The name of ``type_id`` without decoding the rest of it ("" when anonymous)."""
        idx = type_id - self.start_id
        if idx >= 0:
            return self.strings.get(self._words[self._offsets[idx]])
        return self[type_id].name

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the string section (``btf__name_by_offset``)."""
        if not self.strings.valid(offset):
            raise btf_error(
                f"Invalid string offset {offset} (section ends at {self.strings.limit})"
            )
        return self.strings.get(offset)

    # -- by name ---------------------------------------------------------------------------

    def find(self, name: str, kind: BtfKind | None = None) -> int | None:
        """The lowest id named ``name`` (of ``kind`` if given), or None."""
        found = self.find_all(name, kind)
        return found[0] if found else None

    def find_all(self, name: str, kind: BtfKind | None = None) -> list[int]:
        """Every id named ``name`` (of ``kind`` if given), base ids first."""
        found = self.base.find_all(name, kind) if self.base is not None else []
        if self._by_name is None:
            self._by_name = self._index_names()
        ids = self._by_name.get(name, [])
        if kind is not None:
            ids = [i for i in ids if self._kinds[i - self.start_id] == kind]
        return found + ids

    def names(self) -> dict[str, list[int]]:
        """Own (not the base's) named type ids by name; the index :meth:`find` uses."""
        if self._by_name is None:
            self._by_name = self._index_names()
        return self._by_name

    def find_flavors(self, essential: str) -> list[int]:
        """Every id whose :func:`essential_name` is ``essential`` (CO-RE candidates), base
        ids first."""
        found = self.base.find_flavors(essential) if self.base is not None else []
        if self._by_essential is None:
            index: dict[str, list[int]] = {}
            for name, ids in self.names().items():
                index.setdefault(essential_name(name), []).extend(ids)
            for ids in index.values():
                ids.sort()
            self._by_essential = index
        return found + self._by_essential.get(essential, [])

    def _index_names(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        words, get = self._words, self.strings.get
        for idx, pos in enumerate(self._offsets):
            name_off = words[pos]
            if name_off:
                index.setdefault(get(name_off), []).append(idx + self.start_id)
        index.pop("", None)
        return index

    # -- type helpers ----------------------------------------------------------------------

    def strip(self, type_id: int) -> int:
        """Skip typedefs and modifiers (const/volatile/restrict/type_tag) from ``type_id``."""
        for _ in range(MAX_RESOLVE_DEPTH + len(self)):
            if self.kind(type_id) not in _SKIP:
                return type_id
            type_id = self[type_id].ref
        raise btf_error(f"[{type_id}] Loop detected")

    def resolve_size(self, type_id: int) -> int:
        """Size in bytes of ``type_id`` (``btf__resolve_size``); InputError if it has none."""
        nelems, tid = 1, type_id
        for _ in range(MAX_RESOLVE_DEPTH):
            t = self[tid]
            if t.kind in SIZED_KINDS:
                return nelems * t.size
            if t.kind == BtfKind.PTR:
                return nelems * POINTER_SIZE
            if t.kind == BtfKind.ARRAY:
                nelems *= t.array.nelems
                tid = t.array.type
            elif t.kind in MODIFIER_KINDS or t.kind in (BtfKind.VAR, BtfKind.DECL_TAG):
                tid = t.ref
            else:
                break
        raise btf_error(f"cannot resolve the size of [{type_id}] {self.type_name(type_id)}")

    def type_name(self, type_id: int) -> str:
        """C text of the type: ``struct foo``, ``int *``, ``unsigned int[4]``, ``void``."""
        from bpfvm.btf.cdecl import c_type

        return c_type(self, type_id)

    def describe(self, type_id: int) -> str:
        """C definition of ``type_id``: a struct/union/enum body, typedef or function
        declaration; for other kinds the same as :meth:`type_name`."""
        from bpfvm.btf.cdecl import c_definition

        return c_definition(self, type_id)

    def find_member(self, type_id: int, name: str) -> tuple[BtfMember, int] | None:
        """Member ``name`` of a struct/union and its bit offset, looking through anonymous
        members as C does; None if absent."""
        t = self[self.strip(type_id)]
        for member in t.members:
            if member.name == name:
                return member, member.bit_offset
            if not member.name and self[self.strip(member.type)].is_composite:
                inner = self.find_member(member.type, name)
                if inner is not None:
                    return inner[0], member.bit_offset + inner[1]
        return None

    def member_offset(self, type_id: int, path: str) -> int:
        """Bit offset of ``path`` (``"a.b[2].c"``) inside struct/union ``type_id``."""
        pos, bits, tid = 0, 0, type_id
        while pos < len(path):
            step = _PATH_STEP.match(path, pos)
            if step is None:
                raise btf_error(f"bad member path {path!r} at offset {pos}")
            pos = step.end()
            field, index = step.groups()
            if field is not None:
                found = self.find_member(tid, field)
                if found is None:
                    raise btf_error(f"{self.type_name(tid)} has no member {field!r}")
                bits += found[1]
                tid = found[0].type
            else:
                arr = self[self.strip(tid)]
                if arr.kind != BtfKind.ARRAY:
                    raise btf_error(f"{self.type_name(tid)} is not an array ({path!r})")
                tid = arr.array.type
                bits += int(index) * 8 * self.resolve_size(tid)
        return bits

    def __repr__(self) -> str:
        split = f", split from {self.base!r}" if self.base is not None else ""
        return f"<Btf {len(self) - self.start_id} types{split}>"


def essential_name(name: str) -> str:
    """``name`` without its CO-RE flavour: everything from the last ``___`` that has a
    non-underscore on both sides is dropped (``task_struct___old`` -> ``task_struct``),
    as libbpf's ``bpf_core_essential_name_len``."""
    if "___" not in name:
        return name
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1 : i + 4] == "___" and name[i + 4] != "_":
            return name[: i + 1]
    return name


class TypeTable(Sequence[BtfType]):
    """A read-only view of a :class:`Btf`'s types by id; decodes lazily."""

    def __init__(self, btf: Btf) -> None:
        self._btf = btf

    def __len__(self) -> int:
        return len(self._btf)

    @overload
    def __getitem__(self, index: int) -> BtfType: ...

    @overload
    def __getitem__(self, index: slice) -> list[BtfType]: ...

    def __getitem__(self, index: int | slice) -> BtfType | list[BtfType]:
        if isinstance(index, slice):
            return [self._btf[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self._btf[index]

    def __iter__(self) -> Iterator[BtfType]:
        return (self._btf[i] for i in range(len(self)))
