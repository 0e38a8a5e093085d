"""The native index of a hash map: the kernel's bucket lists, in native memory.

:class:`~bpfvm.runtime.maps.hash.HashMap` keeps its table in Python (fast to search and to
walk for ``get_next_key``), and mirrors every change into this index so that native code (the
JIT's inline ``bpf_map_lookup_elem``) can search the map without entering Python. Two native
arrays, indexed like the element slab:

* ``heads``: ``n_buckets`` u32, the first element of each bucket as ``slot + 1`` (0: empty);
* ``links``: one u64 per slab slot, ``next | hash << 32``: the next element of the bucket
  (``slot + 1``, 0 at the end) and the element's ``htab_map_hash`` (as the kernel keeps
  ``htab_elem->hash``, so a search compares keys only when the hashes agree).

New elements go to the head of their bucket and the lists keep the Python table's order, so
a native search finds exactly the element the Python one finds. The map's handle publishes
the arrays' addresses (``aux1``: heads, ``aux2``: links, next to ``aux0``: n_buckets). The
arrays are not regions: programs cannot reach them, only the native code of the helpers.

**Element lifetimes, natively.** The JIT also inserts and deletes (``bpf_map_update_elem`` and
``bpf_map_delete_elem`` on ``hash``/``percpu_hash``), so everything that decides which slot an
insert takes lives here too, in one native *control* block (handle ``aux3``), and the Python
side uses the same words:

======  ====  ==============================================================================
offset  size  field
======  ====  ==============================================================================
0       u64   dirty: native code changed the table since Python last rebuilt its caches
8       u64   fresh: slots below this were handed out at least once
16      u64   recycled head: freed slots are reused first in, first out from a ring of
              ``nslots`` u32 (``slot`` at ``ring[head % nslots]``)
24      u64   recycled tail
32      u64   offset of the ring in this block
40      u64   offset of ``gen`` in this block: one u32 per slot, bumped whenever the slot
              is linked or unlinked (odd: linked), so a walk can tell a slot that left
48      u64   offset of ``ref`` in this block: one u8 per slot, the LRU maps' ref bit
              (``bpf_lru_node->ref``), set by a program's lookup (inline in the JIT) and
              read and cleared by :class:`.lru.BpfLru`; unused by other hash maps
56      4*n   the spare element of each CPU (plain ``hash`` maps), u32 slot numbers
======  ====  ==============================================================================

Python only ever changes the index between native instructions (in a helper or a syscall-side
operation), and native code only between Python operations, so neither sees a half-made
change. After a native change Python rebuilds its caches from the index (:meth:`linked`).
"""

from __future__ import annotations

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import storage_region
from bpfvm.runtime.memory import Region

OFF_HEADS = 56  # handle aux1
OFF_LINKS = 64  # handle aux2
OFF_CONTROL = 72  # handle aux3

CTL_DIRTY = 0
CTL_FRESH = 1
CTL_REC_HEAD = 2
CTL_REC_TAIL = 3
CTL_RING_OFF = 4
CTL_GEN_OFF = 5
CTL_REF_OFF = 6
CTL_SPARES = 56  # byte offset of the spares


def _u32s(region: Region, count: int) -> memoryview[int]:
    return memoryview(region.buf).cast("B")[: 4 * count].cast("I")


def _u64s(region: Region, count: int) -> memoryview[int]:
    return memoryview(region.buf).cast("B")[: 8 * count].cast("Q")


