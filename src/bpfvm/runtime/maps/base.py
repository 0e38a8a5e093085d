"""What every runtime map shares: errors, flags, the native handle, and the two faces of a map.

A map has two faces, as in the kernel:

* the **program side** (``prog_*`` methods and :meth:`BpfMap.for_each`) is what helpers call.
  It returns what the kernel's helpers return: an address (0 for NULL), ``0`` or ``-errno``.
  It never raises for a condition the kernel reports with an error code.
* the **syscall side** (:meth:`BpfMap.lookup`, :meth:`BpfMap.update`, ... and the dict-like
  protocol) is what ``bpf(BPF_MAP_*_ELEM)`` does: errors raise :class:`MapError` with the
  kernel's errno, checked in the kernel's order (fd permissions, then ``BPF_F_LOCK``, then the
  map type's own checks). Syscall-side operations run "on CPU 0", which matters for LRU maps.

The handle
----------
``BpfMap.handle`` is a small native block, read-only to programs, whose address is the map
pointer a program holds (``ld_imm64`` with ``src=1`` loads ``handle.addr``). Little-endian:

======  ====  =================================================================
offset  size  field
======  ====  =================================================================
0       u32   map type (``enum bpf_map_type``)
4       u32   key_size
8       u32   value_size
12      u32   max_entries (effective: a ``BPF_F_NO_COMMON_LRU`` map is rounded as the
              kernel rounds it)
16      u32   map_flags
20      u32   ncpus (possible CPUs: the number of copies of a per-CPU value)
24      u32   value_stride: bytes from one value to the next in the data area
              (arrays: ``round_up(value_size, 8)``; hash maps: the element size)
28      u32   magic ``b"BPFM"``
32      u64   data_addr: the data area (array: value 0 of CPU 0; hash/LRU: element 0;
              queue/stack: element ring; bloom: bitset; ringbuf: data; lpm: value slab)
40      u64   percpu_stride: bytes from a value on CPU ``c`` to the same value on CPU
              ``c + 1`` (per-CPU arrays and hashes; 0 otherwise)
48      u64   aux0: hash maps: n_buckets; ringbuf: consumer_pos; queue/stack: head;
              bloom: bitset_mask
56      u64   aux1: ringbuf: producer_pos; queue/stack: tail
64      u64   aux2: ringbuf: pending_pos; bloom: nr_hash_funcs
72      u64   aux3: ringbuf: mask (``size - 1``); hash maps: the native control block
80      u64   ringbuf: wakeups (notifications a consumer would have received)
88      8     reserved (zero)
======  ====  =================================================================

The ringbuf and queue/stack ``aux`` fields are live: every operation keeps them current.
A hash element is ``key`` (``round_up(key_size, 8)`` bytes) followed by its value (per-CPU
maps: ``ncpus`` values, ``round_up(value_size, 8)`` apart), as the kernel lays out
``struct htab_elem`` after its list header.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, NoReturn

from bpfvm.errors import BpfvmError, InputError
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.memory import Region

# update flags (include/uapi/linux/bpf.h)
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4

# map_flags
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_MMAPABLE = 1 << 10
BPF_F_PRESERVE_ELEMS = 1 << 11
BPF_F_INNER_MAP = 1 << 12
BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG

ENOTSUPP = 524  # the kernel-internal errno some map operations return (not in <errno.h>)

KMALLOC_MAX_SIZE = 1 << 22  # x86-64/arm64 with 4 KiB pages
PCPU_MIN_UNIT_SIZE = 32 << 10
PAGE_SIZE = 4096
MAX_STORAGE = 1 << 32
"""bpfvm's own limit on the native storage of one map (the kernel's is the machine's memory).

Storage is mapped lazily (:class:`LazyRegion`), so only the pages a map uses take memory."""

HANDLE_SIZE = 96
HANDLE_MAGIC = 0x4D465042  # b"BPFM"
_HANDLE_HEAD = struct.Struct("<8I")
OFF_DATA_ADDR = 32
OFF_PERCPU_STRIDE = 40
OFF_AUX0 = 48
OFF_AUX1 = 56
OFF_AUX2 = 64
OFF_AUX3 = 72
OFF_RINGBUF_WAKEUPS = 80
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def errno_name(err: int) -> str:
    """``EINVAL`` for 22, ``ENOTSUPP`` for the kernel's 524, ``EOPNOTSUPP`` for 95."""
    if err == ENOTSUPP:
        return "ENOTSUPP"
    if err == _errno.EOPNOTSUPP:
        return "EOPNOTSUPP"
    return _errno.errorcode.get(err, f"errno {err}")


