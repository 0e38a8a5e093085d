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

Python only ever changes the index between native instructions (in a helper or a syscall-side
operation), so a reader in native code never sees a half-made change.
"""

from __future__ import annotations

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import storage_region
from bpfvm.runtime.memory import Region

OFF_HEADS = 56  # handle aux1
OFF_LINKS = 64  # handle aux2


def _u32s(region: Region, count: int) -> memoryview[int]:
    return memoryview(region.buf).cast("B")[: 4 * count].cast("I")


def _u64s(region: Region, count: int) -> memoryview[int]:
    return memoryview(region.buf).cast("B")[: 8 * count].cast("Q")


class NativeIndex:
    """The bucket heads and element links of one hash map (see the module docstring)."""

    def __init__(self, spec: MapSpec, n_buckets: int, nslots: int) -> None:
        self.heads_region = storage_region(spec, "bucket heads", 4 * n_buckets, writable=False)
        self.links_region = storage_region(spec, "bucket links", 8 * nslots, writable=False)
        self._heads = _u32s(self.heads_region, n_buckets)
        self._links = _u64s(self.links_region, nslots)

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

    def unlink(self, bucket: int, slot: int, prev: int | None) -> None:
        """Take ``slot`` out of ``bucket``; ``prev`` is the element before it (None: head)."""
        nxt = self._links[slot] & 0xFFFFFFFF
        if prev is None:
            self._heads[bucket] = nxt
        else:
            self._links[prev] = self._links[prev] & ~0xFFFFFFFF | nxt
        self._links[slot] = 0

    def chain(self, bucket: int) -> list[int]:
        """The slots of ``bucket``, head first (for tests and checks)."""
        out, at = [], self._heads[bucket]
        while at:
            out.append(at - 1)
            at = self._links[at - 1] & 0xFFFFFFFF
        return out

    def hash_of(self, slot: int) -> int:
        return int(self._links[slot] >> 32)
