"""Typed map views: keys and values as Python data, through the BTF that describes them.

:class:`TypedMap` wraps a :class:`~bpfvm.runtime.maps.BpfMap` with a
:class:`~bpfvm.btf.values.ValueCodec` for its key and one for its value, so that
``typed[key]`` gives what ``bpftool map dump`` prints, decoded as :mod:`bpfvm.btf.values`
documents: an ``int`` for a ``__u32`` key, a ``dict`` for a struct, ``{var: value}`` for global
data. The operations are the map's syscall side (errors are its :class:`MapError`); values are
encoded before and decoded after, and a value that does not fit its type raises
:class:`~bpfvm.btf.values.BtfValueError` naming the path (``value.max_len: -1 does not fit
u32``). Keys may be dicts, so :meth:`TypedMap.keys` and :meth:`TypedMap.items` are iterators,
not views.

Per-CPU maps give a list with one value per CPU. On update a ``list`` is one value per CPU and
any other value goes to every CPU, as the byte API takes bytes; when the value type is itself
an array, a list counts as per-CPU only if every item is a list, tuple, bytes or str.

:func:`typed_map` (``LoadedObject.typed(name)``) takes the types of a BTF-defined map from its
definition. A global data map (``.data``, ``.bss``, ``.rodata``, ``.kconfig``) has no type ids;
its value is the DATASEC of its section's name, and its key a plain ``int`` (the index 0).
clang leaves the DATASEC's global variables at offset 0 for the loader to place
(libbpf's ``btf_fixup_datasec``); the loader records where each variable lives in
``MapSpec.var_offsets`` (from the ELF symbols, or its ``.kconfig`` layout). Maps with no
BTF type for their value (legacy ``maps`` definitions, string
sections, maps of maps) raise :class:`TypedMapError`.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from bpfvm.btf import Btf, BtfKind
from bpfvm.btf.values import BtfValueError, ValueCodec
from bpfvm.errors import InputError
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BPF_ANY, BpfMap, MapError

if TYPE_CHECKING:
    from bpfvm.hooks.test_run import LoadedObject

PERCPU_MAP_TYPES = frozenset(
    {
        MapType.PERCPU_HASH,
        MapType.PERCPU_ARRAY,
        MapType.LRU_PERCPU_HASH,
        MapType.PERCPU_CGROUP_STORAGE,
    }
)
_SEQUENCES = (list, tuple, bytes, bytearray, str)


class TypedMapError(InputError):
    """A map that cannot be viewed typed: no BTF, or types that do not match its sizes."""


class TypedMap:
    """A dict-like view of ``m`` whose keys and values are BTF types of ``btf``.

    ``key_type_id`` 0 means a plain unsigned ``int`` key of the map's ``key_size`` (or no key
    when that is 0); ``var_offsets`` places the variables of a DATASEC value."""

    def __init__(
        self,
        m: BpfMap,
        btf: Btf,
        key_type_id: int,
        value_type_id: int,
        *,
        var_offsets: Mapping[str, int] | None = None,
    ) -> None:
        self.map, self.btf = m, btf
        if not value_type_id:
            raise TypedMapError(f"map {m.name}: no BTF type for its value")
        try:
            self.key_codec = ValueCodec(btf, key_type_id) if key_type_id else None
            size = m.value_size if btf.kind(btf.strip(value_type_id)) == BtfKind.DATASEC else None
            self.value_codec = ValueCodec(btf, value_type_id, var_offsets=var_offsets, size=size)
        except BtfValueError as exc:
            raise TypedMapError(f"map {m.name}: {exc}") from None
        if self.key_codec is not None and self.key_codec.size != m.key_size:
            raise TypedMapError(
                f"map {m.name}: key type {self.key_codec.type_name} is {self.key_codec.size} "
                f"bytes, key_size is {m.key_size}"
            )
        if key_type_id == 0 and m.key_size not in (0, 1, 2, 4, 8):
            raise TypedMapError(f"map {m.name}: no BTF type for its {m.key_size}-byte key")
        if self.value_codec.size != m.value_size:
            raise TypedMapError(
                f"map {m.name}: value type {self.value_codec.type_name} is "
                f"{self.value_codec.size} bytes, value_size is {m.value_size}"
            )
        self.percpu = m.spec.type in PERCPU_MAP_TYPES
        value_kind = btf.kind(btf.strip(value_type_id))
        self._array_value = value_kind == BtfKind.ARRAY

    def __repr__(self) -> str:
        key = self.key_codec.type_name if self.key_codec else f"u{8 * self.map.key_size}"
        key = key if self.map.key_size else "(no key)"
        return f"<TypedMap {self.map.name!r} {key} -> {self.value_codec.type_name}>"

    # -- conversions -----------------------------------------------------------------------

    def encode_key(self, key: object) -> bytes | None:
        if self.key_codec is not None:
            return self.key_codec.encode(key, "key")
        size = self.map.key_size
        if size == 0:
            if key is not None:
                raise BtfValueError("key", f"map {self.map.name} has no keys")
            return None
        if not isinstance(key, int):
            raise BtfValueError("key", f"expected an int, got {type(key).__name__}")
        if not 0 <= key < 1 << 8 * size:
            raise BtfValueError("key", f"{key} does not fit u{8 * size}")
        return key.to_bytes(size, "little")

    def decode_key(self, raw: bytes) -> object:
        if self.key_codec is not None:
            return self.key_codec.decode(raw)
        return int.from_bytes(raw, "little")

    def _per_cpu_list(self, value: object) -> bool:
        if not self.percpu or not isinstance(value, list):
            return False
        return not self._array_value or all(isinstance(v, _SEQUENCES) for v in value)

    def encode_value(self, value: object) -> bytes | list[bytes]:
        if self._per_cpu_list(value):
            assert isinstance(value, list)
            if len(value) != self.map.ncpus:
                raise BtfValueError("value", f"{len(value)} values for {self.map.ncpus} CPUs")
            return [self.value_codec.encode(v, f"value[cpu {i}]") for i, v in enumerate(value)]
        return self.value_codec.encode(value, "value")

    def decode_value(self, raw: bytes | list[bytes]) -> object:
        if isinstance(raw, list):
            return [self.value_codec.decode(v) for v in raw]
        return self.value_codec.decode(raw)

    # -- the map's operations --------------------------------------------------------------

    def lookup(self, key: object, flags: int = 0) -> object | None:
        """``BPF_MAP_LOOKUP_ELEM``: the decoded value, None when absent."""
        raw = self.map.lookup(self.encode_key(key), flags)
        return None if raw is None else self.decode_value(raw)

    def update(self, key: object, value: object, flags: int = BPF_ANY) -> None:
        """``BPF_MAP_UPDATE_ELEM`` with ``value`` encoded (partial dicts: the rest is zero)."""
        self.map.update(self.encode_key(key), self.encode_value(value), flags)

    def delete(self, key: object) -> None:
        self.map.delete(self.encode_key(key))

    def get(self, key: object, default: object = None) -> object:
        value = self.lookup(key)
        return default if value is None else value

    def keys(self) -> Iterator[object]:
        for raw in self.map:
            yield self.decode_key(raw)

    def items(self) -> Iterator[tuple[object, object]]:
        for raw_key, raw_value in self.map.items():
            yield self.decode_key(raw_key), self.decode_value(raw_value)

    def values(self) -> Iterator[object]:
        for _, value in self.items():
            yield value

    def __iter__(self) -> Iterator[object]:
        return self.keys()

    def __len__(self) -> int:
        return len(self.map)

    def __contains__(self, key: object) -> bool:
        return self.lookup(key) is not None

    def __getitem__(self, key: object) -> object:
        value = self.lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: object, value: object) -> None:
        self.update(key, value)

    def __delitem__(self, key: object) -> None:
        try:
            self.delete(key)
        except MapError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise


def typed_map(loaded: LoadedObject, name: str) -> TypedMap:
    """A :class:`TypedMap` of map ``name`` of ``loaded``, typed by the object's BTF."""
    m = loaded.map(name)
    btf = loaded.object.btf
    if btf is None:
        raise TypedMapError(f"map {name}: the object has no BTF")
    key_id, value_id = m.spec.btf_key_type_id, m.spec.btf_value_type_id
    offsets = None
    if value_id == 0 and m.spec.type == MapType.ARRAY and m.spec.initial is not None:
        section = m.spec.section or m.name
        datasec = btf.find(section, BtfKind.DATASEC)
        if datasec is None:
            raise TypedMapError(f"map {name}: no DATASEC {section!r} in the object's BTF")
        value_id = datasec
        offsets = dict(m.spec.var_offsets)
    return TypedMap(m, btf, key_id, value_id, var_offsets=offsets)