class MapError(BpfvmError):
    """A syscall-side map operation failed the way ``bpf()`` fails: ``errno`` says why."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(f"{message} ({errno_name(errno)})")
        self.errno = errno
        self.reason = message


class MapSpecError(InputError):
    """A map definition the kernel's ``BPF_MAP_CREATE`` would refuse; ``errno`` is its error."""

    def __init__(self, spec: MapSpec, errno: int, message: str, show_errno: bool = True) -> None:
        suffix = f" ({errno_name(errno)})" if show_errno else ""
        super().__init__(f"map {spec.name}: {message}{suffix}")
        self.errno = errno
        self.reason = message


def reject(spec: MapSpec, errno: int, message: str) -> NoReturn:
    raise MapSpecError(spec, errno, message)


def round8(n: int) -> int:
    return (n + 7) & ~7


def roundup_pow_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def type_name(map_type: int) -> str:
    """``hash`` for BPF_MAP_TYPE_HASH, as the messages name map types."""
    try:
        return MapType(map_type).name.lower()
    except ValueError:
        return str(map_type)


@dataclass(eq=False)
class LazyRegion(Region):
    """A :class:`Region` in anonymous ``mmap`` memory: zero pages cost nothing until touched.

    Maps preallocate all their elements, as the kernel does, and most are never used; a
    ctypes buffer would zero (and so commit) every byte up front.
    """

    def __post_init__(self) -> None:
        self._mapping = mmap.mmap(-1, self.size + 1)
        self.buf = (ctypes.c_char * (self.size + 1)).from_buffer(self._mapping)
        self.addr = ctypes.addressof(self.buf)


def storage_region(spec: MapSpec, what: str, size: int, writable: bool = True) -> Region:
    """A zeroed native block for a map's storage, within bpfvm's storage limit."""
    if size > MAX_STORAGE:
        reject(spec, _errno.ENOMEM, f"{size} bytes of {what} exceed bpfvm's limit of {MAX_STORAGE}")
    name = f"map {spec.name} {what}"
    if size >= PAGE_SIZE:
        return LazyRegion(name, size, writable)
    return Region(name, size, writable)


KeyArg = bytes | int | None


