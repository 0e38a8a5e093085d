"""Redirect maps: ``devmap``, ``devmap_hash``, ``cpumap`` and ``xskmap``.

The maps behind XDP's ``bpf_redirect_map`` (``kernel/bpf/devmap.c``, ``kernel/bpf/cpumap.c``,
``net/xdp/xskmap.c``). Keys are u32; each map type checks its spec in its constructor, in the
kernel's order and with its errno (``map_alloc_check``/``map_alloc``), after the common checks
of ``map_create``.

Values on the syscall side:

* devmap, devmap_hash: ``struct bpf_devmap_val`` -- ``u32 ifindex`` and, with a value_size of
  8, ``int`` program fd (``BPF_XDP_DEVMAP`` program run on transmit). A lookup returns the
  ifindex and the program id (always 0 here). A devmap's slots are indexed 0..max_entries-1;
  a devmap_hash is keyed by any u32 and holds at most max_entries entries.
* cpumap: ``struct bpf_cpumap_val`` -- ``u32 qsize`` and, with 8 bytes, ``int`` program fd.
  The key is the CPU: it must be one of the ``ncpus`` possible CPUs (``ENODEV``); qsize at
  most 16384 (``EOVERFLOW``); qsize 0 empties the slot. A map may have at most
  :data:`NR_CPUS` entries (``E2BIG``; the kernel's build constant, read at construction).
* xskmap: a 4-byte AF_XDP socket fd.

What bpfvm's world has, and so what updates can name:

* net devices: the ``devices`` ifindexes given to the constructor (default ``{1}``, the
  loopback device that test runs use, :data:`bpfvm.hooks.packet_ctx.LOOPBACK`). The kernel's
  ``dev_get_by_index`` failing for any other ifindex makes the update fail with ``EINVAL``
  (not ``ENODEV``: ``__dev_map_alloc_node`` reports every failure so).
* programs: bpfvm has no program fds, so a program fd above 0 fails as the kernel fails for an
  fd that is no suitable XDP program: ``EINVAL`` for devmaps, ``ENOMEM`` for a cpumap (the
  kernel reports any failed entry set-up so). An fd of 0 or below means "no program".
* sockets: none; every xskmap update that passes the flag and index checks fails with
  ``EBADF``, the kernel's errno for an fd that is not open (an open non-socket fd gives
  ``ENOTSOCK`` there, a non-XDP socket ``EOPNOTSUPP``). xskmaps therefore stay empty.

Program side: ``bpf_map_lookup_elem`` on a devmap returns the address of the entry's value
(read-only: the kernel forces ``BPF_F_RDONLY_PROG`` on devmaps), 0 when absent. The verifier
allows no lookup on a cpumap and an xskmap lookup returns a socket, so both return 0 here.
Programs cannot update or delete. The handle's data area fields are 0: every entry is its own
native block, listed by :meth:`regions`. :meth:`redirect_lookup` and
:meth:`DevMap.broadcast_targets` are what ``bpf_redirect_map``
(:mod:`bpfvm.runtime.helpers.redirect`) asks.

Memory: bpfvm stores entries, not the kernel's slot table, but counts that table (8 bytes a
slot; a devmap_hash's bucket heads for max_entries rounded up to a power of two) against
:data:`~bpfvm.runtime.maps.base.MAX_STORAGE` and refuses more with ``ENOMEM``, where the
kernel refuses a table larger than the machine's memory.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections.abc import Iterable
from typing import ClassVar

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps.array import array_next_key
from bpfvm.runtime.maps.base import (
    BPF_EXIST,
    BPF_F_NUMA_NODE,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_NOEXIST,
    MAX_STORAGE,
    BpfMap,
    check_common,
    reject,
    roundup_pow_of_two,
    type_name,
    u32_key,
)
from bpfvm.runtime.memory import Region

NR_CPUS = 8192
"""The kernel's ``CONFIG_NR_CPUS`` (x86-64 distribution kernels): a cpumap's max_entries limit."""

LOOPBACK_IFINDEX = 1
BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4
DEV_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY
XSK_CREATE_FLAG_MASK = DEV_CREATE_FLAG_MASK
CPU_CREATE_FLAG_MASK = BPF_F_NUMA_NODE
CPUMAP_QSIZE_MAX = 16384
SLOT_SIZE = 8  # one pointer of the kernel's slot table (or one hash bucket head)
U32_MAX = (1 << 32) - 1

_VAL = struct.Struct("<Ii")  # struct bpf_devmap_val / bpf_cpumap_val: u32, then the prog fd
_U32 = struct.Struct("<I")


def _check_size(spec: MapSpec, values: tuple[int, ...], flag_mask: int) -> None:
    """The sanity check all four types share (max_entries, key_size, value_size, flags)."""
    kind = type_name(spec.type)
    if spec.max_entries == 0:
        reject(spec, _errno.EINVAL, f"invalid max_entries 0 for a {kind} map")
    if spec.key_size != 4:
        reject(spec, _errno.EINVAL, f"invalid key_size {spec.key_size} for a {kind} map (4)")
    if spec.value_size not in values:
        sizes = " or ".join(map(str, values))
        reject(spec, _errno.EINVAL, f"invalid value_size {spec.value_size} for a {kind} map "
                                    f"({sizes})")  # fmt: skip
    extra = spec.map_flags & ~flag_mask
    if extra:
        reject(spec, _errno.EINVAL, f"invalid map_flags {extra:#x} for a {kind} map")


def _check_table(spec: MapSpec, slots: int) -> None:
    size = slots * SLOT_SIZE
    if size > MAX_STORAGE:
        reject(spec, _errno.ENOMEM, f"a slot table of {size} bytes exceeds bpfvm's limit of "
                                    f"{MAX_STORAGE}")  # fmt: skip


class _RedirectMap(BpfMap):
    """What the four types share: u32 keys, entries as separate read-only native blocks."""

    flag_mask: ClassVar[int] = 0  # bpf_redirect_map flags accepted beyond the fallback action
    to_devices: ClassVar[bool] = False  # redirect_lookup answers an ifindex (else a CPU/queue)

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self._entries: dict[int, Region] = {}

    def regions(self) -> list[Region]:
        return [*super().regions(), *self._entries.values()]

    def _new_entry(self, key: int, first: int) -> Region:
        """A fresh value block (the kernel allocates a new entry on every update)."""
        region = Region(f"map {self.name} entry {key}", self.value_size, writable=False)
        region.write(0, _VAL.pack(first, 0)[: self.value_size])
        self._entries[key] = region
        return region

    def _bytes(self, value: object) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        return self._value(bytes(value))

    def _decode(self, value: object) -> tuple[int, int]:
        """(first u32, program fd) of a value, as the kernel memcpy()s it into a zeroed val."""
        data = self._bytes(value).ljust(_VAL.size, b"\0")
        first, fd = _VAL.unpack(data)
        return first, fd

    def redirect_lookup(self, index: int) -> int | None:
        """The ``map_redirect`` lookup of u32 ``index``: its target, None when absent."""
        return None

    # --- program side -------------------------------------------------------------------

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        region = self._entries.get(u32_key(key))
        return 0 if region is None else region.addr

    # --- syscall side -------------------------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        assert key is not None
        region = self._entries.get(u32_key(key))
        return None if region is None else region.read(0, self.value_size)

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.EINVAL, f"slot {index} beyond max_entries {self.max_entries}")
        self._entries.pop(index, None)  # deleting an empty slot succeeds

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(key, self.max_entries)

    def _check_update(self, index: int, flags: int) -> None:
        """The array-indexed types' first checks, in the kernel's order."""
        if flags > BPF_EXIST:
            self._fail(_errno.EINVAL, f"invalid update flags {flags:#x}")
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")


class DevMap(_RedirectMap):
    """``BPF_MAP_TYPE_DEVMAP``: slot -> net device (and transmit program)."""

    kind = "devmap"
    flag_mask = BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS
    to_devices = True

    def __init__(
        self, spec: MapSpec, ncpus: int, *, devices: Iterable[int] = (LOOPBACK_IFINDEX,)
    ) -> None:
        check_common(spec)
        _check_size(spec, (4, 8), DEV_CREATE_FLAG_MASK)
        if spec.type == MapType.DEVMAP_HASH and spec.max_entries > 1 << 31:
            reject(spec, _errno.EINVAL, f"max_entries {spec.max_entries} above 2^31")
        slots = spec.max_entries
        if spec.type == MapType.DEVMAP_HASH:
            slots = roundup_pow_of_two(slots)
        _check_table(spec, slots)
        super().__init__(spec, ncpus)
        self.devices: frozenset[int] = frozenset(int(d) for d in devices)
        self.map_flags |= BPF_F_RDONLY_PROG  # dev_map_init_map: programs may not write
        self.rdonly_prog = True
        self._set_handle_u32(16, self.map_flags)

    def redirect_lookup(self, index: int) -> int | None:
        region = self._entries.get(index)
        if region is None:
            return None
        ifindex: int = _U32.unpack_from(region.buf)[0]
        return ifindex

    def broadcast_targets(self, exclude: Iterable[int] = ()) -> tuple[int, ...]:
        """The ifindexes a ``BPF_F_BROADCAST`` redirect reaches, in the kernel's walk order,
        without the ``exclude``d devices (the ingress device for ``BPF_F_EXCLUDE_INGRESS``;
        bpfvm's devices have no upper devices). The kernel also skips devices that cannot
        transmit XDP frames; bpfvm does not model device features."""
        skip = frozenset(exclude)
        out = []
        for key in self._walk():
            ifindex = self.redirect_lookup(key)
            if ifindex is not None and ifindex not in skip:
                out.append(ifindex)
        return tuple(out)

    def _walk(self) -> list[int]:
        return sorted(self._entries)

    def _device_error(self, ifindex: int, fd: int) -> str | None:
        """Why ``__dev_map_alloc_node`` fails for (ifindex, program fd), None if it would not."""
        if ifindex not in self.devices:
            return f"no net device with ifindex {ifindex}"
        if fd > 0:
            return f"program fd {fd}: bpfvm has no program fds"
        return None

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        index = u32_key(key)
        ifindex, fd = self._decode(value)
        self._check_update(index, flags)
        if flags == BPF_NOEXIST:  # the slot is never "absent" for a devmap
            self._fail(_errno.EEXIST, f"BPF_NOEXIST on devmap slot {index}")
        if not ifindex:
            if fd > 0:
                self._fail(_errno.EINVAL, "a program fd needs an ifindex")
            self._entries.pop(index, None)
            return
        why = self._device_error(ifindex, fd)
        if why is not None:
            self._fail(_errno.EINVAL, why)
        self._new_entry(index, ifindex)


class DevMapHash(DevMap):
    """``BPF_MAP_TYPE_DEVMAP_HASH``: any u32 key -> net device, at most max_entries of them.

    Iteration (``get_next_key``, broadcast) follows the kernel's hash table: buckets in order
    (``key & (n_buckets - 1)``, n_buckets = max_entries rounded up to a power of two), and in
    a bucket the most recently updated key first.
    """

    kind = "devmap_hash"

    def __init__(
        self, spec: MapSpec, ncpus: int, *, devices: Iterable[int] = (LOOPBACK_IFINDEX,)
    ) -> None:
        super().__init__(spec, ncpus, devices=devices)
        self.n_buckets = roundup_pow_of_two(self.max_entries)
        self._buckets: dict[int, list[int]] = {}  # bucket -> keys, head first

    def _bucket(self, key: int) -> int:
        return key & (self.n_buckets - 1)

    def _unlink(self, key: int) -> None:
        b = self._bucket(key)
        chain = self._buckets[b]
        chain.remove(key)
        if not chain:
            del self._buckets[b]

    def _walk(self) -> list[int]:
        return [k for b in sorted(self._buckets) for k in self._buckets[b]]

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        index = u32_key(key)
        ifindex, fd = self._decode(value)
        if flags > BPF_EXIST or not ifindex:
            self._fail(_errno.EINVAL, f"invalid flags {flags:#x} or ifindex 0")
        old = index in self._entries
        if old and flags & BPF_NOEXIST:
            self._fail(_errno.EEXIST, f"key {index} exists")
        why = self._device_error(ifindex, fd)
        if why is not None:
            self._fail(_errno.EINVAL, why)
        if old:
            self._unlink(index)
        elif len(self._entries) >= self.max_entries:
            self._fail(_errno.E2BIG, f"map is full ({self.max_entries} entries)")
        self._new_entry(index, ifindex)
        self._buckets.setdefault(self._bucket(index), []).insert(0, index)

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        index = u32_key(key)
        if index not in self._entries:
            self._fail(_errno.ENOENT, f"key {index} not found")
        del self._entries[index]
        self._unlink(index)

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        start = 0
        if key is not None:
            index = u32_key(key)
            if index in self._entries:
                b = self._bucket(index)
                chain = self._buckets[b]
                pos = chain.index(index)
                if pos + 1 < len(chain):
                    return _U32.pack(chain[pos + 1])
                start = b + 1
        later = [b for b in self._buckets if b >= start]
        if not later:
            return None
        return _U32.pack(self._buckets[min(later)][0])


class CpuMap(_RedirectMap):
    """``BPF_MAP_TYPE_CPUMAP``: CPU -> queue size (and program run on that CPU)."""

    kind = "cpumap"

    def __init__(self, spec: MapSpec, ncpus: int, *, nr_cpus: int | None = None) -> None:
        check_common(spec)
        _check_size(spec, (4, 8), CPU_CREATE_FLAG_MASK)
        limit = NR_CPUS if nr_cpus is None else nr_cpus
        if spec.max_entries > limit:
            reject(spec, _errno.E2BIG, f"max_entries {spec.max_entries} above NR_CPUS {limit}")
        _check_table(spec, spec.max_entries)
        super().__init__(spec, ncpus)

    def redirect_lookup(self, index: int) -> int | None:
        return index if index in self._entries else None

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        return 0  # the verifier allows programs only bpf_redirect_map on a cpumap

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        index = u32_key(key)
        qsize, fd = self._decode(value)
        self._check_update(index, flags)
        if flags == BPF_NOEXIST:
            self._fail(_errno.EEXIST, f"BPF_NOEXIST on cpumap slot {index}")
        if qsize > CPUMAP_QSIZE_MAX:
            self._fail(_errno.EOVERFLOW, f"qsize {qsize} above {CPUMAP_QSIZE_MAX}")
        if index >= self.ncpus:
            self._fail(_errno.ENODEV, f"CPU {index} is not one of the {self.ncpus} possible")
        if not qsize:
            self._entries.pop(index, None)
            return
        if fd > 0:
            self._fail(_errno.ENOMEM, f"program fd {fd}: bpfvm has no program fds")
        self._new_entry(index, qsize)


class XskMap(_RedirectMap):
    """``BPF_MAP_TYPE_XSKMAP``: rx queue -> AF_XDP socket; always empty in bpfvm."""

    kind = "xskmap"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        check_common(spec)
        _check_size(spec, (4,), XSK_CREATE_FLAG_MASK)
        _check_table(spec, spec.max_entries)
        super().__init__(spec, ncpus)

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        return 0  # the kernel returns the socket: never present here

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        self._fail(_errno.EOPNOTSUPP, "xskmap entries cannot be looked up from user space")

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        index = u32_key(key)
        fd = _U32.unpack(self._bytes(value))[0]
        self._check_update(index, flags)
        self._fail(_errno.EBADF, f"socket fd {fd}: bpfvm has no sockets")
