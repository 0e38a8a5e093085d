"""Array maps: ``array`` and ``percpu_array`` (``kernel/bpf/arraymap.c``).

All ``max_entries`` values exist from the start, zeroed, ``round_up(value_size, 8)`` bytes
apart in one native block; a per-CPU array has one such block per CPU, CPU ``c``'s copy of
value ``i`` at ``data_addr + c * percpu_stride + i * value_stride`` (both in the handle).
Keys are u32 indexes; nothing can be deleted. ``get_next_key`` walks indexes in order, and an
absent or out-of-range key restarts at 0. Global data (``.data``, ``.bss``, ``.rodata``) is a
single-element array whose value starts with ``MapSpec.initial``.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections.abc import Iterator

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_NOEXIST,
    ENOTSUPP,
    BpfMap,
    MapError,
    reject,
    round8,
    storage_region,
    u32_key,
)
from bpfvm.runtime.memory import Region


class ArrayMap(BpfMap):
    """``BPF_MAP_TYPE_ARRAY``."""

    kind = "array"
    supports_for_each = True
    percpu = False

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self.elem_size = round8(self.value_size)
        block = self.max_entries * self.elem_size
        copies = ncpus if self.percpu else 1
        self.value_area: Region = storage_region(
            spec, "values", block * copies, writable=not self.rdonly_prog
        )
        self.percpu_stride = block if self.percpu else 0
        self._set_layout(self.value_area.addr, self.elem_size, self.percpu_stride)
        if spec.initial is not None:
            if len(spec.initial) > self.value_size:
                size = len(spec.initial)
                reject(
                    spec, _errno.EINVAL, f"{size} initial bytes for a value of {self.value_size}"
                )
            for cpu in range(copies):
                self.value_area.write(cpu * block, spec.initial)

    def regions(self) -> list[Region]:
        return [*super().regions(), self.value_area]

    def value_addr(self, index: int, cpu: int = 0) -> int:
        """The address of value ``index`` (CPU ``cpu``'s copy of a per-CPU value)."""
        return self.value_area.addr + cpu * self.percpu_stride + index * self.elem_size

    def _read(self, index: int, cpu: int = 0) -> bytes:
        return self.value_area.read(
            self.value_addr(index, cpu) - self.value_area.addr, self.value_size
        )

    def _write(self, index: int, value: bytes, cpu: int = 0) -> None:
        self.value_area.write(self.value_addr(index, cpu) - self.value_area.addr, value)

    def direct_value_addr(self, off: int) -> int:
        """``array_map_direct_value_addr``: the address a ``BPF_PSEUDO_MAP_VALUE`` loads.

        Only single-element arrays have one; for a per-CPU array it is CPU 0's copy (the
        per-CPU move adds ``cpu * percpu_stride``).
        """
        if self.max_entries != 1:
            raise MapError(ENOTSUPP, f"map {self.name}: direct value access needs max_entries 1")
        if off >= self.value_size:
            raise MapError(_errno.EINVAL, f"map {self.name}: offset {off} beyond the value")
        return self.value_area.addr + off

    def __len__(self) -> int:
        return self.max_entries

    # --- program side ---------------------------------------------------------------------

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        index = u32_key(key)
        if index >= self.max_entries or cpu >= self.ncpus:
            return 0
        return self.value_addr(index, cpu)

    def _check_update(self, index: int, flags: int) -> int:
        """``array_map_update_elem``'s checks, in its order."""
        if flags & ~BPF_F_LOCK > BPF_EXIST:
            return -_errno.EINVAL
        if index >= self.max_entries:
            return -_errno.E2BIG
        if flags & BPF_NOEXIST:
            return -_errno.EEXIST
        if flags & BPF_F_LOCK:  # no bpf_spin_lock in the value (no BTF record)
            return -_errno.EINVAL
        return 0

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> int:
        if self.rdonly_prog:
            return -_errno.EPERM
        index = u32_key(key)
        err = self._check_update(index, flags)
        if not err:
            self._write(index, bytes(value[: self.value_size]), cpu)
        return err

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        return -_errno.EINVAL

    def for_each(self, cpu: int = 0) -> Iterator[tuple[int, int]]:
        """``bpf_for_each_array_elem``: every index; the key is a u32 slot holding it."""
        for index in range(self.max_entries):
            yield self._iter_key_addr(struct.pack("<I", index)), self.value_addr(index, cpu)

    # --- syscall side -----------------------------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        assert key is not None
        index = u32_key(key)
        if index >= self.max_entries:
            return None
        if self.percpu:
            return [self._read(index, cpu) for cpu in range(self.ncpus)]
        return self._read(index)

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        index = u32_key(key)
        if self.percpu:
            # bpf_percpu_array_update: no BPF_F_LOCK here, NOEXIST compared exactly
            err = 0
            if flags > BPF_EXIST:
                err = -_errno.EINVAL
            elif index >= self.max_entries:
                err = -_errno.E2BIG
            elif flags == BPF_NOEXIST:
                err = -_errno.EEXIST
        else:
            err = self._check_update(index, flags)
        if err:
            self._fail(-err, f"update of index {index} failed")
        if self.percpu and isinstance(value, list | tuple):
            if len(value) != self.ncpus:
                self._fail(_errno.EINVAL, f"{len(value)} per-CPU values for {self.ncpus} CPUs")
            for cpu, v in enumerate(value):
                self._write(index, self._value(v), cpu)
            return
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        data = self._value(bytes(value))
        for cpu in range(self.ncpus if self.percpu else 1):
            self._write(index, data, cpu)

    def _sys_delete(self, key: bytes | None) -> None:
        self._fail(_errno.EINVAL, "array elements cannot be deleted")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(key, self.max_entries)

    def keys(self) -> Iterator[bytes]:
        self._readable()
        for index in range(self.max_entries):
            yield struct.pack("<I", index)


class PercpuArrayMap(ArrayMap):
    """``BPF_MAP_TYPE_PERCPU_ARRAY``."""

    kind = "percpu_array"
    percpu = True


def array_next_key(key: bytes | None, max_entries: int) -> bytes | None:
    """``array_map_get_next_key``: index order; a missing or out-of-range key restarts."""
    index = 0xFFFFFFFF if key is None else u32_key(key)
    if index >= max_entries:
        return struct.pack("<I", 0)
    if index == max_entries - 1:
        return None
    return struct.pack("<I", index + 1)