class BpfMap:
    """The base of all runtime maps; see the module docstring for the two faces and the handle.

    Subclasses implement the ``_sys_*`` hooks (the map type's ``map_*_elem`` operations on the
    syscall path) and the ``prog_*`` operations they support. The defaults mirror a kernel map
    type without that operation.
    """

    kind: ClassVar[str] = "map"
    supports_for_each: ClassVar[bool] = False

    def __init__(self, spec: MapSpec, ncpus: int, max_entries: int | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.ncpus = ncpus
        self.key_size = spec.key_size
        self.value_size = spec.value_size
        self.max_entries = spec.max_entries if max_entries is None else max_entries
        self.map_flags = spec.map_flags
        self.frozen = False
        self.map_id = 0  # what a map-in-map lookup reports for this map (the kernel's map id)
        self.rdonly_prog = bool(spec.map_flags & BPF_F_RDONLY_PROG)
        self.handle = Region(f"map {spec.name} handle", HANDLE_SIZE, writable=False)
        self._iter_key = Region(f"map {spec.name} iteration key", 8, writable=False)
        _HANDLE_HEAD.pack_into(
            self.handle.buf, 0,
            int(spec.type), self.key_size, self.value_size, self.max_entries, self.map_flags,
            ncpus, 0, HANDLE_MAGIC,
        )  # fmt: skip

    # --- handle ----------------------------------------------------------------------------

    def _set_handle_u32(self, off: int, value: int) -> None:
        _U32.pack_into(self.handle.buf, off, value)

    def _set_handle_u64(self, off: int, value: int) -> None:
        _U64.pack_into(self.handle.buf, off, value & (1 << 64) - 1)

    def _set_layout(self, data_addr: int, value_stride: int, percpu_stride: int = 0) -> None:
        self._set_handle_u32(24, value_stride)
        self._set_handle_u64(OFF_DATA_ADDR, data_addr)
        self._set_handle_u64(OFF_PERCPU_STRIDE, percpu_stride)

    def regions(self) -> list[Region]:
        """Every native block a program may access through this map (handle included)."""
        return [self.handle, self._iter_key]

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r} key_size={self.key_size} "
            f"value_size={self.value_size} max_entries={self.max_entries}>"
        )

    # --- program side (what the helpers call) -------------------------------------------------

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        """``bpf_map_lookup_elem``: the address of the value (this CPU's copy), 0 when absent."""
        return 0

    def prog_update(self, key: bytes, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        """``bpf_map_update_elem``: 0 or ``-errno``. A per-CPU map updates this CPU's copy."""
        return -_errno.EINVAL

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        """``bpf_map_delete_elem``: 0 or ``-errno``."""
        return -_errno.EINVAL

    def prog_push(self, value: bytes, flags: int = BPF_ANY, cpu: int = 0) -> int:
        """``bpf_map_push_elem`` (queue, stack, bloom filter): 0 or ``-errno``."""
        return -_errno.EINVAL

    def prog_pop(self, cpu: int = 0) -> bytes | int:
        """``bpf_map_pop_elem``: the value, or ``-errno`` (the helper then zeroes the buffer)."""
        return -_errno.EINVAL

    def prog_peek(self, cpu: int = 0, value: bytes | None = None) -> bytes | int:
        """``bpf_map_peek_elem``: the value or ``-errno``; a bloom filter tests ``value``."""
        return -_errno.EINVAL

    def for_each(self, cpu: int = 0) -> Iterator[tuple[int, int]]:
        """``bpf_for_each_map_elem``: ``(key address, value address)`` of each element in turn.

        The key address is native and read-only to the program (for arrays, one 4-byte slot
        rewritten with each index, as the kernel passes the address of its loop variable); the
        value is this CPU's copy. Iterate lazily: the callback may update or delete elements
        between steps, with the kernel's effect on the walk. The helper counts the steps.
        """
        raise MapError(_errno.EINVAL, f"map {self.name}: {self.kind} maps have no for_each")

    def _iter_key_addr(self, key: bytes) -> int:
        self._iter_key.write(0, key)
        return self._iter_key.addr

    # --- syscall side -------------------------------------------------------------------------

    def _fail(self, err: int, message: str) -> NoReturn:
        raise MapError(err, f"map {self.name}: {message}")

    def _readable(self) -> None:
        if self.map_flags & BPF_F_WRONLY:
            self._fail(_errno.EPERM, "map was created write-only for the syscall side")

    def _writable(self) -> None:
        if self.map_flags & BPF_F_RDONLY:
            self._fail(_errno.EPERM, "map was created read-only for the syscall side")
        if self.frozen:
            self._fail(_errno.EPERM, "map is frozen")

    def _key(self, key: KeyArg) -> bytes | None:
        """The key as the kernel copies it: ``key_size`` bytes, or None for a key-less map."""
        if isinstance(key, bool):
            self._fail(_errno.EINVAL, "a key is bytes or an int, not a bool")
        if isinstance(key, int):
            if self.key_size not in (1, 2, 4, 8):
                self._fail(_errno.EINVAL, f"an int key needs a key_size of 1, 2, 4 or 8, "
                                          f"not {self.key_size}")  # fmt: skip
            return (key & (1 << 8 * self.key_size) - 1).to_bytes(self.key_size, "little")
        if self.key_size == 0:
            if key:  # ___bpf_copy_key: a key pointer for a key-less map
                self._fail(_errno.EINVAL, "key-less map given a key")
            return None
        if key is None:
            self._fail(_errno.EINVAL, "missing key")
        if len(key) != self.key_size:
            self._fail(_errno.EINVAL, f"key of {len(key)} bytes, key_size is {self.key_size}")
        return bytes(key)

    def _value(self, value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        if len(value) != self.value_size:
            self._fail(
                _errno.EINVAL, f"value of {len(value)} bytes, value_size is {self.value_size}"
            )
        return bytes(value)

    def lookup(self, key: KeyArg, flags: int = 0) -> bytes | list[bytes] | None:
        """``BPF_MAP_LOOKUP_ELEM``: the value (per-CPU maps: one per CPU), None when absent."""
        if flags & ~BPF_F_LOCK:
            self._fail(_errno.EINVAL, f"invalid lookup flags {flags:#x}")
        self._readable()
        if flags & BPF_F_LOCK:
            self._fail(_errno.EINVAL, "BPF_F_LOCK on a map value without a bpf_spin_lock")
        return self._sys_lookup(self._key(key))

    def update(self, key: KeyArg, value: object, flags: int = BPF_ANY) -> None:
        """``BPF_MAP_UPDATE_ELEM``: ``value`` is bytes; per-CPU maps also take a list with one
        value per CPU (bytes alone go to every CPU); prog_array takes a program object and the
        maps of maps a :class:`BpfMap`."""
        self._writable()
        if flags & BPF_F_LOCK:
            self._fail(_errno.EINVAL, "BPF_F_LOCK on a map value without a bpf_spin_lock")
        self._sys_update(self._key(key), value, flags)

    def delete(self, key: KeyArg) -> None:
        """``BPF_MAP_DELETE_ELEM``."""
        self._writable()
        self._sys_delete(self._key(key))

    def get_next_key(self, key: KeyArg = None) -> bytes | None:
        """``BPF_MAP_GET_NEXT_KEY``: the key after ``key`` (the first if None or absent)."""
        self._readable()
        return self._sys_get_next_key(None if key is None else self._key(key))

    def lookup_and_delete(self, key: KeyArg = None, flags: int = 0) -> bytes | list[bytes]:
        """``BPF_MAP_LOOKUP_AND_DELETE_ELEM``: pop a queue/stack, or take a hash element."""
        if flags & ~BPF_F_LOCK:
            self._fail(_errno.EINVAL, f"invalid flags {flags:#x}")
        self._readable()
        self._writable()
        if flags:
            self._fail(_errno.EINVAL, "BPF_F_LOCK on a map value without a bpf_spin_lock")
        return self._sys_lookup_and_delete(self._key(key))

    def freeze(self) -> None:
        """``BPF_MAP_FREEZE``: no more syscall-side writes (programs may still write)."""
        self._writable()
        self.frozen = True

    # hooks: the map type's operations on the syscall path
    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        self._fail(_errno.EINVAL, f"{self.kind} maps cannot be looked up")

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        self._fail(_errno.EINVAL, f"{self.kind} maps cannot be updated")

    def _sys_delete(self, key: bytes | None) -> None:
        self._fail(_errno.EINVAL, f"{self.kind} maps have no delete")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        self._fail(_errno.EINVAL, f"{self.kind} maps have no keys")

    def _sys_lookup_and_delete(self, key: bytes | None) -> bytes | list[bytes]:
        self._fail(ENOTSUPP, f"{self.kind} maps have no lookup_and_delete")

    # --- dict-like conveniences (syscall semantics) ---------------------------------------------

    def keys(self) -> Iterator[bytes]:
        """Every key, in ``get_next_key`` order."""
        key = self.get_next_key(None)
        while key is not None:
            yield key
            key = self.get_next_key(key)

    def items(self) -> Iterator[tuple[bytes, bytes | list[bytes]]]:
        for key in self.keys():
            value = self.lookup(key)
            if value is not None:
                yield key, value

    def values(self) -> Iterator[bytes | list[bytes]]:
        for _, value in self.items():
            yield value

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes | int):
            return False
        return self.lookup(key) is not None

    def __getitem__(self, key: bytes | int) -> bytes | list[bytes]:
        value = self.lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes | int, value: object) -> None:
        self.update(key, value)

    def __delitem__(self, key: bytes | int) -> None:
        try:
            self.delete(key)
        except MapError as e:
            if e.errno == _errno.ENOENT:
                raise KeyError(key) from None
            raise