class NativeIndex:
    """The bucket heads and element links of one hash map (see the module docstring)."""

    def __init__(self, spec: MapSpec, n_buckets: int, nslots: int, ncpus: int) -> None:
        self.heads_region = storage_region(spec, "bucket heads", 4 * n_buckets, writable=False)
        self.links_region = storage_region(spec, "bucket links", 8 * nslots, writable=False)
        self._heads = _u32s(self.heads_region, n_buckets)
        self._links = _u64s(self.links_region, nslots)
        self.nslots = nslots
        ring_off = (CTL_SPARES + 4 * ncpus + 7) & ~7
        gen_off = ring_off + 4 * nslots
        ref_off = gen_off + 4 * nslots
        self.control_region = storage_region(
            spec, "element control", ref_off + nslots, writable=False
        )
        raw = memoryview(self.control_region.buf).cast("B")
        self._ctl = raw[:CTL_SPARES].cast("Q")
        self._spares = raw[CTL_SPARES : CTL_SPARES + 4 * ncpus].cast("I")
        self._ring = raw[ring_off:gen_off].cast("I")
        self._gen = raw[gen_off : gen_off + 4 * nslots].cast("I")
        self.ref = raw[ref_off : ref_off + nslots]
        """The LRU ref bits, one byte per slot (:class:`.lru.BpfLru` keeps its bits here)."""
        self._ctl[CTL_RING_OFF] = ring_off
        self._ctl[CTL_GEN_OFF] = gen_off
        self._ctl[CTL_REF_OFF] = ref_off

    @property
    def control_addr(self) -> int:
        return self.control_region.addr

    # -- element lifetimes (shared with native code) ---------------------------------------

    @property
    def fresh(self) -> int:
        return int(self._ctl[CTL_FRESH])

    @fresh.setter
    def fresh(self, value: int) -> None:
        self._ctl[CTL_FRESH] = value

    def take_dirty(self) -> bool:
        """Whether native code changed the table since the last call (and clear the mark)."""
        if not self._ctl[CTL_DIRTY]:
            return False
        self._ctl[CTL_DIRTY] = 0
        return True

    def push_recycled(self, slot: int) -> None:
        tail = self._ctl[CTL_REC_TAIL]
        self._ring[tail % self.nslots] = slot
        self._ctl[CTL_REC_TAIL] = tail + 1

    def pop_recycled(self) -> int | None:
        head = self._ctl[CTL_REC_HEAD]
        if head == self._ctl[CTL_REC_TAIL]:
            return None
        self._ctl[CTL_REC_HEAD] = head + 1
        return int(self._ring[head % self.nslots])

    def spare(self, cpu: int) -> int:
        return int(self._spares[cpu])

    def set_spare(self, cpu: int, slot: int) -> None:
        self._spares[cpu] = slot

    def gen(self, slot: int) -> int:
        return int(self._gen[slot])

    def linked(self, slots: range) -> list[int]:
        """The slots of ``slots`` that are in the table (odd ``gen``)."""
        gen = self._gen
        return [s for s in slots if gen[s] & 1]

    @property
    def heads_addr(self) -> int:
        return self.heads_region.addr

    @property
    def links_addr(self) -> int:
        return self.links_region.addr

    def link(self, bucket: int, slot: int, hash_: int) -> None:
        """Put ``slot`` at the head of ``bucket``."""
        self._links[slot] = self._heads[bucket] | hash_ << 32
        self._heads[bucket] = slot + 1
        self._gen[slot] = (self._gen[slot] + 1) & 0xFFFFFFFF

    def unlink(self, bucket: int, slot: int, prev: int | None) -> None:
        """Take ``slot`` out of ``bucket``; ``prev`` is the element before it (None: head)."""
        nxt = self._links[slot] & 0xFFFFFFFF
        if prev is None:
            self._heads[bucket] = nxt
        else:
            self._links[prev] = self._links[prev] & ~0xFFFFFFFF | nxt
        self._links[slot] = 0
        self._gen[slot] = (self._gen[slot] + 1) & 0xFFFFFFFF

    def chain(self, bucket: int) -> list[int]:
        """The slots of ``bucket``, head first (for tests and checks)."""
        out, at = [], self._heads[bucket]
        while at:
            out.append(at - 1)
            at = self._links[at - 1] & 0xFFFFFFFF
        return out

    def hash_of(self, slot: int) -> int:
        return int(self._links[slot] >> 32)
