"""Hash maps: ``hash``, ``percpu_hash``, ``lru_hash``, ``lru_percpu_hash`` (``hashtab.c``).

Storage is one native slab of fixed-size elements (key, then value or per-CPU values), so a
value's address is stable while its element lives and a JIT can use it directly. The table
itself mirrors the kernel's: ``n_buckets = roundup_pow_of_two(max_entries)`` buckets chosen by
``jhash`` of the key (seed 0, see :mod:`.jhash`), each a list with new elements at the head.
That makes ``get_next_key`` and ``for_each`` visit elements in exactly the order of a kernel
map created with ``BPF_F_ZERO_SEED``: buckets in index order, each from its head. (Without
that flag the kernel's order is random per map, so any order is a correct one.)

Element lifetimes follow the kernel's preallocated maps:

* ``hash``: ``max_entries`` elements plus one spare per CPU. Updating an existing key fills the
  updating CPU's spare with the new value, links it in place of the old element and keeps the
  old element as that CPU's spare, so the value's address changes on every update and a
  program still holding the old address reads the old value (until that spare is reused).
  A full map fails inserts with ``E2BIG``. ``BPF_F_NO_PREALLOC`` behaves the same (the
  kernel allocates instead, with the same visible results).
* ``percpu_hash``: updates of an existing key are in place; no spares.
* ``lru_*``: elements come from :class:`.lru.BpfLru`, which evicts instead of failing.

**Native index.** Every change to the table is mirrored into a :class:`.hash_index.NativeIndex`
(the kernel's bucket array of element lists, with each element's hash) whose addresses the
handle publishes: ``aux0`` n_buckets, ``aux1`` the bucket heads, ``aux2`` the element links.
The JIT's inline ``bpf_map_lookup_elem`` on a ``hash`` or ``percpu_hash`` map searches it
(jhash, bucket, chain, key comparison) without entering Python, and its inline
``bpf_map_update_elem``/``bpf_map_delete_elem`` change it. The index also holds the element
lifetimes (fresh count, recycled ring, per-CPU spares, per-slot generations), which both sides
use; Python's own tables (``_index``, ``_buckets``...) are caches it rebuilds from the index
when native code marked it dirty (:meth:`HashMap._sync`). On LRU maps the JIT inlines the
lookup too: it searches the same index and sets the element's ref bit, which
:class:`.lru.BpfLru` keeps in the index's control block; their updates and deletes (which
run the LRU lists) go through Python.

Inserts take never-used slots first and then freed ones, oldest first, so a deleted element's
slot is reused as late as possible; no slot is ever unmapped while the map lives. The slab is
mapped lazily and the Python-side bookkeeping grows with the elements in use, so a large
``max_entries`` costs little until it is used.
"""

from __future__ import annotations

import errno as _errno
from bisect import bisect_left, insort
from collections.abc import Iterator

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import (
    BPF_EXIST,
    BPF_F_LOCK,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_NOEXIST,
    BpfMap,
    round8,
    roundup_pow_of_two,
    storage_region,
)
from bpfvm.runtime.maps.hash_index import OFF_CONTROL, OFF_HEADS, OFF_LINKS, NativeIndex
from bpfvm.runtime.maps.jhash import map_hash
from bpfvm.runtime.maps.lru import BpfLru
from bpfvm.runtime.memory import Region