def check_common(spec: MapSpec) -> None:
    """The checks ``map_create`` makes before the map type's own (syscall.c)."""
    map_extra = spec.map_extra
    if map_extra and spec.type not in (MapType.BLOOM_FILTER, MapType.ARENA):
        reject(spec, _errno.EINVAL, f"map_extra {map_extra:#x} on a {type_name(spec.type)} map")
    if spec.map_flags & BPF_F_RDONLY and spec.map_flags & BPF_F_WRONLY:
        reject(spec, _errno.EINVAL, "BPF_F_RDONLY together with BPF_F_WRONLY")


def access_ok(flags: int) -> bool:
    """``bpf_map_flags_access_ok``: not read-only and write-only for programs at once."""
    both = BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG
    return flags & both != both


def check_flags(spec: MapSpec, allowed: int) -> None:
    extra = spec.map_flags & ~allowed
    if extra:
        kind = type_name(spec.type)
        reject(spec, _errno.EINVAL, f"invalid map_flags {extra:#x} for a {kind} map")
    if not access_ok(spec.map_flags):
        reject(spec, _errno.EINVAL, "BPF_F_RDONLY_PROG together with BPF_F_WRONLY_PROG")


def u32_key(key: bytes) -> int:
    value: int = _U32.unpack_from(key)[0]
    return value
