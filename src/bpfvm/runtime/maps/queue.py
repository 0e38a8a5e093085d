"""Key-less maps: ``queue`` and ``stack`` (``queue_stack_maps.c``) and ``bloom_filter``.

A queue or stack is a ring of ``max_entries + 1`` value slots in native memory with ``head``
(next slot to fill) and ``tail`` (oldest element) indexes, kept live in the handle; it is
empty when they are equal and full when ``head + 1 == tail`` (mod size). A push into a full
map fails with ``E2BIG`` unless the flags are ``BPF_EXIST``, which drops the oldest element
(the tail, for a stack too). A queue pops at the tail, a stack at ``head - 1``.

A bloom filter is a bitset of ``roundup_pow_of_two(max_entries * k * 7 / 5)`` bits (at least
64) in native memory; a push sets the ``k`` bits ``jhash(value, seed + i) & mask`` and a peek
answers 0 when all of them are set (maybe present) and ``-ENOENT`` otherwise. ``k`` is the
low 4 bits of ``map_extra`` (default 5). The seed is 0, so the bits are those of a kernel
filter created with ``BPF_F_ZERO_SEED``: the same false positives, and never a false negative.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from collections.abc import Iterator

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_NOEXIST,
    OFF_AUX0,
    OFF_AUX1,
    OFF_AUX2,
    BpfMap,
    MapError,
    roundup_pow_of_two,
    storage_region,
)
from bpfvm.runtime.maps.jhash import map_hash
from bpfvm.runtime.memory import Region


class _KeylessMap(BpfMap):
    """Syscall face of queue, stack and bloom filter: update pushes, lookup peeks."""

    def push(self, value: bytes, flags: int = BPF_ANY) -> None:
        """``BPF_MAP_UPDATE_ELEM`` with a NULL key."""
        self.update(None, value, flags)

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        err = self.prog_push(self._value(bytes(value)), flags)
        if err:
            self._fail(-err, "push failed")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        self._fail(_errno.EINVAL, f"{self.kind} maps have no keys")

    def keys(self) -> Iterator[bytes]:
        self._sys_get_next_key(None)
        return iter(())


class QueueMap(_KeylessMap):
    """``BPF_MAP_TYPE_QUEUE``: first in, first out."""

    kind = "queue"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self.size = self.max_entries + 1
        self.elements: Region = storage_region(spec, "elements", self.size * self.value_size)
        self._set_layout(self.elements.addr, self.value_size)
        self.head = 0
        self.tail = 0

    def _sync(self) -> None:
        self._set_handle_u64(OFF_AUX0, self.head)
        self._set_handle_u64(OFF_AUX1, self.tail)

    def __len__(self) -> int:
        return (self.head - self.tail) % self.size

    def _slot(self, index: int) -> bytes:
        return self.elements.read(index * self.value_size, self.value_size)

    def prog_push(self, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        """``queue_stack_map_push_elem``."""
        if self.rdonly_prog:
            return -_errno.EPERM
        if flags & BPF_NOEXIST or flags > BPF_EXIST:
            return -_errno.EINVAL
        if (self.head + 1) % self.size == self.tail:
            if not flags & BPF_EXIST:
                return -_errno.E2BIG
            self.tail = (self.tail + 1) % self.size
        self.elements.write(self.head * self.value_size, bytes(value[: self.value_size]))
        self.head = (self.head + 1) % self.size
        self._sync()
        return 0

    def _take(self, delete: bool) -> bytes | int:
        """``__queue_map_get``: the oldest element."""
        if self.head == self.tail:
            return -_errno.ENOENT
        value = self._slot(self.tail)
        if delete:
            self.tail = (self.tail + 1) % self.size
            self._sync()
        return value

    def prog_pop(self, cpu: int = 0) -> bytes | int:
        if self.rdonly_prog:
            return -_errno.EPERM
        return self._take(True)

    def prog_peek(self, cpu: int = 0, value: bytes | None = None) -> bytes | int:
        return self._take(False)

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        got = self._take(False)
        return got if isinstance(got, bytes) else None

    def _sys_lookup_and_delete(self, key: bytes | None) -> bytes | list[bytes]:
        got = self._take(True)
        if isinstance(got, int):
            self._fail(-got, f"{self.kind} is empty")
        return got

    def pop(self) -> bytes | None:
        """``BPF_MAP_LOOKUP_AND_DELETE_ELEM`` with a NULL key; None when empty."""
        try:
            got = self.lookup_and_delete(None)
        except MapError as e:
            if e.errno == _errno.ENOENT:
                return None
            raise
        assert isinstance(got, bytes)
        return got

    def peek(self) -> bytes | None:
        """``BPF_MAP_LOOKUP_ELEM`` with a NULL key; None when empty."""
        got = self.lookup(None)
        assert not isinstance(got, list)
        return got


class StackMap(QueueMap):
    """``BPF_MAP_TYPE_STACK``: last in, first out."""

    kind = "stack"

    def _take(self, delete: bool) -> bytes | int:
        """``__stack_map_get``: the newest element."""
        if self.head == self.tail:
            return -_errno.ENOENT
        index = (self.head - 1) % self.size
        value = self._slot(index)
        if delete:
            self.head = index
            self._sync()
        return value


class BloomFilterMap(_KeylessMap):
    """``BPF_MAP_TYPE_BLOOM_FILTER``."""

    kind = "bloom_filter"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        extra = spec.map_extra
        self.nr_hash_funcs = extra & 0xF or 5
        nr_bits = self.max_entries * self.nr_hash_funcs
        nr_bits = (nr_bits & 0xFFFFFFFF) // 5 * 7
        if self.max_entries * self.nr_hash_funcs > 0xFFFFFFFF or nr_bits > 1 << 31:
            nr_bits = 1 << 32
        elif nr_bits <= 64:
            nr_bits = 64
        else:
            nr_bits = roundup_pow_of_two(nr_bits)
        self.bitset_mask = nr_bits - 1
        self.bits: Region = storage_region(spec, "bitset", nr_bits // 8)
        self._bytes = (ctypes.c_ubyte * (nr_bits // 8)).from_buffer(self.bits.buf)
        self._set_layout(self.bits.addr, 0)
        self._set_handle_u64(OFF_AUX0, self.bitset_mask)
        self._set_handle_u64(OFF_AUX2, self.nr_hash_funcs)

    def _positions(self, value: bytes) -> list[int]:
        return [map_hash(value, i) & self.bitset_mask for i in range(self.nr_hash_funcs)]

    def prog_push(self, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        """``bloom_map_push_elem``."""
        if self.rdonly_prog:
            return -_errno.EPERM
        if flags != BPF_ANY:
            return -_errno.EINVAL
        for bit in self._positions(bytes(value[: self.value_size])):
            self._bytes[bit >> 3] |= 1 << (bit & 7)
        return 0

    def prog_peek(self, cpu: int = 0, value: bytes | None = None) -> bytes | int:
        """``bloom_map_peek_elem``: 0 when ``value`` may be present, else ``-ENOENT``."""
        for bit in self._positions(bytes((value or b"")[: self.value_size])):
            if not self._bytes[bit >> 3] >> (bit & 7) & 1:
                return -_errno.ENOENT
        return 0

    def prog_pop(self, cpu: int = 0) -> bytes | int:
        return -_errno.EOPNOTSUPP

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        return -_errno.EOPNOTSUPP

    def lookup(self, key: bytes | int | None, flags: int = 0) -> bytes | list[bytes] | None:
        """``BPF_MAP_LOOKUP_ELEM``: ``key`` is the value to test (the kernel passes it as the
        value with a NULL key); it comes back when it may be present, else None."""
        if flags:
            self._fail(_errno.EINVAL, f"invalid lookup flags {flags:#x}")
        self._readable()
        if not isinstance(key, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, "a bloom filter lookup takes the value to test")
        value = self._value(bytes(key))
        return value if self.prog_peek(0, value) == 0 else None

    def __contains__(self, value: object) -> bool:
        return isinstance(value, bytes) and self.lookup(value) is not None

    def _sys_delete(self, key: bytes | None) -> None:
        self._fail(_errno.EOPNOTSUPP, "bloom filters have no delete")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        self._fail(_errno.EOPNOTSUPP, "bloom filters have no keys")

    def __len__(self) -> int:
        self._fail(_errno.EOPNOTSUPP, "bloom filters do not count their elements")