def effective_max_entries(spec: MapSpec, ncpus: int) -> int:
    """``htab_map_alloc``: a per-CPU LRU gives every CPU the same number of elements."""
    if not spec.map_flags & BPF_F_NO_COMMON_LRU:
        return spec.max_entries
    rounded = -(-spec.max_entries // ncpus) * ncpus
    if rounded > 0xFFFFFFFF:  # the kernel's u32 wrapped: round down instead
        rounded = spec.max_entries // ncpus * ncpus
    return rounded


class HashMap(BpfMap):
    """``BPF_MAP_TYPE_HASH``; the per-CPU and LRU variants are subclasses."""

    kind = "hash"
    supports_for_each = True
    percpu = False
    lru = False

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus, effective_max_entries(spec, ncpus))
        self.n_buckets = roundup_pow_of_two(self.max_entries)
        self.key_stride = round8(self.key_size)
        self.value_stride = round8(self.value_size)
        nvalues = ncpus if self.percpu else 1
        self.elem_size = self.key_stride + self.value_stride * nvalues
        spares = ncpus if self.has_spares else 0
        nslots = self.max_entries + spares
        self.slab: Region = storage_region(
            spec, "elements", nslots * self.elem_size, writable=not self.rdonly_prog
        )
        self._set_layout(self.slab.addr, self.elem_size, self.value_stride if self.percpu else 0)
        self._set_handle_u64(48, self.n_buckets)
        self.native = NativeIndex(spec, self.n_buckets, nslots, ncpus)
        self._set_handle_u64(OFF_HEADS, self.native.heads_addr)
        self._set_handle_u64(OFF_LINKS, self.native.links_addr)
        self._set_handle_u64(OFF_CONTROL, self.native.control_addr)
        # Python-side bookkeeping is sparse: it grows with the elements in use, not max_entries
        self._buckets: dict[int, list[int]] = {}  # bucket -> slots, head first
        self._nonempty: list[int] = []  # sorted indices of non-empty buckets
        self._index: dict[bytes, int] = {}  # key -> slot
        self._slot_key: dict[int, bytes] = {}  # linked slot -> key
        self._slot_bucket: dict[int, int] = {}
        for cpu, slot in enumerate(range(self.max_entries, nslots)):  # per-CPU spare element
            self.native.set_spare(cpu, slot)
        self._lru: BpfLru | None = None
        if self.lru:
            self.native.fresh = self.max_entries
            self._lru = BpfLru(
                self.max_entries,
                ncpus,
                bool(spec.map_flags & BPF_F_NO_COMMON_LRU),
                self._evict,
                self.native.ref,
            )
        self.prealloc = not spec.map_flags & BPF_F_NO_PREALLOC

    @property
    def has_spares(self) -> bool:
        """``htab_has_extra_elems``: plain hash maps keep a spare element per CPU."""
        return not self.percpu and not self.lru

    def regions(self) -> list[Region]:
        return [*super().regions(), self.slab]

    def _sync(self) -> None:
        """Rebuild the Python tables from the native index if native code changed it."""
        if not self.native.take_dirty():
            return
        nslots = self.native.nslots
        slots = range(min(self.native.fresh, self.max_entries))
        linked = self.native.linked(slots) + self.native.linked(range(self.max_entries, nslots))
        mask = self.n_buckets - 1
        buckets = sorted({self.native.hash_of(slot) & mask for slot in linked})
        self._buckets, self._nonempty = {}, buckets
        self._index, self._slot_key, self._slot_bucket = {}, {}, {}
        for bucket in buckets:
            chain = self._buckets[bucket] = self.native.chain(bucket)
            for slot in chain:
                key = self.slab.read(slot * self.elem_size, self.key_size)
                self._index[key] = slot
                self._slot_key[slot] = key
                self._slot_bucket[slot] = bucket

    # --- the table --------------------------------------------------------------------------

    def _value_addr(self, slot: int, cpu: int = 0) -> int:
        addr = self.slab.addr + slot * self.elem_size + self.key_stride
        return addr + cpu * self.value_stride if self.percpu else addr

    def _read_value(self, slot: int, cpu: int = 0) -> bytes:
        off = self._value_addr(slot, cpu) - self.slab.addr
        return self.slab.read(off, self.value_size)

    def _write_value(self, slot: int, value: bytes, cpu: int = 0) -> None:
        self.slab.write(self._value_addr(slot, cpu) - self.slab.addr, value)

    def _link(self, slot: int, key: bytes) -> None:
        """Fill the key of ``slot`` and add it at the head of its bucket."""
        self.slab.write(slot * self.elem_size, key)
        hash_ = map_hash(key)
        bucket = hash_ & (self.n_buckets - 1)
        slots = self._buckets.get(bucket)
        if slots is None:
            slots = self._buckets[bucket] = []
            insort(self._nonempty, bucket)
        slots.insert(0, slot)
        self.native.link(bucket, slot, hash_)
        self._index[key] = slot
        self._slot_key[slot] = key
        self._slot_bucket[slot] = bucket

    def _unlink(self, slot: int) -> None:
        key = self._slot_key.pop(slot)
        bucket = self._slot_bucket.pop(slot)
        slots = self._buckets[bucket]
        pos = slots.index(slot)
        self.native.unlink(bucket, slot, slots[pos - 1] if pos else None)
        del slots[pos]
        if not slots:
            del self._buckets[bucket]
            del self._nonempty[bisect_left(self._nonempty, bucket)]
        del self._index[key]

    def _evict(self, slot: int) -> bool:
        """``htab_lru_map_delete_node``: the LRU chose ``slot``; unlink it if it is linked."""
        if slot not in self._slot_key:
            return False
        self._unlink(slot)
        return True

    def _take_free(self) -> int | None:
        """A free element: never-used ones first, then the longest-freed."""
        fresh = self.native.fresh
        if fresh < self.max_entries:
            self.native.fresh = fresh + 1
            return fresh
        return self.native.pop_recycled()

    def _release(self, slot: int) -> None:
        """An unlinked element goes back to the LRU or to the end of the free list."""
        if self._lru is not None:
            self._lru.push_free(slot)
        else:
            self.native.push_recycled(slot)

    def __len__(self) -> int:
        self._sync()
        return len(self._index)

    # --- update ------------------------------------------------------------------------------

    def _check_flags(self, old: int | None, flags: int) -> int:
        """``check_flags``: 0 or the ``-errno`` the existing/missing element calls for."""
        if old is not None and flags & ~BPF_F_LOCK == BPF_NOEXIST:
            return -_errno.EEXIST
        if old is None and flags & ~BPF_F_LOCK == BPF_EXIST:
            return -_errno.ENOENT
        return 0

    def _values_for(self, value: bytes | list[bytes], cpu: int) -> list[tuple[int, bytes]]:
        """(cpu, bytes) pairs to write: one for a plain map, every CPU for a list or all."""
        if not self.percpu:
            assert isinstance(value, bytes)
            return [(0, value)]
        if isinstance(value, list):
            return list(enumerate(value))
        if cpu < 0:  # the syscall side gives one value for every CPU
            return [(c, value) for c in range(self.ncpus)]
        return [(cpu, value)]

    def _update(self, key: bytes, value: bytes | list[bytes], flags: int, cpu: int) -> int:
        """``htab_map_update_elem``: ``cpu`` < 0 is the syscall side (all CPUs, CPU 0 spare)."""
        if flags & ~BPF_F_LOCK > BPF_EXIST:
            return -_errno.EINVAL
        if flags & BPF_F_LOCK:  # the value has no bpf_spin_lock (no BTF record)
            return -_errno.EINVAL
        self._sync()
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            return err
        this_cpu = max(cpu, 0)
        if old is not None:
            new = self.native.spare(this_cpu)
            self.native.set_spare(this_cpu, old)
        else:
            if not self.prealloc and len(self._index) >= self.max_entries:
                return -_errno.E2BIG
            got = self._take_free()
            if got is None:
                return -_errno.E2BIG
            new = got
        for c, data in self._values_for(value, cpu):
            self._write_value(new, data, c)
        if old is not None:
            self._unlink(old)
        self._link(new, key)
        return 0

    def _update_percpu(self, key: bytes, value: bytes | list[bytes], flags: int, cpu: int) -> int:
        """``__htab_percpu_map_update_elem``: in place when the key exists."""
        if flags > BPF_EXIST:
            return -_errno.EINVAL
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            return err
        if old is None:
            got = self._take_free()
            if got is None:
                return -_errno.E2BIG
            slot = got
            self._zero_other_cpus(slot, cpu)
        else:
            slot = old
        for c, data in self._values_for(value, cpu):
            self._write_value(slot, data, c)
        if old is None:
            self._link(slot, key)
        return 0

    def _zero_other_cpus(self, slot: int, cpu: int) -> None:
        """``pcpu_init_value``: a program's insert leaves the other CPUs' copies zeroed."""
        for c in range(self.ncpus):
            if c != cpu:
                self._write_value(slot, bytes(self.value_size), c)

    def _update_lru(self, key: bytes, value: bytes | list[bytes], flags: int, cpu: int) -> int:
        """``htab_lru_map_update_elem``: take an element first (maybe evicting), then check."""
        assert self._lru is not None
        if flags > BPF_EXIST:
            return -_errno.EINVAL
        new = self._lru.pop_free(max(cpu, 0))
        if new is None:
            return -_errno.ENOMEM
        assert isinstance(value, bytes)
        self._write_value(new, value)
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if err:
            self._lru.push_free(new)
            return err
        if old is not None:
            self._lru.set_ref(new)
            self._unlink(old)
        self._link(new, key)
        if old is not None:
            self._lru.push_free(old)
        return 0

    def _update_lru_percpu(
        self, key: bytes, value: bytes | list[bytes], flags: int, cpu: int
    ) -> int:
        """``__htab_lru_percpu_map_update_elem``: in place when the key exists."""
        assert self._lru is not None
        if flags > BPF_EXIST:
            return -_errno.EINVAL
        new = None
        if flags != BPF_EXIST:
            new = self._lru.pop_free(max(cpu, 0))
            if new is None:
                return -_errno.ENOMEM
        old = self._index.get(key)
        err = self._check_flags(old, flags)
        if not err:
            if old is not None:
                self._lru.set_ref(old)
                for c, data in self._values_for(value, cpu):
                    self._write_value(old, data, c)
            else:
                assert new is not None
                self._zero_other_cpus(new, cpu)
                for c, data in self._values_for(value, cpu):
                    self._write_value(new, data, c)
                self._link(new, key)
                new = None
        if new is not None:
            self._lru.push_free(new)
        return err

    def _dispatch_update(self, key: bytes, value: bytes | list[bytes], flags: int, cpu: int) -> int:
        self._sync()
        if self.lru:
            if self.percpu:
                return self._update_lru_percpu(key, value, flags, cpu)
            return self._update_lru(key, value, flags, cpu)
        if self.percpu:
            return self._update_percpu(key, value, flags, cpu)
        return self._update(key, value, flags, cpu)

    def _delete(self, key: bytes) -> int:
        self._sync()
        slot = self._index.get(key)
        if slot is None:
            return -_errno.ENOENT
        self._unlink(slot)
        self._release(slot)
        return 0

    # --- program side -------------------------------------------------------------------------

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        self._sync()
        slot = self._index.get(bytes(key))
        if slot is None or cpu >= self.ncpus:
            return 0
        if self._lru is not None:
            self._lru.set_ref(slot)
        return self._value_addr(slot, cpu)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> int:
        if self.rdonly_prog:
            return -_errno.EPERM
        return self._dispatch_update(bytes(key), bytes(value), flags, cpu)

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        if self.rdonly_prog:
            return -_errno.EPERM
        return self._delete(bytes(key))

    def for_each(self, cpu: int = 0) -> Iterator[tuple[int, int]]:
        """``bpf_for_each_hash_elem``: buckets in order, each from its head, walked live."""
        bucket = 0
        while True:
            self._sync()  # a callback may have changed the table natively
            pos = bisect_left(self._nonempty, bucket)
            if pos == len(self._nonempty):
                return
            bucket = self._nonempty[pos]
            walk = [(slot, self.native.gen(slot)) for slot in self._buckets[bucket]]
            for slot, gen in walk:
                if self.native.gen(slot) != gen:  # deleted (or replaced) during the walk
                    continue
                key_addr = self.slab.addr + slot * self.elem_size
                yield key_addr, self._value_addr(slot, cpu)
            bucket += 1

    # --- syscall side ---------------------------------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        assert key is not None
        self._sync()
        slot = self._index.get(key)
        if slot is None:
            return None
        if self.percpu:
            return [self._read_value(slot, c) for c in range(self.ncpus)]
        return self._read_value(slot)

    def _sys_value(self, value: object) -> bytes | list[bytes]:
        if self.percpu and isinstance(value, list | tuple):
            if len(value) != self.ncpus:
                self._fail(_errno.EINVAL, f"{len(value)} per-CPU values for {self.ncpus} CPUs")
            return [self._value(v) for v in value]
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        return self._value(bytes(value))

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        err = self._dispatch_update(key, self._sys_value(value), flags, -1)
        if err:
            self._fail(-err, f"update of key {key.hex()} failed")

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        if self._delete(key):
            self._fail(_errno.ENOENT, f"no key {key.hex()}")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        """``htab_map_get_next_key``: the next in the bucket, else the next bucket's head."""
        self._sync()
        start = 0
        slot = None if key is None else self._index.get(key)
        if slot is not None:
            bucket = self._slot_bucket[slot]
            slots = self._buckets[bucket]
            pos = slots.index(slot)
            if pos + 1 < len(slots):
                return self._slot_key[slots[pos + 1]]
            start = bucket + 1
        pos = bisect_left(self._nonempty, start)
        if pos == len(self._nonempty):
            return None
        return self._slot_key[self._buckets[self._nonempty[pos]][0]]

    def keys(self) -> Iterator[bytes]:
        self._readable()
        self._sync()
        for bucket in list(self._nonempty):
            for slot in list(self._buckets.get(bucket, ())):
                key = self._slot_key.get(slot)
                if key is not None:
                    yield key

    def _sys_lookup_and_delete(self, key: bytes | None) -> bytes | list[bytes]:
        assert key is not None
        value = self._sys_lookup(key)
        if value is None:
            self._fail(_errno.ENOENT, f"no key {key.hex()}")
        self._delete(key)
        return value


class PercpuHashMap(HashMap):
    """``BPF_MAP_TYPE_PERCPU_HASH``: one value per CPU in each element."""

    kind = "percpu_hash"
    percpu = True


class LruHashMap(HashMap):
    """``BPF_MAP_TYPE_LRU_HASH``: a full map evicts the least recently used element."""

    kind = "lru_hash"
    lru = True


class LruPercpuHashMap(HashMap):
    """``BPF_MAP_TYPE_LRU_PERCPU_HASH``."""

    kind = "lru_percpu_hash"
    lru = True
    percpu = True
