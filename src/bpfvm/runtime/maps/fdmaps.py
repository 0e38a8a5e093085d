"""Maps of objects: ``prog_array`` (tail calls) and the maps of maps.

In the kernel their values are file descriptors on the syscall side and object pointers on the
program side. bpfvm stores the objects: programs (whatever the engine runs) in a prog_array,
:class:`~bpfvm.runtime.maps.base.BpfMap` instances in an ``array_of_maps`` or
``hash_of_maps``. A syscall-side lookup returns the kernel's answer, the object's id as a u32
(``BpfMap.map_id``; a program's ``id`` attribute, else 0); :meth:`get_prog`/:meth:`get_inner`
return the objects themselves.

* prog_array: programs cannot look it up (the kernel's lookup returns NULL); the tail-call
  helper asks :meth:`ProgArrayMap.get_prog`. Updates take ``BPF_ANY`` only.
* maps of maps: ``MapSpec.inner`` is the template; an inner map must match it as
  ``bpf_map_meta_equal`` requires (type, key size, value size, flags, and for arrays without
  ``BPF_F_INNER_MAP`` also max_entries), else ``EINVAL``. A program's lookup returns the inner
  map's handle address (the map pointer), which :meth:`inner_by_handle` resolves. Each slot's
  value is that address as a u64, in native memory at the handle's ``data_addr``.
  :meth:`regions` includes the current inner maps' regions.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections import Counter
from collections.abc import Iterator

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps.array import array_next_key
from bpfvm.runtime.maps.base import (
    BPF_ANY,
    BPF_F_INNER_MAP,
    ENOTSUPP,
    BpfMap,
    storage_region,
    u32_key,
)
from bpfvm.runtime.maps.hash import HashMap
from bpfvm.runtime.memory import Region

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def meta_mismatch(template: MapSpec, inner: BpfMap) -> str | None:
    """Why ``inner`` may not sit in a map of maps made from ``template`` (None: it may)."""
    for what, want, got in (
        ("map type", int(template.type), int(inner.spec.type)),
        ("key_size", template.key_size, inner.key_size),
        ("value_size", template.value_size, inner.value_size),
        ("map_flags", template.map_flags, inner.map_flags),
    ):
        if want != got:
            return f"inner map {inner.name} has {what} {got}, the template {want}"
    is_array = template.type in (MapType.ARRAY, MapType.PERCPU_ARRAY)
    fixed_size = is_array and not template.map_flags & BPF_F_INNER_MAP
    if fixed_size and template.max_entries != inner.max_entries:
        return (
            f"inner map {inner.name} has max_entries {inner.max_entries}, the template "
            f"{template.max_entries} (and no BPF_F_INNER_MAP)"
        )
    return None


def _object_id(obj: object) -> int:
    value = getattr(obj, "map_id", None) if isinstance(obj, BpfMap) else getattr(obj, "id", 0)
    return value if isinstance(value, int) else 0


class ProgArrayMap(BpfMap):
    """``BPF_MAP_TYPE_PROG_ARRAY``: slot -> program, for ``bpf_tail_call``."""

    kind = "prog_array"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self._progs: list[object | None] = [None] * self.max_entries

    def get_prog(self, index: int) -> object | None:
        """The program in slot ``index``; None when empty or out of range (no tail call)."""
        if 0 <= index < self.max_entries:
            return self._progs[index]
        return None

    def set_prog(self, index: int, prog: object | None) -> None:
        """Put ``prog`` in slot ``index`` (None empties it)."""
        if prog is None:
            if 0 <= index < self.max_entries:
                self._progs[index] = None
            return
        self.update(index, prog)

    def __len__(self) -> int:
        return self.max_entries

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        assert key is not None
        prog = self.get_prog(u32_key(key))
        return None if prog is None else _U32.pack(_object_id(prog))

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        if flags != BPF_ANY:
            self._fail(_errno.EINVAL, f"invalid flags {flags:#x} for a prog_array")
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        if value is None or isinstance(value, bytes | bytearray | int | BpfMap):
            self._fail(_errno.EBADF, "a prog_array value is a program object")
        self._progs[index] = value

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        if self._progs[index] is None:
            self._fail(_errno.ENOENT, f"slot {index} is empty")
        self._progs[index] = None

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(key, self.max_entries)


class _MapOfMaps(BpfMap):
    """What both maps of maps share: the template check and inner map bookkeeping."""

    def _check_inner(self, value: object) -> BpfMap:
        if not isinstance(value, BpfMap):
            self._fail(_errno.EBADF, f"an inner map must be a BpfMap, not {type(value).__name__}")
        assert self.spec.inner is not None
        why = meta_mismatch(self.spec.inner, value)
        if why is not None:
            self._fail(_errno.EINVAL, why)
        return value

    def _inner_maps(self) -> list[BpfMap]:
        raise NotImplementedError

    def inner_by_handle(self, addr: int) -> BpfMap | None:
        """The inner map whose handle is at ``addr`` (what a program's lookup returned)."""
        for inner in self._inner_maps():
            if inner.handle.addr == addr:
                return inner
        return None

    def regions(self) -> list[Region]:
        out = super().regions()
        for inner in self._inner_maps():
            out.extend(inner.regions())
        return out

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> int:
        return -_errno.EINVAL  # the verifier allows only lookups on a map of maps

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        return -_errno.EINVAL


class ArrayOfMapsMap(_MapOfMaps):
    """``BPF_MAP_TYPE_ARRAY_OF_MAPS``."""

    kind = "array_of_maps"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self.slots: Region = storage_region(spec, "slots", 8 * self.max_entries, False)
        self._set_layout(self.slots.addr, 8)
        self._inner: list[BpfMap | None] = [None] * self.max_entries

    def _inner_maps(self) -> list[BpfMap]:
        return list({id(m): m for m in self._inner if m is not None}.values())

    def get_inner(self, key: bytes | int) -> BpfMap | None:
        index = u32_key(self._key(key) or b"")
        return self._inner[index] if index < self.max_entries else None

    def __len__(self) -> int:
        return self.max_entries

    def _set(self, index: int, inner: BpfMap | None) -> None:
        self._inner[index] = inner
        self.slots.write(8 * index, _U64.pack(0 if inner is None else inner.handle.addr))

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        index = u32_key(key)
        if index >= self.max_entries:
            return 0
        inner = self._inner[index]
        return 0 if inner is None else inner.handle.addr

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        inner = self.get_inner(key or b"")
        return None if inner is None else _U32.pack(inner.map_id)

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        if flags != BPF_ANY:
            self._fail(_errno.EINVAL, f"invalid flags {flags:#x} for an array_of_maps")
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        self._set(index, self._check_inner(value))

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        if self._inner[index] is None:
            self._fail(_errno.ENOENT, f"slot {index} is empty")
        self._set(index, None)

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(key, self.max_entries)


class HashOfMapsMap(_MapOfMaps, HashMap):
    """``BPF_MAP_TYPE_HASH_OF_MAPS``: a hash map whose values are inner maps."""

    kind = "hash_of_maps"
    supports_for_each = False

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self._refs: Counter[int] = Counter()  # handle address -> slots holding it
        self._by_addr: dict[int, BpfMap] = {}

    def regions(self) -> list[Region]:
        # the element slab holds pointers no program may touch
        return [r for r in super().regions() if r is not self.slab]

    def _inner_maps(self) -> list[BpfMap]:
        return list(self._by_addr.values())

    def _slot_addr(self, key: bytes) -> int:
        slot = self._index.get(key)
        if slot is None:
            return 0
        addr: int = _U64.unpack_from(self.slab.buf, slot * self.elem_size + self.key_stride)[0]
        return addr

    def get_inner(self, key: bytes | int) -> BpfMap | None:
        k = self._key(key)
        return self._by_addr.get(self._slot_addr(k or b""))

    def _forget(self, addr: int) -> None:
        if addr:
            self._refs[addr] -= 1
            if self._refs[addr] <= 0:
                del self._refs[addr]
                del self._by_addr[addr]

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        return self._slot_addr(bytes(key))

    def for_each(self, cpu: int = 0) -> Iterator[tuple[int, int]]:
        return BpfMap.for_each(self, cpu)

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        inner = self._by_addr.get(self._slot_addr(key or b""))
        return None if inner is None else _U32.pack(inner.map_id)

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        inner = self._check_inner(value)
        old = self._slot_addr(key)
        err = self._update(key, _U64.pack(inner.handle.addr), flags, -1)
        if err:
            self._fail(-err, f"update of key {key.hex()} failed")
        self._refs[inner.handle.addr] += 1
        self._by_addr[inner.handle.addr] = inner
        self._forget(old)

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        old = self._slot_addr(key)
        HashMap._sys_delete(self, key)
        self._forget(old)

    def _sys_lookup_and_delete(self, key: bytes | None) -> bytes | list[bytes]:
        self._fail(ENOTSUPP, "maps of maps have no lookup_and_delete")
